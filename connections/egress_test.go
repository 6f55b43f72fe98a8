package connections_test

// Issue 14, "credentials stay with their host": a redirect to another origin never carries the
// connection's credentials, a token or revoke request follows none, and an evil server that
// records everything it got (headers, query, Referer, body) sees no secret.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// evilServer records what every request to it carried and answers /steal with 200 {}.
func evilServer(t *testing.T) *plainProvider {
	return newPlainProvider(t, map[string]http.HandlerFunc{
		"/steal": func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, http.StatusOK, map[string]any{}) },
	})
}

// dump is everything the requests a recorder got carried, as text to look for secrets in.
func (rc *reqRecorder) dump() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var b strings.Builder
	for _, s := range rc.reqs {
		fmt.Fprintf(&b, "%s %s?%s header=%v form=%v body=%q basic=%q:%q\n", s.Method, s.Path, s.Query.Encode(), s.Header, s.Form, s.Body, s.User, s.Pass)
	}
	return b.String()
}

// redirector answers path with a redirect (status) to to, keeping nothing of the request.
func redirector(status int, to string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", to)
		w.WriteHeader(status)
	}
}

// egressFlows are the flows of the redirect tests: test (GET /me), leak (GET /leak, the
// default redirect policy) and leak_any (POST /leak with a body, follow_redirects: any).
const egressFlows = `flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: "{{ steps.me.body }}"
  leak:
    steps:
      - id: x
        call_api: {method: GET, path: /leak}
  leak_any:
    steps:
      - id: x
        call_api: {method: POST, path: /leak, json: {a: 1}, follow_redirects: any}
    output: "{{ steps.x }}"
`

const (
	egressKey      = "egress-key-0123456789"
	egressPassword = "egress-password-0123"
	egressToken    = "egress-access-token-0123"
)

// TestRedirectKeepsCredentials: a call_api whose response redirects (307) to another origin
// carries none of the connection's credentials there, for each way a connection puts them on
// a request (a custom header, the query, basic auth, an oauth2 bearer token, an oauth1
// signature). By default the redirect is not followed and the step says why; with
// follow_redirects: any it is, without the credentials and without a Referer (which held the
// query's key). Before the fix, the key was sent on in X-Api-Key, in the Referer, and the
// Authorization header went along to another port of the same host.
func TestRedirectKeepsCredentials(t *testing.T) {
	cases := []struct {
		name    string
		conn    string // the app's connection, API for the API server's URL
		fields  map[string]string
		secrets []string
	}{
		{"header inject", `connection:
  type: api_key
  inject: {in: header, name: X-Api-Key, value: "{{ token }}"}
`, map[string]string{"api_key": egressKey}, []string{egressKey}},
		{"query inject", `connection:
  type: api_key
  inject: {in: query, name: api_key, value: "{{ token }}"}
`, map[string]string{"api_key": egressKey}, []string{egressKey}},
		{"basic", `connection:
  type: basic
`, map[string]string{"username": "alice", "password": egressPassword}, []string{egressPassword}},
		{"oauth2 bearer", `connection:
  type: oauth2
  grant: client_credentials
  token_url: API/token
`, nil, []string{egressToken, plainClientSecret}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evil := evilServer(t)
			api := newPlainProvider(t, map[string]http.HandlerFunc{
				"/me": func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, http.StatusOK, map[string]any{"ok": true})
				},
				"/leak": redirector(http.StatusTemporaryRedirect, evil.srv.URL+"/steal?from=api"),
				"/token": func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, http.StatusOK, map[string]any{"access_token": egressToken, "token_type": "bearer"})
				},
			})
			src := "app: egress\nname: Egress\nbase_url: API\n" + tc.conn + egressFlows
			prog := loadApp(t, strings.ReplaceAll(src, "API", api.srv.URL))
			m := newManager(t, nil)
			putPlainClient(t, m, "egress")
			rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c", Fields: tc.fields})
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			checkRedirects(t, m, prog, rec, evil, tc.secrets)
		})
	}
}

// checkRedirects runs leak and leak_any with rec and checks what the evil server got.
func checkRedirects(t *testing.T, m *connections.Manager, prog *engine.Program, rec *connections.Record, evil *plainProvider, secrets []string) {
	t.Helper()
	_, err := runFlow(t.Context(), m, prog, rec, "leak", nil)
	var re *engine.RedirectError
	if !errors.As(err, &re) || re.Policy != engine.FollowSameOrigin || re.To != engine.Origin(mustURL(t, evil.srv.URL)) {
		t.Errorf("leak: error %v, want a redirect to %s not followed (same_origin)", err, evil.srv.URL)
	}
	if n := evil.count(); n != 0 {
		t.Errorf("leak: the evil server got %d requests, want none:\n%s", n, evil.dump())
	}
	res, err := runFlow(t.Context(), m, prog, rec, "leak_any", nil)
	if err != nil {
		t.Fatalf("leak_any: %v", err)
	}
	got := evil.at("/steal")
	if len(got) != 1 {
		t.Fatalf("leak_any: the evil server got %d requests to /steal, want 1:\n%s", len(got), evil.dump())
	}
	noLeak(t, "what the evil server got", evil.dump(), secrets...)
	if ref := got[0].Header.Get("Referer"); ref != "" {
		t.Errorf("leak_any: the evil server got Referer %q, want none", ref)
	}
	if got[0].Body != `{"a":1}` {
		t.Errorf("leak_any: the evil server got body %q, want the step's own {\"a\":1}", got[0].Body)
	}
	hops, _ := res.Output.(map[string]any)["redirects"].([]any)
	if len(hops) != 1 || hops[0].(map[string]any)["status"] != http.StatusTemporaryRedirect {
		t.Errorf("leak_any: output redirects = %v, want one hop with status 307", res.Output.(map[string]any)["redirects"])
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRedirectKeepsOAuth1Signature: an oauth1 connection's signed Authorization header does not
// follow a redirect to another origin (before the fix it did: net/http keeps Authorization for
// another port of the same host).
func TestRedirectKeepsOAuth1Signature(t *testing.T) {
	e := newO1Env(t, o1ConsumerSecret)
	evil := evilServer(t)
	api := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"name": "Alice"})
		},
		"/leak": redirector(http.StatusTemporaryRedirect, evil.srv.URL+"/steal"),
	})
	src := strings.ReplaceAll(`app: tumblr
name: Tumblr
base_url: API
connection:
  type: oauth1
  request_token_url: O1/oauth/request_token
  authorize_url: O1/oauth/authorize
  access_token_url: O1/oauth/access_token
  client: tumblr
`, "O1", e.p.srv.URL) + egressFlows
	e.prog = loadApp(t, strings.ReplaceAll(src, "API", api.srv.URL))
	pending, err := e.m.StartOAuth(t.Context(), e.prog, connections.ConnectRequest{Name: "alice"}, e.redirect)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	rec, err := e.m.FinishOAuth(t.Context(), e.prog, pending, e.approve(t, pending))
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	checkRedirects(t, e.m, e.prog, rec, evil, o1Secrets(e.p))
	if got := evil.at("/steal"); len(got) == 1 && got[0].Header.Get("Authorization") != "" {
		t.Errorf("the evil server got Authorization %q, want none", got[0].Header.Get("Authorization"))
	}
}

