package connections_test

// Tests of defects found in a review of the connection half, each named after its defect.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// rvProvider is a login endpoint and an API on one httptest server. POST /login trades
// {"username","password"} for a session token ("tok-N") and answers {"token", "n"}, n being
// what the test sets; GET /me and GET /items take a token that is valid (issued and not
// revoked); GET /forbidden answers 403 to a valid token, as an API does for a resource the
// account may not see.
type rvProvider struct {
	srv *httptest.Server

	mu      sync.Mutex
	n       any             // the "n" of the next login answer
	issued  []string        // tokens issued, oldest first
	revoked map[string]bool // tokens the API no longer takes
	newest  bool            // the API takes the newest token only
	logins  int
	entered chan struct{} // not nil: a login says it began here, then waits for release
	release chan struct{}
	down    int // not 0: the login endpoint answers this status
}

func newRVProvider(t *testing.T) *rvProvider {
	t.Helper()
	p := &rvProvider{n: 1, revoked: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in["username"] != tkUser || in["password"] != tkPassword {
			writeJSONBody(w, http.StatusUnauthorized, map[string]any{"error": "invalid credentials"})
			return
		}
		p.mu.Lock()
		entered, release, down := p.entered, p.release, p.down
		p.mu.Unlock()
		if down != 0 {
			writeJSONBody(w, down, map[string]any{"error": "try again later"})
			return
		}
		if entered != nil {
			entered <- struct{}{}
			<-release
		}
		p.mu.Lock()
		p.logins++
		tok := fmt.Sprintf("tok-%d-%s", len(p.issued)+1, strings.Repeat("x", 12))
		p.issued = append(p.issued, tok)
		n := p.n
		p.mu.Unlock()
		writeJSONBody(w, http.StatusOK, map[string]any{"token": tok, "n": n})
	})
	api := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Session ")
			p.mu.Lock()
			ok := !p.revoked[tok]
			found := false
			for _, t := range p.issued {
				found = found || t == tok
			}
			if p.newest && len(p.issued) > 0 {
				found = tok == p.issued[len(p.issued)-1]
			}
			p.mu.Unlock()
			if !ok || !found {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"error": "invalid session"})
				return
			}
			writeJSONBody(w, status, map[string]any{"name": "Alice Example"})
		}
	}
	mux.HandleFunc("GET /me", api(http.StatusOK))
	mux.HandleFunc("GET /items", api(http.StatusOK))
	mux.HandleFunc("GET /forbidden", api(http.StatusForbidden))
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *rvProvider) set(fn func(p *rvProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func (p *rvProvider) loginCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logins
}

// rvApp is a token app against p: exchange logs in (its output's extra value weight is 1/n),
// refresh is the app's refresh mapping ("" for none) and lifetime the expires_in the exchange
// states ("" for none).
func rvApp(p *rvProvider, refresh, lifetime string) string {
	src := `app: review
base_url: ` + p.srv.URL + `
connection:
  type: token
  fields:
    - {key: username, label: Username, required: true}
    - {key: password, label: Password, required: true, sensitive: true}
  inject: {in: header, name: Authorization, value: "Session {{ token }}"}
`
	if refresh != "" {
		src += "  refresh: " + refresh + "\n"
	}
	src += `flows:
  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /login
          json: {username: "{{ connection.fields.username }}", password: "{{ connection.fields.password }}"}
    output:
      access_token: "{{ steps.login.body.token }}"
`
	if lifetime != "" {
		src += "      expires_in: " + lifetime + "\n"
	}
	src += `      weight: "{{ 1 / steps.login.body.n }}"
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
  list:
    steps:
      - id: items
        call_api: {method: GET, path: /items}
  forbidden:
    steps:
      - id: secret
        call_api: {method: GET, path: /forbidden}
`
	return src
}

// rvConnect connects the account "work" of prog.
func rvConnect(t *testing.T, m *connections.Manager, src string) (*connections.Record, func(ctx context.Context, flow string) error) {
	t.Helper()
	prog := loadApp(t, src)
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{
		Name: "work", Fields: map[string]string{"username": tkUser, "password": tkPassword},
	})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	run := func(ctx context.Context, flow string) error {
		cur := reload(t, m, rec)
		_, err := runFlow(ctx, m, prog, cur, flow, nil)
		return err
	}
	return rec, run
}

