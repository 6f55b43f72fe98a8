package connections_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/engine"
	"golang.org/x/oauth2"
)

// These tests connect accounts through the built-in oauth2 private flows against
// oauthtest.Server, a real authorization server (fosite) that enforces PKCE, rotates refresh
// tokens and answers the standard error codes.

// TestOAuth2AuthorizationCodePKCE connects an account the whole way: StartOAuth, the user's
// approval at the server, FinishOAuth with the redirect's query; the tokens are stored and
// read back, the label comes from the test flow, and an action flow uses the token.
func TestOAuth2AuthorizationCodePKCE(t *testing.T) {
	ctx := t.Context()
	srv := oauthtest.New(t, oauthtest.Options{})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, oauth2App(srv, ""))
	putClient(t, m, srv, "acme")

	p, err := m.StartOAuth(ctx, prog, connections.ConnectRequest{Name: "alice"}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	au, err := url.Parse(p.AuthorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	q := au.Query()
	want := map[string]string{
		"response_type": "code", "client_id": testClientID, "redirect_uri": testRedirectURL, "scope": "read",
		"state": p.State, "code_challenge_method": "S256",
	}
	for k, v := range want {
		if got := q.Get(k); got != v {
			t.Errorf("authorize URL %s = %q, want %q", k, got, v)
		}
	}
	if got := au.Scheme + "://" + au.Host + au.Path; got != srv.AuthorizeURL() {
		t.Errorf("authorize URL = %s, want %s", got, srv.AuthorizeURL())
	}
	if n := len(q.Get("code_challenge")); n != 43 {
		t.Errorf("code_challenge %q has %d characters, want 43 (S256, base64url)", q.Get("code_challenge"), n)
	}
	if len(p.State) < 32 {
		t.Errorf("state %q is shorter than 32 characters", p.State)
	}
	if !p.Expires.Equal(clock.Now().Add(connections.PendingLifetime)) {
		t.Errorf("pending expires %v, want now + %v", p.Expires, connections.PendingLifetime)
	}

	cb, err := srv.Approve(p.AuthorizeURL)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if cb.Query().Get("code") == "" || cb.Query().Get("state") != p.State {
		t.Fatalf("the server redirected to %s, want a code and state %s", cb, p.State)
	}
	rec, err := m.FinishOAuth(ctx, prog, p, cb.Query())
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	if srv.TokenRequests("authorization_code") != 1 || srv.APIRequests() != 1 {
		t.Errorf("the server got %d code exchanges and %d API requests, want 1 and 1 (the test flow)",
			srv.TokenRequests("authorization_code"), srv.APIRequests())
	}

	got := reload(t, m, rec)
	if got.Name != "alice" || got.App != "acme" || got.Type != "oauth2" || got.Status != connections.StatusConnected ||
		got.Label != oauthtest.UserEmail || got.Client != "acme" || got.LastTest == nil || !got.LastTest.OK {
		t.Errorf("stored = name %q, app %q, type %q, status %q, label %q, client %q, last test %+v;\nwant alice, acme, oauth2, connected, %s, acme, ok",
			got.Name, got.App, got.Type, got.Status, got.Label, got.Client, got.LastTest, oauthtest.UserEmail)
	}
	tok := got.Creds.Token
	if tok == nil {
		t.Fatal("the stored connection has no token")
	}
	if !strings.HasPrefix(tok.AccessToken.Reveal(), "ory_at_") || !strings.HasPrefix(tok.RefreshToken.Reveal(), "ory_rt_") {
		t.Errorf("stored tokens %q and %q are not the server's (ory_at_..., ory_rt_...)", tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
	}
	if tok.AccessToken != rec.Creds.Token.AccessToken || tok.RefreshToken != rec.Creds.Token.RefreshToken {
		t.Errorf("the stored tokens differ from the ones FinishOAuth returned")
	}
	if tok.TokenType != "Bearer" || tok.Scope != "read" {
		t.Errorf("token type %q, scope %q; want Bearer, read", tok.TokenType, tok.Scope)
	}
	if want := clock.Now().Add(time.Hour); !anHourFrom(tok.Expiry, clock.Now()) || !tok.ObtainedAt.Equal(clock.Now()) {
		t.Errorf("token obtained %v, expiry %v; want %v and %v (the server's hour)", tok.ObtainedAt, tok.Expiry, clock.Now(), want)
	}

	res, err := runFlow(ctx, m, prog, got, "me", nil)
	if err != nil {
		t.Fatalf("run me: %v", err)
	}
	if want := map[string]any{"id": oauthtest.User, "email": oauthtest.UserEmail}; !equalJSON(res.Output, want) {
		t.Errorf("me = %v, want %v", res.Output, want)
	}
}

// TestOAuth2PKCEEnforced: without PKCE the server refuses the authorization request, and the
// refusal that comes back to the callback stores nothing.
func TestOAuth2PKCEEnforced(t *testing.T) {
	ctx := t.Context()
	srv := oauthtest.New(t, oauthtest.Options{})
	m := newManager(t, nil)
	src := strings.Replace(oauth2App(srv, ""), "  scopes: [read]\n", "  scopes: [read]\n  pkce: false\n", 1)
	prog := loadApp(t, src)
	putClient(t, m, srv, "acme")

	p, err := m.StartOAuth(ctx, prog, connections.ConnectRequest{Name: "alice"}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	if q := mustQuery(t, p.AuthorizeURL); q.Has("code_challenge") || q.Has("code_challenge_method") {
		t.Fatalf("pkce: false still sends a code challenge: %s", p.AuthorizeURL)
	}
	cb, err := srv.Approve(p.AuthorizeURL)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	if e := cb.Query().Get("error"); e != "invalid_request" || cb.Query().Has("code") {
		t.Fatalf("the server redirected with error %q and code %q, want invalid_request and none", e, cb.Query().Get("code"))
	}
	_, err = m.FinishOAuth(ctx, prog, p, cb.Query())
	const wantPrefix = "the provider refused access: invalid_request: "
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Fatalf("FinishOAuth: err = %v, want %q...", err, wantPrefix)
	}
	if !strings.Contains(err.Error(), "Clients must include a code_challenge") {
		t.Errorf("FinishOAuth: err = %v, want the server's word that PKCE is required", err)
	}
	if n := srv.TokenRequestsTotal(); n != 0 {
		t.Errorf("the server got %d token requests, want none", n)
	}
	wantNothingStored(t, m)
}

// TestOAuth2RefreshRotation: a token past its expiry (on the manager's clock) is refreshed
// before the request; the rotated refresh token is stored and the server refuses the old one.
func TestOAuth2RefreshRotation(t *testing.T) {
	ctx := t.Context()
	srv := oauthtest.New(t, oauthtest.Options{})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, oauth2App(srv, ""))
	putClient(t, m, srv, "acme")
	rec := connectOAuth2(t, m, prog, srv, "alice")
	old := rec.Creds.Token

	clock.Advance(2 * time.Hour)
	res, err := runFlow(ctx, m, prog, rec, "me", nil)
	if err != nil {
		t.Fatalf("run me after expiry: %v", err)
	}
	if want := map[string]any{"id": oauthtest.User, "email": oauthtest.UserEmail}; !equalJSON(res.Output, want) {
		t.Errorf("me = %v, want %v", res.Output, want)
	}
	if n := srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("the server got %d refreshes, want 1", n)
	}
	got := reload(t, m, rec)
	tok := got.Creds.Token
	if tok.RefreshToken == "" || tok.RefreshToken == old.RefreshToken || tok.AccessToken == old.AccessToken {
		t.Fatalf("after the refresh the stored tokens are not new ones (refresh token rotated: %v, access token new: %v)",
			tok.RefreshToken != old.RefreshToken, tok.AccessToken != old.AccessToken)
	}
	if got.RefreshCount != 1 || !got.LastRefresh.Equal(clock.Now()) || !anHourFrom(tok.Expiry, clock.Now()) {
		t.Errorf("refresh count %d, last refresh %v, expiry %v; want 1, %v, %v", got.RefreshCount, got.LastRefresh, tok.Expiry, clock.Now(), clock.Now().Add(time.Hour))
	}

	// The fresh token is not due again: a second run refreshes nothing.
	if _, err := runFlow(ctx, m, prog, got, "me", nil); err != nil {
		t.Fatalf("run me again: %v", err)
	}
	if n := srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("the server got %d refreshes after a second run, want still 1", n)
	}

	// The server refuses the rotated-away refresh token, and the old access token.
	conf := &oauth2.Config{ClientID: testClientID, ClientSecret: testClientSecret, Endpoint: srv.Endpoint()}
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err = conf.TokenSource(ctx, &oauth2.Token{RefreshToken: old.RefreshToken.Reveal(), Expiry: time.Unix(1, 0)}).Token()
	if status, code, _ := blocks.TokenErrorCode(err); status != http.StatusBadRequest || code != "invalid_grant" {
		t.Errorf("refresh with the old refresh token: %d %q (%v), want 400 invalid_grant", status, code, err)
	}
	if code := apiStatus(t, srv, old.AccessToken.Reveal()); code != http.StatusUnauthorized {
		t.Errorf("the API answers the old access token %d, want 401", code)
	}
}

