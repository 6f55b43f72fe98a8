package connections_test

// The token lifecycle (issue 4) proved against a real authorization server: oauthtest, which is
// fosite, rotates refresh tokens and revokes the whole grant when a rotated one is presented
// again. Two refreshes of one connection at once therefore show up at the server as a refused
// request (invalid_request or invalid_grant) and here as a disconnect, so "one refresh request,
// nothing refused" proves the single flight and the saving of rotated tokens. patchbay decides
// when a token is due on its Manager's fake clock; fosite's tokens live an hour of real time,
// far longer than any of these tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/engine"
)

// lifecycle is one authorization server, an API server of the test's own, a Manager on a fake
// clock over a SQLite store, an oauth2 app and one connected account.
type lifecycle struct {
	srv    *oauthtest.Server
	api    *bodyAPI
	clock  *fakeClock
	m      *connections.Manager
	prog   *engine.Program
	rec    *connections.Record // as connected
	dbPath string
	store  *lockCounter  // the Manager's store
	logs   *lockedBuffer // the Manager's log, JSON lines
	srvLog *lockedBuffer // the server's refusals, JSON lines
	heard  *notifier
}

// newLifecycle connects an account to an oauth2 app with extra flows (API in them is the body
// API's URL). cfg may set RefreshTimeout; the rest of it is the test's.
func newLifecycle(t *testing.T, extra string, cfg connections.Config) *lifecycle {
	return newLifecycleApp(t, "", extra, cfg)
}

// newLifecycleApp is newLifecycle with more connection settings (withConnection's lines).
func newLifecycleApp(t *testing.T, connLines, extra string, cfg connections.Config) *lifecycle {
	t.Helper()
	e := &lifecycle{logs: &lockedBuffer{}, srvLog: &lockedBuffer{}, heard: &notifier{}, clock: newFakeClock(time.Now())}
	e.srv = oauthtest.New(t, oauthtest.Options{Logger: slog.New(slog.NewJSONHandler(e.srvLog, nil))})
	e.api = newBodyAPI(t, e.srv)
	st, path := openStore(t)
	e.dbPath, e.store = path, &lockCounter{Store: st}
	cfg.Store = e.store
	cfg.Logger = slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Notifier = e.heard
	// The body API is a server of its own, not at the origins of the app's URLs the connection
	// is bound to: its origin is allowed, as run --allow-origin allows one.
	cfg.AllowOrigins = append(cfg.AllowOrigins, engine.Origin(mustURL(t, e.api.URL)))
	e.m = newManagerConfig(t, e.clock, cfg)
	e.prog = loadApp(t, withConnection(oauth2App(e.srv, strings.ReplaceAll(extra, "API", e.api.URL)), connLines))
	putClient(t, e.m, e.srv, "acme")
	e.rec = connectOAuth2(t, e.m, e.prog, e.srv, "alice")
	if e.rec.Creds.Token == nil || e.rec.Creds.Token.RefreshToken == "" || e.rec.Creds.Token.Expiry.IsZero() {
		t.Fatalf("connected without a refresh token or an expiry: %+v", e.rec.Creds.Token)
	}
	return e
}

// expire moves the clock past the connection's token's expiry.
func (e *lifecycle) expire(t *testing.T) {
	t.Helper()
	tok := reload(t, e.m, e.rec).Creds.Token
	if tok == nil {
		t.Fatal("the connection has no token")
	}
	if now := e.clock.Now(); now.Before(tok.Expiry) {
		e.clock.Advance(tok.Expiry.Sub(now) + time.Minute)
	}
}

// refused returns the token requests the server refused, by OAuth error code.
func (e *lifecycle) refused(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, l := range logLines(t, e.srvLog) {
		if l["msg"] == "request refused" && l["endpoint"] == "token" {
			out[fmt.Sprint(l["error"])]++
		}
	}
	return out
}

// me runs the app's me flow with rec and checks that it answered as the user.
func (e *lifecycle) me(ctx context.Context, rec *connections.Record) error {
	res, err := runFlow(ctx, e.m, e.prog, rec, "me", nil)
	if err != nil {
		return err
	}
	out, _ := res.Output.(map[string]any)
	if out["email"] != oauthtest.UserEmail {
		return fmt.Errorf("me answered %v, want the email %s", res.Output, oauthtest.UserEmail)
	}
	return nil
}