// TestRefreshNotSavedDoesNotPanic: a token request whose result the store cannot save (here
// its extra value is +Inf, which JSON cannot encode) failed with a nil pointer panic in the
// refresh's log line, in every run waiting on that refresh. The request must fail with the
// save's error, the store keep the old token, and an operator hear of it.
func TestRefreshNotSavedDoesNotPanic(t *testing.T) {
	p := newRVProvider(t)
	clock := newFakeClock(tkT0)
	logs := &lockedBuffer{}
	m := newManagerConfig(t, clock, connections.Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	rec, run := rvConnect(t, m, rvApp(p, "", "60"))
	old := rec.Creds.Token.AccessToken
	p.set(func(p *rvProvider) { p.n = 0 }) // the next login's weight is 1/0
	clock.Advance(75 * time.Second)        // expired

	err := run(t.Context(), "list")
	if err == nil || strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "unsupported value: +Inf") {
		t.Fatalf("run = %v, want the save's error (unsupported value: +Inf) and no panic", err)
	}
	if got := reload(t, m, rec); got.Status != connections.StatusConnected || got.Creds.Token.AccessToken != old {
		t.Errorf("stored: status %s, token %s; want connected with the old token %s", got.Status, got.Creds.Token.AccessToken.Reveal(), old.Reveal())
	}
	if l := logs.String(); !strings.Contains(l, `level=ERROR msg="new token not saved"`) || strings.Contains(l, "tok-") {
		t.Errorf("logs = %s\nwant an error line saying the new token was not saved, without a token", l)
	}
}

// TestRetryForbiddenAfterFreshTokenKeepsConnection: with on_status [401, 403], a request for a
// resource the account may not see (403 whatever the token) got a new token and a retry, as
// asked, and then the retry's 403 disconnected the connection, deleting its credentials. Only
// a 401 after a fresh token says the grant is gone (DESIGN.md section 5); a 403 fails the
// request and changes nothing.
func TestRetryForbiddenAfterFreshTokenKeepsConnection(t *testing.T) {
	p := newRVProvider(t)
	events := &tkNotifier{}
	m := newManagerConfig(t, newFakeClock(tkT0), connections.Config{Notifier: events})
	rec, run := rvConnect(t, m, rvApp(p, "{on_status: [401, 403]}", ""))

	err := run(t.Context(), "forbidden")
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") || errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("run = %v, want the API's 403, not a disconnect", err)
	}
	if n := p.loginCount(); n != 2 {
		t.Errorf("%d token requests, want 2 (connect, then one after the first 403)", n)
	}
	got := reload(t, m, rec)
	if got.Status != connections.StatusConnected || got.Creds.Token == nil || got.Creds.Fields["password"].Reveal() != tkPassword {
		t.Errorf("stored: status %s (%s), token %v, fields %v; want connected with its credentials", got.Status, got.Reason, got.Creds.Token, got.Creds.Fields)
	}
	if k := events.kinds(); slices.Contains(k, "disconnected") {
		t.Errorf("events %q, want no disconnected", k)
	}
	if err := run(t.Context(), "list"); err != nil {
		t.Errorf("a later run: %v", err)
	}
}

