package blocks_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
	"golang.org/x/oauth2"
)

// Secrets of the token tests: none may show in a trace or an error.
const (
	oaSecret   = "s3cret-client-value"
	oaCode     = "auth-code-0123456789"
	oaVerifier = "verifier-abcdefghijklmnopqrstuvwxyz-0123456789"
	oaRefresh  = "refresh-old-0123456789"
	oaAccess   = "access-new-0123456789"
	oaRotated  = "refresh-new-0123456789"
)

// oaRequest is a token request as the test server received it.
type oaRequest struct {
	Method, Path, ContentType string
	User, Pass                string
	HasAuth                   bool
	Query, Form               url.Values
	Body                      string
}

// oaServer is a token endpoint that records each request and answers with respond.
type oaServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []oaRequest
}

func newOAServer(t *testing.T, respond http.HandlerFunc) *oaServer {
	s := &oaServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		rq := oaRequest{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Query: r.URL.Query(), Form: form, Body: string(body)}
		rq.User, rq.Pass, rq.HasAuth = r.BasicAuth()
		s.mu.Lock()
		s.seen = append(s.seen, rq)
		s.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *oaServer) requests() []oaRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]oaRequest(nil), s.seen...)
}

// oaRespond answers with status, content type and body.
func oaRespond(status int, ctype, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// oaTokenApp is an app whose flow main runs one oauth2_token step with body (line 9); the
// inputs are not sensitive, so that redaction is the block's own doing.
func oaTokenApp(body string) string { return oaTokenStep(body) }

// oaInput are the inputs of every token test.
var oaInput = map[string]any{"code": oaCode, "secret": oaSecret, "refresh": oaRefresh}

const oaJSON = "application/json"

func TestOAuth2Token(t *testing.T) {
	fullJSON := `{"access_token":"` + oaAccess + `","refresh_token":"` + oaRotated + `","token_type":"bearer","expires_in":3600,"scope":"read write","instance_url":"https://eu1.example.com","id_token":"eyJ.x.y","user":{"id":7}}`
	tests := []struct {
		name       string
		body       string
		respond    http.HandlerFunc
		want       oaRequest
		wantOut    map[string]any
		wantExpiry int // expires_in; expires_at is checked against the run's time
	}{
		{
			name: "authorization_code with client_secret_basic",
			body: `{url: "TOKEN_URL/token", grant_type: authorization_code, client_id: app-1, client_secret: "{{ input.secret }}",
          code: "{{ input.code }}", redirect_uri: "https://patchbay.example/cb", code_verifier: "` + oaVerifier + `"}`,
			respond: oaRespond(200, oaJSON, fullJSON),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"authorization_code"}, "code": {oaCode}, "redirect_uri": {"https://patchbay.example/cb"}, "code_verifier": {oaVerifier}},
			},
			wantOut: map[string]any{
				"access_token": oaAccess, "refresh_token": oaRotated, "token_type": "Bearer", "scope": "read write",
				"instance_url": "https://eu1.example.com", "id_token": "eyJ.x.y", "user": map[string]any{"id": float64(7)},
			},
			wantExpiry: 3600,
		},
		{
			name: "authorization_code with client_secret_post and params",
			body: `{url: "TOKEN_URL/oauth/token", grant_type: authorization_code, client_auth: post, client_id: app-1,
          client_secret: "{{ input.secret }}", code: "{{ input.code }}", params: {resource: "https://api.example", skip: ""}}`,
			respond: oaRespond(200, "application/json; charset=utf-8", `{"access_token":"`+oaAccess+`","token_type":"Bearer"}`),
			want: oaRequest{
				Method: "POST", Path: "/oauth/token", ContentType: "application/x-www-form-urlencoded", Query: url.Values{},
				Form: url.Values{"grant_type": {"authorization_code"}, "code": {oaCode}, "client_id": {"app-1"}, "client_secret": {oaSecret}, "resource": {"https://api.example"}},
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name: "refresh_token, rotated",
			body: `{url: "TOKEN_URL/token", grant_type: refresh_token, client_id: app-1, client_secret: "{{ input.secret }}",
          refresh_token: "{{ input.refresh }}", scopes: [read], params: {audience: api}}`,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","refresh_token":"`+oaRotated+`","expires_in":"7200"}`),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oaRefresh}, "scope": {"read"}, "audience": {"api"}},
			},
			wantOut:    map[string]any{"access_token": oaAccess, "refresh_token": oaRotated, "token_type": "Bearer"},
			wantExpiry: 7200,
		},
		{
			name: "refresh_token, not rotated: the refresh token sent is kept",
			body: `{url: "TOKEN_URL/token", grant_type: refresh_token, client_id: app-1, client_secret: "{{ input.secret }}",
          refresh_token: "{{ input.refresh }}"}`,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","token_type":"Bearer","expires_in":60}`),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {oaRefresh}},
			},
			wantOut:    map[string]any{"access_token": oaAccess, "refresh_token": oaRefresh, "token_type": "Bearer"},
			wantExpiry: 60,
		},
		{
			name: "client_credentials with scopes and params",
			body: `{url: "TOKEN_URL/token", grant_type: client_credentials, client_id: app-1, client_secret: "{{ input.secret }}",
          scopes: [orders.read, orders.write], params: {audience: "https://api.example"}}`,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","token_type":"Bearer","expires_in":86400,"scope":"orders.read orders.write"}`),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"client_credentials"}, "scope": {"orders.read orders.write"}, "audience": {"https://api.example"}},
			},
			wantOut:    map[string]any{"access_token": oaAccess, "token_type": "Bearer", "scope": "orders.read orders.write"},
			wantExpiry: 86400,
		},
		{
			name: "GET token endpoint: the form is the query, no body",
			body: `{url: "TOKEN_URL/token?tenant=t1", method: get, grant_type: authorization_code, client_id: app-1,
          client_secret: "{{ input.secret }}", code: "{{ input.code }}", redirect_uri: "https://patchbay.example/cb"}`,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`"}`),
			want: oaRequest{
				Method: "GET", Path: "/token", User: "app-1", Pass: oaSecret, HasAuth: true, Form: url.Values{},
				Query: url.Values{"tenant": {"t1"}, "grant_type": {"authorization_code"}, "code": {oaCode}, "redirect_uri": {"https://patchbay.example/cb"}},
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "GET with client_secret_post",
			body:    `{url: "TOKEN_URL/token", method: GET, client_auth: post, grant_type: client_credentials, client_id: app-1, client_secret: "{{ input.secret }}"}`,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`"}`),
			want: oaRequest{
				Method: "GET", Path: "/token", Form: url.Values{},
				Query: url.Values{"grant_type": {"client_credentials"}, "client_id": {"app-1"}, "client_secret": {oaSecret}},
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer"},
		},
		{
			name:    "form-encoded response",
			body:    `{url: "TOKEN_URL/login/oauth/access_token", grant_type: authorization_code, client_id: app-1, client_secret: "{{ input.secret }}", code: "{{ input.code }}"}`,
			respond: oaRespond(200, "application/x-www-form-urlencoded; charset=utf-8", "access_token="+oaAccess+"&scope=repo%2Cgist&token_type=bearer"),
			want: oaRequest{
				Method: "POST", Path: "/login/oauth/access_token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"authorization_code"}, "code": {oaCode}},
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "Bearer", "scope": "repo,gist"},
		},
		{
			name:    "text/plain form response with expiry and extras",
			body:    `{url: "TOKEN_URL/token", grant_type: client_credentials, client_id: app-1, client_secret: "{{ input.secret }}"}`,
			respond: oaRespond(200, "text/plain", "access_token="+oaAccess+"&expires_in=900&refresh_token_expires_in=15897600&token_type=bearer"),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"client_credentials"}},
			},
			wantOut:    map[string]any{"access_token": oaAccess, "token_type": "Bearer", "refresh_token_expires_in": "15897600"},
			wantExpiry: 900,
		},
		{
			name: "no expires_in: no expiry in the output",
			body: `{url: "TOKEN_URL/token", grant_type: client_credentials, client_id: app-1, client_secret: "{{ input.secret }}"}`,
			// A provider's own expires_at is not RFC 3339: it goes, so expires_at means one thing.
			// token_type is as x/oauth2's Token.Type gives it.
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","token_type":"mac","expires_in":null,"expires_at":1700000000,"scope":""}`),
			want: oaRequest{
				Method: "POST", Path: "/token", ContentType: "application/x-www-form-urlencoded",
				User: "app-1", Pass: oaSecret, HasAuth: true, Query: url.Values{},
				Form: url.Values{"grant_type": {"client_credentials"}},
			},
			wantOut: map[string]any{"access_token": oaAccess, "token_type": "MAC"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newOAServer(t, tt.respond)
			before := time.Now().UTC().Truncate(time.Second)
			res, errText, _ := oaRun(t, ts.URL, oaTokenApp(tt.body), engine.Options{Input: oaInput})
			after := time.Now().UTC()
			if errText != "" {
				t.Fatalf("Run: %s", errText)
			}
			seen := ts.requests()
			if len(seen) != 1 {
				t.Fatalf("token endpoint got %d requests, want 1", len(seen))
			}
			got := seen[0]
			got.Body = ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request =\n%+v\nwant\n%+v", got, tt.want)
			}
			if tt.want.Method == "GET" && seen[0].Body != "" {
				t.Errorf("GET request has a body: %q", seen[0].Body)
			}
			out, ok := res.Output.(map[string]any)
			if !ok {
				t.Fatalf("output = %#v, want a mapping", res.Output)
			}
			want := tt.wantOut
			if tt.wantExpiry > 0 {
				want = copyMap(tt.wantOut)
				want["expires_in"] = tt.wantExpiry
				at, err := time.Parse(time.RFC3339, out["expires_at"].(string))
				d := time.Duration(tt.wantExpiry) * time.Second
				if err != nil || !strings.HasSuffix(out["expires_at"].(string), "Z") || at.Before(before.Add(d)) || at.After(after.Add(d)) {
					t.Errorf("expires_at = %v, want an RFC 3339 UTC time %s after the request", out["expires_at"], d)
				}
				want["expires_at"] = out["expires_at"]
			}
			if !reflect.DeepEqual(out, want) {
				t.Errorf("output =\n%#v\nwant\n%#v", out, want)
			}
		})
	}
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestOAuth2TokenErrors(t *testing.T) {
	exchange := `{url: "TOKEN_URL/token", grant_type: authorization_code, client_id: app-1, client_secret: "{{ input.secret }}", code: "{{ input.code }}"}`
	refresh := `{url: "TOKEN_URL/token", grant_type: refresh_token, client_id: app-1, client_secret: "{{ input.secret }}", refresh_token: "{{ input.refresh }}"}`
	const at = `app.yaml:9:9: step "token" (oauth2_token): `
	tests := []struct {
		name       string
		body       string
		respond    http.HandlerFunc
		want       string
		wantStatus int
		wantCode   string
		wantOK     bool // TokenErrorCode finds an endpoint error response
	}{
		{
			name:       "invalid_grant",
			body:       refresh,
			respond:    oaRespond(400, oaJSON, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`),
			want:       at + "token request: 400 Bad Request: invalid_grant: Token has been expired or revoked.",
			wantStatus: 400, wantCode: "invalid_grant", wantOK: true,
		},
		{
			name:       "invalid_client",
			body:       exchange,
			respond:    oaRespond(401, oaJSON, `{"error":"invalid_client"}`),
			want:       at + "token request: 401 Unauthorized: invalid_client",
			wantStatus: 401, wantCode: "invalid_client", wantOK: true,
		},
		{
			name:       "error in a JSON body sent as text/plain",
			body:       refresh,
			respond:    oaRespond(400, "text/plain", `{"error":"invalid_grant","error_description":"bad"}`),
			want:       at + "token request: 400 Bad Request: invalid_grant: bad",
			wantStatus: 400, wantCode: "invalid_grant", wantOK: true,
		},
		{
			name:       "error with status 200",
			body:       exchange,
			respond:    oaRespond(200, "application/x-www-form-urlencoded", "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired."),
			want:       at + "token request: 200 OK: bad_verification_code: The code passed is incorrect or expired.",
			wantStatus: 200, wantCode: "bad_verification_code", wantOK: true,
		},
		{
			name:       "error description echoing the refresh token is redacted",
			body:       refresh,
			respond:    oaRespond(400, oaJSON, `{"error":"invalid_grant","error_description":"unknown token `+oaRefresh+`"}`),
			want:       at + "token request: 400 Bad Request: invalid_grant: unknown token [redacted]",
			wantStatus: 400, wantCode: "invalid_grant", wantOK: true,
		},
		{
			name: "503 HTML page",
			body: exchange,
			respond: oaRespond(503, "text/html; charset=utf-8", `<!DOCTYPE html><html><head><title>503</title><style>body{color:red}</style></head>
<body><h1>Service Unavailable</h1><p>The server is down for maintenance &amp; will be back.</p></body></html>`),
			want:       at + `token request: 503 Service Unavailable: text/html response "503 Service Unavailable The server is down for maintenance & will be back."`,
			wantStatus: 503, wantOK: true,
		},
		{
			name:       "502 without a body",
			body:       exchange,
			respond:    oaRespond(502, "", ""),
			want:       at + "token request: 502 Bad Gateway: empty response",
			wantStatus: 502, wantOK: true,
		},
		{
			name:    "200 HTML page",
			body:    exchange,
			respond: oaRespond(200, "text/html", "<html><body>Sign in to continue "+strings.Repeat("x", 200)+"</body></html>"),
			want:    at + `token request: 200 OK: not a token: text/html response "Sign in to continue ` + strings.Repeat("x", 100) + `…"`,
		},
		{
			name:    "no access_token",
			body:    exchange,
			respond: oaRespond(200, oaJSON, `{"token_type":"Bearer","expires_in":3600}`),
			want:    at + "token request: token response has no access_token (fields: expires_in, token_type)",
		},
		{
			name:    "token response over 1 MiB",
			body:    exchange,
			respond: oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","pad":"`+strings.Repeat("x", 1<<20)+`"}`),
			want:    at + "token request: 200 OK: limit exceeded: the token response is larger than 1 MiB (at most 1048576 response_bytes)",
		},
		{
			name:    "not JSON",
			body:    exchange,
			respond: oaRespond(200, oaJSON, `access_token: x`),
			want:    at + "token request: 200 OK: oauth2: cannot parse json: invalid character 'a' looking for beginning of value",
		},
		{
			name:       "ok false with status 200, as x/oauth2 reads it",
			body:       exchange,
			respond:    oaRespond(200, oaJSON, `{"ok":false,"error":"invalid_code"}`),
			want:       at + "token request: 200 OK: invalid_code",
			wantStatus: 200, wantCode: "invalid_code", wantOK: true,
		},
		{
			name:       "error_in: an error object",
			body:       strings.TrimSuffix(exchange, "}") + `, error_in: error}`,
			respond:    oaRespond(400, oaJSON, `{"error":{"message":"Error validating verification code.","type":"OAuthException","code":100}}`),
			want:       at + "token request: 400 Bad Request: 100: Error validating verification code.",
			wantStatus: 400, wantCode: "100", wantOK: true,
		},
		{
			name:       "error_in: a message at status 200",
			body:       strings.TrimSuffix(exchange, "}") + `, error_in: errors.0.message}`,
			respond:    oaRespond(200, oaJSON, `{"success":false,"errors":[{"message":"The code has expired"}]}`),
			want:       at + "token request: 200 OK: The code has expired",
			wantStatus: 200, wantOK: true,
		},
		{
			name:       "error_in: a code beside a token",
			body:       strings.TrimSuffix(exchange, "}") + `, error_in: result.error}`,
			respond:    oaRespond(200, oaJSON, `{"access_token":"x","result":{"error":"account_locked"}}`),
			want:       at + "token request: 200 OK: account_locked",
			wantStatus: 200, wantCode: "account_locked", wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newOAServer(t, tt.respond)
			_, errText, err := oaRun(t, ts.URL, oaTokenApp(tt.body), engine.Options{Input: oaInput})
			if errText != tt.want {
				t.Errorf("Run error =\n%s\nwant\n%s", errText, tt.want)
			}
			status, code, ok := blocks.TokenErrorCode(err)
			if status != tt.wantStatus || code != tt.wantCode || ok != tt.wantOK {
				t.Errorf("TokenErrorCode = (%d, %q, %v), want (%d, %q, %v)", status, code, ok, tt.wantStatus, tt.wantCode, tt.wantOK)
			}
			var re *oauth2.RetrieveError
			if errors.As(err, &re) != tt.wantOK {
				t.Errorf("errors.As(err, *oauth2.RetrieveError) = %v, want %v", !tt.wantOK, tt.wantOK)
			}
			for _, s := range []string{oaSecret, oaCode, oaRefresh} {
				if strings.Contains(errText, s) {
					t.Errorf("error shows a secret: %s", errText)
				}
			}
		})
	}
}

