package blocks_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestOAuth2TokenShapes: the request and answer shapes of providers that do not follow RFC
// 6749 to the letter, each against a token endpoint that answers only the shape it expects.
func TestOAuth2TokenShapes(t *testing.T) {
	const exchange = `url: "TOKEN_URL/token", grant_type: authorization_code, client_id: "app:1", client_secret: "{{ input.secret }}", code: "{{ input.code }}"`
	tok := `{"access_token":"` + oaAccess + `","token_type":"bearer"}`
	tests := []struct {
		name    string
		body    string
		respond http.HandlerFunc
		check   func(t *testing.T, r oaRequest, h http.Header)
		wantOut map[string]any
	}{
		{
			name:    "headers",
			body:    `{` + exchange + `, headers: {Accept: application/json, X-Api-Version: "2024-01"}}`,
			respond: oaRespond(200, oaJSON, tok),
			check: func(t *testing.T, r oaRequest, h http.Header) {
				if h.Get("Accept") != "application/json" || h.Get("X-Api-Version") != "2024-01" || r.User != "app%3A1" {
					t.Errorf("headers = %v, want Accept and X-Api-Version beside basic auth", h)
				}
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "body json",
			body:    `{` + exchange + `, client_auth: post, body: json, params: {audience: api}}`,
			respond: oaRespond(200, oaJSON, tok),
			check: func(t *testing.T, r oaRequest, h http.Header) {
				var got map[string]any
				if err := json.Unmarshal([]byte(r.Body), &got); err != nil || r.ContentType != "application/json" {
					t.Fatalf("body %q (%s) is not JSON: %v", r.Body, r.ContentType, err)
				}
				want := map[string]any{"grant_type": "authorization_code", "code": oaCode, "client_id": "app:1", "client_secret": oaSecret, "audience": "api"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("JSON body = %v, want %v", got, want)
				}
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "client_auth basic_raw",
			body:    `{` + exchange + `, client_auth: basic_raw}`,
			respond: oaRespond(200, oaJSON, tok),
			check: func(t *testing.T, r oaRequest, h http.Header) {
				// RFC 6749 form-encodes the id first: "app%3A1"; raw sends it as it is, and a
				// colon in the id would then split it (the provider's problem, as it asked).
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte("app:1:"+oaSecret))
				if h.Get("Authorization") != want || r.Form.Has("client_id") {
					t.Errorf("Authorization = %q, form %v; want %q and no client_id", h.Get("Authorization"), r.Form, want)
				}
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "client_auth basic encodes",
			body:    `{` + exchange + `}`,
			respond: oaRespond(200, oaJSON, tok),
			check: func(t *testing.T, r oaRequest, h http.Header) {
				if r.User != "app%3A1" {
					t.Errorf("basic user = %q, want the form-encoded app%%3A1", r.User)
				}
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "client_auth none",
			body:    `{` + exchange + `, client_auth: none}`,
			respond: oaRespond(200, oaJSON, tok),
			check: func(t *testing.T, r oaRequest, h http.Header) {
				if r.HasAuth || r.Form.Get("client_id") != "app:1" || r.Form.Has("client_secret") {
					t.Errorf("public client request: auth %v, form %v; want client_id alone", r.HasAuth, r.Form)
				}
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name: "token_in and keep",
			body: `{` + exchange + `, token_in: authed_user, keep: {team_id: team.id, bot: access_token, user_id: authed_user.id}}`,
			respond: oaRespond(200, oaJSON, `{"ok":true,"access_token":"xoxb-bot","token_type":"bot","team":{"id":"T1","name":"Acme"},
				"authed_user":{"id":"U1","access_token":"`+oaAccess+`","refresh_token":"`+oaRotated+`","expires_in":43200,"token_type":"user"}}`),
			wantOut: map[string]any{"access_token": oaAccess, "refresh_token": oaRotated, "token_type": "user", "expires_in": 43200,
				"team_id": "T1", "bot": "xoxb-bot", "user_id": "U1"},
		},
		{
			name:    "token_in, everything else kept",
			body:    `{` + exchange + `, token_in: data.token}`,
			respond: oaRespond(200, oaJSON, `{"status":"ok","data":{"account":"A1","token":{"access_token":"`+oaAccess+`"}}}`),
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer", "status": "ok", "data": map[string]any{"account": "A1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr http.Header
			ts := newOAServer(t, func(w http.ResponseWriter, r *http.Request) {
				hdr = r.Header.Clone()
				tt.respond(w, r)
			})
			res, errText, _ := oaRun(t, ts.URL, oaTokenApp(tt.body), engine.Options{Input: oaInput})
			if errText != "" {
				t.Fatalf("Run: %s", errText)
			}
			if tt.check != nil {
				tt.check(t, ts.requests()[0], hdr)
			}
			out := res.Output.(map[string]any)
			delete(out, "expires_at")
			if !reflect.DeepEqual(out, tt.wantOut) {
				t.Errorf("output =\n%#v\nwant\n%#v", out, tt.wantOut)
			}
		})
	}
}

// TestOAuth2TokenShapeLoadErrors: misuses of the shape fields are reported at load.
func TestOAuth2TokenShapeLoadErrors(t *testing.T) {
	const base = `url: "https://x.example/token", grant_type: client_credentials`
	tests := []struct{ name, body, want string }{
		{"body", `{` + base + `, body: xml}`, `app.yaml:10:94: oauth2_token: body "xml" is not one of form, json`},
		{"body json with GET", `{` + base + `, method: GET, body: json}`, `app.yaml:10:107: oauth2_token: body json needs method POST (a GET has no body)`},
		{"token_in", `{` + base + `, token_in: "a..b"}`, `app.yaml:10:98: oauth2_token: token_in "a..b" is not a dot path (a.b.c)`},
		{"headers", `{` + base + `, headers: [Accept]}`, `app.yaml:10:97: oauth2_token: headers must be a mapping, found a list`},
		{"keep", `{` + base + `, keep: team.id}`, `app.yaml:10:94: oauth2_token: keep must be a mapping, found the string "team.id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := oaLoad(t, "", oaTokenStep(tt.body))
			if got != tt.want {
				t.Errorf("Load error =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestOAuth2TokenShapeRedirect: the headers and the raw basic credentials the block adds go
// to the token endpoint's origin only, not to another origin a redirect names (Go's client
// drops its own Authorization header there, but the block adds its own on every hop).
func TestOAuth2TokenShapeRedirect(t *testing.T) {
	var mu sync.Mutex
	var otherHeaders []http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherHeaders = append(otherHeaders, r.Header.Clone())
		mu.Unlock()
		oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`"}`)(w, r)
	}))
	t.Cleanup(other.Close)
	ts := newOAServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
	})
	body := `{url: "TOKEN_URL/token", grant_type: client_credentials, client_id: app, client_secret: "{{ input.secret }}",
          client_auth: basic_raw, headers: {X-Api-Key: "{{ input.secret }}"}}`
	oaRun(t, ts.URL, oaTokenApp(body), engine.Options{Input: oaInput})
	if r := ts.requests(); len(r) != 1 || r[0].User != "app" {
		t.Fatalf("the token endpoint got %+v, want one request with raw basic auth", r)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range otherHeaders {
		if h.Get("X-Api-Key") != "" || h.Get("Authorization") != "" {
			t.Errorf("the other origin got the credentials: %v", h)
		}
	}
}