// TestRefusedTokenTakesNoOldTokenWithoutExpiry: a run holding an old token that was refused
// took the newer token another run had stored as fresh, without asking the provider, and when
// that one was refused too (a token with no stated expiry, which had died unnoticed since),
// disconnected the connection, though its credentials were good. A token without a stated
// expiry, obtained longer than min_interval ago, is not taken as fresh: a new one is requested.
func TestRefusedTokenTakesNoOldTokenWithoutExpiry(t *testing.T) {
	p := newRVProvider(t)
	clock := newFakeClock(tkT0)
	events := &tkNotifier{}
	m := newManagerConfig(t, clock, connections.Config{Notifier: events})
	prog := loadApp(t, rvApp(p, "", ""))
	ctx := t.Context()
	rec, err := m.Connect(ctx, prog, connections.ConnectRequest{Name: "work", Fields: map[string]string{"username": tkUser, "password": tkPassword}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	long, err := m.RunOptions(ctx, prog, reload(t, m, rec)) // a long run: it holds tok-1
	if err != nil {
		t.Fatal(err)
	}

	p.set(func(p *rvProvider) { p.revoked[p.issued[0]] = true })
	if _, err := runFlow(ctx, m, prog, reload(t, m, rec), "list", nil); err != nil { // another run: tok-1 refused, tok-2
		t.Fatalf("the other run: %v", err)
	}
	clock.Advance(10 * time.Minute)
	p.set(func(p *rvProvider) { p.revoked[p.issued[1]] = true }) // tok-2 dies unnoticed

	if _, err := prog.Run(ctx, "list", long); err != nil {
		t.Fatalf("the long run, after its token and the stored one died: %v", err)
	}
	if n := p.loginCount(); n != 3 {
		t.Errorf("%d token requests, want 3 (connect, the other run's, the long run's)", n)
	}
	if got := reload(t, m, rec); got.Status != connections.StatusConnected {
		t.Errorf("status %s (%s), want connected", got.Status, got.Reason)
	}
	if k := events.kinds(); slices.Contains(k, "disconnected") {
		t.Errorf("events %q, want no disconnected", k)
	}
}

// TestRefreshRefusalReasonRedactsClientSecret: the reason of a disconnect is read from the
// token endpoint's error_description as it came, redacted only with the connection's own
// credentials; a provider echoing the client secret in it put the secret in clear into the
// database (reason, last_error, the event), the log line and the run's error.
func TestRefreshRefusalReasonRedactsClientSecret(t *testing.T) {
	desc := "client " + plainClientID + " with secret " + plainClientSecret + " may not use this refresh token"
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant", "error_description": desc})
		},
		"/api/me": bearerAPI("at-old-0123456789"),
	})
	clock := newFakeClock(tkT0)
	w := newWatched(t, clock, connections.Config{})
	prog := loadApp(t, plainApp(p, "", ""))
	putPlainClient(t, w.m, "plain")
	rec := &connections.Record{
		Workspace: connections.DefaultWorkspace, App: "plain", Name: "work", Type: "oauth2", Status: connections.StatusConnected, Client: "plain",
		Creds: connections.Credentials{Token: &connections.Token{
			AccessToken: "at-old-0123456789", RefreshToken: "rt-old-0123456789", ObtainedAt: tkT0.Add(-2 * time.Hour), Expiry: tkT0.Add(-time.Hour),
		}},
	}
	if err := w.m.Store().CreateConnection(t.Context(), rec); err != nil {
		t.Fatal(err)
	}

	_, err := runFlow(t.Context(), w.m, prog, reload(t, w.m, rec), "test", nil)
	if !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("run = %v, want disconnected", err)
	}
	got := reload(t, w.m, rec)
	if want := "may not use this refresh token"; !strings.Contains(got.Reason, want) {
		t.Errorf("reason %q, want the provider's words %q", got.Reason, want)
	}
	events, _ := w.m.Store().Events(t.Context(), rec.ID)
	evs, _ := json.Marshal(events)
	for what, text := range map[string]string{
		"the error": err.Error(), "the reason": got.Reason, "the last error": got.LastError, "the events": string(evs),
		"the logs": w.logs.String(), "the database": w.files(t),
	} {
		tkNoSecret(t, what, text, []string{plainClientSecret})
	}
}