// egressOAuth2 loads an oauth2 client credentials app whose API and token endpoint are api's,
// with more connection lines (API for api's URL) and egressFlows, and returns a manager that
// has its auth client.
func egressOAuth2(t *testing.T, api *plainProvider, conn string) (*connections.Manager, *engine.Program) {
	t.Helper()
	prog := loadApp(t, strings.ReplaceAll(ccApp("API", "API/token", conn), "API", api.srv.URL))
	m := newManager(t, nil)
	putPlainClient(t, m, "egress")
	return m, prog
}

// ccApp is an oauth2 client credentials app at base with token_url, more connection lines and
// egressFlows.
func ccApp(base, tokenURL, conn string) string {
	return "app: egress\nname: Egress\nbase_url: " + base + "\nconnection:\n  type: oauth2\n  grant: client_credentials\n  token_url: " + tokenURL + "\n" + conn + egressFlows
}

// TestTokenRequestFollowsNoRedirect: a token endpoint answering 307 to another origin does not
// get the client secret again there, in the form (client_auth: post) or in the query
// (token_method: GET): the token request follows no redirect to another origin, and connecting
// fails saying why. Before the fix the evil server got client_secret.
func TestTokenRequestFollowsNoRedirect(t *testing.T) {
	for _, method := range []string{"POST", "GET"} {
		t.Run(method, func(t *testing.T) {
			evil := evilServer(t)
			api := newPlainProvider(t, map[string]http.HandlerFunc{
				"/token": redirector(http.StatusTemporaryRedirect, evil.srv.URL+"/steal"),
			})
			m, prog := egressOAuth2(t, api, "  client_auth: post\n  token_method: "+method+"\n")
			_, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c"})
			var re *engine.RedirectError
			want := "redirect (307) from " + engine.Origin(mustURL(t, api.srv.URL)) + " to another origin, " + engine.Origin(mustURL(t, evil.srv.URL)) + ", not followed (the request carries secrets: it follows no redirect to another origin)"
			if !errors.As(err, &re) || !strings.HasSuffix(err.Error(), want) {
				t.Errorf("Connect: error %v, want one ending %q", err, want)
			}
			if n := evil.count(); n != 0 {
				t.Errorf("the evil server got %d requests, want none:\n%s", n, evil.dump())
			}
			if err != nil {
				noLeak(t, "the error", err.Error(), plainClientSecret)
			}
			if got := api.at("/token"); len(got) != 1 || got[0].Form.Get("client_secret")+got[0].Query.Get("client_secret") != plainClientSecret {
				t.Errorf("the token endpoint got %v, want one request with the client secret", got)
			}
		})
	}
}

// TestRevokeFollowsNoRedirect: deleting a connection whose revoke endpoint answers 307 to
// another origin sends neither the token nor the client secret there; the connection is deleted
// and the revoke's failure says why. Before the fix the evil server got both.
func TestRevokeFollowsNoRedirect(t *testing.T) {
	for _, auth := range []string{"basic", "post"} {
		t.Run(auth, func(t *testing.T) {
			evil := evilServer(t)
			api := newPlainProvider(t, map[string]http.HandlerFunc{
				"/me": func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, http.StatusOK, map[string]any{}) },
				"/token": func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, http.StatusOK, map[string]any{"access_token": egressToken})
				},
				"/revoke": redirector(http.StatusTemporaryRedirect, evil.srv.URL+"/steal"),
			})
			m, prog := egressOAuth2(t, api, "  revoke_url: API/revoke\n  client_auth: "+auth+"\n")
			rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c"})
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			err = m.Delete(context.Background(), prog, rec)
			var re *engine.RedirectError
			var rev *connections.RevokeError
			if !errors.As(err, &rev) || !errors.As(err, &re) {
				t.Errorf("Delete: error %v, want a revoke error: redirect not followed", err)
			}
			if n := evil.count(); n != 0 {
				t.Errorf("the evil server got %d requests, want none:\n%s", n, evil.dump())
			}
			if got := api.at("/revoke"); len(got) != 1 {
				t.Errorf("the revoke endpoint got %d requests, want 1", len(got))
			}
		})
	}
}
