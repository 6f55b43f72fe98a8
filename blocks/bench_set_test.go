package blocks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"github.com/patchbay/patchbay/engine"
)

// BenchmarkSetBlocks runs a flow of 10 set steps, each one expression, through Program.Run, and
// in turns the same 10 expressions run directly with expr (compiled once, one VM), the baseline.
// ns/block and allocs/block are the engine's alone; engine/expr is the engine's time over the
// baseline's; ns/op, B/op and allocs/op cover one flow run and one baseline pass together.
func BenchmarkSetBlocks(b *testing.B) {
	const blocksPerRun = 10
	var src strings.Builder
	src.WriteString("app: bench\nflows:\n  chain:\n    inputs:\n      n: {type: integer}\n    steps:\n")
	src.WriteString("      - set: {n: \"{{ input.n + 1 }}\"}\n")
	for range blocksPerRun - 1 {
		src.WriteString("      - set: {n: \"{{ vars.n + 1 }}\"}\n")
	}
	src.WriteString("    output: \"{{ vars.n }}\"\n")
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	prog, err := engine.Load(ctlRegistry(b), dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := engine.Options{Input: map[string]any{"n": 1}}
	runFlow := func() {
		res, err := prog.Run(ctx, "chain", opts)
		if err != nil {
			b.Fatal(err)
		}
		if res.Output != 1+blocksPerRun {
			b.Fatalf("output = %v, want %d", res.Output, 1+blocksPerRun)
		}
	}

	// The baseline: the same expressions, compiled once, over an environment of the same shape.
	env := map[string]any{"input": map[string]any{"n": 1}, "vars": map[string]any{}, "steps": map[string]any{}}
	exprs := make([]*vm.Program, blocksPerRun)
	for i := range exprs {
		code := "vars.n + 1"
		if i == 0 {
			code = "input.n + 1"
		}
		if exprs[i], err = expr.Compile(code, expr.Env(env)); err != nil {
			b.Fatal(err)
		}
	}
	var machine vm.VM
	runExpr := func() {
		vars := map[string]any{}
		env["vars"] = vars
		for _, p := range exprs {
			out, err := machine.Run(p, env)
			if err != nil {
				b.Fatal(err)
			}
			vars["n"] = out
		}
	}

	// The two are timed in turns, so that a busy machine slows both alike and the ratio holds.
	var engineTime, exprTime time.Duration
	for b.Loop() {
		t0 := time.Now()
		runFlow()
		t1 := time.Now()
		runExpr()
		engineTime += t1.Sub(t0)
		exprTime += time.Since(t1)
	}
	n := b.N
	b.StopTimer()
	allocs := testing.AllocsPerRun(100, runFlow)
	b.ReportMetric(float64(engineTime.Nanoseconds())/float64(n*blocksPerRun), "ns/block")
	b.ReportMetric(float64(engineTime)/float64(exprTime), "engine/expr")
	b.ReportMetric(allocs/blocksPerRun, "allocs/block")
}