// TestPrivateFlowRedactsCodeAndVerifier: the authorization code and the PKCE verifier the
// runtime hands an app's own exchange flow were redacted only when the flow declared them
// sensitive; a flow that did not, and failed, showed both in its error (the URL of a GET
// token request), which connect prints and the browser's page shows.
func TestPrivateFlowRedactsCodeAndVerifier(t *testing.T) {
	const exchange = `  exchange:
    inputs:
      code: {type: string, required: true}
      code_verifier: {type: string}
    steps:
      - id: token
        call_api:
          method: GET
          path: /token
          query: {code: "{{ input.code }}", code_verifier: "{{ input.code_verifier }}"}
    output:
      access_token: "{{ steps.token.body.access_token }}"
`
	var verifier string
	var mu sync.Mutex
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/api/token": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			verifier = r.URL.Query().Get("code_verifier")
			mu.Unlock()
			writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "invalid_request"})
		},
	})
	m := newManager(t, nil)
	prog := loadApp(t, plainApp(p, "", exchange))
	putPlainClient(t, m, "plain")
	_, _, err := connectPlain(t, m, prog, "a")
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") {
		t.Fatalf("connect = %v, want the token endpoint's 400", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(verifier) < 43 {
		t.Fatalf("the token endpoint got code_verifier %q, want a PKCE verifier", verifier)
	}
	tkNoSecret(t, "the error", err.Error(), []string{plainCode, verifier})
}

// TestOAuthErrorCallbackChecksState: a callback with an error parameter was believed before
// its state was checked, so anyone able to send the redirect (a page the user visits, another
// local process) could end a pending connection with words of their own shown as the
// provider's. Its state must match like any other callback's (RFC 6749 4.1.2.1 returns it).
func TestOAuthErrorCallbackChecksState(t *testing.T) {
	tests := []struct {
		name   string
		query  url.Values
		wantIs error
	}{
		{"forged state", url.Values{"error": {"access_denied"}, "error_description": {"visit evil.example to fix"}, "state": {"forged-state-0123456789"}}, connections.ErrStateMismatch},
		{"no state", url.Values{"error": {"access_denied"}, "error_description": {"visit evil.example to fix"}}, connections.ErrStateMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": tokenJSON(map[string]any{"access_token": "at-1"})})
			m := newManager(t, nil)
			prog := loadApp(t, plainApp(p, "", ""))
			putPlainClient(t, m, "plain")
			pending := beginOAuth(t, m, prog, "a")
			_, err := m.FinishOAuth(t.Context(), prog, pending, tt.query)
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("FinishOAuth = %v, want %v", err, tt.wantIs)
			}
		})
	}
}

// TestLabelRedactsSecrets: the label is the only text of a connection kept in clear that was
// not redacted: an API whose /me echoes the key (some do) and a label template showing what
// /me returned stored the key in clear in the database and printed it in connections list.
func TestLabelRedactsSecrets(t *testing.T) {
	api := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "token "+goodKey {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"login": "octocat (key " + goodKey + ")"})
		},
	})
	w := newWatched(t, nil, connections.Config{})
	prog := loadApp(t, strings.ReplaceAll(keyAppYAML, "SRV", api.srv.URL))
	rec, err := w.m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "gh", Fields: map[string]string{"api_key": goodKey}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if want := "octocat (key [redacted])"; rec.Label != want {
		t.Errorf("label %q, want %q", rec.Label, want)
	}
	tkNoSecret(t, "the database", w.files(t), []string{goodKey})
}

