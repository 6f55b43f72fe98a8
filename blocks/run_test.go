package blocks_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/patchbay/patchbay/engine"
)

// flaky is a test block that fails its first Fail calls with an *engine.HTTPError of Status and
// then outputs the attempt's number. It records when each call happened.
type flaky struct {
	Fail       int    `yaml:"fail"`
	Status     int    `yaml:"status"`
	RetryAfter string `yaml:"retry_after"`
	calls      *atomic.Int32
	at         *[]time.Time
}

func flakyType(calls *atomic.Int32, at *[]time.Time) engine.BlockType {
	return engine.BlockType{Kind: "flaky", Spec: engine.Spec{Map: &engine.Template}, Compile: func(c *engine.Compiler, body *engine.Body) (engine.Block, error) {
		b := &flaky{Status: 503, calls: calls, at: at}
		return b, body.Node.Decode(b)
	}}
}

func (b *flaky) Kind() string { return "flaky" }

func (b *flaky) Run(ctx context.Context, st *engine.State) (any, error) {
	n := int(b.calls.Add(1))
	*b.at = append(*b.at, time.Now())
	if n <= b.Fail {
		h := http.Header{}
		if b.RetryAfter != "" {
			h.Set("Retry-After", b.RetryAfter)
		}
		return nil, &engine.HTTPError{Method: "GET", URL: "https://api.test/x", StatusCode: b.Status,
			Status: fmt.Sprintf("%d %s", b.Status, http.StatusText(b.Status)), Header: h}
	}
	return n, nil
}

// blockType is a block that waits for its context to end and returns ctx.Err().
var blockType = engine.BlockType{Kind: "block", Spec: engine.Spec{Map: &engine.Template}, Compile: func(*engine.Compiler, *engine.Body) (engine.Block, error) {
	return blocking{}, nil
}}

type blocking struct{}

func (blocking) Kind() string { return "block" }

func (blocking) Run(ctx context.Context, st *engine.State) (any, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRunWhen(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      go: {type: boolean}
    steps:
      - id: maybe
        when: "{{ input.go }}"
        set: {ran: true}
    output: {ran: "{{ vars.ran ?? false }}", maybe: "{{ steps.maybe }}", has: "{{ 'maybe' in steps }}"}
`
	a := ctlLoad(t, src)
	tests := []struct {
		goes   bool
		want   any
		status string
	}{
		{false, map[string]any{"ran": false, "maybe": nil, "has": true}, engine.StatusSkipped},
		{true, map[string]any{"ran": true, "maybe": map[string]any{"ran": true}, "has": true}, engine.StatusOK},
	}
	for _, tt := range tests {
		res, err := a.run("main", engine.Options{Input: map[string]any{"go": tt.goes}})
		if err != "" {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(res.Output, tt.want) {
			t.Errorf("go=%v: output = %#v, want %#v", tt.goes, res.Output, tt.want)
		}
		if got := res.Trace[0].Status; got != tt.status {
			t.Errorf("go=%v: status = %q, want %q", tt.goes, got, tt.status)
		}
	}
}

func TestRunRetry(t *testing.T) {
	tests := []struct {
		name     string
		step     string
		attempts int
		waits    []time.Duration // between attempts
		err      string
	}{
		{"503 twice then ok", `flaky: {fail: 2}
        retry: {max_attempts: 3, backoff: 1s, jitter: false}`,
			3, []time.Duration{time.Second, 2 * time.Second}, ""},
		{"backoff capped", `flaky: {fail: 3}
        retry: {max_attempts: 4, backoff: 2s, max_backoff: 3s, jitter: false}`,
			4, []time.Duration{2 * time.Second, 3 * time.Second, 3 * time.Second}, ""},
		{"Retry-After", `flaky: {fail: 1, status: 429, retry_after: "7"}
        retry: {backoff: 1s}`,
			2, []time.Duration{7 * time.Second}, ""},
		{"attempts exhausted", `flaky: {fail: 5}
        retry: {max_attempts: 2, backoff: 1s, jitter: false}`,
			2, []time.Duration{time.Second}, `app.yaml:5:9: step "f" (flaky): GET https://api.test/x: 503 Service Unavailable`},
		{"400 is not retried", `flaky: {fail: 1, status: 400}
        retry: {max_attempts: 3}`,
			1, nil, `app.yaml:5:9: step "f" (flaky): GET https://api.test/x: 400 Bad Request`},
		{"on lists 400", `flaky: {fail: 1, status: 400}
        retry: {max_attempts: 3, on: [400], backoff: 1s, jitter: false}`,
			2, []time.Duration{time.Second}, ""},
		{"on 4xx not 5xx", `flaky: {fail: 1, status: 502}
        retry: {max_attempts: 3, on: [4xx]}`,
			1, nil, `app.yaml:5:9: step "f" (flaky): GET https://api.test/x: 502 Bad Gateway`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int32
				var at []time.Time
				src := "app: t\nflows:\n  main:\n    steps:\n      - id: f\n        " + tt.step + "\n"
				a := ctlLoad(t, src, flakyType(&calls, &at))
				res, err := a.run("main", engine.Options{})
				if err != tt.err {
					t.Fatalf("error:\n%s\nwant:\n%s", err, tt.err)
				}
				if got := res.Trace[0].Attempts; got != tt.attempts || len(at) != tt.attempts {
					t.Errorf("attempts = %d (trace %d), want %d", len(at), got, tt.attempts)
				}
				var waits []time.Duration
				for i := 1; i < len(at); i++ {
					waits = append(waits, at[i].Sub(at[i-1]))
				}
				if !reflect.DeepEqual(waits, tt.waits) {
					t.Errorf("waits = %v, want %v", waits, tt.waits)
				}
				if tt.err == "" && res.Output != tt.attempts {
					t.Errorf("output = %v, want %d", res.Output, tt.attempts)
				}
			})
		})
	}
}

