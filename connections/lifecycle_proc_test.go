package connections_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// The environment of a helper process of TestLifecycleProcesses.
const (
	envHelper = "PATCHBAY_LIFECYCLE_HELPER" // "1" in a helper process
	envDB     = "PATCHBAY_LIFECYCLE_DB"     // the SQLite file
	envAppDir = "PATCHBAY_LIFECYCLE_APP"    // the app's folder (its URLs name the parent's server)
	envConnID = "PATCHBAY_LIFECYCLE_CONN"   // the connection's id
	envNow    = "PATCHBAY_LIFECYCLE_NOW"    // the helper's clock, RFC 3339: after the token expired
	envCalls  = "PATCHBAY_LIFECYCLE_CALLS"  // how many calls to make at once
	// The master key travels as keys.EnvMasterKey, as it would to `patchbay run`.
)

// Lines a helper process writes on stdout, and the one the parent answers on its stdin.
const (
	helperReady  = "lifecycle-ready"
	helperResult = "lifecycle-result: "
	helperGo     = "go"
)

// helperReport is what a helper process reports of its calls.
type helperReport struct {
	OK     int      `json:"ok"`
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"` // the first few
}

// TestLifecycleProcesses: three OS processes (this test binary run again as
// TestLifecycleHelperProcess) share one SQLite file and each make 50 calls at once with a token
// that their clocks say has expired. The authorization server, in this process, rotates refresh
// tokens and revokes the grant when a rotated one comes again: one refresh reaches it in all,
// none is refused, and all 150 calls succeed. With min_interval 0 only the lease in the store
// and the re-read as it is taken keep the other processes from refreshing again.
func TestLifecycleProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	for _, tt := range []struct{ name, conn string }{
		{"default refresh settings", ""},
		{"min_interval 0", "  refresh: {min_interval: 0s}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) { testProcesses(t, tt.conn) })
	}
}

func testProcesses(t *testing.T, connLines string) {
	e := newProcEnv(t, func(srv *oauthtest.Server) string { return withConnection(oauth2App(srv, ""), connLines) }, nil)
	const procs, calls = 3, 50
	children := make([]*helperChild, procs)
	for i := range children {
		children[i] = e.startHelper(t, calls)
	}
	// The start barrier: every helper has opened the store and built its Manager before any
	// makes a call.
	for i, c := range children {
		if !scanFor(c.stdout, helperReady) {
			c.cmd.Wait()
			t.Fatalf("helper %d did not get ready: %s", i, c.stderr)
		}
	}
	for _, c := range children {
		fmt.Fprintln(c.stdin, helperGo)
		c.stdin.Close()
	}
	total := helperReport{}
	for i, c := range children {
		var rep helperReport
		found := false
		for c.stdout.Scan() {
			if line, ok := strings.CutPrefix(c.stdout.Text(), helperResult); ok {
				if err := json.Unmarshal([]byte(line), &rep); err != nil {
					t.Fatalf("helper %d: %v", i, err)
				}
				found = true
			}
		}
		if err := c.cmd.Wait(); err != nil || !found {
			t.Fatalf("helper %d: exit %v, report found %v: %s", i, err, found, c.stderr)
		}
		total.OK += rep.OK
		total.Failed += rep.Failed
		total.Errors = append(total.Errors, rep.Errors...)
	}
	if total.OK != procs*calls || total.Failed != 0 {
		t.Errorf("%d calls succeeded and %d failed, want %d and 0; errors: %q", total.OK, total.Failed, procs*calls, total.Errors)
	}
	if got := e.srv.TokenRequests("refresh_token"); got != 1 {
		t.Errorf("refresh requests at the token endpoint = %d, want 1", got)
	}
	e.noRefusals(t)
	after := reload(t, e.m, e.rec)
	if after.Status != connections.StatusConnected || after.RefreshCount != 1 {
		t.Errorf("status %q, refresh count %d; want connected, 1", after.Status, after.RefreshCount)
	}
}

// procEnv is the parent's side of a test with helper processes: an authorization server, a
// store file the helpers open too, a Manager on a fake clock over it, an oauth2 app in a folder
// the helpers load, and one connected account.
type procEnv struct {
	srv     *oauthtest.Server
	srvLog  *lockedBuffer // the server's refusals, JSON lines
	encKey  string        // the master key, as PATCHBAY_MASTER_KEY
	dbPath  string
	st      *sqlite.Store
	clock   *fakeClock
	m       *connections.Manager
	appDir  string
	prog    *engine.Program
	rec     *connections.Record // as connected
	expired time.Time           // a minute after rec's token expired
}

