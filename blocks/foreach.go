package blocks

import (
	"context"
	"fmt"
	"reflect"
	"sync/atomic"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"golang.org/x/sync/errgroup"
)

// MaxConcurrency bounds a foreach's concurrency.
const MaxConcurrency = 32

// Foreach runs its steps once per item of a list:
//
//	foreach:
//	  items: "{{ steps.list.body.data }}"
//	  as: task            # the item's name in templates (default item)
//	  index_as: i         # the 0-based index's name (default index)
//	  concurrency: 4      # iterations at once (default 1, at most 32)
//	  steps: [...]
//	  output: "{{ steps.get.body.name }}"   # per iteration (default: the last step's output)
//
// items must evaluate to a list; null is an empty list, and a mapping is an error (iterate
// keys(m) or values(m) instead). as, index_as and concurrency are constants. The output is the
// list of the iterations' outputs, in the order of the items.
//
// One at a time, the iterations share the flow's steps and vars, so vars accumulate (a running
// total) and the steps that follow see the last iteration's steps. With concurrency above 1 each
// iteration works on its own copy of steps and vars, which the rest of the flow does not see;
// the first failing iteration stops the others and its error is the block's error. The outputs so
// far count toward the run's output limit while the loop runs.
type Foreach struct {
	items       *flows.Value
	as, indexAs string
	concurrency int
	steps       []*engine.Step
	output      *flows.Value
}

var _ engine.Block = (*Foreach)(nil)

// ForeachType is the foreach block.
var ForeachType = engine.BlockType{
	Kind:    "foreach",
	Summary: "runs steps once per item of a list, one at a time or several at once; outputs the list of results",
	Spec: engine.Spec{
		Doc: "The output is the list of the iterations' outputs, in the order of the items. " +
			"One at a time, the iterations share the flow's steps and vars, so vars accumulate and the steps that follow see the last iteration's steps. " +
			"With concurrency above 1 each iteration works on its own copy of steps and vars, which the rest of the flow does not see; " +
			"the first failing iteration stops the others and its error is the block's error.",
		Groups: []engine.Group{{Keys: []string{"steps", "output"}, Need: true, Missing: "steps: [...]"}},
		Fields: []engine.Field{
			{Name: "items", Type: engine.Template, Required: true, Missing: `items: "{{ ... }}"`, Doc: "The list to iterate; null is an empty list, and a mapping is an error (iterate keys(m) or values(m))."},
			{Name: "as", Type: engine.String, Const: true, Default: "item", Doc: "The item's name in the templates of steps and output: letters, digits and underscores."},
			{Name: "index_as", Type: engine.String, Const: true, Default: "index", Doc: "The 0-based index's name."},
			{Name: "concurrency", Type: engine.IntRange(1, MaxConcurrency), Const: true, Default: "1", Doc: "How many iterations run at once."},
			{Name: "steps", Type: engine.Steps, Doc: "The steps run for each item."},
			{Name: "output", Type: engine.Template, Doc: "Each iteration's output (default: its last step's output)."},
		},
		Examples: []string{`- foreach:
    items: [a, b, c]
    as: letter
    concurrency: 2
    steps:
      - id: up
        set: {up: "{{ upper(letter) }}"}
    output: "{{ steps.up.up }}"`},
	},
	Compile: compileForeach,
}

func compileForeach(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &Foreach{as: "item", indexAs: "index", concurrency: 1, items: c.Template(in.Value("items"))}
	var names []string
	as, asOK := foreachName(c, in, "as", "item", "")
	if asOK {
		b.as = as
		names = append(names, as)
	}
	if idx, ok := foreachName(c, in, "index_as", "index", b.as); ok {
		b.indexAs = idx
		names = append(names, idx)
	}
	if f, ok := in.Field("concurrency"); ok {
		b.concurrency = flows.Int(c.File(), f.Value, c.Errs(), "foreach: concurrency")
	}
	inner := c.With(names...)
	if f, ok := in.Field("steps"); ok {
		b.steps = inner.CompileSteps(f.Value)
	}
	if f, ok := in.Field("output"); ok {
		b.output = inner.Template(f.Value)
	}
	return b, nil
}

