package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// envServeArgs holds the command line of a helper process of the serve tests, as a JSON array.
const envServeArgs = "PATCHBAY_SERVE_HELPER_ARGS"

// TestServeHelperProcess is patchbay itself, run again by the serve tests as a child process
// (the test binary with -test.run=^TestServeHelperProcess$): it runs the command line of
// envServeArgs under SIGINT and SIGTERM, as main does, and exits with its code.
func TestServeHelperProcess(t *testing.T) {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(envServeArgs)), &args); err != nil {
		t.Skip("a helper process of the serve tests")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, args, os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// waitLimit bounds every wait of the serve tests: a child that does not get there has failed.
const waitLimit = 30 * time.Second

// receiver is the API the serve tests' automation calls: POST /hit {"slot": ...} is counted by
// slot and reported on hits; while block is set it answers only when the request ends (its
// caller died or gave up) or release is closed.
type receiver struct {
	*httptest.Server
	block    atomic.Bool
	release  chan struct{}
	hits     chan string
	canceled atomic.Int32 // blocked requests whose caller went away

	mu     sync.Mutex
	counts map[string]int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{release: make(chan struct{}), hits: make(chan string, 1000), counts: map[string]int{}}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Slot string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || r.URL.Path != "/hit" {
			http.Error(w, "want POST /hit {slot}", http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		rc.counts[in.Slot]++
		rc.mu.Unlock()
		rc.hits <- in.Slot
		if rc.block.Load() {
			select {
			case <-r.Context().Done():
				rc.canceled.Add(1)
				return
			case <-rc.release:
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next returns the next slot the receiver saw.
func (rc *receiver) next(t *testing.T, c *serveChild) string {
	t.Helper()
	select {
	case s := <-rc.hits:
		return s
	case <-time.After(waitLimit):
		t.Fatalf("the receiver got no call in %v; serve's stderr:\n%s", waitLimit, c.stderr.String())
	}
	return ""
}

// serveEnv is a data directory whose apps folder has the app recv (its flow hit calls the
// receiver with a slot) and an automation every second applied, and the store opened here too.
type serveEnv struct {
	env  map[string]string
	data string
	st   *sqlite.Store
}

func newServeEnv(t *testing.T, rc *receiver) *serveEnv {
	t.Helper()
	e := &serveEnv{data: t.TempDir()}
	e.env = map[string]string{"PATCHBAY_DATA": e.data}
	writeApp(t, filepath.Join(e.data, "apps"), map[string]string{
		"broken/app.yaml": "app: broken\nflows:\n  f:\n    steps:\n      - id: a\n        call_apii: {path: /x}\n",
		"recv/app.yaml": `app: recv
base_url: ` + rc.URL + `
flows:
  hit:
    inputs:
      slot: {type: string, required: true}
    steps:
      - id: post
        call_api:
          method: POST
          path: /hit
          json: {slot: "{{ input.slot }}"}
    output: "{{ steps.post.body }}"
`})
	file := writeAutomation(t, `name: every-second
trigger:
  schedule: {cron: "* * * * * *", timezone: UTC}
actions:
  - id: hit
    app: recv
    flow: hit
    input: {slot: "{{ trigger.time }}"}
`)
	if r := cli(t, e.env, "", "automations", "apply", "-f", file); r.code != 0 {
		t.Fatalf("apply = %d %s%s", r.code, r.stdout, r.stderr)
	}
	key, err := keys.Load(e.data)
	if err != nil {
		t.Fatal(err)
	}
	if e.st, err = sqlite.Open(filepath.Join(e.data, dbFile), key); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	return e
}

// runs returns every run of the workspace.
func (e *serveEnv) runs(t *testing.T) []*automations.Run {
	t.Helper()
	runs, err := e.st.Runs(context.Background(), automations.RunFilter{Workspace: connections.DefaultWorkspace, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// runOfSlot returns the run of the slot the receiver saw as s, or nil.
func runOfSlot(t *testing.T, runs []*automations.Run, s string) *automations.Run {
	t.Helper()
	slot, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("the receiver got slot %q: %v", s, err)
	}
	for _, r := range runs {
		if r.Slot.Equal(slot) {
			return r
		}
	}
	return nil
}

// serveChild is a patchbay serve child process.
type serveChild struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedWriter
	done   chan struct{} // closed when it exited
	err    error         // its exit, once done
}

// lockedWriter collects a child's stderr.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// startServe starts patchbay serve in a child process on a free port of 127.0.0.1 and waits
// until it prints its URL.
func startServe(t *testing.T, e *serveEnv, flags ...string) *serveChild {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--allow-network", "127.0.0.1/32"}, flags...)
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	argv, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), envServeArgs+"="+string(argv), "PATCHBAY_DATA="+e.data)
	c := &serveChild{cmd: cmd, stderr: &lockedWriter{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, stdout)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-c.done
	})
	select {
	case line := <-lines:
		const prefix = "patchbay serve: listening on "
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("serve printed %q first, want %q...", line, prefix)
		}
		c.url = strings.Fields(strings.TrimPrefix(line, prefix))[0]
	case <-c.done:
		t.Fatalf("serve exited (%v) before it listened:\n%s", c.err, c.stderr.String())
	case <-time.After(waitLimit):
		t.Fatalf("serve did not listen in %v:\n%s", waitLimit, c.stderr.String())
	}
	return c
}

// stop sends sig and waits for the child to exit.
func (c *serveChild) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(waitLimit):
		t.Fatalf("serve did not exit in %v after %v:\n%s", waitLimit, sig, c.stderr.String())
	}
}

// waitFor checks cond every 50 ms until it holds, failing the test after waitLimit.
func waitFor(t *testing.T, c *serveChild, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(waitLimit)
	for !cond() {
		select {
		case <-tick.C:
		case <-limit:
			t.Fatalf("%s: not in %v; serve's stderr:\n%s", what, waitLimit, c.stderr.String())
		}
	}
}

// TestServeKill9: serve is killed with SIGKILL while a run's call blocks at the receiver, then
// started again. The run left running is marked interrupted once its lease expires, no slot
// runs twice (unique slots among the runs and at the receiver), and every call the receiver
// got has its run record.
func TestServeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts patchbay serve twice")
	}
	rc := newReceiver(t)
	e := newServeEnv(t, rc)
	rc.block.Store(true)
	flags := []string{"--run-lease", "2s", "--grace", "1s"}
	first := startServe(t, e, flags...)
	killedSlot := rc.next(t, first)
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no shutdown of any kind
		t.Fatal(err)
	}
	<-first.done
	var exit *exec.ExitError
	if !errors.As(first.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the first serve exited with %v, want killed by SIGKILL", first.err)
	}
	if r := runOfSlot(t, e.runs(t), killedSlot); r == nil || r.Status != automations.StatusRunning {
		t.Fatalf("after kill -9 the run of slot %s is %+v, want left running", killedSlot, r)
	}

	rc.block.Store(false)
	second := startServe(t, e, flags...)
	waitFor(t, second, "the killed run marked interrupted and 3 more slots run", func() bool {
		r := runOfSlot(t, e.runs(t), killedSlot)
		rc.mu.Lock()
		n := len(rc.counts)
		rc.mu.Unlock()
		return r != nil && r.Status == automations.StatusInterrupted && n >= 4
	})
	resp, err := http.Get(second.url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %v, %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	// The Service's runs reach the metrics.
	if resp, err = http.Get(second.url + "/metrics"); err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`patchbay_runs_total{status="succeeded"} `, `patchbay_runs_total{status="interrupted"} 1`, "patchbay_fire_lag_seconds_count "} {
		if !strings.Contains(string(metrics), want) || strings.Contains(string(metrics), want+"0\n") {
			t.Errorf("/metrics has no %q above 0:\n%s", want, metrics)
		}
	}
	// The broken app was reported and skipped.
	broken := filepath.Join(e.data, "apps", "broken")
	if want := "warning: app " + broken + " does not load and is skipped:\n" + filepath.Join(broken, "app.yaml") + `:6:9: unknown block "call_apii" (did you mean "call_api"?)`; !strings.Contains(second.stderr.String(), want) {
		t.Errorf("serve's stderr does not report the broken app:\n%s", second.stderr.String())
	}
	second.stop(t, syscall.SIGTERM)
	if second.err != nil {
		t.Errorf("the second serve exited with %v after SIGTERM, want 0:\n%s", second.err, second.stderr.String())
	}

	runs := e.runs(t)
	slots := map[time.Time]int{}
	for _, r := range runs {
		if !r.Slot.IsZero() {
			slots[r.Slot]++
		}
	}
	for s, n := range slots {
		if n > 1 {
			t.Errorf("slot %s has %d runs, want 1", s, n)
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for s, n := range rc.counts {
		if n > 1 {
			t.Errorf("the receiver got slot %s %d times, want once", s, n)
		}
		if runOfSlot(t, runs, s) == nil {
			t.Errorf("the receiver got slot %s, which has no run record", s)
		}
	}
	r := runOfSlot(t, runs, killedSlot)
	if r.Error == "" || r.EndedAt.IsZero() {
		t.Errorf("the interrupted run has error %q and end %v, want both", r.Error, r.EndedAt)
	}
	t.Logf("%d runs recorded, %d slots called, the killed slot %s %s: %s", len(runs), len(rc.counts), killedSlot, r.Status, r.Error)
}

// TestServeSIGTERM: SIGTERM stops the listener at once and lets a running run finish within
// --grace; a run still blocked when the grace ends is marked interrupted, its call canceled,
// and serve exits 0.
func TestServeSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts patchbay serve")
	}
	t.Run("finishes within the grace", func(t *testing.T) {
		rc := newReceiver(t)
		e := newServeEnv(t, rc)
		rc.block.Store(true)
		c := startServe(t, e, "--grace", "30s")
		slot := rc.next(t, c)
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// The listener stops first; the blocked run goes on.
		waitFor(t, c, "the listener closed", func() bool {
			resp, err := http.Get(c.url + "/healthz")
			if err == nil {
				resp.Body.Close()
			}
			return err != nil
		})
		close(rc.release)
		c.stop(t, syscall.SIGTERM)
		if c.err != nil {
			t.Errorf("serve exited with %v, want 0:\n%s", c.err, c.stderr.String())
		}
		if r := runOfSlot(t, e.runs(t), slot); r == nil || r.Status != automations.StatusSucceeded {
			t.Errorf("the run of slot %s is %+v, want succeeded", slot, r)
		}
	})
	t.Run("interrupted after the grace", func(t *testing.T) {
		rc := newReceiver(t)
		e := newServeEnv(t, rc)
		rc.block.Store(true)
		c := startServe(t, e, "--grace", "200ms")
		slot := rc.next(t, c)
		c.stop(t, syscall.SIGTERM)
		if c.err != nil {
			t.Errorf("serve exited with %v, want 0:\n%s", c.err, c.stderr.String())
		}
		r := runOfSlot(t, e.runs(t), slot)
		if r == nil || r.Status != automations.StatusInterrupted {
			t.Errorf("the run of slot %s is %+v, want interrupted", slot, r)
		}
		waitFor(t, c, "the blocked call canceled", func() bool { return rc.canceled.Load() == 1 })
		for _, r := range e.runs(t) {
			if r.Status == automations.StatusRunning {
				t.Errorf("run %s of slot %v is left running", r.ID, r.Slot)
			}
		}
	})
}