func TestRunRetryJitter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var at []time.Time
		a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - flaky: {fail: 3}
        retry: {max_attempts: 4, backoff: 4s}
`, flakyType(&calls, &at))
		if _, err := a.run("main", engine.Options{}); err != "" {
			t.Fatal(err)
		}
		for i, base := range []time.Duration{4 * time.Second, 8 * time.Second, 16 * time.Second} {
			if w := at[i+1].Sub(at[i]); w < base/2 || w > base {
				t.Errorf("wait %d = %v, want between %v and %v", i+1, w, base/2, base)
			}
		}
	})
}

func TestRunRetryCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var at []time.Time
		a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - id: f
        flaky: {fail: 5}
        retry: {max_attempts: 5, backoff: 1m, max_backoff: 1m, jitter: false}
`, flakyType(&calls, &at))
		_, err := a.run("main", engine.Options{Limits: engine.Limits{Timeout: 90 * time.Second}})
		if want := `app.yaml:5:9: step "f" (flaky): run timed out`; err != want {
			t.Errorf("error:\n%s\nwant:\n%s", err, want)
		}
		if len(at) != 2 {
			t.Errorf("%d attempts, want 2 before the deadline", len(at))
		}
	})
}

func TestRunStepTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - id: slow
        timeout: 10ms
        block: {}
  retried:
    steps:
      - id: slow
        timeout: 10ms
        retry: {max_attempts: 2, backoff: 1s, jitter: false}
        block: {}
