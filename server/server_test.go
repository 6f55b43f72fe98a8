package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/server"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// echoApp keeps its input: a one-set flow.
const echoApp = `app: echo
flows:
  keep:
    inputs:
      value: {type: object}
    steps:
      - id: keep
        set: {value: "{{ input.value }}"}
    output: "{{ vars.value }}"
`

// hookAutomation runs echo's keep flow with the webhook's body.
const hookAutomation = `name: incoming
trigger:
  webhook: {}
actions:
  - id: keep
    app: echo
    flow: keep
    input: {value: "{{ trigger.item }}"}
`

// catalog is a map of loaded apps.
type catalog map[string]*engine.Program

func (c catalog) App(key string) *engine.Program { return c[key] }

// lockedBuffer is a log's writer that several goroutines write.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stack is a Service serving on a real SQLite store, with its metrics, behind an httptest
// server running the server's handler.
type stack struct {
	st      *sqlite.Store
	svc     *automations.Service
	metrics *server.Metrics
	ts      *httptest.Server
	logs    *lockedBuffer
	secret  string                // the hook automation's secret
	ended   chan *automations.Run // the first 100 runs that ended
	count   atomic.Int64          // the runs that ended
}

// observer tells the metrics of runs, then the test.
type observer struct {
	*server.Metrics
	ended chan *automations.Run
	count *atomic.Int64
}

func (o observer) RunEnded(r *automations.Run, d time.Duration) {
	o.Metrics.RunEnded(r, d)
	o.count.Add(1)
	select {
	case o.ended <- r:
	default: // a benchmark's runs
	}
}

// newStack applies hookAutomation and serves it. cfg may set MaxBody; wrap (may be nil)
// wraps the Service the server gets.
func newStack(t testing.TB, cfg server.Config, wrap func(server.Service) server.Service) *stack {
	return newStackLog(t, cfg, wrap, nil)
}

// newStackLog is newStack with the log at info level on w; nil: at debug level in s.logs.
func newStackLog(t testing.TB, cfg server.Config, wrap func(server.Service) server.Service, w io.Writer) *stack {
	t.Helper()
	s := &stack{logs: &lockedBuffer{}, ended: make(chan *automations.Run, 100)}
	raw := make([]byte, keys.Size)
	rand.Read(raw)
	key, err := keys.FromBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s.st, err = sqlite.Open(filepath.Join(t.TempDir(), "patchbay.db"), key); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.st.Close() })
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(echoApp), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(reg, dir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if w != nil {
		log = slog.New(slog.NewTextHandler(w, nil))
	}
	s.metrics = server.NewMetrics(s.st, log)
	m := connections.NewManager(connections.Config{Store: s.st, Notifier: s.metrics})
	s.svc = automations.New(automations.Config{Store: s.st, Connections: m, Catalog: catalog{"echo": prog}, Logger: log, Observer: observer{s.metrics, s.ended, &s.count}})
	applied, err := s.svc.Apply(t.Context(), "incoming.yaml", []byte(hookAutomation))
	if err != nil {
		t.Fatal(err)
	}
	if s.secret = applied.HookSecret; s.secret == "" {
		t.Fatal("Apply of a webhook automation gave no secret")
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.svc.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	cfg.Service, cfg.Metrics, cfg.Logger = s.svc, s.metrics, log
	if wrap != nil {
		cfg.Service = wrap(s.svc)
	}
	s.ts = httptest.NewServer(server.New(cfg).Handler())
	t.Cleanup(s.ts.Close)
	return s
}

// post sends a webhook and returns the status and the decoded answer.
func (s *stack) post(t *testing.T, secret, contentType string, body io.Reader, header map[string]string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", s.ts.URL+"/hooks/"+secret, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("answer %d has Content-Type %q, want application/json", resp.StatusCode, ct)
	}
	return resp.StatusCode, out
}

