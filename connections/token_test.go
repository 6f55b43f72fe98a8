package connections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// TestTokenConnect connects a token account: exchange trades the fields for a session token,
// test proves it works, and the fields and the token are stored with the token's expiry and
// the extra values of the exchange's output.
func TestTokenConnect(t *testing.T) {
	e := newTKEnv(t, tkSetup{lifetime: time.Minute})
	rec := e.connect(t)
	tok := e.p.newest()
	if want := []string{"login", "GET /me 200 " + tok}; !reflect.DeepEqual(e.p.calls(0), want) {
		t.Errorf("the provider saw %q, want the token request, then the test flow's call with its token: %q", e.p.calls(0), want)
	}
	got := e.record(t)
	if got.ID == "" || got.ID != rec.ID {
		t.Errorf("stored connection id = %q, Connect returned %q", got.ID, rec.ID)
	}
	if got.Type != "token" || got.Status != connections.StatusConnected || got.Label != "Alice Example" || got.Reason != "" {
		t.Errorf("stored connection: type %q, status %q, label %q, reason %q; want token, connected, Alice Example, no reason",
			got.Type, got.Status, got.Label, got.Reason)
	}
	if f := got.Creds.Fields; len(f) != 2 || f["username"].Reveal() != tkUser || f["password"].Reveal() != tkPassword {
		t.Errorf("stored fields = %v, want username and password as given", f)
	}
	tk := got.Creds.Token
	if tk == nil {
		t.Fatal("no token was stored")
	}
	if tk.AccessToken.Reveal() != tok || !tk.ObtainedAt.Equal(tkT0) || !tk.Expiry.Equal(tkT0.Add(time.Minute)) {
		t.Errorf("stored token: %s obtained %v expiring %v; want the provider's newest, obtained %v, expiring %v",
			tk.AccessToken.Reveal(), tk.ObtainedAt, tk.Expiry, tkT0, tkT0.Add(time.Minute))
	}
	if want := map[string]any{"account_id": "acc-42"}; !reflect.DeepEqual(tk.Extra, want) {
		t.Errorf("stored token extra = %v, want %v", tk.Extra, want)
	}
	if got.LastTest == nil || !got.LastTest.OK {
		t.Errorf("last test = %+v, want ok", got.LastTest)
	}
}

// TestTokenRefreshBeforeExpiry runs a flow every few seconds of a fake clock across several
// token lifetimes: a new token is requested (with the stored fields) before each expiry, by
// the before_expiry rule capped at half the lifetime, and the API never refuses a call.
func TestTokenRefreshBeforeExpiry(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		refresh  string
		step     time.Duration
		ticks    int
		want     []time.Duration // when a token is requested, after tkT0
	}{
		{
			name: "before_expiry longer than the lifetime: half the lifetime", lifetime: time.Minute,
			refresh: "{before_expiry: 5m}", step: 10 * time.Second, ticks: 12,
			want: []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second, 120 * time.Second},
		},
		{
			name: "before_expiry within the lifetime", lifetime: 10 * time.Minute,
			refresh: "{before_expiry: 1m}", step: time.Minute, ticks: 30,
			want: []time.Duration{9 * time.Minute, 18 * time.Minute, 27 * time.Minute},
		},
		{
			name: "a lifetime shorter than the default min_interval", lifetime: 45 * time.Second,
			step: 5 * time.Second, ticks: 20,
			want: []time.Duration{25 * time.Second, 50 * time.Second, 75 * time.Second, 100 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{lifetime: tt.lifetime, refresh: tt.refresh})
			e.connect(t)
			ctx := context.Background()
			var got []time.Duration
			for i := 1; i <= tt.ticks; i++ {
				now := e.clock.Advance(tt.step)
				before := e.record(t).Creds.Token
				logins := e.p.logins.Load()
				if _, err := e.run(ctx, "list"); err != nil {
					t.Fatalf("at +%v: run list: %v", now.Sub(tkT0), err)
				}
				if e.p.logins.Load() > logins {
					got = append(got, now.Sub(tkT0))
					if !now.Before(before.Expiry) {
						t.Errorf("at +%v: a new token was requested only after the old one expired at +%v", now.Sub(tkT0), before.Expiry.Sub(tkT0))
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("tokens were requested at %v, want %v", got, tt.want)
			}
			if n := e.p.refused.Load(); n != 0 {
				t.Errorf("the API refused %d calls, want none: %q", n, e.p.calls(0))
			}
			rec := e.record(t)
			if rec.RefreshCount != len(tt.want) || !rec.LastRefresh.Equal(tkT0.Add(tt.want[len(tt.want)-1])) {
				t.Errorf("refresh count %d, last refresh %v; want %d, %v", rec.RefreshCount, rec.LastRefresh, len(tt.want), tkT0.Add(tt.want[len(tt.want)-1]))
			}
		})
	}
}

