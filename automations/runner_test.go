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

// TestRunRecordsSteps: a manual run of two actions, the second reading the first's output,
// records each step with its action, redacted input and output, and the last output.
func TestRunRecordsSteps(t *testing.T) {
	e := newEnv(t)
	e.apply(`name: two
trigger:
  manual: {}
actions:
  - id: greet
    app: demo
    flow: echo
    input: {text: "hello {{ trigger.item.who }}"}
  - id: post
    app: api
    flow: post
    connection: work
    input: {text: "{{ actions.greet.output }}!"}
`)
	r, err := e.svc.RunNow(context.Background(), "default", "two", json.RawMessage(`{"who":"ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != automations.StatusSucceeded {
		t.Fatalf("status %s (%s), want succeeded", r.Status, r.Error)
	}
	if got, want := e.api.posted(), []string{"hello ada!"}; !slices.Equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
	stored, err := e.store.Run(context.Background(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var steps []automations.StepRecord
	if err := json.Unmarshal(stored.Steps, &steps); err != nil {
		t.Fatalf("steps %s: %v", stored.Steps, err)
	}
	var got []string
	for _, s := range steps {
		got = append(got, s.Action+"/"+s.Path+" "+s.Status)
	}
	if want := []string{"greet/say ok", "post/send ok"}; !slices.Equal(got, want) {
		t.Errorf("steps %q, want %q", got, want)
	}
	if !strings.Contains(string(stored.Output), `"text":"hello ada!"`) {
		t.Errorf("output %s, want the post's answer", stored.Output)
	}
	if stored.Status != automations.StatusSucceeded || stored.Attempt != 1 || stored.EndedAt.IsZero() {
		t.Errorf("stored run %+v", stored)
	}
}

// TestRunTimeout: a run whose action outlasts the automation's timeout ends timed_out, with
// the failing step and the timeout in its error.
func TestRunTimeout(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(a *api) { a.hold = make(chan struct{}) }) // never released: the request waits for its end
	e.apply(postDoc("slow", "manual: {}", "x", "timeout: 50ms"))
	r, err := e.svc.RunNow(context.Background(), "default", "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != automations.StatusTimedOut {
		t.Fatalf("status %s (%s), want timed_out", r.Status, r.Error)
	}
	if r.FailedStep != "post/send" {
		t.Errorf("failed step %q, want post/send", r.FailedStep)
	}
	if !strings.Contains(r.Error, "run timed out") {
		t.Errorf("error %q, want it to say the run timed out", r.Error)
	}
}

// TestRetryWithBackoff: a webhook run fails on a 503; the automation's retry queues attempt 2
// held back 10s (no jitter), which runs once the clock passed it, and succeeds. The failed
// run's error is the API's answer, with the session redacted.
func TestRetryWithBackoff(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(a *api) { a.fail = 1 })
	ap := e.apply(postDoc("hooked", "webhook: {}", "{{ trigger.item.n }}",
		"retry: {max_attempts: 3, backoff: 10s, jitter: false, on: [5xx]}"))
	ctx := context.Background()
	if _, err := e.svc.Hook(ctx, ap.HookSecret, json.RawMessage(`{"n":"one"}`)); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Work(ctx); err != nil || n != 1 {
		t.Fatalf("Work = %d, %v; want the first attempt", n, err)
	}
	if n, _ := e.svc.Work(ctx); n != 0 {
		t.Fatalf("Work ran %d runs before the backoff passed, want none", n)
	}
	e.clock.Advance(10 * time.Second)
	if n, err := e.svc.Work(ctx); err != nil || n != 1 {
		t.Fatalf("Work = %d, %v after the backoff; want the retry", n, err)
	}
	runs := e.runs("hooked")
	if got, want := statuses(runs), []string{"failed", "succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("statuses %q, want %q", got, want)
	}
	first, retry := runs[0], runs[1]
	if retry.Attempt != 2 || retry.RetryOf != first.ID || !retry.NotBefore.Equal(first.EndedAt.Add(10*time.Second)) {
		t.Errorf("retry: attempt %d, retry of %q, not before %s; want 2, %q, %s", retry.Attempt, retry.RetryOf, retry.NotBefore, first.ID, first.EndedAt.Add(10*time.Second))
	}
	if first.FailedStep != "post/send" || !strings.Contains(first.Error, "503 Service Unavailable") {
		t.Errorf("first attempt failed at %q: %q", first.FailedStep, first.Error)
	}
	if got, want := e.api.posted(), []string{"one"}; !slices.Equal(got, want) {
		t.Errorf("posted %q, want %q", got, want)
	}
}

// TestRetryOnlyRetryableClasses: a 503 with retry on 429 only is not retried.
func TestRetryOnlyRetryableClasses(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(a *api) { a.fail = 1 })
	e.apply(postDoc("picky", "manual: {}", "x", "retry: {max_attempts: 3, backoff: 1s, on: [429]}"))
	r, err := e.svc.RunNow(context.Background(), "default", "picky", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	if n, _ := e.svc.Work(context.Background()); n != 0 || r.Status != automations.StatusFailed {
		t.Errorf("status %s and %d retries ran, want failed and none", r.Status, n)
	}
}

// TestSecretsNeverRecorded: the connection's password and session token, which the API echoes
// in its answers and in an error page, appear in no run record and no log line.
func TestSecretsNeverRecorded(t *testing.T) {
	e := newEnv(t)
	e.api.set(func(a *api) { a.fail = 1 })
	e.apply(postDoc("leaky", "manual: {}", "x"))
	ctx := context.Background()
	for range 2 { // the first fails (503 page with the session), the second succeeds
		if _, err := e.svc.RunNow(ctx, "default", "leaky", nil); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	runs := e.runs("leaky")
	if got, want := statuses(runs), []string{"failed", "succeeded"}; !slices.Equal(got, want) {
		t.Fatalf("statuses %q, want %q", got, want)
	}
	for _, r := range runs {
		b, _ := json.Marshal(r)
		for _, secret := range []string{apiSession, apiPassword} {
			if strings.Contains(string(b), secret) {
				t.Errorf("run %s holds a secret: %s", r.Status, b)
			}
		}
		if !strings.Contains(string(r.Steps)+r.Error, "[redacted]") {
			t.Errorf("run %s shows no redacted value; the API echoed the session: %s %s", r.Status, r.Steps, r.Error)
		}
	}
	logs := e.logs.String()
	for _, secret := range []string{apiSession, apiPassword} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret:\n%s", logs)
		}
	}
	if !strings.Contains(logs, `"msg":"run ended"`) || !strings.Contains(logs, `"status":"failed"`) {
		t.Errorf("the log has no run end lines:\n%s", logs)
	}
}
