package connections_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
)

// shapeProvider is a token endpoint of one non-standard shape: check says what is wrong with a
// token request ("" when nothing), answer gives the answer to a good one. A request check
// refuses is answered 400 invalid_request with the reason, so the test fails with it.
type shapeProvider struct {
	check  func(r *http.Request, body []byte) string
	answer func(grant string) (int, any)
}

func (sp shapeProvider) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if why := sp.check(r, body); why != "" {
			t.Errorf("token request %s %s refused: %s", r.Method, r.URL.Path, why)
			writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": why})
			return
		}
		grant := "authorization_code"
		if strings.Contains(string(body)+r.URL.RawQuery, "refresh_token") {
			grant = "refresh_token"
		}
		status, v := sp.answer(grant)
		writeJSONBody(w, status, v)
	}
}

// requestFields reads a token request's parameters from its JSON body, form body or query.
func requestFields(r *http.Request, body []byte) map[string]string {
	out := map[string]string{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]any
		json.Unmarshal(body, &m)
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
		return out
	}
	vals, _ := url.ParseQuery(string(body))
	if r.Method == http.MethodGet {
		vals = r.URL.Query()
	}
	return formOf(vals)
}

// TestTokenShapes: each setting of the token request's shape, used by the built-in flows
// against a token endpoint that takes only that shape, the whole way: connect (authorize,
// callback, exchange, test), then a refresh before expiry in a run.
func TestTokenShapes(t *testing.T) {
	tok := func(at, rt string) map[string]any {
		return map[string]any{"access_token": at, "refresh_token": rt, "token_type": "bearer", "expires_in": 3600}
	}
	standard := func(grant string) (int, any) {
		if grant == "refresh_token" {
			return 200, tok("at-2", "rt-2")
		}
		return 200, tok("at-1", "rt-1")
	}
	tests := []struct {
		name      string
		conn      string
		check     func(r *http.Request, f map[string]string) string
		answer    func(grant string) (int, any)
		wantExtra map[string]any // after the refresh
	}{
		{
			name: "params of the exchange and of the refresh",
			conn: "  params: [{key: tenant, default: t-7}]\n  token_params: {audience: \"https://api.example/{{ connection.params.tenant }}\"}\n  refresh_params: {resource: r-1}\n",
			check: func(r *http.Request, f map[string]string) string {
				switch f["grant_type"] {
				case "authorization_code":
					if f["audience"] != "https://api.example/t-7" || f["resource"] != "" {
						return fmt.Sprintf("exchange params %v", f)
					}
				case "refresh_token":
					if f["resource"] != "r-1" || f["audience"] != "" {
						return fmt.Sprintf("refresh params %v", f)
					}
				}
				return ""
			},
		},
		{
			name: "JSON body and headers",
			conn: "  token_body: json\n  token_headers: {Accept: application/json, X-Api-Version: \"2024-06\"}\n",
			check: func(r *http.Request, f map[string]string) string {
				if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" || r.Header.Get("X-Api-Version") != "2024-06" {
					return fmt.Sprintf("headers %v", r.Header)
				}
				if f["grant_type"] == "" {
					return "no grant_type in the JSON body"
				}
				return ""
			},
		},
		{
			name: "refresh at another URL by GET",
			conn: "  refresh_url: SRV/oauth/refresh\n  refresh_method: GET\n",
			check: func(r *http.Request, f map[string]string) string {
				want := "/token POST"
				if f["grant_type"] == "refresh_token" {
					want = "/oauth/refresh GET"
				}
				if got := r.URL.Path + " " + r.Method; got != want {
					return fmt.Sprintf("%s for grant %s, want %s", got, f["grant_type"], want)
				}
				return ""
			},
		},
		{
			name: "client_auth basic_raw",
			conn: "  client_auth: basic_raw\n",
			check: func(r *http.Request, f map[string]string) string {
				want := "Basic " + base64.StdEncoding.EncodeToString([]byte(plainClientID+":"+plainClientSecret))
				if r.Header.Get("Authorization") != want || f["client_id"] != "" {
					return fmt.Sprintf("Authorization %q, form %v", r.Header.Get("Authorization"), f)
				}
				return ""
			},
		},
		{
			name: "nested user token, values kept",
			conn: "  token_in: authed_user\n  token_keep: {team_id: team.id, user_id: authed_user.id}\n",
			answer: func(grant string) (int, any) {
				at, rt, team := "at-1", "rt-1", "T1"
				if grant == "refresh_token" {
					at, rt, team = "at-2", "rt-2", "T2"
				}
				return 200, map[string]any{"ok": true, "access_token": "xoxb-bot", "token_type": "bot", "team": map[string]any{"id": team},
					"authed_user": map[string]any{"id": "U1", "access_token": at, "refresh_token": rt, "expires_in": 3600}}
			},
			wantExtra: map[string]any{"team_id": "T2", "user_id": "U1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer := tt.answer
			if answer == nil {
				answer = standard
			}
			sp := shapeProvider{answer: answer, check: func(r *http.Request, body []byte) string {
				f := requestFields(r, body)
				if tt.check != nil {
					return tt.check(r, f)
				}
				return ""
			}}
			p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": sp.handler(t), "/oauth/refresh": sp.handler(t), "/api/me": bearerAPI("at-1", "at-2")})
			got := connectThenRefresh(t, p, strings.ReplaceAll(tt.conn, "SRV", p.srv.URL)).Creds.Token
			if got.AccessToken != "at-2" || got.RefreshToken != "rt-2" {
				t.Errorf("after the refresh: tokens %s/%s, want at-2/rt-2", got.AccessToken.Reveal(), got.RefreshToken.Reveal())
			}
			if tt.wantExtra != nil && !equalJSON(got.Extra, tt.wantExtra) {
				t.Errorf("extra = %v, want %v", got.Extra, tt.wantExtra)
			}
		})
	}
}

