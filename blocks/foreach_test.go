package blocks_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/patchbay/patchbay/engine"
)

func TestForeach(t *testing.T) {
	const src = `app: t
flows:
  sum:
    inputs:
      items: {type: array}
    steps:
      - set: {total: 0}
      - id: loop
        foreach:
          items: "{{ input.items }}"
          steps:
            - id: add
              set: {total: "{{ vars.total + item }}"}
    output: {total: "{{ vars.total }}", loop: "{{ steps.loop }}"}
  named:
    steps:
      - id: loop
        foreach:
          items: "{{ split('a,b,c', ',') }}"
          as: letter
          index_as: i
          steps:
            - id: up
              set: {u: "{{ upper(letter) }}"}
          output: "{{ string(i) + ':' + steps.up.u }}"
  output_only:
    steps:
      - foreach:
          items: [1, 2, 3]
          output: "{{ item * item }}"
`
	a := ctlLoad(t, src)
	tests := []struct {
		name, flow string
		input      map[string]any
		want       any
		trace      []string
	}{
		{"sum", "sum", map[string]any{"items": []any{1, 2, 3}},
			map[string]any{"total": 6, "loop": []any{map[string]any{"total": 1}, map[string]any{"total": 3}, map[string]any{"total": 6}}},
			[]string{"set@7=ok", "loop=ok", "loop[0].add=ok", "loop[1].add=ok", "loop[2].add=ok"}},
		{"null items", "sum", map[string]any{"items": nil},
			map[string]any{"total": 0, "loop": []any{}}, []string{"set@7=ok", "loop=ok"}},
		{"names and output", "named", nil, []any{"0:A", "1:B", "2:C"},
			[]string{"loop=ok", "loop[0].up=ok", "loop[1].up=ok", "loop[2].up=ok"}},
		{"output only", "output_only", nil, []any{1, 4, 9}, []string{"foreach@28=ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := a.run(tt.flow, engine.Options{Input: tt.input})
			if err != "" {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Output, tt.want) {
				t.Errorf("output = %#v, want %#v", res.Output, tt.want)
			}
			if got := ctlTrace(res); !reflect.DeepEqual(got, tt.trace) {
				t.Errorf("trace = %q, want %q", got, tt.trace)
			}
		})
	}
}

// TestForeachConcurrentOutputsOwnVars: a worker of a loop with concurrency reuses its state for
// the items it takes one after another; an iteration whose output is its vars keeps its own,
// which the next item of the same worker does not change, and the loop's trace paths name each
// item.
func TestForeachConcurrentOutputsOwnVars(t *testing.T) {
	a := ctlLoad(t, `app: t
flows:
  main:
    steps:
      - id: loop
        foreach:
          items: [1, 2, 3, 4, 5]
          concurrency: 2
          steps:
            - id: x
              set: {x: "{{ item }}", i: "{{ index }}"}
          output: "{{ vars }}"
`)
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	var want []any
	var trace []string
	for i := range 5 {
		want = append(want, map[string]any{"x": i + 1, "i": i})
		trace = append(trace, fmt.Sprintf("loop[%d].x=ok", i))
	}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %v, want %v", res.Output, want)
	}
	got := ctlTrace(res)
	slices.Sort(got)
	if want := append([]string{"loop=ok"}, trace...); !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
}