func TestOAuth2TokenUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	ts.Close()
	body := `{url: "TOKEN_URL/token", grant_type: client_credentials, client_id: app-1, client_secret: "{{ input.secret }}"}`
	_, errText, err := oaRun(t, ts.URL, oaTokenApp(body), engine.Options{Input: oaInput})
	if err == nil {
		t.Fatal("Run succeeded, want a network error")
	}
	if _, _, ok := blocks.TokenErrorCode(err); ok {
		t.Errorf("TokenErrorCode ok = true for %s, want false", errText)
	}
	if got := engine.ErrorClass(err); got != "network" {
		t.Errorf("ErrorClass = %q, want network (%s)", got, errText)
	}
	if !strings.Contains(errText, `step "token" (oauth2_token): token request: Post "`) {
		t.Errorf("error = %s, want a token request error", errText)
	}
}

func TestOAuth2TokenRunErrors(t *testing.T) {
	tests := []struct {
		name, body string
		input      map[string]any
		want       string
	}{
		{
			name:  "empty code",
			body:  `{url: "https://p.example/t", grant_type: authorization_code, code: "{{ input.code }}"}`,
			input: map[string]any{"code": ""},
			want:  "code is empty",
		},
		{
			name:  "grant_type from a template",
			body:  `{url: "https://p.example/t", grant_type: "{{ input.code }}"}`,
			input: map[string]any{"code": "password"},
			want:  `grant_type "password" is not one of authorization_code, refresh_token, client_credentials`,
		},
		{
			name:  "relative url",
			body:  `{url: "{{ input.code }}", grant_type: client_credentials}`,
			input: map[string]any{"code": "/token"},
			want:  `url "/token" is not an absolute http or https URL`,
		},
		{
			name: "params value of the wrong type",
			body: `{url: "https://p.example/t", grant_type: client_credentials, params: {audience: [a]}}`,
			want: `params.audience must be a string, number or boolean, found a list`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errText, _ := oaRun(t, "", oaTokenApp(tt.body), engine.Options{Input: tt.input})
			if want := `app.yaml:9:9: step "token" (oauth2_token): ` + tt.want; errText != want {
				t.Errorf("Run error =\n%s\nwant\n%s", errText, want)
			}
		})
	}
}