// TestRefusedTokensDoNotPingPong: two runs holding older tokens of a provider that takes only
// the newest, with min_interval 0s, each refused in turn: the second takes the token the first
// just obtained instead of requesting another, which would refuse the first's again.
func TestRefusedTokensDoNotPingPong(t *testing.T) {
	p := newRVProvider(t)
	p.set(func(p *rvProvider) { p.newest = true })
	clock := newFakeClock(tkT0)
	m := newManagerConfig(t, clock, connections.Config{})
	prog := loadApp(t, rvApp(p, "{min_interval: 0s}", ""))
	ctx := t.Context()
	rec, err := m.Connect(ctx, prog, connections.ConnectRequest{Name: "work", Fields: map[string]string{"username": tkUser, "password": tkPassword}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	var runs []engine.Options
	for range 2 {
		o, err := m.RunOptions(ctx, prog, reload(t, m, rec))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, o)
	}
	p.set(func(p *rvProvider) { p.revoked[p.issued[0]] = true })
	for i := range 6 {
		clock.Advance(time.Second)
		if _, err := prog.Run(ctx, "list", runs[i%2]); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
	if n := p.loginCount(); n != 2 {
		t.Errorf("%d token requests, want 2 (connect, then one new token both runs use)", n)
	}
}

// TestRefreshSavedWhenCallerCancelled: a run stopped (Ctrl-C, its deadline) while its token is
// being refreshed does not throw the new token away: the refresh finishes and is saved, and
// the run ends only then, so a process that exits after it loses nothing.
func TestRefreshSavedWhenCallerCancelled(t *testing.T) {
	p := newRVProvider(t)
	clock := newFakeClock(tkT0)
	m := newManagerConfig(t, clock, connections.Config{})
	rec, run := rvConnect(t, m, rvApp(p, "", "60"))
	entered, release := make(chan struct{}), make(chan struct{})
	p.set(func(p *rvProvider) { p.entered, p.release = entered, release })
	clock.Advance(45 * time.Second) // due

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, "list") }()
	<-entered // the token request has reached the provider
	cancel()
	select {
	case err := <-done:
		t.Fatalf("the run ended (%v) before the refresh it started was saved", err)
	default:
	}
	close(release)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("run = %v, want it stopped (context canceled)", err)
	}
	got := reload(t, m, rec)
	if got.RefreshCount != 1 || got.Creds.Token.AccessToken.Reveal() != "tok-2-xxxxxxxxxxxx" {
		t.Errorf("stored: %d refreshes, token %s; want the new token tok-2 saved", got.RefreshCount, got.Creds.Token.AccessToken.Reveal())
	}
}

// TestRefreshInvalidClientKeepsTokens: a refresh refused with invalid_client (the app's auth
// client secret is wrong or was rotated at the provider) disconnected the connection and
// deleted its refresh token, so every connection of the app had to be connected again after
// the client was fixed, though no user's grant was revoked. An error code that blames the
// client keeps the tokens: the connection's status is error, with the reason, until a refresh
// succeeds.
func TestRefreshInvalidClientKeepsTokens(t *testing.T) {
	var mu sync.Mutex
	code := "invalid_client"
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			c := code
			mu.Unlock()
			if r.FormValue("refresh_token") != "rt-0123456789" {
				writeJSONBody(w, http.StatusBadRequest, map[string]any{"error": "invalid_grant"})
				return
			}
			if c != "" {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"error": c, "error_description": "Client authentication failed"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-new-0123456789", "token_type": "bearer", "expires_in": 3600})
		},
		"/api/me": bearerAPI("at-new-0123456789"),
	})
	clock := newFakeClock(tkT0)
	events := &tkNotifier{}
	m := newManagerConfig(t, clock, connections.Config{Notifier: events})
	prog := loadApp(t, plainApp(p, "", ""))
	putPlainClient(t, m, "plain")
	rec := &connections.Record{
		Workspace: connections.DefaultWorkspace, App: "plain", Name: "work", Type: "oauth2", Status: connections.StatusConnected, Client: "plain",
		Creds: connections.Credentials{Token: &connections.Token{
			AccessToken: "at-old-0123456789", RefreshToken: "rt-0123456789", ObtainedAt: tkT0.Add(-2 * time.Hour), Expiry: tkT0.Add(-time.Hour),
		}},
	}
	if err := m.Store().CreateConnection(t.Context(), rec); err != nil {
		t.Fatal(err)
	}

	_, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "test", nil)
	if err == nil || errors.Is(err, connections.ErrDisconnected) || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("run = %v, want the client refused, not a disconnect", err)
	}
	got := reload(t, m, rec)
	wantReason := "the token endpoint answered 401 Unauthorized: invalid_client: Client authentication failed"
	if got.Status != connections.StatusError || got.Reason != wantReason || got.Creds.Token == nil || got.Creds.Token.RefreshToken != "rt-0123456789" {
		t.Errorf("stored: status %s (%s), token %v; want error (%s) with the refresh token kept", got.Status, got.Reason, got.Creds.Token, wantReason)
	}
	if k := events.kinds(); slices.Contains(k, "disconnected") {
		t.Errorf("events %q, want no disconnected", k)
	}

	mu.Lock()
	code = "" // the client is fixed
	mu.Unlock()
	if _, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "test", nil); err != nil {
		t.Fatalf("run after the client was fixed: %v", err)
	}
	if got := reload(t, m, rec); got.Status != connections.StatusConnected || got.Reason != "" {
		t.Errorf("stored: status %s (%s), want connected", got.Status, got.Reason)
	}
}