// newProcEnv builds a procEnv whose app is app(server). wrap (may be nil) wraps the store the
// Manager uses; opts are the store's.
func newProcEnv(t *testing.T, app func(*oauthtest.Server) string, wrap func(connections.Store) connections.Store, opts ...sqlite.Option) *procEnv {
	t.Helper()
	e := &procEnv{srvLog: &lockedBuffer{}, clock: newFakeClock(time.Now())}
	e.srv = oauthtest.New(t, oauthtest.Options{Logger: slog.New(slog.NewJSONHandler(e.srvLog, nil))})
	var key keys.Key
	key, e.encKey = newMasterKey(t)
	e.dbPath = filepath.Join(t.TempDir(), "patchbay.db")
	var err error
	if e.st, err = sqlite.Open(e.dbPath, key, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	var st connections.Store = e.st
	if wrap != nil {
		st = wrap(st)
	}
	e.m = newManagerConfig(t, e.clock, connections.Config{Store: st})
	e.appDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(e.appDir, "app.yaml"), []byte(app(e.srv)), 0o600); err != nil {
		t.Fatal(err)
	}
	if e.prog, err = connections.LoadApp(newRegistry(t), e.appDir); err != nil {
		t.Fatal(err)
	}
	putClient(t, e.m, e.srv, "acme")
	e.rec = connectOAuth2(t, e.m, e.prog, e.srv, "alice")
	e.expired = e.rec.Creds.Token.Expiry.Add(time.Minute)
	return e
}

// noRefusals checks that the authorization server refused no token request.
func (e *procEnv) noRefusals(t *testing.T) {
	t.Helper()
	for _, l := range logLines(t, e.srvLog) {
		if l["msg"] == "request refused" && l["endpoint"] == "token" {
			t.Errorf("the token endpoint refused a request: %v", l["error"])
		}
	}
}

// helperChild is a running TestLifecycleHelperProcess.
type helperChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Scanner
	stderr *lockedBuffer
}

// startHelper starts a helper process that opens e's store, loads e's app and, told "go" on
// its stdin, makes calls calls at once with e.rec on a clock reading e.expired.
func (e *procEnv) startHelper(t *testing.T, calls int) *helperChild {
	t.Helper()
	c := &helperChild{stderr: &lockedBuffer{}}
	c.cmd = exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestLifecycleHelperProcess$", "-test.count=1")
	c.cmd.Env = append(os.Environ(),
		envHelper+"=1", envDB+"="+e.dbPath, envAppDir+"="+e.appDir, envConnID+"="+e.rec.ID,
		envNow+"="+e.expired.Format(time.RFC3339Nano), envCalls+"="+strconv.Itoa(calls),
		keys.EnvMasterKey+"="+e.encKey,
	)
	c.cmd.Stderr = c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.stdout = bufio.NewScanner(out)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// scanFor reads lines from sc until one equals want, and reports whether it came.
func scanFor(sc *bufio.Scanner, want string) bool {
	for sc.Scan() {
		if sc.Text() == want {
			return true
		}
	}
	return false
}

// TestLifecycleHelperProcess is a helper process of TestLifecycleProcesses, not a test: it opens
// the shared store with its own Manager, says it is ready, waits for "go" on stdin, makes its
// calls at once and reports them on stdout.
func TestLifecycleHelperProcess(t *testing.T) {
	if os.Getenv(envHelper) != "1" {
		t.Skip("a helper process of TestLifecycleProcesses")
	}
	ctx := context.Background()
	dbPath := os.Getenv(envDB)
	key, err := keys.Load(filepath.Dir(dbPath)) // from PATCHBAY_MASTER_KEY, as patchbay does
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(dbPath, key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now, err := time.Parse(time.RFC3339Nano, os.Getenv(envNow))
	if err != nil {
		t.Fatal(err)
	}
	calls, err := strconv.Atoi(os.Getenv(envCalls))
	if err != nil {
		t.Fatal(err)
	}
	m := connections.NewManager(connections.Config{Store: st, Now: func() time.Time { return now }})
	prog, err := connections.LoadApp(newRegistry(t), os.Getenv(envAppDir))
	if err != nil {
		t.Fatal(err)
	}
	// The record as a run read it before the token expired.
	rec, err := st.ConnectionByID(ctx, os.Getenv(envConnID))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(helperReady)
	if line, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil || strings.TrimSpace(line) != helperGo {
		t.Fatalf("waiting for %q on stdin: %q, %v", helperGo, line, err)
	}

	var mu sync.Mutex
	var rep helperReport
	var wg sync.WaitGroup
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := runFlow(ctx, m, prog, rec, "me", nil)
			if err == nil {
				if out, _ := res.Output.(map[string]any); out["email"] != oauthtest.UserEmail {
					err = fmt.Errorf("me answered %v", res.Output)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				rep.Failed++
				if len(rep.Errors) < 3 {
					rep.Errors = append(rep.Errors, err.Error())
				}
				return
			}
			rep.OK++
		}()
	}
	wg.Wait()
	b, _ := json.Marshal(rep)
	fmt.Println(helperResult + string(b))
}
