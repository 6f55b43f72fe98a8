package connections_test

// Helpers shared by the connections tests: a fake clock, a log buffer, a Manager over a real SQLite store in
// t.TempDir(), apps loaded from YAML text, and the oauth2 connect flow against an
// oauthtest.Server. They take testing.TB so benchmarks can use them too.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// fakeClock is a clock that moves only when told. It is safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// newFakeClock returns a clock reading start.
func newFakeClock(start time.Time) *fakeClock { return &fakeClock{now: start} }

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// lockedBuffer collects log lines (or a process's output) written from any goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newMasterKey returns a fresh master key and its standard base64 encoding, the form
// PATCHBAY_MASTER_KEY takes (so a child process can open the same store).
func newMasterKey(t testing.TB) (keys.Key, string) {
	t.Helper()
	raw := make([]byte, keys.Size)
	rand.Read(raw) // never fails (crypto/rand documents it)
	enc := base64.StdEncoding.EncodeToString(raw)
	k, err := keys.Parse(enc)
	if err != nil {
		t.Fatal(err)
	}
	return k, enc
}

// openStore opens a new SQLite store, patchbay.db in its own t.TempDir(), under a fresh master
// key, and closes it when the test ends. It returns the store and the database's path.
func openStore(t testing.TB) (*sqlite.Store, string) {
	t.Helper()
	key, _ := newMasterKey(t)
	path := filepath.Join(t.TempDir(), "patchbay.db")
	st, err := sqlite.Open(path, key)
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// newManager returns a Manager over a new SQLite store (openStore), on clock (nil: the real
// clock). The store is m.Store().
func newManager(t testing.TB, clock *fakeClock) *connections.Manager {
	t.Helper()
	return newManagerConfig(t, clock, connections.Config{})
}

// newManagerConfig is newManager with more of the Config set: a nil cfg.Store gets a new store,
// and a non-nil clock sets cfg.Now.
func newManagerConfig(t testing.TB, clock *fakeClock, cfg connections.Config) *connections.Manager {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store, _ = openStore(t)
	}
	if clock != nil {
		cfg.Now = clock.Now
	}
	return connections.NewManager(cfg)
}

// newRegistry returns a registry with the core blocks.
func newRegistry(t testing.TB) *engine.Registry {
	t.Helper()
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// loadApp writes src as app.yaml in a new temporary folder and loads it as patchbay does, built-in
// private flows included. It fails the test on any load error.
func loadApp(t testing.TB, src string) *engine.Program {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(newRegistry(t), dir)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	return prog
}

// The OAuth client the oauth2 helpers register at the server and store for the app.
const (
	testClientID     = "patchbay-test"
	testClientSecret = "client-s3cret-value"
	testRedirectURL  = "http://127.0.0.1/oauth/callback" // any port matches (RFC 8252 loopback)
)

// oauth2AppYAML is an oauth2 (authorization code) app against an oauthtest.Server, its URL
// written as SRV: a test flow and an action flow me that both GET /api/me. extra is appended
// under flows: (indented by four spaces, as the flows here are).
const oauth2AppYAML = `app: acme
name: Acme
base_url: SRV
connection:
  type: oauth2
  authorize_url: SRV/oauth2/auth
  token_url: SRV/oauth2/token
  revoke_url: SRV/oauth2/revoke
  scopes: [read]
  label: "{{ test.output.email }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
  me:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
`

// oauth2App returns oauth2AppYAML for srv with extra appended (flows of the app, YAML text
// indented as the flows of oauth2AppYAML).
func oauth2App(srv *oauthtest.Server, extra string) string {
	return strings.ReplaceAll(oauth2AppYAML, "SRV", srv.URL) + extra
}

// withConnection adds YAML lines (indented by two spaces, as connection keys are) to the
// connection of an app's source: withConnection(src, "  refresh: {min_interval: 0s}\n").
func withConnection(src, lines string) string {
	return strings.Replace(src, "\nconnection:\n", "\nconnection:\n"+lines, 1)
}

// putClient registers the test client at srv (once per server) and stores it as app's auth
// client in m's store, named after the app as a connection defaults to.
func putClient(t testing.TB, m *connections.Manager, srv *oauthtest.Server, app string) {
	t.Helper()
	registered.Lock()
	if registered.m == nil {
		registered.m = map[*oauthtest.Server]bool{}
	}
	if !registered.m[srv] {
		srv.AddClient(testClientID, testClientSecret, []string{testRedirectURL}, oauthtest.ClientOptions{Scopes: []string{"read"}})
		registered.m[srv] = true
	}
	registered.Unlock()
	err := m.Store().PutClient(context.Background(), &connections.Client{
		Workspace: connections.DefaultWorkspace, App: app, Name: app,
		ClientID: testClientID, Secret: connections.Secret(testClientSecret), RedirectURL: testRedirectURL,
	})
	if err != nil {
		t.Fatalf("PutClient: %v", err)
	}
}

// registered remembers the servers putClient registered the test client at.
var registered struct {
	sync.Mutex
	m map[*oauthtest.Server]bool
}

// connectOAuth2 connects an account named name to prog's oauth2 app the whole way: StartOAuth,
// the user's approval at srv, FinishOAuth with the redirect's query. putClient must have run.
func connectOAuth2(t testing.TB, m *connections.Manager, prog *engine.Program, srv *oauthtest.Server, name string) *connections.Record {
	t.Helper()
	ctx := context.Background()
	p, err := m.StartOAuth(ctx, prog, connections.ConnectRequest{Name: name}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	cb, err := srv.Approve(p.AuthorizeURL)
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	rec, err := m.FinishOAuth(ctx, prog, p, cb.Query())
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	return rec
}

// runFlow runs flow of prog with the connection rec, as a run does: options from
// Manager.RunOptions, then Program.Run, with a trace.
func runFlow(ctx context.Context, m *connections.Manager, prog *engine.Program, rec *connections.Record, flow string, input map[string]any) (*engine.Result, error) {
	opts, err := m.RunOptions(ctx, prog, rec)
	if err != nil {
		return nil, err
	}
	opts.Input = input
	opts.Trace = true
	return prog.Run(ctx, flow, opts)
}

// reload reads rec back from m's store.
func reload(t testing.TB, m *connections.Manager, rec *connections.Record) *connections.Record {
	t.Helper()
	got, err := m.Store().ConnectionByID(context.Background(), rec.ID)
	if err != nil {
		t.Fatalf("read connection %s back: %v", rec.Name, err)
	}
	return got
}