// TestHook: a webhook's JSON body and headers become the recorded run's trigger.item (names
// in lower case, Authorization and Cookie left out), the answer is 202 with the run's id once
// the run is in the store, and the run runs.
func TestHook(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	code, out := s.post(t, s.secret, "application/json; charset=utf-8", strings.NewReader(`{"n": 1, "tags": ["a"]}`),
		map[string]string{"X-Event": "push", "Authorization": "Bearer sk-hook-credential", "Cookie": "session=abc"})
	id, _ := out["run_id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("POST = %d %v, want 202 and a run_id", code, out)
	}
	r, err := s.st.Run(t.Context(), id)
	if err != nil {
		t.Fatalf("the run answered is not in the store: %v", err)
	}
	var item struct {
		Body    map[string]any    `json:"body"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal(r.Item, &item); err != nil {
		t.Fatalf("item %s: %v", r.Item, err)
	}
	if item.Body["n"] != 1.0 || item.Headers["x-event"] != "push" || item.Headers["content-type"] != "application/json; charset=utf-8" {
		t.Errorf("item = %s, want the body and the headers in lower case", r.Item)
	}
	for _, h := range []string{"authorization", "cookie"} {
		if _, ok := item.Headers[h]; ok {
			t.Errorf("item keeps the %s header: %s", h, r.Item)
		}
	}
	if strings.Contains(string(r.Item), "sk-hook-credential") {
		t.Errorf("item holds the Authorization header's value: %s", r.Item)
	}
	if r.Trigger != automations.TriggerWebhook || r.Automation != "incoming" {
		t.Errorf("run of %q by %q, want incoming by webhook", r.Automation, r.Trigger)
	}
}

// TestHookRefused: each way a webhook is refused, with a JSON error; an unknown and a disabled
// hook get the same answer, and no run is recorded for any.
func TestHookRefused(t *testing.T) {
	s := newStack(t, server.Config{MaxBody: 64}, nil)
	if err := s.svc.Disable(t.Context(), connections.DefaultWorkspace, "incoming", "disabled by the user"); err != nil {
		t.Fatal(err)
	}
	on := newStack(t, server.Config{MaxBody: 64}, nil)
	tests := []struct {
		name     string
		s        *stack
		secret   string
		ct, body string
		code     int
		errText  string
	}{
		{"unknown hook", on, "not-a-secret", "application/json", `{}`, 404, "no such hook"},
		{"disabled hook", s, s.secret, "application/json", `{}`, 404, "no such hook"},
		{"too big", on, on.secret, "application/json", `{"x": "` + strings.Repeat("a", 100) + `"}`, 413, "the body is larger than the limit of 64 bytes"},
		{"bad JSON", on, on.secret, "", `{"x": `, 400, "the body is not valid JSON: unexpected end of JSON input"},
		{"not JSON", on, on.secret, "text/plain", `hello`, 415, "the body must be JSON (Content-Type: application/json) or a form (application/x-www-form-urlencoded)"},
		{"bad form", on, on.secret, "application/x-www-form-urlencoded", `a=%zz`, 400, `the body is not a valid form: invalid URL escape "%zz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := tt.s.post(t, tt.secret, tt.ct, strings.NewReader(tt.body), nil)
			if code != tt.code || out["error"] != tt.errText {
				t.Errorf("POST = %d %v, want %d {error: %q}", code, out, tt.code, tt.errText)
			}
		})
	}
	for _, st := range []*stack{s, on} {
		if runs, err := st.st.Runs(t.Context(), automations.RunFilter{Workspace: connections.DefaultWorkspace, Limit: 10}); err != nil || len(runs) != 0 {
			t.Errorf("runs recorded: %d, %v; want none", len(runs), err)
		}
	}
}