// anHourFrom reports whether expiry is the server's hour from now on the manager's clock: fosite
// states expires_in as the whole seconds left when it answers, counted on the real clock from
// when it made the token, so 3599 as often as 3600, and less on a slow machine.
func anHourFrom(expiry, now time.Time) bool {
	d := expiry.Sub(now)
	return d > time.Hour-time.Minute && d <= time.Hour
}

// apiStatus is the status the server's protected API answers a bearer token with.
func apiStatus(t *testing.T, srv *oauthtest.Server, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.APIURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// clientCredentialsApp is an oauth2 app with the client_credentials grant against an
// oauthtest.Server written as SRV.
const clientCredentialsApp = `app: svc
name: Service
base_url: SRV
connection:
  type: oauth2
  grant: client_credentials
  token_url: SRV/oauth2/token
  scopes: [read]
  label: "{{ test.output.id }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
`

// TestOAuth2ClientCredentials connects with the client's own credentials: one token request,
// then the test flow; a token past its expiry is requested anew (there is no refresh token).
func TestOAuth2ClientCredentials(t *testing.T) {
	ctx := t.Context()
	srv := oauthtest.New(t, oauthtest.Options{})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, strings.ReplaceAll(clientCredentialsApp, "SRV", srv.URL))
	putClient(t, m, srv, "svc")

	rec, err := m.Connect(ctx, prog, connections.ConnectRequest{Name: "robot"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	got := reload(t, m, rec)
	tok := got.Creds.Token
	if tok == nil || !strings.HasPrefix(tok.AccessToken.Reveal(), "ory_at_") || tok.RefreshToken != "" {
		t.Fatalf("stored token = %+v, want a server access token and no refresh token", tok)
	}
	if got.Label != testClientID || got.LastTest == nil || !got.LastTest.OK || got.Client != "svc" {
		t.Errorf("label %q, last test %+v, client %q; want %s (the API's id of the client), ok, svc", got.Label, got.LastTest, got.Client, testClientID)
	}
	if !anHourFrom(tok.Expiry, clock.Now()) || tok.Scope != "read" {
		t.Errorf("expiry %v, scope %q; want %v, read", tok.Expiry, tok.Scope, clock.Now().Add(time.Hour))
	}
	if n, api := srv.TokenRequests("client_credentials"), srv.APIRequests(); n != 1 || api != 1 {
		t.Errorf("the server got %d token requests and %d API requests, want 1 and 1", n, api)
	}

	clock.Advance(2 * time.Hour)
	if err := m.Test(ctx, prog, got); err != nil {
		t.Fatalf("Test after expiry: %v", err)
	}
	if n := srv.TokenRequests("client_credentials"); n != 2 {
		t.Errorf("the server got %d token requests after expiry, want 2 (a new one, no refresh token)", n)
	}
	if again := reload(t, m, rec).Creds.Token; again.AccessToken == tok.AccessToken || again.RefreshToken != "" {
		t.Errorf("after expiry the stored token is the old one or has a refresh token")
	}
}

// putClientAs registers a client at srv that authenticates with method and stores it as app's
// auth client in m's store, with the secret the store gets (which may differ, to test a
// wrong one).
func putClientAs(t *testing.T, m *connections.Manager, srv *oauthtest.Server, app, id, method, stored string) {
	t.Helper()
	srv.AddClient(id, testClientSecret, []string{testRedirectURL}, oauthtest.ClientOptions{Scopes: []string{"read"}, TokenEndpointAuthMethod: method, Public: method == oauthtest.AuthNone})
	err := m.Store().PutClient(t.Context(), &connections.Client{
		Workspace: connections.DefaultWorkspace, App: app, Name: app, ClientID: id, Secret: connections.Secret(stored),
	})
	if err != nil {
		t.Fatalf("PutClient: %v", err)
	}
}

// TestOAuth2Revoke: deleting a connection runs the built-in revoke flow (the app has a
// revoke_url), with the client authenticated either way; the server refuses the tokens after,
// and the record is gone. A revoke the server refuses still deletes, and says so.
func TestOAuth2Revoke(t *testing.T) {
	tests := []struct {
		name, auth, method string
		storedSecret       string
		wantErr            string // of Delete; "" for none
	}{
		{name: "basic", method: oauthtest.AuthBasic, storedSecret: testClientSecret},
		{name: "post", auth: "  client_auth: post\n", method: oauthtest.AuthPost, storedSecret: testClientSecret},
		{name: "public", auth: "  client_auth: none\n", method: oauthtest.AuthNone},
		{
			name: "refused", method: oauthtest.AuthBasic, storedSecret: "wrong-" + testClientSecret,
			wantErr: `connection deleted, but revoking its token at the provider failed: builtin:revoke.yaml:9:9: step "revoke" (call_api): POST SRV/oauth2/revoke: 401 Unauthorized: `,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			srv := oauthtest.New(t, oauthtest.Options{})
			m := newManager(t, nil)
			src := strings.Replace(oauth2App(srv, ""), "  scopes: [read]\n", "  scopes: [read]\n"+tt.auth, 1)
			prog := loadApp(t, src)
			putClientAs(t, m, srv, "acme", "client-"+tt.name, tt.method, testClientSecret)
			rec := connectOAuth2(t, m, prog, srv, "alice")
			tok := rec.Creds.Token
			if tt.storedSecret != testClientSecret {
				err := m.Store().PutClient(ctx, &connections.Client{
					Workspace: connections.DefaultWorkspace, App: "acme", Name: "acme", ClientID: "client-" + tt.name, Secret: connections.Secret(tt.storedSecret),
				})
				if err != nil {
					t.Fatal(err)
				}
			}

			err := m.Delete(ctx, prog, reload(t, m, rec))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Delete: %v", err)
				}
				if code := apiStatus(t, srv, tok.AccessToken.Reveal()); code != http.StatusUnauthorized {
					t.Errorf("the API answers the revoked access token %d, want 401", code)
				}
			} else {
				want := strings.ReplaceAll(tt.wantErr, "SRV", srv.URL)
				var re *connections.RevokeError
				if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &re) {
					t.Fatalf("Delete: err = %v,\nwant a *RevokeError %q...", err, want)
				}
				noLeak(t, "the revoke error", err.Error(), tt.storedSecret, tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
				if code := apiStatus(t, srv, tok.AccessToken.Reveal()); code != http.StatusOK {
					t.Errorf("the API answers the unrevoked access token %d, want 200", code)
				}
			}
			if _, err := m.Store().ConnectionByID(ctx, rec.ID); !errors.Is(err, connections.ErrNotFound) {
				t.Errorf("after Delete, reading the connection: %v, want ErrNotFound", err)
			}
			wantNothingStored(t, m)
		})
	}
}

