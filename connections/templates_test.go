package connections_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// TestConnectionTemplatesStopAtDeadline: the connection's own templates (inject, request
// defaults) had a memory budget but no deadline: one that looks through a list once per item of
// another ran for hours past the run's timeout, on every request. They now stop with the run.
func TestConnectionTemplatesStopAtDeadline(t *testing.T) {
	const slow = `{{ let l = 1..400000; len(filter(l, -# in l)) }}`
	const inject = "inject: {in: header, name: X-Key}\n  "
	tests := []struct{ name, conn, want string }{
		{"inject", `inject: {in: header, name: X-Key, value: "{{ token }}` + slow + `"}`, "connection inject: "},
		{"request query", inject + `request: {query: {k: "` + slow + `"}}`, "connection request query k: "},
		{"request header", inject + `request: {headers: {X-K: "` + slow + `"}}`, "connection request header X-K: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newPlainProvider(t, map[string]http.HandlerFunc{"/items": func(w http.ResponseWriter, r *http.Request) {}})
			m := newManager(t, nil)
			prog := loadApp(t, `app: slow
name: Slow
base_url: `+api.srv.URL+`
connection:
  type: api_key
  `+tt.conn+`
flows:
  list:
    steps:
      - id: list
        call_api: {method: GET, path: /items}
`)
			rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Fields: map[string]string{"api_key": "k3y-0123456789"}})
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			opts, err := m.RunOptions(t.Context(), prog, rec)
			if err != nil {
				t.Fatal(err)
			}
			opts.Limits = engine.Limits{Timeout: 100 * time.Millisecond}
			_, err = prog.Run(t.Context(), "list", opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), "run timed out") {
				t.Errorf("run = %v, want an error %q ... run timed out", err, tt.want)
			}
			if n := len(api.at("/items")); n != 0 {
				t.Errorf("the API got %d requests, want none", n)
			}
		})
	}
}

// TestConnectionLabelStopsAtDeadline: the label template, evaluated when a connection is made,
// stops at the caller's deadline too: the label falls back to the connection's name and says why.
func TestConnectionLabelStopsAtDeadline(t *testing.T) {
	api := newPlainProvider(t, map[string]http.HandlerFunc{"/me": func(w http.ResponseWriter, r *http.Request) {
		writeJSONBody(w, http.StatusOK, map[string]any{"name": "n"})
	}})
	var logs lockedBuffer
	m := newManagerConfig(t, nil, connections.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	prog := loadApp(t, `app: slow
name: Slow
base_url: `+api.srv.URL+`
connection:
  type: api_key
  inject: {in: header, name: X-Key}
  label: "{{ let l = 1..400000; string(len(filter(l, -# in l))) }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
`)
	stop := errors.New("connect timed out")
	ctx, cancel := context.WithTimeoutCause(t.Context(), 200*time.Millisecond, stop)
	defer cancel()
	// The store refuses the record once the deadline has passed; what matters is that Connect returns.
	_, _ = m.Connect(ctx, prog, connections.ConnectRequest{Name: "work", Fields: map[string]string{"api_key": "k3y-0123456789"}})
	if got := logs.String(); !strings.Contains(got, "connection label failed") || !strings.Contains(got, stop.Error()) {
		t.Errorf("logs = %q, want the label failing with %q", got, stop)
	}
}

// TestInjectEvaluatorsReused: a connection evaluates inject with evaluators it keeps for the
// next requests. One request's context does not stay with them: after a request whose context
// was cancelled stopped its template, the next request's evaluates to the end; and requests
// made at once each get their own credentials.
func TestInjectEvaluatorsReused(t *testing.T) {
	// About 2 million comparisons: an evaluation asks its context about twice.
	const work = `{{ let l = 1..1500; len(filter(l, -# in l)) }}`
	m := newManager(t, nil)
	prog := loadApp(t, `app: keyed
name: Keyed
base_url: https://api.example.com
connection:
  type: api_key
  inject: {in: header, name: X-Key, value: "{{ token }}-`+work+`"}
flows:
  list:
    steps:
      - id: list
        call_api: {method: GET, path: /items}
`)
	rec := &connections.Record{
		Workspace: connections.DefaultWorkspace, App: "keyed", Name: "alice", Type: "api_key", Status: connections.StatusConnected,
		Creds: connections.Credentials{Fields: map[string]connections.Secret{"api_key": "k3y-0123456789"}},
	}
	if err := m.Store().CreateConnection(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	c, err := m.Conn(t.Context(), prog, rec)
	if err != nil {
		t.Fatal(err)
	}
	authorize := func(ctx context.Context) (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://api.example.com/items", nil)
		if err != nil {
			return "", err
		}
		err = c.Authorize(ctx, req)
		return req.Header.Get("X-Key"), err
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := authorize(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Authorize with a cancelled context = %v, want context.Canceled", err)
	}
	const want = "k3y-0123456789-0"
	done := make(chan error, 4)
	for range 4 {
		go func() {
			got, err := authorize(t.Context())
			if err == nil && got != want {
				err = errors.New("X-Key = " + got + ", want " + want)
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
