package connections_test

import (
	"net/http"
	"testing"

	"github.com/patchbay/patchbay/connections"
)

// apiKeyOnly wraps h: a request without the API key header is refused before h sees it.
func apiKeyOnly(key string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != key {
			writeJSONBody(w, http.StatusForbidden, map[string]any{"error": "missing_api_key"})
			return
		}
		h(w, r)
	}
}

// TestTokenRequestHeaders: with request.token_requests, the connection's request headers (an
// API key the provider wants on every request, login included) go on the token requests too:
// a token connection's login flow (call_api), and the oauth2 exchange and refresh of the
// built-in flows (oauth2_token).
func TestTokenRequestHeaders(t *testing.T) {
	t.Run("token login", func(t *testing.T) {
		p := newPlainProvider(t, map[string]http.HandlerFunc{
			"/login":  apiKeyOnly("k-1", tokenJSON(map[string]any{"access_token": "at-1", "expires_in": 3600})),
			"/api/me": apiKeyOnly("k-1", bearerAPI("at-1")),
		})
		src := `app: keyed
base_url: ` + p.srv.URL + `/api
connection:
  type: token
  fields:
    - {key: api_key, label: API key, required: true, sensitive: true}
  request:
    headers: {X-Api-Key: "{{ connection.fields.api_key }}"}
    token_requests: true
  inject: {value: "Bearer {{ token }}"}
flows:
  exchange:
    steps:
      - id: login
        call_api: {method: POST, url: "` + p.srv.URL + `/login"}
    output: "{{ steps.login.body }}"
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
`
		m := newManager(t, nil)
		prog := loadApp(t, src)
		if _, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "a", Fields: map[string]string{"api_key": "k-1"}}); err != nil {
			t.Fatalf("connect: %v", err)
		}
		if n := len(p.at("/login")); n != 1 {
			t.Errorf("login got %d requests, want 1", n)
		}
	})
	t.Run("oauth2 exchange and refresh", func(t *testing.T) {
		p := newPlainProvider(t, map[string]http.HandlerFunc{
			"/token": apiKeyOnly("k-2", func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				at := "at-1"
				if r.PostForm.Get("grant_type") == "refresh_token" {
					at = "at-2"
				}
				writeJSONBody(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": "rt", "expires_in": 3600})
			}),
			"/api/me": apiKeyOnly("k-2", bearerAPI("at-1", "at-2")),
		})
		conn := "  params: [{key: key, label: Key, default: k-2}]\n  request:\n    headers: {X-Api-Key: \"{{ connection.params.key }}\"}\n    token_requests: true\n"
		if got := connectThenRefresh(t, p, conn).Creds.Token.AccessToken; got != "at-2" {
			t.Errorf("access token %s after the refresh, want at-2", got.Reveal())
		}
	})
}
