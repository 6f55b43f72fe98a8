package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// TestRetryable: the classes a retry policy names decide whether a failed step's or run's
// error is retried; a limit and a fail block never are, and a run that outlived its timeout
// is of the timeout class (an automation's retry of a timed-out run).
func TestRetryable(t *testing.T) {
	unavailable := &engine.StepError{Step: "send", Block: "call_api", Err: &engine.HTTPError{Method: "POST", URL: "u", StatusCode: 503, Status: "503 Service Unavailable"}}
	tests := []struct {
		name string
		on   []string
		err  error
		want bool
	}{
		{"503 on 5xx", []string{"5xx"}, unavailable, true},
		{"503 on 503", []string{"503"}, unavailable, true},
		{"503 on 429", []string{"429"}, unavailable, false},
		{"run timeout on timeout", []string{"timeout"}, fmt.Errorf("%w after 5m: %w", engine.ErrRunTimeout, context.Canceled), true},
		{"deadline on timeout", []string{"timeout"}, context.DeadlineExceeded, true},
		{"plain error on any", []string{"any"}, errors.New("boom"), true},
		{"plain error on network", []string{"network"}, errors.New("boom"), false},
		{"fail block on any", []string{"any"}, &engine.FailError{Message: "no"}, false},
		{"limit on any", []string{"any"}, &engine.LimitError{Limit: "steps", Max: 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &flows.Retry{MaxAttempts: 3, Backoff: time.Second, On: tt.on}
			if got := engine.Retryable(p, tt.err); got != tt.want {
				t.Errorf("Retryable(on %q, %v) = %v, want %v", tt.on, tt.err, got, tt.want)
			}
		})
	}
	if engine.Retryable(nil, unavailable) {
		t.Errorf("Retryable(nil policy) = true, want false")
	}
}

// TestBackoff: the wait doubles per attempt up to the cap, without jitter exactly.
func TestBackoff(t *testing.T) {
	p := &flows.Retry{MaxAttempts: 5, Backoff: 10 * time.Second, MaxBackoff: 30 * time.Second}
	var got []time.Duration
	for attempt := 1; attempt <= 4; attempt++ {
		got = append(got, engine.Backoff(p, attempt, errors.New("x")))
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Backoff per attempt = %v, want %v", got, want)
		}
	}
}