// TestOAuth2ServerErrors: the errors a real server answers reach the user as a clear message,
// with its status and OAuth error code, and nothing is stored.
func TestOAuth2ServerErrors(t *testing.T) {
	const (
		exchangeAt = `exchange: builtin:oauth2.yaml:35:9: step "token" (oauth2_token): token request: `
		ccAt       = `exchange: builtin:oauth2_client_credentials.yaml:8:9: step "token" (oauth2_token): token request: `
		failed     = "connection test failed, nothing was stored: "
	)
	tests := []struct {
		name       string
		grant      string // "" authorization code, else client_credentials
		secret     string // the client secret the store holds
		connect    func(t *testing.T, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server) (string, error)
		wantErr    string // the error's start
		wantStatus int
		wantCode   string
		stored     int // connections stored in the end
	}{
		{
			name: "wrong client secret", secret: "wrong-client-secret",
			connect: func(t *testing.T, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server) (string, error) {
				p := beginOAuth(t, m, prog, "alice")
				cb := approveQuery(t, srv, p)
				_, err := m.FinishOAuth(t.Context(), prog, p, cb)
				return cb.Get("code"), err
			},
			wantErr: exchangeAt + "401 Unauthorized: invalid_client: Client authentication failed", wantStatus: 401, wantCode: "invalid_client",
		},
		{
			name: "wrong client secret, client credentials", grant: "client_credentials", secret: "wrong-client-secret",
			connect: func(t *testing.T, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server) (string, error) {
				_, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "robot"})
				return "", err
			},
			wantErr: ccAt + "401 Unauthorized: invalid_client: Client authentication failed", wantStatus: 401, wantCode: "invalid_client",
		},
		{
			name: "code used twice", stored: 1,
			connect: func(t *testing.T, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server) (string, error) {
				p := beginOAuth(t, m, prog, "alice")
				cb := approveQuery(t, srv, p)
				if _, err := m.FinishOAuth(t.Context(), prog, p, cb); err != nil {
					t.Fatalf("first FinishOAuth: %v", err)
				}
				p2 := beginOAuth(t, m, prog, "alice2")
				cb.Set("state", p2.State)
				_, err := m.FinishOAuth(t.Context(), prog, p2, cb)
				return cb.Get("code"), err
			},
			wantErr: exchangeAt + "400 Bad Request: invalid_grant: The provided authorization grant", wantStatus: 400, wantCode: "invalid_grant",
		},
		{
			name: "wrong code verifier",
			connect: func(t *testing.T, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server) (string, error) {
				p1 := beginOAuth(t, m, prog, "alice")
				p2 := beginOAuth(t, m, prog, "alice")
				cb := approveQuery(t, srv, p1) // the code is bound to p1's challenge
				cb.Set("state", p2.State)      // and is delivered to p2, whose verifier differs
				_, err := m.FinishOAuth(t.Context(), prog, p2, cb)
				return cb.Get("code"), err
			},
			wantErr: exchangeAt + "400 Bad Request: invalid_grant: The provided authorization grant", wantStatus: 400, wantCode: "invalid_grant",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := oauthtest.New(t, oauthtest.Options{})
			w := newWatched(t, nil, connections.Config{})
			src := oauth2App(srv, "")
			if tt.grant != "" {
				src = strings.ReplaceAll(clientCredentialsApp, "SRV", srv.URL)
			}
			prog := loadApp(t, src)
			secret := tt.secret
			if secret == "" {
				secret = testClientSecret
			}
			putClientAs(t, w.m, srv, prog.App.Key, testClientID, oauthtest.AuthBasic, secret)

			code, err := tt.connect(t, w.m, prog, srv)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v,\nwant %q...", err, tt.wantErr)
			}
			if status, c, ok := blocks.TokenErrorCode(err); !ok || status != tt.wantStatus || c != tt.wantCode {
				t.Errorf("TokenErrorCode = %d %q %v, want %d %q true", status, c, ok, tt.wantStatus, tt.wantCode)
			}
			if strings.HasPrefix(err.Error(), failed) {
				t.Errorf("err = %v: a token request failed, not the test", err)
			}
			if n := len(listConnections(t, w.m)); n != tt.stored {
				t.Errorf("%d connections stored, want %d", n, tt.stored)
			}
			secrets := []string{testClientSecret, secret}
			if code != "" {
				secrets = append(secrets, code)
			}
			noLeak(t, "the error", err.Error(), secrets...)
			noLeak(t, "the logs", w.logs.String(), secrets...)
			noLeak(t, "the store's files", w.files(t), secrets...)
		})
	}
}

