package blocks_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/patchbay/patchbay/engine"
)

func TestWait(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      d: {type: string}
    steps:
      - id: w
        wait: {duration: "{{ input.d }}"}
  fixed:
    steps:
      - wait: 1m30s
  seconds:
    steps:
      - wait: {duration: "{{ 1.5 }}"}
  until:
    inputs:
      t: {type: string}
    steps:
      - wait: {until: "{{ input.t }}"}
  until_time:
    steps:
      - wait: {until: "{{ now() + duration('10s') }}"}
`
	tests := []struct {
		flow, in string
		want     time.Duration
		err      string
	}{
		{"main", "2m", 2 * time.Minute, ""},
		{"main", "45", 45 * time.Second, ""},
		{"main", "0.25", 250 * time.Millisecond, ""},
		{"main", "0s", 0, ""},
		{"main", "-1s", 0, `app.yaml:7:9: step "w" (wait): duration -1s is negative`},
		{"main", "soon", 0, `app.yaml:7:9: step "w" (wait): duration "soon" must be a duration such as 30s or 5m, or a number of seconds`},
		{"fixed", "", 90 * time.Second, ""},
		{"seconds", "", 1500 * time.Millisecond, ""},
		// synctest's clock starts at midnight UTC, 1 January 2000.
		{"until", "2000-01-01T00:05:00Z", 5 * time.Minute, ""},
		{"until", "2000-01-01T01:00:00+01:00", 0, ""}, // midnight: now, no wait
		{"until", "1999-12-31T00:00:00Z", 0, ""},      // the past: no wait
		{"until", "tomorrow", 0, `app.yaml:19:9: step "wait@19" (wait): until: "tomorrow" is not an RFC 3339 time such as 2025-01-02T15:04:05Z`},
		{"until_time", "", 10 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.flow+"/"+tt.in, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := ctlLoad(t, src)
				in := map[string]any{}
				if tt.in != "" {
					in = map[string]any{"d": tt.in, "t": tt.in}
					if tt.flow != "main" {
						delete(in, "d")
					} else {
						delete(in, "t")
					}
				}
				start := time.Now()
				res, err := a.run(tt.flow, engine.Options{Input: in})
				if err != tt.err {
					t.Fatalf("error:\n%s\nwant:\n%s", err, tt.err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("waited %v, want %v", got, tt.want)
				}
				if err == "" && res.Output != tt.want.String() {
					t.Errorf("output = %#v, want %q", res.Output, tt.want.String())
				}
			})
		})
	}
}

func TestWaitCancelled(t *testing.T) {
	const src = `app: t
flows:
  step_timeout:
    steps:
      - id: w
        timeout: 2s
        wait: 1h
  run_timeout:
    steps:
      - id: w
        wait: 1h
`
	tests := []struct {
		flow   string
		limits engine.Limits
		want   string
		after  time.Duration
	}{
		{"step_timeout", engine.Limits{}, `app.yaml:5:9: step "w" (wait): step timed out`, 2 * time.Second},
		{"run_timeout", engine.Limits{Timeout: time.Minute}, `app.yaml:10:9: step "w" (wait): run timed out`, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := ctlLoad(t, src)
				start := time.Now()
				_, err := a.run(tt.flow, engine.Options{Limits: tt.limits})
				if err != tt.want {
					t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
				}
				if got := time.Since(start); got != tt.after {
					t.Errorf("ended after %v, want %v", got, tt.after)
				}
			})
		})
	}
}

func TestWaitErrors(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - wait: soon
      - wait: {duration: 1s, until: "{{ now() }}"}
      - wait: {}
      - wait: {until: yesterday}
      - wait: {duration: -5}
`
	want := `app.yaml:5:15: wait: duration "soon" must be a duration such as 30s or 5m, or a number of seconds
app.yaml:6:30: wait: duration and until are both set: use one
app.yaml:7:15: wait: duration or until is missing (duration: 5s)
app.yaml:8:23: wait: until: "yesterday" is not an RFC 3339 time such as 2025-01-02T15:04:05Z
app.yaml:9:26: wait: duration -5s is negative`
	if _, err := ctlLoadApp(t, src); err != want {
		t.Errorf("load error:\n%s\nwant:\n%s", err, want)
	}
}

// TestWaitHugeSecondsOverflow: a number of seconds beyond what a time.Duration holds wrapped
// around (wait: 18446744074 waited 0.29s, -9223372037 292 years) instead of failing.
func TestWaitHugeSecondsOverflow(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      d: {type: integer}
    steps:
      - id: w
        wait: {duration: "{{ input.d }}"}
`
	tests := []struct {
		in   int
		err  string
		want time.Duration
	}{
		{18446744074, `app.yaml:7:9: step "w" (wait): duration 18446744074 is out of range`, 0},
		{-9223372037, `app.yaml:7:9: step "w" (wait): duration -9223372037 is out of range`, 0},
		{9223372036, `app.yaml:7:9: step "w" (wait): run timed out`, time.Minute}, // the largest: waits for the deadline
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := ctlLoad(t, src)
				start := time.Now()
				_, err := a.run("main", engine.Options{Input: map[string]any{"d": tt.in}, Limits: engine.Limits{Timeout: time.Minute}})
				if err != tt.err {
					t.Errorf("error:\n%s\nwant:\n%s", err, tt.err)
				}
				if got := time.Since(start); got != tt.want {
					t.Errorf("waited %v, want %v", got, tt.want)
				}
			})
		})
	}
	const constant = `app: t
flows:
  main:
    steps:
      - wait: 18446744074
      - wait: {duration: -9223372037}
`
	want := `app.yaml:5:15: wait: duration 18446744074 is out of range
app.yaml:6:26: wait: duration -9223372037 is out of range`
	if _, err := ctlLoadApp(t, constant); err != want {
		t.Errorf("load error:\n%s\nwant:\n%s", err, want)
	}
}