// lockCounter is a store that counts the refreshes in this process that ask for a connection's
// lease at once, waiting for it or holding it. Only a refresh takes the lease, so more than one
// at a time means the Manager's single flight let two refreshes start.
type lockCounter struct {
	connections.Store
	mu        sync.Mutex
	holders   map[string]bool
	maxAtOnce int
}

func (s *lockCounter) TakeLease(ctx context.Context, id, holder string, d time.Duration) (*connections.Record, error) {
	s.mu.Lock()
	if s.holders == nil {
		s.holders = map[string]bool{}
	}
	s.holders[holder] = true
	s.maxAtOnce = max(s.maxAtOnce, len(s.holders))
	s.mu.Unlock()
	rec, err := s.Store.TakeLease(ctx, id, holder, d)
	var held *connections.LeaseHeldError
	if err != nil && !errors.As(err, &held) {
		s.mu.Lock()
		delete(s.holders, holder)
		s.mu.Unlock()
	}
	return rec, err
}

func (s *lockCounter) ReleaseLease(ctx context.Context, id, holder string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
	s.mu.Lock()
	delete(s.holders, holder)
	s.mu.Unlock()
	return s.Store.ReleaseLease(ctx, id, holder, fn)
}

// most returns the most leases held at once.
func (s *lockCounter) most() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxAtOnce
}

// notifier records the events it hears.
type notifier struct {
	mu     sync.Mutex
	events []connections.Event
}

func (n *notifier) Notify(_ context.Context, e connections.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *notifier) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, e := range n.events {
		out = append(out, e.Kind)
	}
	return out
}

// logLines parses the JSON lines of buf.
func logLines(t *testing.T, buf *lockedBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// bodyAPI is an API that records every request's body and content type, answers 401 to the
// tokens it was told to refuse, and otherwise asks the authorization server's protected API
// whether the bearer token is good (so a stale, rotated-away token is refused too).
type bodyAPI struct {
	*httptest.Server
	srv *oauthtest.Server

	mu       sync.Mutex
	refusing map[string]bool // access tokens answered with 401
	got      []apiRequest
}

type apiRequest struct {
	Status      int
	ContentType string
	Body        string
}

func newBodyAPI(t *testing.T, srv *oauthtest.Server) *bodyAPI {
	a := &bodyAPI{srv: srv, refusing: map[string]bool{}}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// refuse makes the API answer 401 to the access token tok.
func (a *bodyAPI) refuse(tok connections.Secret) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refusing[tok.Reveal()] = true
}

func (a *bodyAPI) requests() []apiRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apiRequest(nil), a.got...)
}

func (a *bodyAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	a.mu.Lock()
	refuse := a.refusing[tok]
	a.mu.Unlock()
	status := http.StatusOK
	if refuse {
		status = http.StatusUnauthorized
	} else {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, a.srv.APIURL(), nil)
		req.Header.Set("Authorization", r.Header.Get("Authorization"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status = http.StatusBadGateway
		} else {
			resp.Body.Close()
			status = resp.StatusCode
		}
	}
	a.mu.Lock()
	a.got = append(a.got, apiRequest{Status: status, ContentType: r.Header.Get("Content-Type"), Body: string(body)})
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%d}`, status)
}

// bodyFlows post a JSON body and a form body to the body API.
const bodyFlows = `  post_json:
    steps:
      - id: post
        call_api:
          method: POST
          url: API/items
          json: {title: "hello", tags: [a, b], n: 3, nested: {ok: true}}
    output: "{{ steps.post.body }}"
  post_form:
    steps:
      - id: post
        call_api:
          method: POST
          url: API/items
          form: {title: "hello world", note: "é+%&="}
    output: "{{ steps.post.body }}"
