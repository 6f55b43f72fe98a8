package flows

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// BenchmarkLoad reads apps and compiles their flows' templates in a flow's scope, as loading an
// app does (the engine compiles each block's fields the same way): the examples, and a
// generated app of 50 flows of 4 steps whose fields hold templates. Building expr's
// configuration for every template was about half of it.
func BenchmarkLoad(b *testing.B) {
	var src strings.Builder
	src.WriteString("app: bench\nflows:\n")
	for i := range 50 {
		fmt.Fprintf(&src, "  flow%d:\n    inputs:\n      id: {type: string}\n    steps:\n", i)
		for j := range 4 {
			fmt.Fprintf(&src, "      - id: s%d\n        call_api:\n          url: \"https://api.example.com/items/{{ input.id }}/%d\"\n          headers:\n            X-Key: \"{{ vault.key }}\"\n          query:\n            limit: \"{{ len(steps) + %d }}\"\n", j, j, j)
		}
		fmt.Fprintf(&src, "    output: \"{{ steps.s3 }}\"\n")
	}
	generated := []byte(src.String())
	examples, err := filepath.Glob(filepath.Join("..", "examples", "*"))
	if err != nil || len(examples) == 0 {
		b.Fatalf("examples: %v %v", examples, err)
	}
	b.Run("examples", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, dir := range examples {
				app, err := LoadApp(dir)
				if err != nil {
					b.Fatal(err)
				}
				compileFlows(b, app)
			}
		}
	})
	b.Run("generated", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			app, err := Parse(filepath.Join("bench", "app.yaml"), generated)
			if err != nil {
				b.Fatal(err)
			}
			compileFlows(b, app)
		}
	})
}

// compileFlows compiles the fields of every step of app's flows, and their outputs, with the
// names of a flow and those blocks add (a loop's item and index, a page's response).
func compileFlows(b *testing.B, app *App) {
	var errs ErrorList
	for _, fl := range app.Flows {
		s := NewScope(fl.File, fl.Src, &errs, slices.Concat(FlowNames, []string{"item", "index", "response", "pages"})...)
		for _, st := range fl.Steps {
			for _, f := range st.Blocks {
				s.Compile(f.Value)
			}
		}
		s.Compile(fl.Output)
	}
	if err := errs.Err(); err != nil {
		b.Fatal(err)
	}
}