`, blockType)
		start := time.Now()
		res, err := a.run("main", engine.Options{})
		if want := `app.yaml:5:9: step "slow" (block): step timed out after 10ms: context deadline exceeded`; err != want {
			t.Errorf("error:\n%s\nwant:\n%s", err, want)
		}
		if got := time.Since(start); got != 10*time.Millisecond {
			t.Errorf("failed after %v, want 10ms", got)
		}
		if got := res.Trace[0].Status; got != engine.StatusFailed {
			t.Errorf("status = %q, want failed", got)
		}
		// A timeout is retried by default.
		start = time.Now()
		res, _ = a.run("retried", engine.Options{})
		if got, want := res.Trace[0].Attempts, 2; got != want {
			t.Errorf("attempts = %d, want %d", got, want)
		}
		if got := time.Since(start); got != 10*time.Millisecond+time.Second+10*time.Millisecond {
			t.Errorf("failed after %v, want 1.02s", got)
		}
	})
}

func TestRunOnErrorContinue(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - id: f
        on_error: continue
        flaky: {fail: 1, status: 404}
      - id: after
        set: {msg: "{{ steps.f.error.message }}", status: "{{ steps.f.error.status }}", class: "{{ steps.f.error.class }}"}
      - id: quota
        on_error: continue
        fail: {message: over quota, code: Q1}
    output: {after: "{{ steps.after }}", quota: "{{ steps.quota.error }}"}
  limit:
    steps:
      - id: big
        on_error: continue
        foreach: {items: "{{ 1..5 }}", output: "{{ item }}"}
`
	var calls atomic.Int32
	var at []time.Time
	a := ctlLoad(t, src, flakyType(&calls, &at))
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	want := map[string]any{
		"after": map[string]any{"msg": "GET https://api.test/x: 404 Not Found", "status": 404, "class": "http"},
		"quota": map[string]any{"message": "over quota", "code": "Q1", "class": "error"},
	}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %#v, want %#v", res.Output, want)
	}
	if got, want := ctlTrace(res), []string{"f=continued", "after=ok", "quota=continued"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
	if got, want := res.Trace[0].Error, "GET https://api.test/x: 404 Not Found"; got != want {
		t.Errorf("trace error = %q, want %q", got, want)
	}
	// A limit is never continued.
	_, err = a.run("limit", engine.Options{Limits: engine.Limits{MaxIterations: 3}})
	if want := `app.yaml:16:9: step "big" (foreach): limit exceeded: a loop over 5 items (at most 3 iterations)`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestRunLimits(t *testing.T) {
	const src = `app: t
flows:
  steps:
    steps:
      - set: {n: 0}
      - id: loop
        foreach:
          items: "{{ 1..100 }}"
          steps:
            - id: inc
              set: {n: "{{ vars.n + 1 }}"}
  iterations:
    steps:
      - id: loop
        foreach: {items: "{{ 1..11 }}", output: "{{ item }}"}
  rec:
    steps:
      - id: again
        call_flow: {flow: rec}
  output:
    steps:
      - id: big
        set: {s: "{{ repeat('x', 2000) }}"}
  slow:
    steps:
      - id: nap
        wait: 10m
`
	tests := []struct {
		flow   string
		limits engine.Limits
		want   string
		last   string // the trace's last step
	}{
		{"steps", engine.Limits{MaxSteps: 5},
			`app.yaml:10:15: step "inc" (set): limit exceeded: too many steps in one run (at most 5 steps)`, "loop[3].inc=failed"},
		{"iterations", engine.Limits{MaxIterations: 10},
			`app.yaml:14:9: step "loop" (foreach): limit exceeded: a loop over 11 items (at most 10 iterations)`, "loop=failed"},
		{"rec", engine.Limits{MaxDepth: 3},
			`app.yaml:18:9: step "again" (call_flow): limit exceeded: call_flow rec nested too deep (at most 3 depth)`,
			"again>rec.again>rec.again>rec.again=failed"},
		{"rec", engine.Limits{}, // the default depth ends it too
			`app.yaml:18:9: step "again" (call_flow): limit exceeded: call_flow rec nested too deep (at most 8 depth)`,
			strings.Repeat("again>rec.", 8) + "again=failed"},
		{"output", engine.Limits{MaxOutputBytes: 1000},
			`app.yaml:22:9: step "big" (set): limit exceeded: the values the run holds are too large (at most 1000 output_bytes)`, "big=failed"},
		{"slow", engine.Limits{Timeout: time.Minute},
			`app.yaml:26:9: step "nap" (wait): run timed out`, "nap=failed"},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := ctlLoad(t, src)
				res, err := a.run(tt.flow, engine.Options{Limits: tt.limits})
				if err != tt.want {
					t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
				}
				tr := ctlTrace(res)
				if len(tr) == 0 || tr[len(tr)-1] != tt.last {
					t.Errorf("trace = %q, want it to end with %q", tr, tt.last)
				}
				var le *engine.LimitError
				_, rerr := a.prog.Run(t.Context(), tt.flow, engine.Options{Limits: tt.limits})
				if tt.flow != "slow" && !errors.As(rerr, &le) {
					t.Errorf("error %v is not an *engine.LimitError", rerr)
				}
				if tt.flow == "slow" && !errors.Is(rerr, engine.ErrRunTimeout) {
					t.Errorf("error %v is not engine.ErrRunTimeout", rerr)
				}
			})
		})
	}
}

