package blocks

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// CallFlow runs another flow of the app, one level deeper, and outputs that flow's output:
//
//	call_flow:
//	  flow: get_task                      # a constant: checked when the app loads
//	  input: {task: "{{ item.gid }}"}
//
// The input keys are checked at load against the called flow's inputs: an unknown key and a
// missing required input (one without a default) are load errors. The values are checked
// against the inputs' types when the step runs. The called flow's steps and vars are its own;
// its steps count toward the run's limits and call_flow nesting toward Limits.MaxDepth.
type CallFlow struct {
	flow      string
	keys      []string
	input     []*flows.Value
	sensitive []bool // whether the called flow declares keys[i] sensitive
}

var _ engine.Block = (*CallFlow)(nil)

// CallFlowType is the call_flow block.
var CallFlowType = engine.BlockType{
	Kind:    "call_flow",
	Summary: "runs another flow of the app with inputs and outputs its output",
	Spec: engine.Spec{
		Doc: "The called flow's steps and vars are its own; its steps count toward the run's limits, and call_flow nesting toward the depth limit. The output is the called flow's output.",
		Fields: []engine.Field{
			{Name: "flow", Type: engine.String, Const: true, Required: true, Missing: "flow: name", Doc: "The flow to run, a flow of this app (checked at load)."},
			{Name: "input", Type: engine.Mapping, Const: true, Doc: "The called flow's inputs by name; values may hold templates. An unknown input and a missing required input are load errors; values are checked against the inputs' types when the step runs."},
		},
		Examples: []string{`- call_flow:
    flow: get_task
    input: {task: "{{ app.name }}"}`},
	},
	Compile: compileCallFlow,
}

func compileCallFlow(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &CallFlow{}
	body := in.Node
	f, ok := in.Field("flow")
	if !ok {
		return b, nil
	}
	b.flow = f.Value.Value
	if b.flow == "" {
		return b, nil
	}
	target := c.FlowNamed(b.flow)
	if target == nil {
		c.Errorf(f.Value, "call_flow: the app has no flow %q%s", b.flow, suggestOrListNames(b.flow, c.FlowNames()))
	}
	given := map[string]bool{}
	input, hasInput := in.Field("input")
	if hasInput {
		for _, p := range flows.Pairs(c.File(), input.Value, c.Errs(), "call_flow: input") {
			name := p.Key.Value
			given[name] = true
			if target != nil && target.Input(name) == nil {
				c.Errorf(p.Key, "call_flow: flow %q has no input %q%s", b.flow, name, callFlowInputHint(name, target))
				continue
			}
			b.keys = append(b.keys, name)
			b.input = append(b.input, c.Template(p.Value))
			b.sensitive = append(b.sensitive, target != nil && target.Input(name).Sensitive)
		}
	}
	if target == nil {
		return b, nil
	}
	var missing []string
	for _, d := range target.Inputs {
		if d.Required && d.Default == nil && !given[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		at := body
		if hasInput {
			at = input.Key
		}
		c.Errorf(at, "call_flow: flow %q needs %s %s", b.flow, plural(len(missing), "input", "inputs"), quoteList(missing))
	}
	return b, nil
}

func callFlowInputHint(name string, target *flows.Flow) string {
	known := make([]string, len(target.Inputs))
	for i, d := range target.Inputs {
		known[i] = d.Name
	}
	if len(known) == 0 {
		return " (it takes none)"
	}
	if s := flows.Suggest(name, known); s != "" {
		return s
	}
	return " (inputs: " + strings.Join(known, ", ") + ")"
}

// suggestOrListNames is " (did you mean …?)" for a near miss, else the list of names.
func suggestOrListNames(name string, names []string) string {
	if s := flows.Suggest(name, names); s != "" {
		return s
	}
	if len(names) == 0 {
		return ""
	}
	return " (flows: " + strings.Join(names, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Kind returns "call_flow".
func (b *CallFlow) Kind() string { return "call_flow" }

// Run evaluates the input and runs the flow.
func (b *CallFlow) Run(ctx context.Context, st *engine.State) (any, error) {
	in := make(map[string]any, len(b.keys))
	for i, k := range b.keys {
		v, err := st.Eval(b.input[i])
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", k, err)
		}
		in[k] = v
		if b.sensitive[i] && v != nil {
			// A secret from here on, not only once the called flow starts: the trace input
			// recorded below shows it.
			st.AddSecrets(engine.SecretStrings(v)...)
		}
	}
	st.Input(map[string]any{"flow": b.flow, "input": in})
	return st.CallFlow(ctx, b.flow, in)
}