`

// TestLifecycleConcurrentRefresh: 200 runs at once, each with its own run of the me flow and
// the record as it was read before the token expired, share one Manager: one refresh request
// reaches the token endpoint, none is refused, all 200 succeed, each with one API request, and
// no two refreshes ask for the store's lease at once. With min_interval 0 nothing but the
// single flight and the re-read as the lease is taken keeps the late callers from refreshing
// again.
func TestLifecycleConcurrentRefresh(t *testing.T) {
	for _, tt := range []struct{ name, conn string }{
		{"default refresh settings", ""},
		{"min_interval 0", "  refresh: {min_interval: 0s}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) { testConcurrentRefresh(t, tt.conn) })
	}
}

func testConcurrentRefresh(t *testing.T, connLines string) {
	e := newLifecycleApp(t, connLines, "", connections.Config{})
	e.expire(t)
	const n = 200
	apiBefore := e.srv.APIRequests()
	start := make(chan struct{})
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- e.me(t.Context(), e.rec)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
			if failed <= 3 {
				t.Errorf("call failed: %v", err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d calls failed, want 0", failed, n)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refresh requests at the token endpoint = %d, want 1", got)
	}
	if got := e.refused(t); len(got) != 0 {
		t.Errorf("token requests refused = %v, want none", got)
	}
	if got := e.srv.APIRequests() - apiBefore; got != n {
		t.Errorf("API requests = %d, want %d (one per call: every call used the new token)", got, n)
	}
	rec := reload(t, e.m, e.rec)
	if rec.Status != connections.StatusConnected || rec.RefreshCount != 1 {
		t.Errorf("connection status %q, refresh count %d; want connected, 1", rec.Status, rec.RefreshCount)
	}
	if rec.Creds.Token.RefreshToken == e.rec.Creds.Token.RefreshToken {
		t.Error("the rotated refresh token was not saved")
	}
	if got := e.store.most(); got != 1 {
		t.Errorf("the refresh lease was held %d times at once, want 1", got)
	}
}

// shortLivedFlows override the built-in exchange and refresh so that patchbay is told every
// token lives 60 seconds (fosite's own lifetime is real time and longer than the test).
const shortLivedFlows = `  exchange:
    inputs:
      code: {type: string, required: true, sensitive: true}
      state: {type: string}
      redirect_uri: {type: string, required: true}
      code_verifier: {type: string, sensitive: true}
      query: {type: object}
    steps:
      - id: token
        oauth2_token:
          url: "{{ connection.token_url }}"
          grant_type: authorization_code
          client_id: "{{ connection.client.id }}"
          client_secret: "{{ connection.client.secret }}"
          code: "{{ input.code }}"
          redirect_uri: "{{ input.redirect_uri }}"
          code_verifier: "{{ input.code_verifier }}"
    output:
      access_token: "{{ steps.token.access_token }}"
      refresh_token: "{{ steps.token.refresh_token }}"
      expires_in: 60
  refresh:
    inputs:
      refresh_token: {type: string, required: true, sensitive: true}
    steps:
      - id: token
        oauth2_token:
          url: "{{ connection.token_url }}"
          grant_type: refresh_token
          client_id: "{{ connection.client.id }}"
          client_secret: "{{ connection.client.secret }}"
          refresh_token: "{{ input.refresh_token }}"
    output:
      access_token: "{{ steps.token.access_token }}"
      refresh_token: "{{ steps.token.refresh_token }}"
      expires_in: 60