// TestTokenShapeNames: a provider that calls the client id app_id in the authorize URL and
// sends the code back as auth_code.
func TestTokenShapeNames(t *testing.T) {
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token":  tokenJSON(map[string]any{"access_token": "at-1", "refresh_token": "rt-1"}),
		"/api/me": bearerAPI("at-1"),
	})
	m := newManager(t, nil)
	prog := loadApp(t, plainApp(p, "  client_id_param: app_id\n  code_param: auth_code\n", ""))
	putPlainClient(t, m, "plain")
	pending, err := m.StartOAuth(t.Context(), prog, connections.ConnectRequest{Name: "a"}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	q := mustQuery(t, pending.AuthorizeURL)
	if q.Get("app_id") != plainClientID || q.Has("client_id") {
		t.Errorf("authorize URL %s: want app_id=%s and no client_id", pending.AuthorizeURL, plainClientID)
	}
	if _, err := m.FinishOAuth(t.Context(), prog, pending, url.Values{"code": {"wrong"}, "state": {pending.State}}); err == nil || err.Error() != "callback has no auth_code parameter" {
		t.Errorf("FinishOAuth without auth_code: %v, want callback has no auth_code parameter", err)
	}
	pending, _ = m.StartOAuth(t.Context(), prog, connections.ConnectRequest{Name: "a"}, testRedirectURL)
	if _, err := m.FinishOAuth(t.Context(), prog, pending, url.Values{"auth_code": {plainCode}, "state": {pending.State}}); err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	if f := p.at("/token")[0].Form; f.Get("code") != plainCode {
		t.Errorf("exchange form %v, want code %s", f, plainCode)
	}
}

