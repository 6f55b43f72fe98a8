package blocks_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// raceDetector is true when the tests run with -race (race_test.go).
var raceDetector bool

// growApp grows a list one item per iteration, as an attacker did: each set builds a new list,
// so a run that kept every step's output held n lists of 1 to n items. grow's loop outputs its
// items (small); hoard's loop outputs every iteration's set, so it holds every list until it ends.
// range holds a list of n numbers that is a []int, not a []any.
const growApp = `app: t
flows:
  grow:
    inputs: {n: {type: integer}}
    steps:
      - set: {acc: []}
      - id: loop
        foreach:
          items: "{{ 1..input.n }}"
          steps:
            - set: {acc: "{{ concat(vars.acc, [item]) }}"}
          output: "{{ item }}"
    output: "{{ len(vars.acc) }}"
  hoard:
    inputs: {n: {type: integer}}
    steps:
      - set: {acc: []}
      - id: loop
        foreach:
          items: "{{ 1..input.n }}"
          steps:
            - id: add
              set: {acc: "{{ concat(vars.acc, [item]) }}"}
    output: "{{ len(vars.acc) }}"
  range:
    inputs: {n: {type: integer}}
    steps:
      - set: {r: "{{ 1..input.n }}"}
    output: "{{ len(vars.r) }}"
`

// TestRunGrowingListCountsLiveOutput: the output limit counts what the run holds now (each
// step's current output, each variable), not the sum of every output it ever made. A loop of
// 4,000 (and 16,000) items that grows a list failed under the default 64 MiB, which its list
// of at most 16,000 numbers is far below.
func TestRunGrowingListCountsLiveOutput(t *testing.T) {
	a := ctlLoad(t, growApp)
	for _, tt := range []struct {
		n      int
		limits engine.Limits
	}{
		{4000, engine.Limits{}},
		// More steps and iterations than the defaults allow; the output limit is the default.
		{16000, engine.Limits{MaxSteps: 20_000, MaxIterations: 20_000}},
	} {
		if tt.n > 4000 && (testing.Short() || raceDetector) {
			continue // expr's concat copies the list item by item: 16,000 take minutes under -race
		}
		res, err := a.prog.Run(t.Context(), "grow", engine.Options{Input: map[string]any{"n": tt.n}, Limits: tt.limits})
		if err != nil {
			t.Fatalf("n=%d: %v", tt.n, a.rel(err))
		}
		if res.Output != tt.n {
			t.Errorf("n=%d: output = %v, want %d", tt.n, res.Output, tt.n)
		}
	}
}

// TestRunLiveOutputOverLimit: a run that really holds more than MaxOutputBytes still fails
// with the LimitError: a list that outgrows the limit itself, and a loop whose output keeps
// every iteration's list (1+2+...+1000 numbers) while each list alone is small, and a range of
// 20,000 numbers (which counted as 16 bytes).
func TestRunLiveOutputOverLimit(t *testing.T) {
	a := ctlLoad(t, growApp)
	tests := []struct {
		flow  string
		n     int
		max   int64
		want  string
		fails bool
	}{
		{"grow", 2000, 10_000, `app.yaml:7:9: step "loop" (foreach): limit exceeded: the values the run holds are too large (at most 10000 output_bytes)`, true},
		{"grow", 300, 10_000, "", false},
		{"hoard", 1000, 1 << 20, `app.yaml:18:9: step "loop" (foreach): limit exceeded: the values the run holds are too large (at most 1048576 output_bytes)`, true},
		{"grow", 1000, 1 << 20, "", false}, // the same loop outputting its items
		{"range", 20_000, 100_000, `app.yaml:28:9: step "set@28" (set): limit exceeded: the values the run holds are too large (at most 100000 output_bytes)`, true},
		{"range", 5000, 100_000, "", false},
	}
	for _, tt := range tests {
		res, err := a.run(tt.flow, engine.Options{Input: map[string]any{"n": tt.n}, Limits: engine.Limits{MaxOutputBytes: tt.max}})
		if err != tt.want {
			t.Errorf("%s n=%d max=%d: error:\n%s\nwant:\n%s", tt.flow, tt.n, tt.max, err, tt.want)
		}
		if !tt.fails {
			if res.Output != tt.n {
				t.Errorf("%s n=%d: output = %v, want %d", tt.flow, tt.n, res.Output, tt.n)
			}
			continue
		}
		_, rerr := a.prog.Run(t.Context(), tt.flow, engine.Options{Input: map[string]any{"n": tt.n}, Limits: engine.Limits{MaxOutputBytes: tt.max}})
		var le *engine.LimitError
		if !errors.As(rerr, &le) || le.Limit != "output_bytes" {
			t.Errorf("%s n=%d: error %v is not an output_bytes *engine.LimitError", tt.flow, tt.n, rerr)
		}
	}
}