// TestTokenConcurrentExpired starts 200 runs at once on an expired token: they wait for one
// token request and all use its token.
func TestTokenConcurrentExpired(t *testing.T) {
	e := newTKEnv(t, tkSetup{lifetime: time.Minute})
	e.connect(t)
	e.clock.Advance(2 * time.Minute)
	logins, ok := e.p.logins.Load(), e.p.apiOK.Load()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.run(context.Background(), "list"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("run list: %v", err)
	}
	if got := e.p.logins.Load() - logins; got != 1 {
		t.Errorf("%d runs on an expired token made %d token requests, want 1", n, got)
	}
	if got := e.p.apiOK.Load() - ok; got != n || e.p.refused.Load() != 0 {
		t.Errorf("the API accepted %d calls and refused %d, want %d and 0", got, e.p.refused.Load(), n)
	}
	if rec := e.record(t); rec.RefreshCount != 1 {
		t.Errorf("refresh count = %d, want 1", rec.RefreshCount)
	}
}

// TestTokenRefreshAcrossProcesses runs three processes at once on one SQLite file, each with
// many runs on an expired token: one token request in all.
func TestTokenRefreshAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newTKEnv(t, tkSetup{lifetime: time.Minute})
	e.connect(t)
	now := e.clock.Advance(2 * time.Minute)
	logins, ok := e.p.logins.Load(), e.p.apiOK.Load()
	const procs, perProc = 3, 20
	cmds := make([]*exec.Cmd, procs)
	outs := make([]*lockedBuffer, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTokenHelperProcess$", "-test.count=1")
		outs[i] = &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		cmd.Env = append(os.Environ(),
			"TK_HELPER_PROCESS=1",
			"TK_DB_DIR="+e.dbDir,
			"TK_APP_DIR="+e.appDir,
			"TK_NOW="+now.Format(time.RFC3339Nano),
			"TK_RUNS="+strconv.Itoa(perProc),
		)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process %d: %v\n%s", i, err, outs[i])
		}
		if !strings.Contains(outs[i].String(), fmt.Sprintf("tk-helper: %d runs ok", perProc)) {
			t.Errorf("helper process %d did not report its runs:\n%s", i, outs[i])
		}
	}
	if got := e.p.logins.Load() - logins; got != 1 {
		t.Errorf("%d processes on an expired token made %d token requests, want 1", procs, got)
	}
	if got := e.p.apiOK.Load() - ok; got != procs*perProc || e.p.refused.Load() != 0 {
		t.Errorf("the API accepted %d calls and refused %d, want %d and 0", got, e.p.refused.Load(), procs*perProc)
	}
	if rec := e.record(t); rec.RefreshCount != 1 || rec.Creds.Token.AccessToken.Reveal() != e.p.newest() {
		t.Errorf("stored: refresh count %d; want 1 and the newest token", rec.RefreshCount)
	}
}

