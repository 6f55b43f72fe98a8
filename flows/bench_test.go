package flows

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCompileTemplates compiles the templates of a generated app of 50 flows (each with a
// few steps whose values hold templates) in a flow's scope, as loading the app does: the cost
// of compiling templates, of which building expr's configuration was about half.
func BenchmarkCompileTemplates(b *testing.B) {
	var src strings.Builder
	src.WriteString("app: bench\nflows:\n")
	for i := range 50 {
		fmt.Fprintf(&src, "  flow%d:\n    inputs:\n      id: {type: string}\n    steps:\n", i)
		for j := range 4 {
			fmt.Fprintf(&src, "      - id: s%d\n        call_api:\n          url: \"https://api.example.com/items/{{ input.id }}/%d\"\n          headers:\n            X-Key: \"{{ vault.key }}\"\n          query:\n            limit: \"{{ len(steps) + %d }}\"\n", j, j, j)
		}
		fmt.Fprintf(&src, "    output: \"{{ steps.s3 }}\"\n")
	}
	app, err := Parse(filepath.Join("bench", "app.yaml"), []byte(src.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		var errs ErrorList
		for _, fl := range app.Flows {
			s := NewScope(fl.File, fl.Src, &errs, FlowNames...)
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
}
