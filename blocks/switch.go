package blocks

import (
	"context"
	"fmt"
	"reflect"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Switch runs the steps of the first case that matches:
//
//	switch:
//	  value: "{{ steps.get.body.state }}"
//	  cases:
//	    - equals: open
//	      steps: [...]
//	    - when: "{{ steps.get.body.priority > 3 }}"
//	      steps: [...]
//	  default: [...]
//
// A case has either equals, compared with value, or when, a condition of its own (engine.Truthy);
// a switch without value has only when cases. Cases are tried in order. equals matches when:
// both are null; both are numbers of equal value (1 and 1.0); one is a string and both format
// to the same text (flows.Stringify: 1 equals "1", true equals "true"); otherwise when they are
// deeply equal (lists and mappings). The branch's steps share the flow's steps and vars; the
// block's output is the output of the chosen branch's last step (nil when nothing matched and
// there is no default).
type Switch struct {
	value    *flows.Value
	cases    []switchCase
	fallback []*engine.Step
}

type switchCase struct {
	equals *flows.Value // nil for a when case
	when   *flows.Value
	steps  []*engine.Step
}

var _ engine.Block = (*Switch)(nil)

// SwitchType is the switch block.
var SwitchType = engine.BlockType{
	Kind:    "switch",
	Summary: "runs the steps of the first case whose equals or when matches, else default",
	Spec: engine.Spec{
		Doc: "Cases are tried in order. equals matches when both are null; both are numbers of equal value (1 and 1.0); " +
			"one is a string and both format to the same text (1 equals \"1\"); otherwise when they are deeply equal. " +
			"The branch's steps share the flow's steps and vars; the output is the output of the chosen branch's last step " +
			"(null when nothing matched and there is no default).",
		Fields: []engine.Field{
			{Name: "value", Type: engine.Template, Doc: "The value the cases' equals are compared with; without it, every case needs when."},
			{Name: "cases", Type: engine.List(engine.Object("switch case",
				engine.Field{Name: "equals", Type: engine.Template, Doc: "Matches when it equals the switch's value."},
				engine.Field{Name: "when", Type: engine.Template, Doc: "A condition of its own, instead of equals."},
				engine.Field{Name: "steps", Type: engine.Steps, Required: true, Missing: "steps: [...]", Doc: "The steps run when the case matches."},
			).With(engine.Group{Keys: []string{"equals", "when"}, Exclusive: true, Need: true, Missing: "equals: x"})), Required: true, Missing: "cases: [{equals: x, steps: [...]}]", Doc: "The cases, each with equals or when, and steps."},
			{Name: "default", Type: engine.Steps, Doc: "The steps run when no case matches."},
		},
		Examples: []string{`- switch:
    value: "{{ app.version }}"
    cases:
      - equals: 1
        steps: [{log: one}]
      - when: "{{ app.version > 5 }}"
        steps: [{log: many}]
    default: [{log: other}]`},
	},
	Compile: compileSwitch,
}

func compileSwitch(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &Switch{value: c.Template(in.Value("value"))}
	for _, item := range in.Items("cases") {
		b.cases = append(b.cases, compileCase(c, item, in.Has("value")))
	}
	if f, ok := in.Field("default"); ok {
		b.fallback = c.CompileSteps(f.Value)
	}
	return b, nil
}

func compileCase(c *engine.Compiler, in *engine.Body, hasValue bool) switchCase {
	var sc switchCase
	eq, hasEq := in.Field("equals")
	when, hasWhen := in.Field("when")
	switch {
	case in.Has("equals") && in.Has("when"): // reported by the compiler (the spec's groups)
	case hasEq && !hasValue:
		c.Errorf(eq.Key, "switch case: equals needs the switch's value (or use when: a condition)")
	case hasEq:
		sc.equals = c.Template(eq.Value)
	case hasWhen:
		sc.when = c.Template(when.Value)
	}
	if f, ok := in.Field("steps"); ok {
		sc.steps = c.CompileSteps(f.Value)
	}
	return sc
}

// Kind returns "switch".
func (b *Switch) Kind() string { return "switch" }

// Run evaluates the value, finds the first matching case and runs its steps.
func (b *Switch) Run(ctx context.Context, st *engine.State) (any, error) {
	var v any
	if b.value != nil {
		var err error
		if v, err = st.Eval(b.value); err != nil {
			return nil, fmt.Errorf("value: %w", err)
		}
	}
	var chosen any // the 1-based case, "default", or nil: nothing ran
	if b.fallback != nil {
		chosen = "default"
	}
	steps := b.fallback
	for i, sc := range b.cases {
		match, err := sc.match(st, v)
		if err != nil {
			return nil, fmt.Errorf("case %d: %w", i+1, err)
		}
		if match {
			chosen, steps = i+1, sc.steps
			break
		}
	}
	in := map[string]any{"case": chosen}
	if b.value != nil {
		in["value"] = v
	}
	st.Input(in)
	return st.Bind("", nil, nil).RunSteps(ctx, steps)
}

func (sc switchCase) match(st *engine.State, v any) (bool, error) {
	if sc.when != nil {
		w, err := st.Eval(sc.when)
		return engine.Truthy(w), err
	}
	if sc.equals == nil {
		return false, nil
	}
	want, err := st.Eval(sc.equals)
	return switchEqual(v, want), err
}

// switchEqual reports whether a switch's value matches a case's equals, as Switch documents.
func switchEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := switchNumber(a); ok {
		if y, ok := switchNumber(b); ok {
			return x == y
		}
	}
	_, as := a.(string)
	_, bs := b.(string)
	if as || bs {
		return flows.Stringify(a) == flows.Stringify(b)
	}
	return reflect.DeepEqual(a, b)
}

// switchNumber returns v as a float64 when it is one of Go's number types.
func switchNumber(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}