// TestTokenHelperProcess is one process of TestTokenRefreshAcrossProcesses: it opens the shared
// store, and runs TK_RUNS runs of the flow list at once with its own manager at TK_NOW.
func TestTokenHelperProcess(t *testing.T) {
	if os.Getenv("TK_HELPER_PROCESS") != "1" {
		return
	}
	now, err := time.Parse(time.RFC3339Nano, os.Getenv("TK_NOW"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := strconv.Atoi(os.Getenv("TK_RUNS"))
	if err != nil {
		t.Fatal(err)
	}
	st := tkOpenStore(t, os.Getenv("TK_DB_DIR"), slog.New(slog.DiscardHandler))
	prog, err := connections.LoadApp(tkRegistry(t), os.Getenv("TK_APP_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	m := connections.NewManager(connections.Config{Store: st, Now: func() time.Time { return now }})
	var wg sync.WaitGroup
	var ok atomic.Int64
	for range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			rec, err := st.Connection(ctx, connections.DefaultWorkspace, "work")
			if err != nil {
				t.Error(err)
				return
			}
			opts, err := m.RunOptions(ctx, prog, rec)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := prog.Run(ctx, "list", opts); err != nil {
				t.Errorf("run list: %v", err)
				return
			}
			ok.Add(1)
		}()
	}
	wg.Wait()
	fmt.Printf("tk-helper: %d runs ok\n", ok.Load())
}

// TestTokenRetryAfterRefusal: a call the API refuses (401) gets one new token and one retry;
// a fresh token refused as well disconnects the connection.
func TestTokenRetryAfterRefusal(t *testing.T) {
	t.Run("one new token and one retry", func(t *testing.T) {
		e := newTKEnv(t, tkSetup{lifetime: time.Hour})
		e.connect(t)
		old := e.p.newest()
		e.p.set(func(p *tkProvider) { p.revoked[old] = true })
		since := e.p.ncalls()
		res, err := e.run(context.Background(), "list")
		if err != nil {
			t.Fatalf("run list: %v", err)
		}
		fresh := e.p.newest()
		want := []string{"GET /accounts/acc-42/items 401 " + old, "login", "GET /accounts/acc-42/items 200 " + fresh}
		if got := e.p.calls(since); !reflect.DeepEqual(got, want) {
			t.Errorf("the provider saw %q, want %q", got, want)
		}
		if out, _ := res.Output.(map[string]any); out["account"] != "acc-42" {
			t.Errorf("output = %v, want the items of account acc-42", res.Output)
		}
		if rec := e.record(t); rec.Creds.Token.AccessToken.Reveal() != fresh || rec.RefreshCount != 1 {
			t.Errorf("stored: refresh count %d; want 1 and the fresh token", rec.RefreshCount)
		}
	})
	t.Run("the fresh token refused too", func(t *testing.T) {
		e := newTKEnv(t, tkSetup{lifetime: time.Hour})
		e.connect(t)
		e.p.set(func(p *tkProvider) { p.refuseAll = true })
		since := e.p.ncalls()
		_, err := e.run(context.Background(), "list")
		if !errors.Is(err, connections.ErrDisconnected) {
			t.Fatalf("run list: %v, want a disconnected connection", err)
		}
		if got := e.p.calls(since); len(got) != 3 || got[1] != "login" {
			t.Errorf("the provider saw %q, want a refused call, one token request and one refused retry", got)
		}
		if rec := e.record(t); rec.Status != connections.StatusDisconnected || rec.Creds.Token != nil || len(rec.Creds.Fields) != 0 {
			t.Errorf("stored: status %q, token %v, fields %v; want disconnected without credentials", rec.Status, rec.Creds.Token, rec.Creds.Fields)
		}
	})
}

// TestTokenCredentialsChanged: the login endpoint refuses the stored password (it was
// changed), so the connection is disconnected with the provider's reason and its fields and
// token are deleted.
func TestTokenCredentialsChanged(t *testing.T) {
	tests := []struct {
		name  string
		cause func(e *tkEnv)
		calls func(old string) []string
	}{
		{
			name:  "the token is due",
			cause: func(e *tkEnv) { e.clock.Advance(2 * time.Minute) },
			calls: func(string) []string { return []string{"login"} },
		},
		{
			name:  "the API refuses the token",
			cause: func(e *tkEnv) { e.p.set(func(p *tkProvider) { p.revoked[p.issued[0].token] = true }) },
			calls: func(old string) []string { return []string{"GET /accounts/acc-42/items 401 " + old, "login"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{lifetime: time.Minute})
			e.connect(t)
			old := e.p.newest()
			e.p.set(func(p *tkProvider) { p.password = "a-new-password" })
			tt.cause(e)
			since := e.p.ncalls()
			_, err := e.run(context.Background(), "list")
			var de *connections.DisconnectedError
			if !errors.As(err, &de) {
				t.Fatalf("run list: %v, want a *DisconnectedError", err)
			}
			reason := fmt.Sprintf(`%s/app.yaml:17:9: step "login" (call_api): POST %s/login: 401 Unauthorized: {"error":"invalid credentials"}`, e.appDir, e.p.srv.URL)
			if de.Reason != reason {
				t.Errorf("reason = %s\nwant     %s", de.Reason, reason)
			}
			if got, want := e.p.calls(since), tt.calls(old); !reflect.DeepEqual(got, want) {
				t.Errorf("the provider saw %q, want %q", got, want)
			}
			rec := e.record(t)
			if rec.Status != connections.StatusDisconnected || rec.Reason != reason {
				t.Errorf("stored: status %q, reason %q; want disconnected, %q", rec.Status, rec.Reason, reason)
			}
			if rec.Creds.Token != nil || len(rec.Creds.Fields) != 0 {
				t.Errorf("stored credentials: token %v, fields %v; want none", rec.Creds.Token, rec.Creds.Fields)
			}
			// The refused token request is told as a failed refresh too (metrics count it); only
			// created and disconnected are stored.
			if got, want := e.events.kinds(), []string{"created", "refresh_failed", "disconnected"}; !reflect.DeepEqual(got, want) {
				t.Errorf("events = %q, want %q", got, want)
			}
			stored, err := e.store.Events(context.Background(), rec.ID)
			if err != nil || len(stored) != 2 || stored[1].Kind != "disconnected" || stored[1].Reason != reason {
				t.Errorf("stored events = %+v, %v; want created, then disconnected with the reason", stored, err)
			}
			// The next run fails at once; nobody asks the provider again.
			since = e.p.ncalls()
			if _, err := e.run(context.Background(), "list"); !errors.Is(err, connections.ErrDisconnected) {
				t.Errorf("the next run: %v, want ErrDisconnected", err)
			}
			if got := e.p.calls(since); len(got) != 0 {
				t.Errorf("the next run reached the provider: %q", got)
			}
		})
	}
}

// TestTokenLoginUnavailable: a token endpoint that fails for a while (503, 429, a timeout)
// fails the call with an error the step's retry policy classifies, and disconnects nothing;
// the first call after it recovers gets a token and works.
func TestTokenLoginUnavailable(t *testing.T) {
	tests := []struct {
		name    string
		fail    func(p *tkProvider)
		timeout time.Duration // the manager's RefreshTimeout
		class   string
		status  int
	}{
		{name: "503", fail: func(p *tkProvider) { p.loginStatus = http.StatusServiceUnavailable }, class: "http", status: 503},
		{name: "429", fail: func(p *tkProvider) { p.loginStatus = http.StatusTooManyRequests }, class: "http", status: 429},
		{name: "timeout", fail: func(p *tkProvider) { p.hang = true }, timeout: 300 * time.Millisecond, class: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{lifetime: time.Minute, refreshTimeout: tt.timeout})
			e.connect(t)
			old := e.record(t).Creds.Token
			e.p.set(tt.fail)
			e.clock.Advance(2 * time.Minute)
			_, err := e.run(context.Background(), "list")
			if err == nil {
				t.Fatal("run list succeeded while the login endpoint was failing")
			}
			if errors.Is(err, connections.ErrDisconnected) {
				t.Fatalf("run list: %v; a failing login endpoint must not disconnect", err)
			}
			if got := engine.ErrorClass(err); got != tt.class {
				t.Errorf("error class = %q, want %q: %v", got, tt.class, err)
			}
			var he *engine.HTTPError
			if tt.status != 0 && (!errors.As(err, &he) || he.StatusCode != tt.status) {
				t.Errorf("run list: %v, want an *engine.HTTPError with status %d", err, tt.status)
			}
			rec := e.record(t)
			if rec.Status != connections.StatusConnected || rec.Creds.Token.AccessToken != old.AccessToken || len(rec.Creds.Fields) != 2 {
				t.Errorf("stored: status %q, fields %d; want connected with the fields and the old token", rec.Status, len(rec.Creds.Fields))
			}
			if rec.LastError == "" {
				t.Error("the failed token request is not recorded in LastError")
			}
			if kinds := e.events.kinds(); !reflect.DeepEqual(kinds, []string{"created", "refresh_failed"}) {
				t.Errorf("events = %q, want created and refresh_failed (told, not stored)", kinds)
			}
			e.p.set(func(p *tkProvider) { p.loginStatus, p.hang = 0, false })
			logins := e.p.logins.Load()
			if _, err := e.run(context.Background(), "list"); err != nil {
				t.Fatalf("run list after the login endpoint recovered: %v", err)
			}
			if got := e.p.logins.Load() - logins; got != 1 {
				t.Errorf("%d token requests after recovery, want 1", got)
			}
			if rec := e.record(t); rec.Status != connections.StatusConnected || rec.LastError != "" {
				t.Errorf("stored after recovery: status %q, last error %q; want connected and no error", rec.Status, rec.LastError)
			}
		})
	}
}