func TestRunRedaction(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      token: {type: string, sensitive: true}
      fail: {type: boolean}
    steps:
      - id: url
        set: {u: "https://api.test/x?token={{ input.token }}&a=1", same: "{{ input.token }}"}
      - log:
          message: "calling {{ vars.u }}"
          fields: {auth: "Bearer {{ input.token }}"}
      - id: c
        call_flow: {flow: sub, input: {t: "{{ input.token }}", plain: visible}}
      - id: bad
        when: "{{ input.fail }}"
        fail: "token {{ input.token }} was refused"
    output: "{{ steps.c }}"
  sub:
    inputs:
      t: {type: string}
      plain: {type: string}
    steps:
      - id: echo
        set: {t: "x{{ input.t }}x"}
`
	const secret = "abc123-secret"
	a := ctlLoad(t, src)
	var buf bytes.Buffer
	res, err := a.run("main", engine.Options{Input: map[string]any{"token": secret, "fail": true}, Logger: ctlLogger(&buf, slog.LevelInfo)})
	if want := `app.yaml:15:9: step "bad" (fail): failed: token [redacted] was refused`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if got, want := res.Trace[0].Output, map[string]any{"u": "https://api.test/x?token=[redacted]&a=1", "same": "[redacted]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("set's trace output = %#v, want %#v", got, want)
	}
	if got, want := res.Trace[2].Input, map[string]any{"flow": "sub", "input": map[string]any{"t": "[redacted]", "plain": "visible"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("call_flow's trace input = %#v, want %#v", got, want)
	}
	if got, want := res.Trace[3].Output, map[string]any{"t": "x[redacted]x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("called flow's trace output = %#v, want %#v", got, want)
	}
	if got, want := res.Trace[4].Error, "failed: token [redacted] was refused"; got != want {
		t.Errorf("failed step's trace error = %q, want %q", got, want)
	}
	wantLog := `level=INFO msg="calling https://api.test/x?token=[redacted]&a=1" auth="Bearer [redacted]"` + "\n"
	if got := buf.String(); got != wantLog {
		t.Errorf("log:\n%s\nwant:\n%s", got, wantLog)
	}
	// Nothing the run shows holds the secret.
	for _, tr := range res.Trace {
		if s := fmt.Sprint(tr.Input, tr.Output, tr.Error); strings.Contains(s, secret) {
			t.Errorf("trace of %s shows the secret: %s", tr.Path, s)
		}
	}
	// The result's output is not redacted: whoever shows it uses res.Redactor.
	res, _ = a.run("main", engine.Options{Input: map[string]any{"token": secret, "fail": false}})
	if got, want := res.Redactor.Value(res.Output), map[string]any{"t": "x[redacted]x"}; !reflect.DeepEqual(got, want) {
		t.Errorf("redacted output = %#v, want %#v", got, want)
	}
}

func TestRunReturnInForeach(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      concurrency: {type: integer}
    steps:
      - id: loop
        foreach:
          items: [a, b, c, d]
          steps:
            - id: check
              when: "{{ item == 'b' }}"
              return: "found {{ item }} at {{ index }}"
            - id: seen
              set: {last: "{{ item }}"}
      - id: after
        set: {reached: true}
    output: not found
  parallel:
    steps:
      - id: loop
        foreach:
          items: [a, b, c, d]
          concurrency: 2
          steps:
            - id: check
              when: "{{ item == 'b' }}"
              return: "found {{ item }}"
            - id: nap
              wait: 1h
`
	a := ctlLoad(t, src)
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	if res.Output != "found b at 1" {
		t.Errorf("output = %#v, want %q", res.Output, "found b at 1")
	}
	want := []string{"loop=ok", "loop[0].check=skipped", "loop[0].seen=ok", "loop[1].check=ok"}
	if got := ctlTrace(res); !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
	synctest.Test(t, func(t *testing.T) {
		a := ctlLoad(t, src)
		start := time.Now()
		res, err := a.run("parallel", engine.Options{})
		if err != "" {
			t.Fatal(err)
		}
		if res.Output != "found b" {
			t.Errorf("output = %#v, want %q", res.Output, "found b")
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("return waited %v for the other iterations, want 0", got)
		}
	})
}

