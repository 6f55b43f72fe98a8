package automations_test

// Helpers of the Service tests: a fake clock, an API on httptest with a session-token login, a
// catalog of apps loaded from YAML text, a connections.Manager and a Service over one real
// SQLite store in t.TempDir(). They take testing.TB so benchmarks can use them too.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// t0 is when every test starts on the fake clock: a Monday.
var t0 = time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC)

// clock is a clock that moves only when told; safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// lockedBuffer collects log lines written from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The API's credentials and the session tokens it issues: secrets that must appear in no run
// record and no log line.
const (
	apiUser     = "robot@example.com"
	apiPassword = "pa55-W0rd-never-shown"
	apiSession  = "sess-0123456789-SECRET"
)

// api is an httptest API with a session login (POST /login), an action (POST /post, which
// records the text it is sent) and a trigger's list (GET /items).
type api struct {
	*httptest.Server
	mu       sync.Mutex
	texts    []string         // the texts POST /post got, in order
	items    []map[string]any // what GET /items answers
	fail     int              // the next POSTs answering 503
	refuse   bool             // login refused and sessions rejected: the account was revoked
	hold     chan struct{}    // when set, POST /post waits for it to close, or for its request's end
	entered  chan string      // when set, POST /post sends its text here on arrival
	posts    atomic.Int64
	logins   atomic.Int64
	rejected atomic.Int64
}

func newAPI(t testing.TB) *api {
	a := &api{}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *api) set(f func(a *api)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f(a)
}

func (a *api) posted() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.texts...)
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	refuse := a.refuse
	a.mu.Unlock()
	if r.URL.Path == "/login" {
		a.logins.Add(1)
		var in struct{ Username, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if refuse || in.Username != apiUser || in.Password != apiPassword {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid credentials"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"token": apiSession})
		return
	}
	if refuse || r.Header.Get("Authorization") != "Session "+apiSession {
		a.rejected.Add(1)
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "bad session"})
		return
	}
	switch {
	case r.URL.Path == "/me":
		writeJSON(w, http.StatusOK, map[string]any{"name": "robot"})
	case r.URL.Path == "/items":
		a.mu.Lock()
		items := a.items
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	case r.URL.Path == "/post":
		a.posts.Add(1)
		var in struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		a.mu.Lock()
		hold, entered := a.hold, a.entered
		failing := a.fail > 0
		if failing {
			a.fail--
		}
		a.mu.Unlock()
		if entered != nil {
			entered <- in.Text
		}
		if hold != nil {
			select {
			case <-hold:
			case <-r.Context().Done():
				return
			}
		}
		if failing {
			// An error page that echoes the session, as careless APIs do.
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "busy", "auth": r.Header.Get("Authorization")})
			return
		}
		a.mu.Lock()
		a.texts = append(a.texts, in.Text)
		a.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "text": in.Text, "auth": r.Header.Get("Authorization")})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiApp is a session-token app against the api at SRV: post is an action, list a trigger
// whose items' dedupe field is id.
const apiApp = `app: api
name: API
base_url: SRV
connection:
  type: token
  fields:
    - {key: username, label: Username, required: true}
    - {key: password, label: Password, required: true, sensitive: true}
  inject: {in: header, name: Authorization, value: "Session {{ token }}"}
  refresh: {min_interval: 1s}
flows:
  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /login
          json: {username: "{{ connection.fields.username }}", password: "{{ connection.fields.password }}"}
    output: {access_token: "{{ steps.login.body.token }}", expires_in: 86400}
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
  post:
    kind: action
    inputs:
      text: {type: string}
    steps:
      - id: send
        call_api: {method: POST, path: /post, json: {text: "{{ input.text }}"}}
    output: "{{ steps.send.body }}"
  list:
    kind: trigger
    dedupe: id
    steps:
      - id: get
        call_api: {method: GET, path: /items}
    output: "{{ steps.get.body.items }}"
`

// demoApp needs no connection: echo returns its text; chain is 40 sequential set steps.
func demoApp() string {
	var b strings.Builder
	b.WriteString(`app: demo
name: Demo
flows:
  echo:
    kind: action
    inputs:
      text: {type: string}
    steps:
      - id: say
        set: {text: "{{ input.text }}"}
    output: "{{ vars.text }}"
  chain:
    kind: action
    inputs:
      n: {type: integer}
    steps:
      - set: {n: "{{ input.n }}"}
`)
	for range 39 {
		b.WriteString("      - set: {n: \"{{ vars.n + 1 }}\"}\n")
	}
	b.WriteString("    output: \"{{ vars.n }}\"\n")
	return b.String()
}