func TestForeachItemsError(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      items: {type: string}
      obj: {type: object}
    steps:
      - id: loop
        foreach:
          items: "{{ input.obj ?? input.items }}"
          steps: [{set: {a: 1}}]
`
	a := ctlLoad(t, src)
	tests := []struct {
		input map[string]any
		want  string
	}{
		{map[string]any{"items": "abc"}, `app.yaml:8:9: step "loop" (foreach): items must be a list, found a string`},
		{map[string]any{"obj": map[string]any{"a": 1}}, `app.yaml:8:9: step "loop" (foreach): items must be a list, found a mapping (iterate keys(...) or values(...) of it)`},
	}
	for _, tt := range tests {
		if _, err := a.run("main", engine.Options{Input: tt.input}); err != tt.want {
			t.Errorf("error:\n%s\nwant:\n%s", err, tt.want)
		}
	}
}

// probeType is a block that counts how many of it run at once, each for a second.
func probeType(active, peak *atomic.Int32) engine.BlockType {
	return engine.BlockType{Kind: "probe", Spec: engine.Spec{Map: &engine.Template}, Compile: func(c *engine.Compiler, body *engine.Body) (engine.Block, error) {
		return probe{active, peak}, nil
	}}
}

type probe struct{ active, peak *atomic.Int32 }

func (probe) Kind() string { return "probe" }

func (p probe) Run(ctx context.Context, st *engine.State) (any, error) {
	n := p.active.Add(1)
	defer p.active.Add(-1)
	for {
		old := p.peak.Load()
		if n <= old || p.peak.CompareAndSwap(old, n) {
			break
		}
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	case <-t.C:
		return "done", nil
	}
}

func TestForeachConcurrency(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - set: {seen: 0}
      - id: loop
        foreach:
          items: "{{ 1..10 }}"
          concurrency: 4
          steps:
            - id: p
              probe: {}
            - set: {seen: "{{ vars.seen + 1 }}"}
          output: "{{ item * 10 + vars.seen }}"
    output: {loop: "{{ steps.loop }}", seen: "{{ vars.seen }}"}
`
	synctest.Test(t, func(t *testing.T) {
		var active, peak atomic.Int32
		a := ctlLoad(t, src, probeType(&active, &peak))
		start := time.Now()
		res, err := a.run("main", engine.Options{})
		if err != "" {
			t.Fatal(err)
		}
		// Each iteration has its own vars (seen is 1 in every one) and the flow's stay as they were.
		want := map[string]any{"loop": []any{11, 21, 31, 41, 51, 61, 71, 81, 91, 101}, "seen": 0}
		if !reflect.DeepEqual(res.Output, want) {
			t.Errorf("output = %#v, want %#v", res.Output, want)
		}
		if got := peak.Load(); got != 4 {
			t.Errorf("at most %d iterations ran at once, want 4", got)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("10 one-second iterations 4 at a time took %v, want 3s", got)
		}
		if got := len(res.Trace); got != 2+10*2 {
			t.Errorf("trace has %d steps, want 22", got)
		}
	})
}