// TestTokenShapeProviderError: a refresh the provider refuses in its own shape (HTTP 200 with
// an error object) fails with the provider's words, kept as the connection's last error; the
// old token stays.
func TestTokenShapeProviderError(t *testing.T) {
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if r.PostForm.Get("grant_type") == "refresh_token" {
				writeJSONBody(w, http.StatusOK, map[string]any{"status": "failed", "error": map[string]any{"message": "Refresh token has been revoked by the admin"}})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})
		},
		"/api/me": bearerAPI("at-1"),
	})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "  token_error_in: error\n", ""))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	clock.Advance(61 * time.Minute) // expired: the run cannot go on with the old token
	_, err = runFlow(t.Context(), m, prog, reload(t, m, rec), "test", nil)
	const words = "200 OK: Refresh token has been revoked by the admin"
	if err == nil || !strings.Contains(err.Error(), words) {
		t.Fatalf("run: %v, want the provider's words %q", err, words)
	}
	if got := reload(t, m, rec); !strings.Contains(got.LastError, words) {
		t.Errorf("last error %q, want the provider's words", got.LastError)
	}
}

// TestTokenShapeClientAuth: client authentication against fosite, connect then refresh.
// client_auth none is a public client's (fosite refuses one that sends a secret, or no
// client_id); basic form-encodes the id and secret before basic auth as RFC 6749 section
// 2.3.1 says and fosite decodes them, so an id with a colon and a secret with reserved
// characters pass.
func TestTokenShapeClientAuth(t *testing.T) {
	tests := []struct {
		name, conn, id, secret string
		public                 bool
	}{
		{name: "none", conn: "  client_auth: none\n", id: "public-app", public: true},
		{name: "basic encoded", id: "svc:acme/1", secret: "p@ss:w rd+%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{})
			srv.AddClient(tt.id, tt.secret, []string{testRedirectURL}, oauthtest.ClientOptions{Public: tt.public, Scopes: []string{"read"}})
			clock := newFakeClock(time.Now())
			m := newManager(t, clock)
			prog := loadApp(t, withConnection(oauth2App(srv, ""), tt.conn))
			err := m.Store().PutClient(t.Context(), &connections.Client{Workspace: connections.DefaultWorkspace, App: "acme", Name: "acme",
				ClientID: tt.id, Secret: connections.Secret(tt.secret), RedirectURL: testRedirectURL})
			if err != nil {
				t.Fatal(err)
			}
			rec := connectOAuth2(t, m, prog, srv, "a")
			clock.Advance(2 * time.Hour)
			if _, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "me", nil); err != nil {
				t.Fatalf("run after expiry: %v", err)
			}
			if n := srv.TokenRequests("refresh_token"); n != 1 {
				t.Errorf("fosite got %d refreshes, want 1", n)
			}
		})
	}
}

// connectThenRefresh connects an account to the plain app with the connection settings conn at
// p, moves the clock to a minute before its hour-long token expires and runs test, which
// refreshes first. It returns the record as stored after.
func connectThenRefresh(t *testing.T, p *plainProvider, conn string) *connections.Record {
	t.Helper()
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, conn, ""))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	clock.Advance(59 * time.Minute)
	if _, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "test", nil); err != nil {
		t.Fatalf("run after expiry: %v", err)
	}
	return reload(t, m, rec)
}

// TestTokenShapeRefreshOtherOrigin: a refresh_url at another origin than token_url is one of
// the connection's own: the connection is bound to it, and its refresh is sent there.
func TestTokenShapeRefreshOtherOrigin(t *testing.T) {
	refresher := newPlainProvider(t, map[string]http.HandlerFunc{
		"/refresh": tokenJSON(map[string]any{"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600}),
	})
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token":  tokenJSON(map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600}),
		"/api/me": bearerAPI("at-1", "at-2"),
	})
	got := connectThenRefresh(t, p, "  refresh_url: "+refresher.srv.URL+"/refresh\n")
	if got.Creds.Token.AccessToken != "at-2" || len(refresher.at("/refresh")) != 1 {
		t.Errorf("access token %s after %d refreshes at refresh_url, want at-2 after 1", got.Creds.Token.AccessToken.Reveal(), len(refresher.at("/refresh")))
	}
}