// TestOAuth1DeniedCallbackChecksState: as oauth2's, an oauth1 callback saying the user denied
// access (or an error) was believed before its state was checked.
func TestOAuth1DeniedCallbackChecksState(t *testing.T) {
	for _, edit := range []func(q url.Values){
		func(q url.Values) { q.Del("oauth_verifier"); q.Set("denied", "rt-1"); q.Set("state", "forged") },
		func(q url.Values) { q.Set("error", "access_denied"); q.Set("state", "forged") },
	} {
		e := newO1Env(t, o1ConsumerSecret)
		pending, err := e.m.StartOAuth(t.Context(), e.prog, e.request(), e.redirect)
		if err != nil {
			t.Fatal(err)
		}
		q := e.approve(t, pending)
		edit(q)
		if _, err := e.m.FinishOAuth(t.Context(), e.prog, pending, q); !errors.Is(err, connections.ErrStateMismatch) {
			t.Errorf("FinishOAuth(%v) = %v, want %v", q, err, connections.ErrStateMismatch)
		}
	}
}

// TestDueTokenUsedWhileTokenEndpointDown: a token due for its early refresh (before_expiry)
// but still valid failed every request while the token endpoint was down (a 503, a timeout),
// though the API would have taken it: a provider's bad minute stopped every run of the
// connection for up to before_expiry. The request goes on with the valid token; once the
// token has expired, the request fails as before.
func TestDueTokenUsedWhileTokenEndpointDown(t *testing.T) {
	p := newRVProvider(t)
	clock := newFakeClock(tkT0)
	m := newManagerConfig(t, clock, connections.Config{})
	rec, run := rvConnect(t, m, rvApp(p, "", "60"))
	p.set(func(p *rvProvider) { p.down = http.StatusServiceUnavailable })
	clock.Advance(45 * time.Second) // due (past half its lifetime), not expired

	if err := run(t.Context(), "list"); err != nil {
		t.Fatalf("run with a valid token while the token endpoint is down: %v", err)
	}
	got := reload(t, m, rec)
	if got.Status != connections.StatusConnected || got.RefreshCount != 0 || !strings.Contains(got.LastError, "503") {
		t.Errorf("stored: status %s, %d refreshes, last error %q; want connected, none, the 503", got.Status, got.RefreshCount, got.LastError)
	}

	clock.Advance(30 * time.Second) // expired
	if err := run(t.Context(), "list"); err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("run with an expired token while the token endpoint is down = %v, want the 503", err)
	}
	p.set(func(p *rvProvider) { p.down = 0 })
	if err := run(t.Context(), "list"); err != nil {
		t.Errorf("run after the token endpoint is back: %v", err)
	}
}