func TestForeachConcurrentFailure(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - id: loop
        foreach:
          items: "{{ 0..9 }}"
          concurrency: 3
          steps:
            - id: boom
              when: "{{ index == 2 }}"
              fail: "item {{ item }} is bad"
            - id: slow
              wait: 1h
`
	synctest.Test(t, func(t *testing.T) {
		a := ctlLoad(t, src)
		start := time.Now()
		res, err := a.run("main", engine.Options{})
		if want := `app.yaml:10:15: step "boom" (fail): failed: item 2 is bad`; err != want {
			t.Errorf("error:\n%s\nwant:\n%s", err, want)
		}
		if got := time.Since(start); got != 0 {
			t.Errorf("the failure waited %v for the other iterations, want 0", got)
		}
		for _, tr := range res.Trace {
			if tr.Path >= "loop[3]" && tr.Path != "loop" {
				t.Errorf("iteration started after the failure: %s", tr.Path)
			}
		}
	})
}

func TestForeachErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"missing items and steps", `app: t
flows:
  main:
    steps:
      - foreach: {as: x}
`, "app.yaml:5:18: foreach: items is missing (items: \"{{ ... }}\")\napp.yaml:5:18: foreach: steps or output is missing (steps: [...])"},
		{"bad names", `app: t
flows:
  main:
    steps:
      - foreach: {items: [], as: "a-b", index_as: input, steps: []}
`, "app.yaml:5:34: foreach: as \"a-b\" must be letters, digits and underscores\napp.yaml:5:51: foreach: index_as: the name \"input\" is already in use here; set index_as to another name"},
		{"same names", `app: t
flows:
  main:
    steps:
      - foreach: {items: [], as: x, index_as: x, steps: []}
`, `app.yaml:5:47: foreach: index_as: the name "x" is already in use here; set index_as to another name`},
		{"nested default names", `app: t
flows:
  main:
    steps:
      - foreach:
          items: [[1]]
          steps:
            - foreach:
                items: "{{ item }}"
                steps: []
`, "app.yaml:9:17: foreach: as: the name \"item\" is already in use here; set as to another name\napp.yaml:9:17: foreach: index_as: the name \"index\" is already in use here; set index_as to another name"},
		{"concurrency", `app: t
flows:
  main:
    steps:
      - foreach: {items: [], concurrency: 0, steps: []}
      - foreach: {items: [], concurrency: 33, steps: []}
      - foreach: {items: [], concurrency: many, steps: []}
`, `app.yaml:5:43: foreach: concurrency must be between 1 and 32, found 0
app.yaml:6:43: foreach: concurrency must be between 1 and 32, found 33
app.yaml:7:43: foreach: concurrency must be an integer, found the string "many"`},
		{"item outside the loop", `app: t
flows:
  main:
    steps:
      - foreach: {items: [1], steps: [{set: {a: "{{ item }}"}}]}
      - set: {b: "{{ item }}"}
`, `app.yaml:6:22: template: unknown name item`},
		{"unknown field", `app: t
flows:
  main:
    steps:
      - foreach: {item: [1], steps: []}
`, "app.yaml:5:18: foreach: items is missing (items: \"{{ ... }}\")\napp.yaml:5:19: foreach: unknown field \"item\" (did you mean \"items\"?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ctlLoadApp(t, tt.src)
			if err != tt.want {
				t.Errorf("load error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// panicType is a block that panics, as a block with a bug would.
var panicType = engine.BlockType{Kind: "boom", Spec: engine.Spec{Map: &engine.Template}, Compile: func(*engine.Compiler, *engine.Body) (engine.Block, error) {
	return boom{}, nil
}}

type boom struct{}

func (boom) Kind() string { return "boom" }

func (boom) Run(context.Context, *engine.State) (any, error) { panic("boom") }

// TestForeachConcurrentPanic: a block that panicked in an iteration of a foreach with
// concurrency crashed the process, since its worker goroutine is outside the run's recover; it
// fails the run, as the same panic does elsewhere, and on_error: continue does not swallow it.
func TestForeachConcurrentPanic(t *testing.T) {
	for _, conc := range []int{1, 2} {
		t.Run(fmt.Sprint("concurrency ", conc), func(t *testing.T) {
			a := ctlLoad(t, fmt.Sprintf(`app: t
flows:
  main:
    steps:
      - id: loop
        foreach:
          items: [1, 2, 3]
          concurrency: %d
          steps:
            - id: b
              on_error: continue
              boom: {}
              when: "{{ item == 3 }}"
`, conc), panicType)
			var buf bytes.Buffer
			// Without Options.Trace, as a run kept by no one: its step paths are made only when a
			// line needs one.
			_, runErr := a.prog.Run(context.Background(), "main", engine.Options{Logger: ctlLogger(&buf, slog.LevelError)})
			if want, err := `app.yaml:10:15: step "b" (boom): internal error: boom`, a.rel(runErr); err != want {
				t.Errorf("error:\n%s\nwant:\n%s", err, want)
			}
			if !strings.Contains(buf.String(), `msg="panic in a step"`) || !strings.Contains(buf.String(), "foreach_test.go") {
				t.Errorf("log has no panic line with the stack:\n%s", buf.String())
			}
			if !strings.Contains(buf.String(), "step=loop[2].b ") {
				t.Errorf("the panic line does not name the step loop[2].b:\n%s", buf.String())
			}
		})
	}
}