// foreachName reads the name field key (as, index_as), default def, and checks that it is an
// identifier that templates here do not use yet and differs from other.
func foreachName(c *engine.Compiler, in *engine.Body, key, def, other string) (string, bool) {
	name, at := def, in.Node
	if in.Has(key) {
		f, ok := in.Field(key)
		if !ok {
			return def, false
		}
		at = f.Value
		name = f.Value.Value
		if !flows.IsIdent(name) {
			c.Errorf(at, "foreach: %s %q must be letters, digits and underscores", key, name)
			return def, false
		}
	}
	if c.HasName(name) || name == other {
		c.Errorf(at, "foreach: %s: the name %q is already in use here; set %s to another name", key, name, key)
		return def, false
	}
	return name, true
}

// Kind returns "foreach".
func (b *Foreach) Kind() string { return "foreach" }

// Run evaluates the items and runs the iterations.
func (b *Foreach) Run(ctx context.Context, st *engine.State) (any, error) {
	v, err := st.Eval(b.items)
	if err != nil {
		return nil, fmt.Errorf("items: %w", err)
	}
	items, err := foreachList(v)
	if err != nil {
		return nil, err
	}
	st.Input(map[string]any{"items": len(items), "concurrency": b.concurrency})
	if err := st.CheckIterations(len(items)); err != nil {
		return nil, err
	}
	outs := make([]any, len(items))
	names := []string{b.as, b.indexAs}
	if b.concurrency <= 1 {
		var sub *engine.State // one for all iterations, bound to each item in turn
		for i, item := range items {
			if sub == nil {
				sub = st.Bind(engine.IterationLabel(i), names, []any{item, i})
			} else {
				st.Rebind(sub, i, names, []any{item, i})
			}
			if outs[i], err = b.iterate(ctx, sub); err != nil {
				return nil, err
			}
			if err := st.Hold(outs[i]); err != nil {
				return nil, err
			}
		}
		return outs, nil
	}
	// One state per worker, forked here in the goroutine that owns st, reforked by the worker
	// for each item it takes after its first. Items start in their order.
	workers := min(b.concurrency, len(items))
	var next atomic.Int64
	next.Store(int64(workers))
	g, gctx := errgroup.WithContext(ctx)
	for w := range workers {
		sub := st.Fork(engine.IterationLabel(w), names, []any{items[w], w})
		g.Go(func() error {
			for i := w; i < len(items); i = int(next.Add(1) - 1) {
				if gctx.Err() != nil {
					return context.Cause(gctx) // an iteration failed: start no more
				}
				if i != w {
					st.Refork(sub, engine.IterationLabel(i), names, []any{items[i], i})
				}
				out, err := b.iterate(gctx, sub)
				sub.Release()
				if err != nil {
					return err
				}
				outs[i] = out
				if err := st.Hold(out); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	return outs, nil
}

// iterate runs one iteration's steps and returns its output.
func (b *Foreach) iterate(ctx context.Context, sub *engine.State) (any, error) {
	last, err := sub.RunSteps(ctx, b.steps)
	if err != nil || b.output == nil {
		return last, err
	}
	out, err := sub.Eval(b.output)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return out, nil
}

// foreachList returns the items of a list value; null is no items.
func foreachList(v any) ([]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		return x, nil
	case map[string]any:
		return nil, fmt.Errorf("items must be a list, found a mapping (iterate keys(...) or values(...) of it)")
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, nil
	}
	return nil, fmt.Errorf("items must be a list, found %s", describeValue(v))
}

// describeValue names the type of a run-time value for error messages.
func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64:
		return "an integer"
	case float64:
		return "a number"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	if reflect.ValueOf(v).Kind() == reflect.Map {
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}