func TestRunTracePaths(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - id: check
        if:
          condition: true
          then:
            - id: loop
              foreach:
                items: [1, 2]
                steps:
                  - id: inner
                    set: {n: "{{ item }}"}
                  - id: c
                    call_flow: {flow: sub, input: {n: "{{ item }}"}}
      - id: pick
        switch:
          value: 2
          cases:
            - equals: 2
              steps:
                - id: two
                  set: {n: 2}
  sub:
    inputs:
      n: {type: integer}
    steps:
      - id: x
        set: {n: "{{ input.n }}"}
`
	a := ctlLoad(t, src)
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	want := []string{
		"check=ok",
		"check.loop=ok",
		"check.loop[0].inner=ok",
		"check.loop[0].c=ok",
		"check.loop[0].c>sub.x=ok",
		"check.loop[1].inner=ok",
		"check.loop[1].c=ok",
		"check.loop[1].c>sub.x=ok",
		"pick=ok",
		"pick.two=ok",
	}
	if got := ctlTrace(res); !reflect.DeepEqual(got, want) {
		t.Errorf("trace =\n%q\nwant\n%q", got, want)
	}
	var depths []int
	for _, tr := range res.Trace {
		depths = append(depths, tr.Depth)
	}
	if want := []int{0, 1, 2, 2, 3, 2, 2, 3, 0, 1}; !reflect.DeepEqual(depths, want) {
		t.Errorf("depths = %v, want %v", depths, want)
	}
}

// TestRunRetryAfterHugeSecondsOverflow: a Retry-After in seconds beyond what a time.Duration
// holds wrapped around (18446744074 seconds waited 0.29s) instead of being ignored as too long.
func TestRunRetryAfterHugeSecondsOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		var at []time.Time
		a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - flaky: {fail: 1, status: 429, retry_after: "18446744074"}
        retry: {backoff: 1s, jitter: false}
`, flakyType(&calls, &at))
		if _, err := a.run("main", engine.Options{}); err != "" {
			t.Fatal(err)
		}
		if len(at) != 2 {
			t.Fatalf("%d attempts, want 2", len(at))
		}
		if w := at[1].Sub(at[0]); w != time.Second {
			t.Errorf("waited %v, want the backoff, 1s", w)
		}
	})
}

