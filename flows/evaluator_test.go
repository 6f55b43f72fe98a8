package flows

import (
	"context"
	"strings"
	"testing"
)

// TestEnvShowsOnlyTheScope: the template budget sat in the environment, where $env showed it:
// $env['patchbay budget'] returned it, keys($env) listed it and toJSON($env) failed on it. $env
// now shows the names a template may use, and nothing of the evaluator.
func TestEnvShowsOnlyTheScope(t *testing.T) {
	env := map[string]any{"input": map[string]any{"a": 1}, "steps": map[string]any{}, "vars": map[string]any{},
		"connection": nil, "app": map[string]any{"key": "k"}, "vault": map[string]any{}}
	tests := []struct{ expr, want string }{
		{`sort(keys($env))`, `["app","connection","input","steps","vars","vault"]`},
		{`toJSON($env)`, `{"app":{"key":"k"},"connection":null,"input":{"a":1},"steps":{},"vars":{},"vault":{}}`},
		{`$env.input.a + $env['input'].a`, `2`},
		{`$env['patchbay context']`, ``},
		{`$env?.['patchbay context']`, ``},
		{`get($env, 'patchbay context')`, ``},
		{`'patchbay context' in $env`, `false`},
		{`len(filter(values($env), # != nil && type(#) not in ['map', 'array']))`, `0`},
		{`toJSON(map(1..2, $env.input))`, `[{"a":1},{"a":1}]`},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			v, errs := compileValue(t, "v: \"{{ "+tt.expr+" }}\"\n")
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			out, err := NewEvaluator(context.Background()).Eval(v, env)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			// toJSON indents; compare without the layout.
			got := strings.Join(strings.Fields(Stringify(out)), "")
			if got != tt.want {
				t.Errorf("{{ %s }} = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
}
