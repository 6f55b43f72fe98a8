package automations_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// TestShutdown: Serve's context ends while a run waits on the API. Within the grace the run
// finishes and is recorded succeeded; past it the run is cancelled and recorded interrupted.
func TestShutdown(t *testing.T) {
	tests := []struct {
		name    string
		grace   time.Duration
		release bool // the API answers once Serve is stopping
		want    string
	}{
		{"finishes within the grace", time.Hour, true, automations.StatusSucceeded},
		{"interrupted past the grace", time.Millisecond, false, automations.StatusInterrupted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(c *automations.Config) { c.Grace = tt.grace })
			entered, hold := make(chan string, 1), make(chan struct{})
			e.api.set(func(a *api) { a.hold, a.entered = hold, entered })
			ap := e.apply(postDoc("hooked", "webhook: {}", "{{ trigger.item.n }}"))
			ctx, stop := context.WithCancel(context.Background())
			served := make(chan error)
			go func() { served <- e.svc.Serve(ctx) }()
			r, err := e.svc.Hook(context.Background(), ap.HookSecret, json.RawMessage(`{"n":"1"}`))
			if err != nil {
				t.Fatal(err)
			}
			<-entered // the run is in its action
			stop()
			if tt.release {
				close(hold)
			}
			if err := <-served; err != nil {
				t.Fatalf("Serve: %v", err)
			}
			got, err := e.store.Run(context.Background(), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("status %s (%s), want %s", got.Status, got.Error, tt.want)
			}
			if tt.want == automations.StatusInterrupted && !strings.Contains(got.Error, "patchbay stopped") {
				t.Errorf("error %q, want it to say patchbay stopped", got.Error)
			}
		})
	}
}

// TestInterruptExpired: a node claims a run and dies. Until its lease expires nothing
// happens; then the next scheduler pass (of a new process, which has parsed nothing yet)
// marks the run interrupted and queues its retry, which runs.
func TestInterruptExpired(t *testing.T) {
	e := newEnv(t)
	ap := e.apply(postDoc("hooked", "webhook: {}", "{{ trigger.item.n }}", "retry: {max_attempts: 2, backoff: 1s, jitter: false}"))
	ctx := context.Background()
	if _, err := e.svc.Hook(ctx, ap.HookSecret, json.RawMessage(`{"n":"1"}`)); err != nil {
		t.Fatal(err)
	}
	claimed, err := e.store.ClaimRuns(ctx, "dead-node", e.clock.Now(), 30*time.Second, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimRuns = %d runs, %v", len(claimed), err)
	}
	cfg := e.cfg
	cfg.Node = "node-2"
	restarted := automations.New(cfg)
	e.clock.Advance(29 * time.Second)
	if _, err := restarted.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if got := statuses(e.runs("hooked")); !slices.Equal(got, []string{"running"}) {
		t.Fatalf("statuses %q before the lease expired, want running", got)
	}
	e.clock.Advance(2 * time.Second)
	if _, err := restarted.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if n, err := restarted.Work(ctx); err != nil || n != 1 {
		t.Fatalf("Work = %d, %v; want the retry", n, err)
	}
	runs := e.runs("hooked")
	if got, want := statuses(runs), []string{"interrupted", "succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("statuses %q, want %q", got, want)
	}
	if runs[1].RetryOf != runs[0].ID || runs[1].Attempt != 2 || runs[1].Node != "node-2" {
		t.Errorf("retry %+v", runs[1])
	}
	if got, want := e.api.posted(), []string{"1"}; !slices.Equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// TestPrune: retention keeps an automation's newest runs (Retention.Keep) and none older than
// Retention.MaxAge, deleting the rest.
func TestPrune(t *testing.T) {
	e := newEnv(t, func(c *automations.Config) { c.Retention = automations.Retention{Keep: 3, MaxAge: 50 * time.Minute} })
	e.apply(`name: often
trigger:
  manual: {}
actions:
  - {id: greet, app: demo, flow: echo, input: {text: hi}}
`)
	ctx := context.Background()
	for range 5 {
		if _, err := e.svc.RunNow(ctx, "default", "often", nil); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(20 * time.Minute)
	}
	// Five runs, 20 minutes apart; the clock is 20 minutes past the last.
	n, err := e.svc.Prune(ctx)
	if err != nil {
		t.Fatal(err)
	}
	runs := e.runs("often")
	if n != 3 || len(runs) != 2 {
		t.Errorf("pruned %d, kept %d; want 3 pruned (2 past the newest 3, 1 more older than 50 minutes), 2 kept", n, len(runs))
	}
}

// TestLeaseLost: a run outlives its lease unrenewed (its node seemed dead) and another node
// marks it interrupted; when it ends after all, its end is not recorded over the interruption,
// and the log says so.
func TestLeaseLost(t *testing.T) {
	e := newEnv(t)
	entered, hold := make(chan string, 1), make(chan struct{})
	e.api.set(func(a *api) { a.hold, a.entered = hold, entered })
	ap := e.apply(postDoc("hooked", "webhook: {}", "{{ trigger.item.n }}"))
	ctx := context.Background()
	r, err := e.svc.Hook(ctx, ap.HookSecret, json.RawMessage(`{"n":"1"}`))
	if err != nil {
		t.Fatal(err)
	}
	worked := make(chan error)
	go func() { _, err := e.svc.Work(ctx); worked <- err }() // Work renews no lease
	<-entered
	cfg := e.cfg
	cfg.Node = "node-2"
	e.clock.Advance(31 * time.Second)
	if _, err := automations.New(cfg).Tick(ctx); err != nil {
		t.Fatal(err)
	}
	close(hold)
	if err := <-worked; err != nil {
		t.Fatal(err)
	}
	got, err := e.store.Run(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != automations.StatusInterrupted {
		t.Errorf("status %s, want interrupted (the late end not recorded over it)", got.Status)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "its lease was lost; its end is not recorded") {
		t.Errorf("the log does not say the run's lease was lost:\n%s", logs)
	}
}