// TestRunRedactsEncodedSecrets: a sensitive input shown encoded by a helper (base64 in a Basic
// credential, URL-escaped, inside JSON text) was shown in the trace as it was.
func TestRunRedactsEncodedSecrets(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      user: {type: string}
      password: {type: string, sensitive: true}
    steps:
      - id: enc
        set:
          basic: "{{ basic_auth(input.user, input.password) }}"
          query: "https://api.test/login?p={{ url_encode(input.password) }}"
          json: "{{ json_encode({password: input.password}) }}"
          b64: "{{ base64url_encode(input.password) }}"
`
	a := ctlLoad(t, src)
	for _, user := range []string{"ann", "anna", "annie"} { // the password at each base64 offset
		res, err := a.run("main", engine.Options{Input: map[string]any{"user": user, "password": "p&ss<w0rd>/x+y"}})
		if err != "" {
			t.Fatal(err)
		}
		want := map[string]any{"basic": "Basic [redacted]", "query": "https://api.test/login?p=[redacted]",
			"json": `{"password":"[redacted]"}`, "b64": "[redacted]"}
		if got := res.Trace[0].Output; !reflect.DeepEqual(got, want) {
			t.Errorf("user %s: trace output = %#v, want %#v", user, got, want)
		}
	}
}

// TestRunRedactsSensitiveNumbersAndObjects: a sensitive input of type integer was shown where it
// stood as a number, and the values inside a sensitive object or array input were shown: only
// the whole value's JSON text was a secret.
func TestRunRedactsSensitiveNumbersAndObjects(t *testing.T) {
	a := ctlLoad(t, `app: t
flows:
  main:
    inputs:
      pin: {type: integer, sensitive: true}
      creds: {type: object, sensitive: true}
      keys: {type: array, sensitive: true}
    steps:
      - id: s
        set: {pin: "{{ input.pin }}", text: "pin {{ input.pin }}", creds: "{{ input.creds }}", key: "{{ input.creds.key }}", first: "{{ input.keys[0] }}"}
`)
	res, err := a.run("main", engine.Options{Input: map[string]any{"pin": 987654,
		"creds": map[string]any{"key": "obj-secret-1", "n": 4242}, "keys": []any{"list-secret-1"}}})
	if err != "" {
		t.Fatal(err)
	}
	want := map[string]any{"pin": "[redacted]", "text": "pin [redacted]", "creds": map[string]any{"key": "[redacted]", "n": "[redacted]"},
		"key": "[redacted]", "first": "[redacted]"}
	if got := res.Trace[0].Output; !reflect.DeepEqual(got, want) {
		t.Errorf("trace output = %#v, want %#v", got, want)
	}
}

// dagType is a block whose output is a list holding the same list twice, depth levels deep: a
// few hundred bytes in memory that print as 2^depth values.
var dagType = engine.BlockType{Kind: "dag", Spec: engine.Spec{Map: &engine.Template}, Compile: func(c *engine.Compiler, body *engine.Body) (engine.Block, error) {
	return dagBlock{}, nil
}}

type dagBlock struct{}

func (dagBlock) Kind() string { return "dag" }

func (dagBlock) Run(context.Context, *engine.State) (any, error) {
	var v any = "x"
	for range 60 {
		v = []any{v, v}
	}
	return v, nil
}

// TestRunOutputLimitSharedValues: an output that holds the same list many times over was
// measured by walking every copy, so a small value that shows as 2^60 items hung the run past
// its deadline instead of failing the output limit.
func TestRunOutputLimitSharedValues(t *testing.T) {
	a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - id: d
        dag: {}
`, dagType)
	_, err := a.run("main", engine.Options{})
	if want := `app.yaml:5:9: step "d" (dag): limit exceeded: the values the run holds are too large (at most 67108864 output_bytes)`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

