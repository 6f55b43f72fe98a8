package blocks_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

const traceApp = `app: t
flows:
  main:
    inputs:
      token: {type: string, sensitive: true}
    steps:
      - id: text
        set: {s: "{{ repeat('a', 905) + input.token + repeat('b', 5000) }}"}
      - id: list
        set: {l: "{{ 1..2000 }}"}
      - id: keys
        set: {m: "{{ fromPairs(map(1..500, {['k' + string(#), #]})) }}"}
      - id: response
        set: {status: 200, body: "{{ repeat('x', 5000) }}"}
      - id: small
        set: {n: 1}
    output: "{{ len(vars.s) + len(vars.l) + len(vars.m) }}"
`

const traceToken = "tok-SECRET-123456"

// TestRunTraceCutsLargeValues: with a trace, each step's output is redacted, then cut at
// MaxTraceValueBytes with a mark that says what was left out (a text's bytes, a list's items, a
// mapping's keys); small values and the run's own values stay whole. The cut of the first text
// falls inside the secret: redacted first, the trace shows none of it.
func TestRunTraceCutsLargeValues(t *testing.T) {
	const max = 1000
	a := ctlLoad(t, traceApp)
	res, err := a.run("main", engine.Options{Input: map[string]any{"token": traceToken}, Limits: engine.Limits{MaxTraceValueBytes: max}})
	if err != "" {
		t.Fatal(err)
	}
	if want := 905 + len(traceToken) + 5000 + 2000 + 500; res.Output != want {
		t.Errorf("output = %v, want %d: the run's values are whole", res.Output, want)
	}
	if got, want := ctlTrace(res), []string{"text=ok", "list=ok", "keys=ok", "response=ok", "small=ok"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("trace = %q, want %q", got, want)
	}
	marks := map[string]string{"text": "more bytes]", "list": "more items]", "keys": `"[cut]":"`, "response": "more bytes]"}
	for _, tr := range res.Trace {
		data, jerr := json.Marshal(tr.Output)
		if jerr != nil {
			t.Fatal(jerr)
		}
		text := string(data)
		if len(text) > max+64 {
			t.Errorf("%s: the trace's output is %d bytes, want at most about %d:\n%.200s", tr.Path, len(text), max, text)
		}
		if strings.Contains(text, "tok-") || strings.Contains(text, "SECRET") {
			t.Errorf("%s: the trace's output shows part of the secret:\n%s", tr.Path, text)
		}
		if mark := marks[tr.Path]; mark != "" && !strings.Contains(text, mark) {
			t.Errorf("%s: the trace's output has no %q mark:\n%.2000s", tr.Path, mark, text)
		}
	}
	if got, want := res.Trace[0].Output.(map[string]any)["s"], strings.Repeat("a", 905)+"[redacted]"; !strings.HasPrefix(got.(string), want) {
		t.Errorf("text's output = %.1000q, want it to start with %q", got, want)
	}
	if got := res.Trace[3].Output.(map[string]any)["status"]; got != 200 {
		t.Errorf("response's status = %v, want 200 whole beside its cut body", got)
	}
	if got, want := res.Trace[4].Output, map[string]any{"n": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("small's output = %v, want %v", got, want)
	}
}

// TestRunWithoutTraceStillReportsSteps: a run not asked for a trace keeps none, and shows
// no values, yet OnStep still sees every step end with its path and status.
func TestRunWithoutTraceStillReportsSteps(t *testing.T) {
	a := ctlLoad(t, traceApp)
	var seen []string
	res, err := a.prog.Run(t.Context(), "main", engine.Options{
		Input: map[string]any{"token": traceToken},
		OnStep: func(tr *engine.StepTrace) {
			seen = append(seen, tr.Path+"="+tr.Status)
			if tr.Input != nil || tr.Output != nil {
				t.Errorf("%s: OnStep got input %v and output %.100v without a trace", tr.Path, tr.Input, tr.Output)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"text=ok", "list=ok", "keys=ok", "response=ok", "small=ok"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("OnStep saw %q, want %q", seen, want)
	}
	if res.Trace != nil {
		t.Errorf("Result.Trace has %d steps, want none", len(res.Trace))
	}
}