`

// TestLifecycleShortLivedToken: a token that lives 60 seconds keeps working across five
// minutes, a call (four at once) every 10 seconds of the fake clock. before_expiry (default
// 30m) and min_interval (default 1m) are capped at half the lifetime, so the token is refreshed
// once per 30 seconds, one refresh at a time, and no call is made with an expired token.
func TestLifecycleShortLivedToken(t *testing.T) {
	e := newLifecycle(t, shortLivedFlows, connections.Config{})
	t0 := e.clock.Now()
	if got := e.rec.Creds.Token.Expiry.Sub(t0); got != time.Minute {
		t.Fatalf("the token lives %s, want 1m0s", got)
	}
	for step := 1; step <= 30; step++ {
		e.clock.Advance(10 * time.Second)
		now := e.clock.Now()
		rec := reload(t, e.m, e.rec) // each run reads the connection afresh, as the scheduler does
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = e.me(t.Context(), rec)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("at +%s: call failed: %v", now.Sub(t0), err)
			}
		}
		after := reload(t, e.m, e.rec)
		if want := step / 3; e.srv.TokenRequests("refresh_token") != want || after.RefreshCount != want {
			t.Fatalf("at +%s: %d refresh requests, refresh count %d; want %d (one per 30s)",
				now.Sub(t0), e.srv.TokenRequests("refresh_token"), after.RefreshCount, want)
		}
		if !after.Creds.Token.Expiry.After(now) {
			t.Fatalf("at +%s: the calls used a token that expired at +%s", now.Sub(t0), after.Creds.Token.Expiry.Sub(t0))
		}
	}
	if got := e.refused(t); len(got) != 0 {
		t.Errorf("token requests refused = %v, want none", got)
	}
	if got := e.store.most(); got != 1 {
		t.Errorf("the refresh lease was held %d times at once, want 1", got)
	}
}

// TestLifecycleAPIRefusesEverything: a provider whose API answers 401 to every token. One call
// refreshes exactly once, the retry is refused too, and the connection is disconnected; no
// loop. The next call, with the record read back or with the same run options, fails at once.
func TestLifecycleAPIRefusesEverything(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{})
	e.srv.API401Always(true)
	opts, err := e.m.RunOptions(t.Context(), e.prog, e.rec)
	if err != nil {
		t.Fatal(err)
	}
	apiBefore := e.srv.APIRequests()
	_, err = e.prog.Run(t.Context(), "me", opts)
	if !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("call = %v, want ErrDisconnected", err)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refresh requests = %d, want 1", got)
	}
	if got := e.srv.APIRequests() - apiBefore; got != 2 {
		t.Errorf("API requests = %d, want 2 (the request and its one retry)", got)
	}
	rec := reload(t, e.m, e.rec)
	const reason = "the provider refused a freshly refreshed token (401 Unauthorized)"
	if rec.Status != connections.StatusDisconnected || rec.Reason != reason {
		t.Errorf("status %q, reason %q; want disconnected, %q", rec.Status, rec.Reason, reason)
	}
	if rec.Creds.Token != nil || len(rec.Creds.Fields) != 0 {
		t.Errorf("a disconnected connection kept credentials: token %v, fields %v", rec.Creds.Token != nil, rec.Creds.Fields)
	}

	tokens, apiBefore := e.srv.TokenRequestsTotal(), e.srv.APIRequests()
	if _, err := runFlow(t.Context(), e.m, e.prog, rec, "me", nil); !errors.Is(err, connections.ErrDisconnected) {
		t.Errorf("next call with the record read back = %v, want ErrDisconnected", err)
	}
	if _, err := e.prog.Run(t.Context(), "me", opts); !errors.Is(err, connections.ErrDisconnected) {
		t.Errorf("next call with the same run options = %v, want ErrDisconnected", err)
	}
	if e.srv.TokenRequestsTotal() != tokens || e.srv.APIRequests() != apiBefore {
		t.Errorf("the calls after the disconnect made %d token and %d API requests, want none",
			e.srv.TokenRequestsTotal()-tokens, e.srv.APIRequests()-apiBefore)
	}
}

// TestLifecycleTokenEndpointDown: a token endpoint that answers 503, then one that does not
// answer within RefreshTimeout. Each call fails with a retryable error (an HTTP 503, then a
// timeout); the connection stays connected with its tokens and the failure in LastError. Once
// the endpoint is back, the next call refreshes and works.
func TestLifecycleTokenEndpointDown(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{RefreshTimeout: 200 * time.Millisecond})
	e.expire(t)
	step := e.prog.App.File + `:19:9: step "me" (call_api): GET ` + e.srv.APIURL() + ": authorize: refresh token: "
	hung := `builtin:oauth2.yaml:59:9: step "token" (oauth2_token): token request: Post "` + e.srv.TokenURL() + `": context deadline exceeded`
	tests := []struct {
		name      string
		fault     func()
		wantErr   string
		wantClass string
		wantLast  string
	}{
		{"503", func() { e.srv.FailTokenEndpoint(1, http.StatusServiceUnavailable) },
			step + "POST " + e.srv.TokenURL() + ": 503 Service Unavailable: temporarily_unavailable: failure injected by oauthtest", "http",
			"the token endpoint answered 503 Service Unavailable: temporarily_unavailable: failure injected by oauthtest"},
		{"hang", func() { e.srv.HangTokenEndpoint(1) }, step + hung, "timeout", hung},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fault()
			before := e.srv.TokenRequests("refresh_token")
			err := e.me(t.Context(), e.rec)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("call = %v\nwant %s", err, tt.wantErr)
			}
			if errors.Is(err, connections.ErrDisconnected) {
				t.Fatalf("call = %v: disconnected by a transient failure", err)
			}
			if got := engine.ErrorClass(err); got != tt.wantClass {
				t.Errorf("ErrorClass(%v) = %q, want %q", err, got, tt.wantClass)
			}
			var he *engine.HTTPError
			if tt.wantClass == "http" && (!errors.As(err, &he) || he.StatusCode != http.StatusServiceUnavailable) {
				t.Errorf("call = %v, want an *engine.HTTPError 503", err)
			}
			if got := e.srv.TokenRequests("refresh_token") - before; got != 1 {
				t.Errorf("refresh requests = %d, want 1", got)
			}
			rec := reload(t, e.m, e.rec)
			if rec.Status != connections.StatusConnected || rec.Reason != "" {
				t.Errorf("status %q, reason %q; want connected, no reason", rec.Status, rec.Reason)
			}
			if rec.Creds.Token == nil || rec.Creds.Token.RefreshToken != e.rec.Creds.Token.RefreshToken {
				t.Error("the connection lost its refresh token")
			}
			if rec.LastError != tt.wantLast {
				t.Errorf("LastError = %q, want %q", rec.LastError, tt.wantLast)
			}
		})
	}
	if err := e.me(t.Context(), e.rec); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}
	rec := reload(t, e.m, e.rec)
	if rec.RefreshCount != 1 || rec.LastError != "" {
		t.Errorf("after recovery: refresh count %d, LastError %q; want 1, none", rec.RefreshCount, rec.LastError)
	}
	if got := e.refused(t); len(got) != 0 {
		t.Errorf("token requests refused by fosite = %v, want none", got)
	}
}

// TestLifecycleRevokedRefreshToken: the user revoked access at the provider and the token
// expired. The refresh is refused with invalid_grant: the connection is disconnected with the
// reason recorded, its tokens are gone from the database (the record and the raw files), an
// event "disconnected" is stored, and the Notifier heard it.
func TestLifecycleRevokedRefreshToken(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{})
	e.srv.RevokeAll()
	e.expire(t)
	err := e.me(t.Context(), e.rec)
	if !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("call = %v, want ErrDisconnected", err)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refresh requests = %d, want 1", got)
	}
	rec := reload(t, e.m, e.rec)
	if rec.Status != connections.StatusDisconnected {
		t.Errorf("status = %q, want disconnected", rec.Status)
	}
	const wantReason = "the token endpoint answered 400 Bad Request: invalid_grant"
	if !strings.HasPrefix(rec.Reason, wantReason) {
		t.Errorf("reason = %q, want it to start with %q", rec.Reason, wantReason)
	}
	if rec.Creds.Token != nil {
		t.Error("the disconnected connection kept its token")
	}
	var files []byte
	matches, _ := filepath.Glob(e.dbPath + "*") // patchbay.db, -wal, -shm
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	for _, s := range []connections.Secret{e.rec.Creds.Token.RefreshToken, e.rec.Creds.Token.AccessToken} {
		if bytes.Contains(files, []byte(s.Reveal())) {
			t.Error("the database files hold the old token in clear")
		}
	}
	events, err := e.m.Store().Events(t.Context(), e.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, ev := range events {
		stored = append(stored, ev.Kind)
		if ev.Kind == "disconnected" && ev.Reason != rec.Reason {
			t.Errorf("event reason = %q, want %q", ev.Reason, rec.Reason)
		}
	}
	if want := []string{"created", "disconnected"}; !slicesEqual(stored, want) {
		t.Errorf("stored events = %v, want %v", stored, want)
	}
	if got, want := e.heard.kinds(), []string{"created", "refresh_failed", "disconnected"}; !slicesEqual(got, want) {
		t.Errorf("the notifier heard %v, want %v", got, want)
	}
	if _, err := runFlow(t.Context(), e.m, e.prog, rec, "me", nil); !errors.Is(err, connections.ErrDisconnected) {
		t.Errorf("next call = %v, want ErrDisconnected", err)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestLifecycleRetrySendsSameBody: a POST with a JSON body and one with a form body, refused
// with 401, are sent again after the refresh with the same bytes and content type.
func TestLifecycleRetrySendsSameBody(t *testing.T) {
	tests := []struct {
		flow, ctype, body string
	}{
		{"post_json", "application/json", `{"n":3,"nested":{"ok":true},"tags":["a","b"],"title":"hello"}`},
		{"post_form", "application/x-www-form-urlencoded", "note=%C3%A9%2B%25%26%3D&title=hello+world"},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			e := newLifecycle(t, bodyFlows, connections.Config{})
			e.api.refuse(e.rec.Creds.Token.AccessToken)
			res, err := runFlow(t.Context(), e.m, e.prog, e.rec, tt.flow, nil)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if got := e.srv.TokenRequests("refresh_token"); got != 1 {
				t.Errorf("refresh requests = %d, want 1", got)
			}
			got := e.api.requests()
			if len(got) != 2 {
				t.Fatalf("the API got %d requests, want 2: %+v", len(got), got)
			}
			if got[0].Status != 401 || got[1].Status != 200 {
				t.Errorf("the API answered %d then %d, want 401 then 200", got[0].Status, got[1].Status)
			}
			for i, r := range got {
				if !strings.HasPrefix(r.ContentType, tt.ctype) || r.Body != tt.body {
					t.Errorf("request %d: %s %q, want %s %q", i+1, r.ContentType, r.Body, tt.ctype, tt.body)
				}
			}
			if out, _ := res.Output.(map[string]any); fmt.Sprint(out["status"]) != "200" {
				t.Errorf("output = %v, want the retry's answer", res.Output)
			}
		})
	}
}

// TestLifecycleMinInterval: right after a refresh, a request refused with 401 fails with
// ErrTooSoon and makes no token request; the connection stays connected.
func TestLifecycleMinInterval(t *testing.T) {
	e := newLifecycle(t, bodyFlows, connections.Config{})
	e.expire(t)
	if err := e.me(t.Context(), e.rec); err != nil {
		t.Fatalf("first call: %v", err)
	}
	rec := reload(t, e.m, e.rec)
	if rec.RefreshCount != 1 {
		t.Fatalf("refresh count = %d, want 1", rec.RefreshCount)
	}
	e.clock.Advance(30 * time.Second) // within the default min_interval of 1m
	e.api.refuse(rec.Creds.Token.AccessToken)
	tokens := e.srv.TokenRequestsTotal()
	_, err := runFlow(t.Context(), e.m, e.prog, rec, "post_json", nil)
	if !errors.Is(err, connections.ErrTooSoon) {
		t.Fatalf("call = %v, want ErrTooSoon", err)
	}
	if got := e.srv.TokenRequestsTotal() - tokens; got != 0 {
		t.Errorf("token requests = %d, want 0", got)
	}
	if got := len(e.api.requests()); got != 1 {
		t.Errorf("API requests = %d, want 1 (no retry)", got)
	}
	if after := reload(t, e.m, e.rec); after.Status != connections.StatusConnected || after.RefreshCount != 1 {
		t.Errorf("status %q, refresh count %d; want connected, 1", after.Status, after.RefreshCount)
	}
}

// ccAppYAML is an oauth2 client credentials app against an oauthtest.Server (SRV).
const ccAppYAML = `app: robot
base_url: SRV
connection:
  type: oauth2
  grant: client_credentials
  token_url: SRV/oauth2/token
  scopes: [read]