// TestRunTemplateMemoryLimits: a template that doubled a text in a loop, or wrote a list holding
// another many times over, used up the process's memory (fatal: the process died) or hung the run;
// each fails its step. The budget is per evaluation: many steps, and loop iterations at once,
// each build what one may.
func TestRunTemplateMemoryLimits(t *testing.T) {
	const src = `app: t
flows:
  doubling:
    steps:
      - id: d
        set: {x: "{{ len(reduce(1..40, #acc + #acc, 'x')) }}"}
  shared:
    steps:
      - id: s
        set: {x: "{{ reduce(1..25, [#acc, #acc, #acc, #acc], 1) }}"}
  text:
    steps:
      - id: t
        set: {x: "v={{ reduce(1..21, [#acc, #acc], 1) }}"}
  many:
    steps:
      - id: loop
        foreach:
          items: "{{ 1..16 }}"
          concurrency: 4
          output: "{{ len(repeat('x', 999999) + repeat('y', 999999) + string(item)) }}"
`
	a := ctlLoad(t, src)
	for _, tt := range []struct{ flow, want string }{
		{"doubling", `app.yaml:5:9: step "d" (set): app.yaml:6:45: template {{ len(reduce(1..40, #acc + #acc, 'x')) }}: memory budget exceeded: one evaluation of a template builds at most 16 MiB`},
		{"shared", `app.yaml:9:9: step "s" (set): app.yaml:10:21: template {{ reduce(1..25, [#acc, #acc, #acc, #acc], 1) }}: its value is larger than 64 MiB as JSON`},
		{"text", `app.yaml:13:9: step "t" (set): app.yaml:14:23: template {{ reduce(1..21, [#acc, #acc], 1) }}: memory budget exceeded: one evaluation of a template builds at most 16 MiB`},
	} {
		if _, err := a.run(tt.flow, engine.Options{}); err != tt.want {
			t.Errorf("%s: error:\n%s\nwant:\n%s", tt.flow, err, tt.want)
		}
	}
	res, err := a.run("many", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	if got := res.Output.([]any); len(got) != 16 || got[15] != 1999998+2 {
		t.Errorf("output = %v, want 16 lengths of 2000000", got)
	}
}

// TestRunTemplateStopsAtDeadline: a template that looks through a long list or text once per
// item of another (x in list inside filter, an accidental O(n²) join) ran for hours: expr cannot
// be interrupted, and the run's deadline was only seen between steps. Looking through lists and
// text now asks whether the run is over.
func TestRunTemplateStopsAtDeadline(t *testing.T) {
	const src = `app: t
flows:
  in_list:
    steps:
      - id: join
        set: {n: "{{ let l = 1..400000; len(filter(l, -# in l)) }}"}
  contains:
    steps:
      - id: scan
        set: {n: "{{ let s = repeat('ab', 400000); len(filter(1..400000, s contains 'abc')) }}"}
  matches:
    steps:
      - id: scan
        set: {n: "{{ let s = repeat('ab', 400000); len(filter(1..400000, s matches 'ac')) }}"}
  index:
    steps:
      - id: scan
        set: {n: "{{ let s = repeat('ab', 400000); len(filter(1..400000, indexOf(s, 'abc') > 0)) }}"}
  max:
    steps:
      - id: scan
        set: {n: "{{ let l = 1..400000; len(filter(l, # == max(l))) }}"}
`
	a := ctlLoad(t, src)
	for _, tt := range []struct{ flow, want string }{
		{"in_list", `app.yaml:5:9: step "join" (set): app.yaml:6:58: template {{ let l = 1..400000; len(filter(l, -# in l)) }}: run timed out`},
		{"contains", `app.yaml:9:9: step "scan" (set): app.yaml:10:76: template {{ let s = repeat('ab', 400000); len(filter(1..400000, s contains 'abc')) }}: run timed out`},
		{"matches", `app.yaml:13:9: step "scan" (set): app.yaml:14:76: template {{ let s = repeat('ab', 400000); len(filter(1..400000, s matches 'ac')) }}: run timed out`},
		{"index", `app.yaml:17:9: step "scan" (set): app.yaml:18:74: template {{ let s = repeat('ab', 400000); len(filter(1..400000, indexOf(s, 'abc') > 0)) }}: run timed out`},
		{"max", `app.yaml:21:9: step "scan" (set): app.yaml:22:60: template {{ let l = 1..400000; len(filter(l, # == max(l))) }}: run timed out`},
	} {
		if _, err := a.run(tt.flow, engine.Options{Limits: engine.Limits{Timeout: 100 * time.Millisecond}}); err != tt.want {
			t.Errorf("%s: error:\n%s\nwant:\n%s", tt.flow, err, tt.want)
		}
	}
}
