package connections_test

// The refresh lease (issue 14): no database lock is held while a token endpoint is asked, so
// a hung provider stalls nothing but its own connection's refresh, and a process killed while
// it holds a lease delays the next refresh by the lease time at most.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/sqlite"
)

// tokenGate stands before an authorization server's token endpoint. It holds the requests it
// was told to hold until release is closed, or until their client goes away (then they never
// reach the server), and forwards every other request to the server.
type tokenGate struct {
	*httptest.Server
	srv     *oauthtest.Server
	arrived chan struct{} // one value per held request, when it arrives
	release chan struct{} // closed: held requests go on to the server

	mu    sync.Mutex
	holdN int // requests still to hold
}

func newTokenGate(t *testing.T, srv *oauthtest.Server) *tokenGate {
	t.Helper()
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	g := &tokenGate{srv: srv, arrived: make(chan struct{}, 16), release: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(target)
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		hold := g.holdN > 0
		if hold {
			g.holdN--
		}
		g.mu.Unlock()
		if hold {
			// Read the body first: net/http notices a client that went away (and cancels
			// r.Context()) only once the request's body has been read.
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			g.arrived <- struct{}{}
			select {
			case <-g.release:
			case <-r.Context().Done():
				return // the client is gone: the server never hears of the request
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(g.Close)
	return g
}

// hold makes the gate hold the next n token requests.
func (g *tokenGate) hold(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holdN = n
}

// app returns the source of an app whose token_url points at the gate instead of the server.
func (g *tokenGate) app(src string) string {
	return strings.Replace(src, "token_url: "+g.srv.TokenURL(), "token_url: "+g.URL+oauthtest.TokenPath, 1)
}

// leaseWatch is a store that tells when a TakeLease is refused because another holds the lease.
type leaseWatch struct {
	connections.Store
	refused chan struct{} // a value when a TakeLease was refused, unless one is waiting already
}

func (s *leaseWatch) TakeLease(ctx context.Context, id, holder string, d time.Duration) (*connections.Record, error) {
	rec, err := s.Store.TakeLease(ctx, id, holder, d)
	var held *connections.LeaseHeldError
	if errors.As(err, &held) {
		select {
		case s.refused <- struct{}{}:
		default:
		}
	}
	return rec, err
}

// meWith runs prog's me flow with rec and checks that it answered as the user.
func meWith(ctx context.Context, m *connections.Manager, prog *engine.Program, rec *connections.Record) error {
	e := &lifecycle{m: m, prog: prog}
	return e.me(ctx, rec)
}

// TestRefreshHangStallsNoOtherWrite: while one connection's token request hangs at the
// provider, another connection refreshes and ordinary writes go on — a change to the hung
// connection's own row, a vault secret, an auth client. The test lets the hung request go only
// once they have all finished, so a database lock held across the token request (an immediate
// transaction, as before the lease) would keep them waiting for the busy timeout and fail
// them. The change made during the refresh survives the refresh's save.
func TestRefreshHangStallsNoOtherWrite(t *testing.T) {
	ctx := t.Context()
	e := newLifecycle(t, "", connections.Config{})
	gate := newTokenGate(t, e.srv)
	gated := loadApp(t, gate.app(oauth2App(e.srv, "")))
	bob := connectOAuth2(t, e.m, e.prog, e.srv, "bob")
	e.expire(t)
	st := e.m.Store()
	// The gate is a server of its own in front of the token endpoint, not at the origins the
	// connections are bound to: its origin is allowed, as run --allow-origin allows one.
	m := newManagerConfig(t, e.clock, connections.Config{Store: e.store, AllowOrigins: []string{engine.Origin(mustURL(t, gate.URL))}})

	gate.hold(1)
	hung := make(chan error, 1)
	go func() { hung <- meWith(ctx, m, gated, e.rec) }()
	select {
	case <-gate.arrived:
	case err := <-hung:
		t.Fatalf("the refresh to hold did not reach the token endpoint: %v", err)
	}

	if err := meWith(ctx, m, gated, bob); err != nil {
		t.Errorf("another connection's refresh during the hang: %v", err)
	}
	cur := reload(t, e.m, e.rec)
	cur.Label = "changed during the refresh"
	if err := st.UpdateConnection(ctx, cur); err != nil {
		t.Errorf("update the refreshing connection during the hang: %v", err)
	}
	if err := st.SetVault(ctx, connections.DefaultWorkspace, "", "during", "v"); err != nil {
		t.Errorf("set a vault secret during the hang: %v", err)
	}
	if err := st.PutClient(ctx, &connections.Client{Workspace: connections.DefaultWorkspace, App: "other", Name: "other",
		ClientID: "id", Secret: "s"}); err != nil {
		t.Errorf("store an auth client during the hang: %v", err)
	}
	close(gate.release)
	if err := <-hung; err != nil {
		t.Errorf("the hung refresh, released: %v", err)
	}

	if got := e.srv.TokenRequests("refresh_token"); got != 2 {
		t.Errorf("refresh requests at the token endpoint = %d, want 2 (one per connection)", got)
	}
	if got := e.refused(t); len(got) != 0 {
		t.Errorf("token requests refused = %v, want none", got)
	}
	for _, rec := range []*connections.Record{e.rec, bob} {
		got := reload(t, e.m, rec)
		if got.Status != connections.StatusConnected || got.RefreshCount != 1 || got.Creds.Token.RefreshToken == rec.Creds.Token.RefreshToken {
			t.Errorf("%s: status %q, refresh count %d, refresh token rotated %v; want connected, 1, true",
				rec.Name, got.Status, got.RefreshCount, got.Creds.Token.RefreshToken != rec.Creds.Token.RefreshToken)
		}
	}
	if got := reload(t, e.m, e.rec).Label; got != cur.Label {
		t.Errorf("label after the refresh = %q, want %q (the change made during it)", got, cur.Label)
	}
}

// TestRefreshKilledHolder: a patchbay process (this test binary run again as
// TestLifecycleHelperProcess) takes a connection's lease and is killed with SIGKILL while its
// token request hangs, before the provider heard of it. Its lease stays behind until it
// expires: until then the next refresh here waits; once the store's clock passes the expiry it
// takes the lease, and exactly one token request reaches the provider and succeeds. The
// refresh token that request rotated is saved: the refresh after it works too (the provider
// revokes the whole grant when a rotated-away refresh token comes back).
func TestRefreshKilledHolder(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx := t.Context()
	var gate *tokenGate
	storeClock := newFakeClock(time.Now())
	watch := &leaseWatch{refused: make(chan struct{}, 1)}
	e := newProcEnv(t, func(srv *oauthtest.Server) string {
		gate = newTokenGate(t, srv)
		return gate.app(oauth2App(srv, ""))
	}, func(st connections.Store) connections.Store {
		watch.Store = st
		return watch
	}, sqlite.WithClock(storeClock.Now))
	st, m, prog, rec := e.st, e.m, e.prog, e.rec

	gate.hold(1)
	child := e.startHelper(t, 1)
	if !scanFor(child.stdout, helperReady) {
		child.cmd.Wait()
		t.Fatalf("the helper did not get ready: %s", child.stderr)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.cmd.Wait() }()
	fmt.Fprintln(child.stdin, helperGo)
	select {
	case <-gate.arrived:
	case err := <-exited:
		t.Fatalf("the helper exited before its token request: %v: %s", err, child.stderr)
	}
	if err := child.cmd.Process.Kill(); err != nil { // SIGKILL: no deferred function runs
		t.Fatal(err)
	}
	<-exited

	// The dead process's lease is still there, naming it.
	pid := child.cmd.Process.Pid
	_, err := st.TakeLease(ctx, rec.ID, "probe", time.Minute)
	var held *connections.LeaseHeldError
	if !errors.As(err, &held) || !strings.Contains(held.Holder, fmt.Sprintf(":%d:", pid)) {
		t.Fatalf("TakeLease after the kill = %v, want the lease held by process %d", err, pid)
	}
	// The helper took it on the real clock, before now, for the default lease time: the
	// default RefreshTimeout, a minute, and 30 s.
	if left := time.Until(held.Expires); left > 90*time.Second {
		t.Errorf("the dead process's lease expires in %v, more than the lease time of 90s", left)
	}

	e.clock.Set(e.expired)
	done := make(chan error, 1)
	go func() { done <- meWith(ctx, m, prog, rec) }()
	select {
	case <-watch.refused: // the refresh waits for the lease
	case err := <-done:
		t.Fatalf("the call returned while the dead process's lease was held: %v", err)
	}
	storeClock.Set(held.Expires.Add(time.Second)) // the dead holder's lease expires
	if err := <-done; err != nil {
		t.Fatalf("the call after the holder died: %v", err)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refresh requests at the token endpoint = %d, want 1 (the dead process's never reached it)", got)
	}
	after := reload(t, m, rec)
	if after.Status != connections.StatusConnected || after.RefreshCount != 1 || after.Creds.Token.RefreshToken == rec.Creds.Token.RefreshToken {
		t.Fatalf("after the refresh: status %q, refresh count %d, refresh token rotated %v; want connected, 1, true",
			after.Status, after.RefreshCount, after.Creds.Token.RefreshToken != rec.Creds.Token.RefreshToken)
	}

	// The rotated refresh token was saved: the next refresh presents it and is granted.
	e.clock.Set(after.Creds.Token.Expiry.Add(time.Minute))
	if err := meWith(ctx, m, prog, after); err != nil {
		t.Errorf("the next refresh: %v", err)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 2 {
		t.Errorf("refresh requests at the token endpoint = %d, want 2", got)
	}
	e.noRefusals(t)
}

// TestRefreshLeaseLost: a refresh whose process was paused for longer than its lease (here:
// the store's clock jumps while its token request hangs) finds another holder in its place.
// It saves nothing — the other holder's result stands — and its call fails with
// ErrLeaseLost; the stored record and the other's lease are as they were.
func TestRefreshLeaseLost(t *testing.T) {
	ctx := t.Context()
	var gate *tokenGate
	storeClock := newFakeClock(time.Now())
	e := newProcEnv(t, func(srv *oauthtest.Server) string {
		gate = newTokenGate(t, srv)
		return gate.app(oauth2App(srv, ""))
	}, nil, sqlite.WithClock(storeClock.Now))

	gate.hold(1)
	e.clock.Set(e.expired)
	done := make(chan error, 1)
	go func() { done <- meWith(ctx, e.m, e.prog, e.rec) }()
	<-gate.arrived
	storeClock.Advance(time.Hour)
	if _, err := e.st.TakeLease(ctx, e.rec.ID, "other", time.Minute); err != nil {
		t.Fatalf("another holder takes the expired lease: %v", err)
	}
	close(gate.release)
	if err := <-done; !errors.Is(err, connections.ErrLeaseLost) {
		t.Errorf("the call whose refresh lost its lease = %v, want ErrLeaseLost", err)
	}
	got := reload(t, e.m, e.rec)
	if got.RefreshCount != 0 || got.Creds.Token.RefreshToken != e.rec.Creds.Token.RefreshToken {
		t.Errorf("refresh count %d, refresh token changed %v; want the record as it was", got.RefreshCount,
			got.Creds.Token.RefreshToken != e.rec.Creds.Token.RefreshToken)
	}
	_, err := e.st.TakeLease(ctx, e.rec.ID, "third", time.Minute)
	var held *connections.LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "other" {
		t.Errorf("TakeLease after the lost refresh = %v, want the lease still held by other", err)
	}
}