// heapType is a block that records the live heap, after a collection, each time it runs.
func heapType(seen *[]uint64) engine.BlockType {
	return engine.BlockType{Kind: "heap", Spec: engine.Spec{Map: &engine.Template}, Compile: func(*engine.Compiler, *engine.Body) (engine.Block, error) {
		return heapProbe{seen}, nil
	}}
}

type heapProbe struct{ seen *[]uint64 }

func (heapProbe) Kind() string { return "heap" }

func (p heapProbe) Run(context.Context, *engine.State) (any, error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	*p.seen = append(*p.seen, m.HeapAlloc)
	return nil, nil
}

// TestRunWithoutTraceKeepsNoSteps: a run not asked for a trace keeps nothing of the steps that
// ended, so its memory does not grow with their number. Each of 2,000 iterations makes a
// 4 KB text; the live heap is measured after the 100th iteration and after the last. With a
// trace the run keeps every step's (cut) output, which the same measure sees.
func TestRunWithoutTraceKeepsNoSteps(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - id: loop
        foreach:
          items: "{{ 0..2099 }}"
          steps:
            - id: probe
              when: "{{ index == 100 || index == 2099 }}"
              heap: {}
            - id: text
              set: {s: "{{ repeat('x', 4000) + string(item) }}"}
          output: "{{ index }}"
`
	var seen []uint64
	a := ctlLoad(t, src, heapType(&seen))
	growth := func(trace bool) int64 {
		seen = seen[:0]
		steps := 0
		res, err := a.prog.Run(context.Background(), "main", engine.Options{Trace: trace, OnStep: func(*engine.StepTrace) { steps++ }})
		if err != nil {
			t.Fatal(err)
		}
		if steps != 1+2100*2 || len(seen) != 2 {
			t.Fatalf("OnStep saw %d steps, the probe ran %d times; want %d and 2", steps, len(seen), 1+2100*2)
		}
		if !trace && len(res.Trace) != 0 {
			t.Errorf("a run without a trace kept %d steps in Result.Trace", len(res.Trace))
		}
		t.Logf("trace %v: the live heap grew by %d bytes", trace, int64(seen[1])-int64(seen[0]))
		return int64(seen[1]) - int64(seen[0])
	}
	if g := growth(false); g > 1<<20 {
		t.Errorf("without a trace the live heap grew by %d bytes over 2,000 iterations, want less than 1 MiB", g)
	}
	if g := growth(true); g < 8<<20 {
		t.Errorf("with a trace the live heap grew by %d bytes over 2,000 iterations of 4 KB each, want at least 8 MiB (does the probe measure?)", g)
	}
}

// TestRunLiveOutputGivenBack: what an iteration of a concurrent loop, or a called flow, held
// stops counting when it ends. Each of 200 iterations holds 20 KB (a 10 KB text in a variable
// and in the set's output): 4 MB, 40 times the 100 KB limit, if they all counted together.
func TestRunLiveOutputGivenBack(t *testing.T) {
	const src = `app: t
flows:
  forks:
    steps:
      - id: loop
        foreach:
          items: "{{ 1..200 }}"
          concurrency: 4
          steps:
            - set: {s: "{{ repeat('x', 10000) + string(item) }}"}
          output: "{{ item }}"
    output: "{{ len(steps.loop) }}"
  calls:
    steps:
      - id: loop
        foreach:
          items: "{{ 1..200 }}"
          steps:
            - call_flow: {flow: big, input: {n: "{{ item }}"}}
    output: "{{ len(steps.loop) }}"
  big:
    inputs: {n: {type: integer}}
    steps:
      - set: {s: "{{ repeat('x', 10000) + string(input.n) }}"}
    output: "{{ input.n }}"
`
	a := ctlLoad(t, src)
	for _, flow := range []string{"forks", "calls"} {
		res, err := a.prog.Run(t.Context(), flow, engine.Options{Limits: engine.Limits{MaxOutputBytes: 100_000}})
		if err != nil {
			t.Errorf("%s: %v", flow, a.rel(err))
			continue
		}
		if res.Output != 200 {
			t.Errorf("%s: output = %v, want 200", flow, res.Output)
		}
	}
}
