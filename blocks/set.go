package blocks

import (
	"context"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Set assigns variables: set: {total: "{{ vars.total + 1 }}"}. Its output is the mapping of
// the values it assigned.
type Set struct {
	names  []string
	values []*flows.Value
}

var _ engine.Block = (*Set)(nil)

// SetType is the set block.
var SetType = engine.BlockType{
	Kind:    "set",
	Summary: "assigns variables (vars.<name>) from values and templates",
	Spec: engine.Spec{
		Map: &engine.Template,
		Doc: "The body is a mapping: each key names a variable (letters, digits and underscores), " +
			"its value is any value and may hold templates. Every value is evaluated before any is assigned, " +
			"so values see the variables as they were before the step. The output is the mapping of the values assigned.",
		Examples: []string{`- set: {total: 0, greeting: "hello {{ app.name }}"}
- set: {total: "{{ vars.total + 1 }}"}`},
	},
	Compile: compileSet,
}

func compileSet(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &Set{}
	body := in.Node
	for _, f := range in.Pairs() {
		if !flows.IsIdent(f.Key.Value) {
			c.Errorf(f.Key, "variable name %q must be letters, digits and underscores", f.Key.Value)
			continue
		}
		b.names = append(b.names, f.Key.Value)
		b.values = append(b.values, c.Template(f.Value))
	}
	if len(body.Content) == 0 {
		c.Errorf(body, "set: nothing to assign")
	}
	return b, nil
}

// Kind returns "set".
func (b *Set) Kind() string { return "set" }

// Run evaluates every value first, then assigns them all, so values see the variables as they
// were before the step.
func (b *Set) Run(ctx context.Context, st *engine.State) (any, error) {
	out := make(map[string]any, len(b.names))
	for i, n := range b.names {
		v, err := st.Eval(b.values[i])
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	for _, n := range b.names { // not range out: iterating a map costs more than a lookup
		st.SetVar(n, out[n])
	}
	return out, nil
}