// TestTokenRequestShapes writes the token request in each shape a provider may want and reads
// the token from where it puts it; the login endpoint fails the test on any other request.
func TestTokenRequestShapes(t *testing.T) {
	tests := []struct{ name, mode string }{
		{"POST with a JSON body, the token in a nested JSON field", tkJSON},
		{"POST with a form body, the token in a response header", tkForm},
		{"GET with query parameters, expires_at, the token injected in the query", tkQuery},
		{"the token in a cookie", tkCookie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{mode: tt.mode, lifetime: 90 * time.Second})
			e.connect(t)
			tk := e.record(t).Creds.Token
			if tk.AccessToken.Reveal() != e.p.newest() || !tk.Expiry.Equal(tkT0.Add(90*time.Second)) {
				t.Errorf("stored token expires %v, want the newest token expiring %v", tk.Expiry, tkT0.Add(90*time.Second))
			}
			if tk.Extra["account_id"] != "acc-42" {
				t.Errorf("extra = %v, want account_id acc-42", tk.Extra)
			}
			e.clock.Advance(time.Minute) // due: a second token request of the same shape
			res, err := e.run(context.Background(), "list")
			if err != nil {
				t.Fatalf("run list: %v", err)
			}
			if out, _ := res.Output.(map[string]any); out["account"] != "acc-42" {
				t.Errorf("output = %v, want the items of account acc-42", res.Output)
			}
			if n := e.p.logins.Load(); n != 2 {
				t.Errorf("%d token requests, want 2", n)
			}
		})
	}
}