// TestOAuth2TokenRedacted runs an exchange and checks that neither the trace (through OnStep and
// res.Trace) nor the output of a later step shows a secret.
func TestOAuth2TokenRedacted(t *testing.T) {
	ts := newOAServer(t, oaRespond(200, oaJSON, `{"access_token":"`+oaAccess+`","refresh_token":"`+oaRotated+`","expires_in":3600}`))
	src := `app: t
flows:
  main:
    inputs:
      code: {type: string}
      secret: {type: string}
      refresh: {type: string}
    steps:
      - id: token
        oauth2_token: {url: "TOKEN_URL/token", grant_type: authorization_code, client_id: app-1,
          client_secret: "{{ input.secret }}", code: "{{ input.code }}", code_verifier: "` + oaVerifier + `"}
      - id: echo
        set: {header: "Bearer {{ steps.token.access_token }}", refresh: "{{ steps.token.refresh_token }}"}
    output: "{{ steps.token }}"
`
	var mu sync.Mutex
	var steps []*engine.StepTrace
	res, errText, _ := oaRun(t, ts.URL, src, engine.Options{Input: oaInput, OnStep: func(tr *engine.StepTrace) {
		mu.Lock()
		steps = append(steps, tr)
		mu.Unlock()
	}})
	if errText != "" {
		t.Fatalf("Run: %s", errText)
	}
	if out := res.Output.(map[string]any); out["access_token"] != oaAccess || out["refresh_token"] != oaRotated {
		t.Errorf("output = %v, want the tokens unredacted (callers store them)", out)
	}
	for name, v := range map[string]any{"OnStep": steps, "res.Trace": res.Trace} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{oaSecret, oaCode, oaVerifier, oaAccess, oaRotated} {
			if strings.Contains(string(b), s) {
				t.Errorf("%s shows secret %q: %s", name, s, b)
			}
		}
	}
	in := res.Trace[0].Input
	want := map[string]any{
		"url": ts.URL + "/token", "grant_type": "authorization_code", "client_id": "app-1", "client_auth": "basic", "method": "POST",
		"client_secret": engine.Redacted, "code": engine.Redacted, "code_verifier": engine.Redacted,
	}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("trace input = %v, want %v", in, want)
	}
	if got := res.Trace[0].Output.(map[string]any)["access_token"]; got != engine.Redacted {
		t.Errorf("trace output access_token = %v, want %q", got, engine.Redacted)
	}
	if got := res.Trace[1].Output.(map[string]any)["header"]; got != "Bearer "+engine.Redacted {
		t.Errorf("later step's trace output = %v, want the token redacted", got)
	}
}