// beginOAuth begins connecting name to prog's oauth2 app at the test redirect URL.
func beginOAuth(t *testing.T, m *connections.Manager, prog *engine.Program, name string) *connections.Pending {
	t.Helper()
	p, err := m.StartOAuth(t.Context(), prog, connections.ConnectRequest{Name: name}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	return p
}

// approveQuery approves p at srv and returns the query of the redirect to the callback.
func approveQuery(t *testing.T, srv *oauthtest.Server, p *connections.Pending) url.Values {
	t.Helper()
	cb, err := srv.Approve(p.AuthorizeURL)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return cb.Query()
}

// formSniffer is a RoundTripper that keeps every form field the manager sends (codes, code
// verifiers, refresh tokens), for the leak check.
type formSniffer struct {
	mu     sync.Mutex
	values []string
}

func (f *formSniffer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(b))
		f.mu.Lock()
		for k, vs := range form {
			if k == "code" || k == "code_verifier" || k == "refresh_token" || k == "token" || k == "client_secret" {
				f.values = append(f.values, vs...)
			}
		}
		f.mu.Unlock()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return http.DefaultTransport.RoundTrip(req)
}

func (f *formSniffer) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.values...)
}

// TestOAuth2NoSecretLeaks takes connections through their whole life against the real server
// (connect, use, refresh, a failing refresh, a refused client, a revoked grant, delete) and
// looks for every secret (client secret, codes, code verifiers, access and refresh tokens) in
// every error, trace, log line, record shown and the store's files.
func TestOAuth2NoSecretLeaks(t *testing.T) {
	ctx := t.Context()
	srv := oauthtest.New(t, oauthtest.Options{})
	clock := newFakeClock(time.Now())
	sniff := &formSniffer{}
	w := newWatched(t, clock, connections.Config{HTTPClient: &http.Client{Transport: sniff}})
	m := w.m
	prog := loadApp(t, oauth2App(srv, ""))
	putClient(t, m, srv, "acme")
	const wrongSecret = "wrong-client-s3cret"
	if err := m.Store().PutClient(ctx, &connections.Client{Workspace: connections.DefaultWorkspace, App: "acme", Name: "wrong", ClientID: testClientID, Secret: wrongSecret}); err != nil {
		t.Fatal(err)
	}

	var errs, traces, shown []string
	var tokens []string
	keep := func(rec *connections.Record) {
		if tok := rec.Creds.Token; tok != nil {
			tokens = append(tokens, tok.AccessToken.Reveal(), tok.RefreshToken.Reveal())
		}
		shown = append(shown, fmt.Sprintf("%v %+v %#v %v", rec, *rec, rec.Creds, rec.Creds.Token))
	}
	run := func(rec *connections.Record) error {
		res, err := runFlow(ctx, m, prog, reload(t, m, rec), "me", nil)
		traces = append(traces, traceText(t, res))
		if err != nil {
			errs = append(errs, err.Error())
		}
		return err
	}

	// Connect alice, use the token, refresh it.
	p := beginOAuth(t, m, prog, "alice")
	shown = append(shown, fmt.Sprintf("%v %+v", p, *p))
	cb := approveQuery(t, srv, p)
	alice, err := m.FinishOAuth(ctx, prog, p, cb)
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	keep(alice)
	if err := run(alice); err != nil {
		t.Fatalf("run me: %v", err)
	}
	clock.Advance(2 * time.Hour)
	if err := run(alice); err != nil {
		t.Fatalf("run me after expiry: %v", err)
	}
	keep(reload(t, m, alice))

	// A refresh that fails for a while, then one the server refuses for good.
	clock.Advance(2 * time.Hour)
	srv.FailTokenEndpoint(1, http.StatusInternalServerError)
	if err := run(alice); err == nil {
		t.Fatal("run me with the token endpoint failing: no error")
	}
	keep(reload(t, m, alice))
	srv.RevokeAll()
	clock.Advance(2 * time.Hour)
	if err := run(alice); !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("run me after the grant was revoked: err = %v, want ErrDisconnected", err)
	}
	gone := reload(t, m, alice)
	keep(gone)
	if gone.Status != connections.StatusDisconnected || gone.Reason == "" {
		t.Errorf("after the refused refresh: status %q, reason %q; want disconnected with a reason", gone.Status, gone.Reason)
	}
	shown = append(shown, gone.Reason, gone.LastError)

	// A client the server refuses.
	p2, err := m.StartOAuth(ctx, prog, connections.ConnectRequest{Name: "carol", Client: "wrong"}, testRedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	cb2 := approveQuery(t, srv, p2)
	if _, err := m.FinishOAuth(ctx, prog, p2, cb2); err == nil {
		t.Fatal("FinishOAuth with a wrong client secret: no error")
	} else {
		errs = append(errs, err.Error())
	}

	// Connect bob, test, delete (revoking at the server).
	p3 := beginOAuth(t, m, prog, "bob")
	cb3 := approveQuery(t, srv, p3)
	bob, err := m.FinishOAuth(ctx, prog, p3, cb3)
	if err != nil {
		t.Fatalf("FinishOAuth bob: %v", err)
	}
	keep(bob)
	if err := m.Test(ctx, prog, reload(t, m, bob)); err != nil {
		t.Fatalf("Test bob: %v", err)
	}
	if err := m.Delete(ctx, prog, reload(t, m, bob)); err != nil {
		t.Fatalf("Delete bob: %v", err)
	}

	secrets := []string{testClientSecret, wrongSecret, cb.Get("code"), cb2.Get("code"), cb3.Get("code")}
	for _, s := range append(tokens, sniff.sent()...) {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	if len(sniff.sent()) < 8 { // 3 codes and 3 verifiers, 3 refresh tokens, a revoked token
		t.Errorf("the sniffer saw only %d secrets sent", len(sniff.sent()))
	}
	noLeak(t, "the errors", strings.Join(errs, "\n"), secrets...)
	noLeak(t, "the traces", strings.Join(traces, "\n"), secrets...)
	noLeak(t, "the records shown", strings.Join(shown, "\n"), secrets...)
	noLeak(t, "the logs", w.logs.String(), secrets...)
	noLeak(t, "the store's files", w.files(t), secrets...)
	for _, want := range []string{"connection created", "token refreshed", "connection disconnected"} {
		if !strings.Contains(w.logs.String(), want) {
			t.Errorf("the logs lack %q", want)
		}
	}
}
