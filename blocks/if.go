package blocks

import (
	"context"
	"fmt"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
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
	Compile: compileIf,
}

func compileIf(c *engine.Compiler, body *yaml.Node) (engine.Block, error) {
	b := &If{}
	fields := c.Fields(body, "if", "condition", "then", "else")
	if f, ok := fields["condition"]; ok {
		b.cond = c.Template(f.Value)
	} else {
		missingField(c, body, "if", "condition", `condition: "{{ ... }}"`)
	}
	if f, ok := fields["then"]; ok {
		b.then = c.CompileSteps(f.Value)
	} else {
		missingField(c, body, "if", "then", "then: [steps]")
	}
	if f, ok := fields["else"]; ok {
		b.els = c.CompileSteps(f.Value)
	}
	return b, nil
}

// missingField reports a required field missing from a mapping body; a body that is not a
// mapping was already reported by c.Fields.
func missingField(c *engine.Compiler, body *yaml.Node, what, field, example string) {
	if body != nil && body.Kind == yaml.MappingNode {
		c.Errorf(body, "%s: %s is missing (%s)", what, field, example)
	}
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
