package blocks

import (
	"context"
	"fmt"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// If runs one of two lists of steps by a condition:
//
//	if:
//	  condition: "{{ steps.get.status == 'open' }}"
//	  then: [steps]
//	  else: [steps]
//
// The condition counts as true as engine.Truthy says. The branch's steps share the flow's
// steps and vars; the block's output is the output of the branch's last step (nil when the
// branch is empty or absent).
type If struct {
	cond      *flows.Value
	then, els []*engine.Step
}

var _ engine.Block = (*If)(nil)

// IfType is the if block.
var IfType = engine.BlockType{
	Kind:    "if",
	Summary: "runs the steps of then or else, by a condition",
	Spec: engine.Spec{
		Doc: "The branch's steps share the flow's steps and vars; the output is the output of the branch's last step (null when the branch is empty or absent).",
		Fields: []engine.Field{
			{Name: "condition", Type: engine.Template, Required: true, Missing: `condition: "{{ ... }}"`, Doc: "Chooses then when true; false, null, 0, \"\", \"false\" and empty lists and mappings are false."},
			{Name: "then", Type: engine.Steps, Required: true, Missing: "then: [steps]", Doc: "The steps run when the condition is true."},
			{Name: "else", Type: engine.Steps, Doc: "The steps run when it is false."},
		},
		Examples: []string{`- if:
    condition: "{{ app.version > 1 }}"
    then:
      - log: new
    else:
      - log: old`},
	},
	Compile: compileIf,
}

func compileIf(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &If{cond: c.Template(in.Value("condition"))}
	if f, ok := in.Field("then"); ok {
		b.then = c.CompileSteps(f.Value)
	}
	if f, ok := in.Field("else"); ok {
		b.els = c.CompileSteps(f.Value)
	}
	return b, nil
}

// Kind returns "if".
func (b *If) Kind() string { return "if" }

// Run evaluates the condition and runs the chosen branch.
func (b *If) Run(ctx context.Context, st *engine.State) (any, error) {
	v, err := st.Eval(b.cond)
	if err != nil {
		return nil, fmt.Errorf("condition: %w", err)
	}
	ok := engine.Truthy(v)
	st.Input(map[string]any{"condition": ok})
	steps := b.then
	if !ok {
		steps = b.els
	}
	return st.Bind("", nil, nil).RunSteps(ctx, steps)
}
