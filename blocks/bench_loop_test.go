package blocks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// loadBench loads an app of one file, src, for a benchmark.
func loadBench(b *testing.B, src string) *engine.Program {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		b.Fatal(err)
	}
	prog, err := engine.Load(ctlRegistry(b), dir)
	if err != nil {
		b.Fatal(err)
	}
	return prog
}

// BenchmarkForeach runs a loop over 1,000 items, one at a time, with one set step inside that
// keeps a running total. ns/item and allocs/item are one iteration's.
func BenchmarkForeach(b *testing.B) {
	const items = 1000
	prog := loadBench(b, `app: bench
flows:
  loop:
    steps:
      - set: {total: 0}
      - id: each
        foreach:
          items: "{{ 1..1000 }}"
          steps:
            - set: {total: "{{ vars.total + item }}"}
    output: "{{ vars.total }}"
`)
	ctx := context.Background()
	run := func() {
		res, err := prog.Run(ctx, "loop", engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Output != items*(items+1)/2 {
			b.Fatalf("output = %v", res.Output)
		}
	}
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
	b.StopTimer()
	b.ReportMetric(testing.AllocsPerRun(20, run)/items, "allocs/item")
}

// BenchmarkSetSteps40 runs a flow of 40 sequential set steps whose every step ends in OnStep, as
// a run recorded durably gives each step's trace to the recorder. ns/step and allocs/step are
// one step's, the run's set-up shared among its 40 steps.
func BenchmarkSetSteps40(b *testing.B) {
	const steps = 40
	var src strings.Builder
	src.WriteString("app: bench\nflows:\n  chain:\n    steps:\n      - set: {n: 0}\n")
	for range steps - 1 {
		src.WriteString("      - set: {n: \"{{ vars.n + 1 }}\"}\n")
	}
	src.WriteString("    output: \"{{ vars.n }}\"\n")
	prog := loadBench(b, src.String())
	ctx := context.Background()
	var recorded int
	opts := engine.Options{OnStep: func(*engine.StepTrace) { recorded++ }}
	run := func() {
		res, err := prog.Run(ctx, "chain", opts)
		if err != nil {
			b.Fatal(err)
		}
		if res.Output != steps-1 {
			b.Fatalf("output = %v, want %d", res.Output, steps-1)
		}
	}
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*steps), "ns/step")
	b.StopTimer()
	b.ReportMetric(testing.AllocsPerRun(20, run)/steps, "allocs/step")
	if recorded == 0 {
		b.Fatal("no step was recorded")
	}
}

// BenchmarkForeachConcurrent is BenchmarkForeach with 4 iterations at once, each with its own
// steps and vars. ns/item and allocs/item are one iteration's.
func BenchmarkForeachConcurrent(b *testing.B) {
	const items = 1000
	prog := loadBench(b, `app: bench
flows:
  loop:
    steps:
      - set: {base: 1}
      - id: each
        foreach:
          items: "{{ 1..1000 }}"
          concurrency: 4
          steps:
            - set: {x: "{{ vars.base + item }}"}
          output: "{{ vars.x }}"
    output: "{{ sum(steps.each) }}"
`)
	ctx := context.Background()
	run := func() {
		res, err := prog.Run(ctx, "loop", engine.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Output != items*(items+1)/2+items {
			b.Fatalf("output = %v", res.Output)
		}
	}
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
	b.StopTimer()
	b.ReportMetric(testing.AllocsPerRun(20, run)/items, "allocs/item")
}