// env is a Service on a fake clock over a real SQLite store, with the api app connected as
// "work" and the demo app.
type env struct {
	t     testing.TB
	clock *clock
	store *sqlite.Store
	mgr   *connections.Manager
	cat   automations.Apps
	api   *api
	svc   *automations.Service
	logs  *lockedBuffer
	conn  *connections.Record
	cfg   automations.Config // the Service's
	path  string             // the store's database file
}

// relay forwards the Manager's events to the Service, which is built after the Manager.
type relay struct {
	s atomic.Pointer[automations.Service]
}

func (r *relay) Notify(ctx context.Context, e connections.Event) {
	if s := r.s.Load(); s != nil {
		s.Notify(ctx, e)
	}
}

func newEnv(t testing.TB, configure ...func(*automations.Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{now: t0}, logs: &lockedBuffer{}, cat: automations.Apps{}}
	key, err := keys.Parse("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	if err != nil {
		t.Fatal(err)
	}
	e.path = filepath.Join(t.TempDir(), "patchbay.db")
	e.store, err = sqlite.Open(e.path, key, sqlite.WithClock(e.clock.Now))
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { e.store.Close() })
	level := slog.LevelDebug // the steps' lines too: no secret may reach any line
	if _, bench := t.(*testing.B); bench {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: level}))
	rl := &relay{}
	e.mgr = connections.NewManager(connections.Config{Store: e.store, Now: e.clock.Now, Logger: log, Notifier: rl})
	e.api = newAPI(t)
	e.cat["api"] = loadApp(t, strings.ReplaceAll(apiApp, "SRV", e.api.URL))
	e.cat["demo"] = loadApp(t, demoApp())
	e.conn, err = e.mgr.Connect(context.Background(), e.cat["api"], connections.ConnectRequest{
		Name: "work", Fields: map[string]string{"username": apiUser, "password": apiPassword},
	})
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	cfg := automations.Config{
		Store: e.store, Connections: e.mgr, Catalog: e.cat, Logger: log, Now: e.clock.Now,
		Node: "node-1", Workers: 4,
	}
	for _, f := range configure {
		f(&cfg)
	}
	e.cfg = cfg
	e.svc = automations.New(cfg)
	rl.s.Store(e.svc)
	return e
}

func loadApp(t testing.TB, src string) *engine.Program {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(reg, dir)
	if err != nil {
		t.Fatalf("load app: %v", err)
	}
	return prog
}

// apply applies an automation document and fails the test on an error.
func (e *env) apply(src string) *automations.Applied {
	e.t.Helper()
	ap, err := e.svc.Apply(context.Background(), "auto.yaml", []byte(src))
	if err != nil {
		e.t.Fatalf("Apply: %v\n%s", err, src)
	}
	return ap
}

// tick runs one scheduler pass and every run it made claimable, and returns how many ran.
func (e *env) tick() int {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.svc.Tick(ctx); err != nil {
		e.t.Fatalf("Tick: %v", err)
	}
	n, err := e.svc.Work(ctx)
	if err != nil {
		e.t.Fatalf("Work: %v", err)
	}
	return n
}

// runs lists the runs of the automation called name, oldest first, with their steps.
func (e *env) runs(name string) []*automations.Run {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.store.Automation(ctx, "default", name)
	if err != nil {
		e.t.Fatalf("automation %s: %v", name, err)
	}
	list, err := e.store.Runs(ctx, automations.RunFilter{Workspace: "default", AutomationID: a.ID, Limit: 1000})
	if err != nil {
		e.t.Fatalf("Runs: %v", err)
	}
	out := make([]*automations.Run, len(list))
	for i, r := range list {
		full, err := e.store.Run(ctx, r.ID)
		if err != nil {
			e.t.Fatalf("Run %s: %v", r.ID, err)
		}
		out[len(list)-1-i] = full
	}
	// On a fake clock that did not move, runs share a QueuedAt: a retry comes after its run.
	slices.SortStableFunc(out, func(a, b *automations.Run) int {
		if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
			return c
		}
		return a.Attempt - b.Attempt
	})
	return out
}

func (e *env) automation(name string) *automations.Automation {
	e.t.Helper()
	a, err := e.store.Automation(context.Background(), "default", name)
	if err != nil {
		e.t.Fatalf("automation %s: %v", name, err)
	}
	return a
}

// postDoc is an automation called name that posts a text made from the trigger to the api
// with the connection work: trigger is its trigger's YAML (a flow mapping), more its other
// top-level lines.
func postDoc(name, trigger, text string, more ...string) string {
	return "name: " + name + "\ntrigger:\n  " + trigger + "\nactions:\n" +
		"  - id: post\n    app: api\n    flow: post\n    connection: work\n    input: {text: \"" + text + "\"}\n" +
		strings.Join(more, "\n") + "\n"
}

// statuses returns each run's status, in order.
func statuses(runs []*automations.Run) []string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Status
	}
	return out
}