flows:
  me:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
`

// TestLifecycleClientCredentials: an expired client credentials token is replaced by a new
// client_credentials request (there is no refresh token); 50 concurrent callers cause one.
func TestLifecycleClientCredentials(t *testing.T) {
	clock := newFakeClock(time.Now())
	srv := oauthtest.New(t, oauthtest.Options{})
	m := newManager(t, clock)
	prog := loadApp(t, strings.ReplaceAll(ccAppYAML, "SRV", srv.URL))
	putClient(t, m, srv, "robot")
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "bot"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if rec.Creds.Token == nil || rec.Creds.Token.RefreshToken != "" || rec.Creds.Token.Expiry.IsZero() {
		t.Fatalf("connected token: %+v, want one with an expiry and no refresh token", rec.Creds.Token)
	}
	clock.Advance(2 * time.Hour)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := runFlow(t.Context(), m, prog, rec, "me", nil)
			if err == nil {
				if out, _ := res.Output.(map[string]any); out["id"] != testClientID {
					err = fmt.Errorf("me answered %v, want the client's id", res.Output)
				}
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got := srv.TokenRequests("client_credentials"); got != 2 {
		t.Errorf("client_credentials requests = %d, want 2 (connect, then one renewal)", got)
	}
	if got := srv.TokenRequests("refresh_token"); got != 0 {
		t.Errorf("refresh_token requests = %d, want 0", got)
	}
	after := reload(t, m, rec)
	if after.RefreshCount != 1 || after.Creds.Token.AccessToken == rec.Creds.Token.AccessToken {
		t.Errorf("refresh count %d, new token %v; want 1, true", after.RefreshCount, after.Creds.Token.AccessToken != rec.Creds.Token.AccessToken)
	}
}

// TestLifecycleVisible: every refresh, failure and disconnect leaves a log line without a secret,
// shows in the record's LastRefresh, RefreshCount and LastError, and is told to the Notifier.
func TestLifecycleVisible(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{})
	secrets := []connections.Secret{e.rec.Creds.Token.AccessToken, e.rec.Creds.Token.RefreshToken, testClientSecret}

	// A refresh.
	e.expire(t)
	refreshedAt := e.clock.Now()
	if err := e.me(t.Context(), e.rec); err != nil {
		t.Fatal(err)
	}
	rec := reload(t, e.m, e.rec)
	secrets = append(secrets, rec.Creds.Token.AccessToken, rec.Creds.Token.RefreshToken)
	if !rec.LastRefresh.Equal(refreshedAt) || rec.RefreshCount != 1 || rec.LastError != "" {
		t.Errorf("after a refresh: LastRefresh %v, RefreshCount %d, LastError %q; want %v, 1, none",
			rec.LastRefresh, rec.RefreshCount, rec.LastError, refreshedAt)
	}

	// A failed refresh.
	e.expire(t)
	e.srv.FailTokenEndpoint(1, http.StatusBadGateway)
	if err := e.me(t.Context(), rec); err == nil {
		t.Fatal("call during the outage succeeded")
	}
	rec = reload(t, e.m, e.rec)
	const wantFail = "the token endpoint answered 502 Bad Gateway: server_error: failure injected by oauthtest"
	if !rec.LastRefresh.Equal(refreshedAt) || rec.RefreshCount != 1 || rec.LastError != wantFail {
		t.Errorf("after a failure: LastRefresh %v, RefreshCount %d, LastError %q; want %v, 1, %q",
			rec.LastRefresh, rec.RefreshCount, rec.LastError, refreshedAt, wantFail)
	}

	// A disconnect.
	e.srv.RevokeAll()
	if err := e.me(t.Context(), rec); !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("call after the revocation = %v, want ErrDisconnected", err)
	}
	rec = reload(t, e.m, e.rec)
	if rec.RefreshCount != 1 || !strings.Contains(rec.LastError, "invalid_grant") || rec.LastError != rec.Reason {
		t.Errorf("after the disconnect: RefreshCount %d, LastError %q, Reason %q; want 1, invalid_grant in both",
			rec.RefreshCount, rec.LastError, rec.Reason)
	}

	var msgs []string
	for _, l := range logLines(t, e.logs) {
		switch l["msg"] {
		case "token refreshed", "token refresh failed", "connection disconnected":
			msgs = append(msgs, l["msg"].(string))
			if l["connection_id"] != e.rec.ID {
				t.Errorf("log line %v has no connection_id %s", l, e.rec.ID)
			}
		}
	}
	if want := []string{"token refreshed", "token refresh failed", "connection disconnected"}; !slicesEqual(msgs, want) {
		t.Errorf("lifecycle log lines = %q, want %q", msgs, want)
	}
	// The Notifier hears each of them (patchbay serve's metrics count refreshes and failures).
	if got, want := e.heard.kinds(), []string{"created", "refreshed", "refresh_failed", "refresh_failed", "disconnected"}; !slicesEqual(got, want) {
		t.Errorf("the notifier heard %v, want %v", got, want)
	}
	all := e.logs.String()
	for _, s := range secrets {
		if strings.Contains(all, s.Reveal()) {
			t.Errorf("the log shows a secret:\n%s", all)
			break
		}
	}
}