// tkCCProvider is an OAuth 2.0 token endpoint (client credentials) whose tokens state no
// lifetime, and an API that takes the newest.
type tkCCProvider struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	newest   string
}

func newTKCCProvider(t *testing.T) *tkCCProvider {
	p := &tkCCProvider{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "cc-client" || secret != "cc-secret-123" || r.FormValue("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		n := p.requests.Add(1)
		p.mu.Lock()
		p.newest = fmt.Sprintf("cc-token-%d", n)
		tok := p.newest
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer"})
	})
	mux.HandleFunc("GET /api/items", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		ok := r.Header.Get("Authorization") == "Bearer "+p.newest
		p.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"items":[]}`)
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// TestTokenAssumeLifetime: a token whose response states no expiry expires after
// refresh.assume_lifetime, for token and oauth2 connections; without it, it never falls due
// and is requested anew only after a refused call.
func TestTokenAssumeLifetime(t *testing.T) {
	t.Run("token", func(t *testing.T) {
		tests := []struct {
			name    string
			refresh string
			expiry  time.Time
		}{
			{"assume_lifetime", "{before_expiry: 5m, assume_lifetime: 10m}", tkT0.Add(10 * time.Minute)},
			{"no assume_lifetime", "{before_expiry: 5m}", time.Time{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := newTKEnv(t, tkSetup{refresh: tt.refresh}) // the provider states no lifetime
				e.connect(t)
				if got := e.record(t).Creds.Token.Expiry; !got.Equal(tt.expiry) {
					t.Fatalf("stored expiry = %v, want %v", got, tt.expiry)
				}
				ctx := context.Background()
				e.clock.Advance(4 * time.Minute)
				if _, err := e.run(ctx, "list"); err != nil || e.p.logins.Load() != 1 {
					t.Fatalf("at +4m: run list: %v, %d token requests; want no new one", err, e.p.logins.Load())
				}
				e.clock.Advance(2 * time.Minute)
				if _, err := e.run(ctx, "list"); err != nil {
					t.Fatalf("at +6m: run list: %v", err)
				}
				if tt.expiry.IsZero() {
					e.clock.Advance(30 * 24 * time.Hour)
					if _, err := e.run(ctx, "list"); err != nil || e.p.logins.Load() != 1 {
						t.Fatalf("a month later: run list: %v, %d token requests; want none new", err, e.p.logins.Load())
					}
					e.p.set(func(p *tkProvider) { p.revoked[p.issued[0].token] = true })
					if _, err := e.run(ctx, "list"); err != nil {
						t.Fatalf("after a refused call: run list: %v", err)
					}
					if n := e.p.logins.Load(); n != 2 {
						t.Errorf("%d token requests, want 2: one after the refused call", n)
					}
					return
				}
				if n := e.p.logins.Load(); n != 2 || e.p.refused.Load() != 0 {
					t.Errorf("at +6m: %d token requests and %d refused calls; want 2 (the assumed lifetime is half gone) and none", n, e.p.refused.Load())
				}
				if got, want := e.record(t).Creds.Token.Expiry, e.clock.Now().Add(10*time.Minute); !got.Equal(want) {
					t.Errorf("the new token's expiry = %v, want %v", got, want)
				}
			})
		}
	})
	t.Run("oauth2", func(t *testing.T) {
		tests := []struct {
			name     string
			refresh  string
			expiry   time.Time
			requests int64 // token requests after 6 minutes
		}{
			{"assume_lifetime", "\n  refresh: {assume_lifetime: 10m}", tkT0.Add(10 * time.Minute), 2},
			{"no assume_lifetime", "", time.Time{}, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				p := newTKCCProvider(t)
				prog, _ := tkLoadApp(t, fmt.Sprintf(`app: ccdemo
name: Client credentials demo
version: 1
base_url: %[1]s/api
connection:
  type: oauth2
  grant: client_credentials
  token_url: %[1]s/token%[2]s
flows:
  list:
    steps:
      - id: items
        call_api: {method: GET, path: /items}
`, p.srv.URL, tt.refresh))
				clock := &tkClock{t: tkT0}
				st := tkOpenStore(t, t.TempDir(), slog.New(slog.DiscardHandler))
				ctx := context.Background()
				err := st.PutClient(ctx, &connections.Client{Workspace: connections.DefaultWorkspace, App: "ccdemo", Name: "ccdemo", ClientID: "cc-client", Secret: "cc-secret-123"})
				if err != nil {
					t.Fatal(err)
				}
				m := connections.NewManager(connections.Config{Store: st, Now: clock.Now})
				rec, err := m.Connect(ctx, prog, connections.ConnectRequest{})
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				if got := rec.Creds.Token.Expiry; !got.Equal(tt.expiry) {
					t.Errorf("stored expiry = %v, want %v", got, tt.expiry)
				}
				clock.Advance(6 * time.Minute)
				opts, err := m.RunOptions(ctx, prog, rec)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := prog.Run(ctx, "list", opts); err != nil {
					t.Fatalf("run list: %v", err)
				}
				if got := p.requests.Load(); got != tt.requests {
					t.Errorf("%d token requests after 6 minutes, want %d", got, tt.requests)
				}
			})
		}
	})
}

// TestTokenConnectWrongPassword: a password the login endpoint refuses shows the provider's
// message, without the password, and stores nothing.
func TestTokenConnectWrongPassword(t *testing.T) {
	const wrong = "wrong-Passw0rd&x=/y"
	tests := []struct{ mode, want string }{
		{tkJSON, `exchange: DIR/app.yaml:17:9: step "login" (call_api): POST URL/login: 401 Unauthorized: {"error":"invalid credentials"}`},
		{tkQuery, `exchange: DIR/app.yaml:17:9: step "login" (call_api): GET URL/auth?format=json&pass=[redacted]&user=alice%40example.com: 401 Unauthorized: {"error":"invalid credentials"}`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{mode: tt.mode, lifetime: time.Minute})
			_, err := e.m.Connect(context.Background(), e.prog, e.request(wrong))
			if err == nil {
				t.Fatal("Connect succeeded with a wrong password")
			}
			got := strings.NewReplacer(e.appDir, "DIR", e.p.srv.URL, "URL").Replace(err.Error())
			if got != tt.want {
				t.Errorf("Connect: %s\nwant     %s", got, tt.want)
			}
			tkNoSecret(t, "the error", err.Error(), []string{wrong})
			recs, err := e.store.Connections(context.Background(), connections.DefaultWorkspace)
			if err != nil || len(recs) != 0 {
				t.Errorf("stored connections = %d, %v; want none", len(recs), err)
			}
			if kinds := e.events.kinds(); len(kinds) != 0 {
				t.Errorf("events = %q, want none", kinds)
			}
			if got := e.p.calls(0); !reflect.DeepEqual(got, []string{"login"}) {
				t.Errorf("the provider saw %q, want only the token request (no test)", got)
			}
			tkNoSecret(t, "the store's files", e.storeFiles(t), []string{wrong})
		})
	}
}

// TestTokenSecretsNotShown runs a token connection through its whole life (connect, refreshes
// before expiry, a refused call, a failing login endpoint, a wrong password, changed
// credentials) and looks for the fields and every session token in the store's files, the
// logs, the traces of the runs and every error: none may be there in clear.
func TestTokenSecretsNotShown(t *testing.T) {
	for _, mode := range []string{tkJSON, tkForm, tkQuery, tkCookie} {
		t.Run(mode, func(t *testing.T) {
			e := newTKEnv(t, tkSetup{mode: mode, lifetime: time.Minute})
			ctx := context.Background()
			var shown []string // traces and errors
			run := func() error {
				res, err := e.run(ctx, "list")
				if res != nil {
					b, jerr := json.Marshal(res.Trace)
					if jerr != nil {
						t.Fatal(jerr)
					}
					shown = append(shown, string(b))
				}
				if err != nil {
					shown = append(shown, err.Error())
				}
				return err
			}
			if _, err := e.m.Connect(ctx, e.prog, e.request("not-the-Passw0rd")); err == nil {
				t.Fatal("Connect with a wrong password succeeded")
			} else {
				shown = append(shown, err.Error())
			}
			e.connect(t)
			for range 4 {
				e.clock.Advance(20 * time.Second)
				if err := run(); err != nil {
					t.Fatalf("run list: %v", err)
				}
			}
			e.p.set(func(p *tkProvider) { p.revoked[p.issued[len(p.issued)-1].token] = true })
			e.clock.Advance(time.Minute)
			if err := run(); err != nil {
				t.Fatalf("run list after a refused call: %v", err)
			}
			e.p.set(func(p *tkProvider) { p.loginStatus = http.StatusServiceUnavailable })
			e.clock.Advance(2 * time.Minute)
			if err := run(); err == nil {
				t.Fatal("run list succeeded while the login endpoint answered 503")
			}
			e.p.set(func(p *tkProvider) { p.loginStatus = 0; p.password = "changed-Passw0rd" })
			if err := run(); !errors.Is(err, connections.ErrDisconnected) {
				t.Fatalf("run list with changed credentials: %v, want disconnected", err)
			}
			rec := e.record(t)
			shown = append(shown, rec.Reason, rec.LastError)
			events, err := e.store.Events(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range events {
				shown = append(shown, ev.Reason)
			}

			tokens := e.p.tokens()
			if len(tokens) < 4 {
				t.Fatalf("the provider issued %d tokens, want at least 4", len(tokens))
			}
			secrets := append([]string{tkPassword, "not-the-Passw0rd"}, tokens...)
			tkNoSecret(t, "a trace or an error", strings.Join(shown, "\n"), secrets)
			tkNoSecret(t, "the logs", e.logs.String(), secrets)
			tkNoSecret(t, "the store's files", e.storeFiles(t), secrets)
			if !strings.Contains(e.logs.String(), "token refreshed") || !strings.Contains(e.logs.String(), "connection disconnected") {
				t.Errorf("the logs miss the lifecycle lines:\n%s", e.logs)
			}
		})
	}
}

// TestTokenHelpAndDocsURL: help and docs_url on fields and params reach flows.Param; a
// misspelt one is an error at its position with the near miss.
func TestTokenHelpAndDocsURL(t *testing.T) {
	const app = `app: helpdemo
version: 1
base_url: https://api.example.com
connection:
  type: token
  params:
    - key: region
      label: Region
      help: The region your account lives in, e.g. eu
      docs_url: https://example.com/docs/regions
  fields:
    - {key: username, label: Username, required: true, help: "The e-mail you sign in with"}
    - key: password
      label: Password
      sensitive: true
      %s: Not your PIN
      %s: https://example.com/docs/password
  inject: {value: "Session {{ token }}"}
flows:
  exchange:
    steps:
      - id: login
        call_api: {method: POST, path: /login}
    output: {access_token: "{{ steps.login.body.token }}"}
`
	t.Run("parsed", func(t *testing.T) {
		prog, _ := tkLoadApp(t, fmt.Sprintf(app, "help", "docs_url"))
		c := prog.App.Connection
		type hd struct{ Key, Help, DocsURL string }
		var got []hd
		for _, p := range append(append([]*flows.Param{}, c.Params...), c.Fields...) {
			got = append(got, hd{p.Key, p.Help, p.DocsURL})
		}
		want := []hd{
			{"region", "The region your account lives in, e.g. eu", "https://example.com/docs/regions"},
			{"username", "The e-mail you sign in with", ""},
			{"password", "Not your PIN", "https://example.com/docs/password"},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("params and fields = %+v\nwant %+v", got, want)
		}
	})
	t.Run("misspelt", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(fmt.Sprintf(app, "hlep", "docs_ulr")), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := connections.LoadApp(tkRegistry(t), dir)
		want := dir + `/app.yaml:16:7: fields item: unknown field "hlep" (did you mean "help"?)` + "\n" +
			dir + `/app.yaml:17:7: fields item: unknown field "docs_ulr" (did you mean "docs_url"?)`
		if err == nil || err.Error() != want {
			t.Errorf("LoadApp: %v\nwant %s", err, want)
		}
	})
}

// TestTokenScaffold connects the app `patchbay app init --auth token` writes (its base_url
// pointed at the test's provider) and runs its test flow across several token lifetimes.
func TestTokenScaffold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessiondemo")
	if _, err := connections.Scaffold(dir, "token"); err != nil {
		t.Fatal(err)
	}
	e := newTKEnv(t, tkSetup{mode: tkFlat, lifetime: time.Minute})
	src, err := os.ReadFile(filepath.Join(dir, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src = []byte(strings.Replace(string(src), "base_url: https://api.example.com", "base_url: "+e.p.srv.URL, 1))
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(tkRegistry(t), dir)
	if err != nil {
		t.Fatalf("LoadApp of the scaffold: %v", err)
	}
	ctx := context.Background()
	rec, err := e.m.Connect(ctx, prog, connections.ConnectRequest{Fields: map[string]string{"username": tkUser, "password": tkPassword}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if rec.Label != "Alice Example" || rec.Type != "token" {
		t.Errorf("connected: label %q, type %q; want Alice Example, token", rec.Label, rec.Type)
	}
	for range 10 {
		e.clock.Advance(20 * time.Second)
		rec, err := e.store.ConnectionByID(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.m.Test(ctx, prog, rec); err != nil {
			t.Fatalf("at +%v: Test: %v", e.clock.Now().Sub(tkT0), err)
		}
	}
	if n, refused := e.p.logins.Load(), e.p.refused.Load(); n < 4 || refused != 0 {
		t.Errorf("%d token requests and %d refused calls over 200s of 60s tokens; want at least 4 and none", n, refused)
	}
}