// TestHookForm: a form body (curl -d, Slack's slash commands, Twilio) is trigger.item.body as
// an object: a field given once is a string, a field given more than once a list.
func TestHookForm(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	code, out := s.post(t, s.secret, "application/x-www-form-urlencoded", strings.NewReader(`name=Ada+Lovelace&tag=a&tag=b&empty=`), nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %v, want 202", code, out)
	}
	r, err := s.st.Run(t.Context(), out["run_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var item struct {
		Body map[string]any `json:"body"`
	}
	if err := json.Unmarshal(r.Item, &item); err != nil {
		t.Fatalf("item %s: %v", r.Item, err)
	}
	want := map[string]any{"name": "Ada Lovelace", "tag": []any{"a", "b"}, "empty": ""}
	if !reflect.DeepEqual(item.Body, want) {
		t.Errorf("body = %v, want %v", item.Body, want)
	}
}

// TestHookEmptyBody: an empty body is trigger.item.body null, not an error (a ping).
func TestHookEmptyBody(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	code, out := s.post(t, s.secret, "", nil, nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST = %d %v, want 202", code, out)
	}
	r, err := s.st.Run(t.Context(), out["run_id"].(string))
	if err != nil || !strings.HasPrefix(string(r.Item), `{"body":null,`) {
		t.Errorf("item = %s (%v), want body null", r.Item, err)
	}
}

// TestLogRedactsHookSecret: the request log line names a hook's path without its secret.
func TestLogRedactsHookSecret(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	s.post(t, s.secret, "application/json", strings.NewReader(`{}`), nil)
	s.post(t, "a-guess", "application/json", strings.NewReader(`{}`), nil)
	logs := s.logs.String()
	if !strings.Contains(logs, "path=/hooks/[redacted] status=202") || !strings.Contains(logs, "path=/hooks/[redacted] status=404") {
		t.Errorf("log has no request lines for the hooks:\n%s", logs)
	}
	for _, secret := range []string{s.secret, "a-guess"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log holds a hook's secret %q:\n%s", secret, logs)
		}
	}
}

// panicking is a Service whose Hook panics.
type panicking struct{ server.Service }

func (panicking) Hook(context.Context, string, json.RawMessage) (*automations.Run, error) {
	panic("hook exploded")
}

// TestPanicRecovered: a handler's panic is a 500 with an id that its log line has too, and the
// server goes on answering.
func TestPanicRecovered(t *testing.T) {
	s := newStack(t, server.Config{}, func(svc server.Service) server.Service { return panicking{svc} })
	code, out := s.post(t, s.secret, "application/json", strings.NewReader(`{}`), nil)
	id, _ := out["id"].(string)
	if code != http.StatusInternalServerError || out["error"] != "internal error" || id == "" {
		t.Fatalf("POST = %d %v, want 500 internal error with an id", code, out)
	}
	if logs := s.logs.String(); !strings.Contains(logs, `msg="panic in handler" id=`+id) || !strings.Contains(logs, "hook exploded") {
		t.Errorf("log has no panic line with id %s:\n%s", id, logs)
	}
	resp, err := s.ts.Client().Get(s.ts.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz after the panic = %v, %v", resp, err)
	}
	resp.Body.Close()
}

// TestHealthz: 200 {"status":"ok"} while the store answers, 503 once it does not.
func TestHealthz(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	get := func() (int, string) {
		resp, err := s.ts.Client().Get(s.ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("GET /healthz = %d %q, want 200 {\"status\":\"ok\"}", code, body)
	}
	s.st.Close()
	if code, body := get(); code != 503 || !strings.Contains(body, `"status":"unavailable"`) {
		t.Errorf("GET /healthz with the store closed = %d %q, want 503", code, body)
	}
}

// TestMetrics: /metrics serves the runs by status, their duration, the queue depth, the
// refreshes and their failures from connection events, and the Go and process collectors.
func TestMetrics(t *testing.T) {
	s := newStack(t, server.Config{}, nil)
	if code, out := s.post(t, s.secret, "application/json", strings.NewReader(`{"n": 1}`), nil); code != http.StatusAccepted {
		t.Fatalf("POST = %d %v, want 202", code, out)
	}
	if r := <-s.ended; r.Status != automations.StatusSucceeded {
		t.Fatalf("the hook's run ended %s (%s), want succeeded", r.Status, r.Error)
	}
	s.metrics.Notify(t.Context(), connections.Event{Kind: "refreshed"})
	s.metrics.Notify(t.Context(), connections.Event{Kind: "refreshed"})
	s.metrics.Notify(t.Context(), connections.Event{Kind: "refresh_failed"})
	s.metrics.Notify(t.Context(), connections.Event{Kind: "disconnected"})
	resp, err := s.ts.Client().Get(s.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	text := string(b)
	for _, want := range []string{
		`patchbay_runs_total{status="succeeded"} 1`,
		"patchbay_run_duration_seconds_count 1",
		"patchbay_fire_lag_seconds_count 0",
		"patchbay_queue_depth 0",
		"patchbay_token_refreshes_total 2",
		"patchbay_token_refresh_failures_total 1",
		"go_goroutines ",
		"process_start_time_seconds ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}
