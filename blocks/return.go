package blocks

import (
	"context"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Return ends the flow at once with a value as its output (the flow's output: is not
// evaluated), from any depth of if, switch or foreach:
//
//	return: "{{ steps.find.body.items[0] }}"
//	return: {value: {found: false}}
//
// A mapping body must be {value: ...}, so that a mapping is returned as return: {value: {...}};
// any other body (a scalar, a list, nothing) is the value itself. Inside a flow run by
// call_flow, return ends that flow only.
type Return struct {
	value *flows.Value
}

var _ engine.Block = (*Return)(nil)

// ReturnType is the return block.
var ReturnType = engine.BlockType{
	Kind:    "return",
	Summary: "ends the flow with a value as its output",
	Spec: engine.Spec{
		Short: "value",
		Doc:   "A mapping is returned as {value: {...}}. Inside a flow run by call_flow, return ends that flow only.",
		Fields: []engine.Field{
			{Name: "value", Type: engine.Template, Required: true, Missing: `value: "{{ ... }}"`, Doc: "The flow's output; any value, which may hold templates. The flow's output: is not evaluated."},
		},
		Examples: []string{`- return: "{{ app.name }}"`, `- return: {value: {found: false}}`},
	},
	Compile: compileReturn,
}

func compileReturn(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	return &Return{value: c.Template(in.Value("value"))}, nil
}

// Kind returns "return".
func (b *Return) Kind() string { return "return" }

// Run evaluates the value and returns engine.Return, which the engine turns into the flow's
// output.
func (b *Return) Run(ctx context.Context, st *engine.State) (any, error) {
	v, err := st.Eval(b.value)
	if err != nil {
		return nil, err
	}
	return nil, engine.Return(v)
}
