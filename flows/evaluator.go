package flows

import (
	"context"
	"fmt"
	"strings"

	"errors"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// An Evaluator evaluates compiled Values for one goroutine. It owns what bounds an evaluation:
// expr's VM, the memory budget (MaxTemplateBytes, counted afresh for each Eval) and the context
// whose end stops a long evaluation. Templates never see it: expr.WithContext hands it to the
// helpers that count as a hidden first argument, and $env shows only the names of the scope.
// Make one with NewEvaluator.
type Evaluator struct {
	vm vm.VM
	b  budget
}

// NewEvaluator returns an evaluator whose evaluations stop once ctx is done, with
// context.Cause(ctx) as their error.
func NewEvaluator(ctx context.Context) *Evaluator {
	return &Evaluator{b: budget{Context: ctx}}
}

// Reset makes e's evaluations stop once ctx is done, as NewEvaluator(ctx)'s do, keeping its VM:
// an evaluator used for one request at a time can then serve many.
func (e *Evaluator) Reset(ctx context.Context) { e.b = budget{Context: ctx} }

// Fork returns an evaluator with the same context, for another goroutine.
func (e *Evaluator) Fork() *Evaluator { return NewEvaluator(e.b.Context) }

// Eval evaluates v in env. A template's runtime error names its position; so does going over
// the budget, or past the context's end. Eval adds a hidden entry to env for the helpers: env
// must not be in use by another goroutine's evaluator.
func (e *Evaluator) Eval(v *Value, env map[string]any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if v.kind == kindLit {
		return v.lit, nil
	}
	if env == nil {
		env = make(map[string]any, 1)
	}
	env[ctxName] = &e.b
	e.b.used = 0
	return v.eval(e, env)
}

// EvalString evaluates v and formats the result as text (nil is "").
func (e *Evaluator) EvalString(v *Value, env map[string]any) (string, error) {
	x, err := e.Eval(v, env)
	if err != nil {
		return "", err
	}
	return Stringify(x), nil
}

type secretSinkKey struct{}

// WithSecretSink returns a context whose evaluations hand sink every value a helper makes that
// is a credential in its own right (a JWT jwt_sign signed), so that the run redacts it wherever
// it shows a value, as it does the secrets it was given.
func WithSecretSink(ctx context.Context, sink func(secrets ...string)) context.Context {
	return context.WithValue(ctx, secretSinkKey{}, sink)
}

// secret tells the evaluation's secret sink, if any, that s is a secret.
func (b *budget) secret(s string) {
	if b == nil || s == "" {
		return
	}
	if sink, _ := b.Value(secretSinkKey{}).(func(...string)); sink != nil {
		sink(s)
	}
}

// ctxName is the identifier expr.WithContext passes to the helpers that count. It is not an
// expr identifier, so a template cannot write it, and envPatch keeps $env from reaching it.
const ctxName = "patchbay context"

// budget is the hidden first argument of the helpers that count: the evaluation's context, what
// the evaluation has built, and what has been looked through since the context was last asked.
type budget struct {
	context.Context
	used int // bytes built in this evaluation
	work int // items and bytes looked through since the context was last asked
}

// errBudget is the error of an evaluation that builds too much.
var errBudget = fmt.Errorf("memory budget exceeded: one evaluation of a template builds at most %d MiB", MaxTemplateBytes>>20)

// budgetOf is the budget a helper got as its first argument.
func budgetOf(arg any) *budget {
	b, _ := arg.(*budget)
	return b
}

// charge counts n more bytes built.
func (b *budget) charge(n int) error {
	if n > MaxTemplateBytes {
		return errBudget
	}
	if b == nil {
		return nil
	}
	if b.used += n; b.used > MaxTemplateBytes {
		return errBudget
	}
	return nil
}

// scan counts n items or bytes looked through and every million asks whether the context is
// done: expr's loops cannot be interrupted otherwise, and a lookup in a list once per item of
// another takes hours on large lists.
func (b *budget) scan(n int) error {
	if b == nil {
		return nil
	}
	if b.work += n; b.work < 1<<20 {
		return nil
	}
	b.work = 0
	if b.Err() != nil {
		return context.Cause(b.Context)
	}
	return nil
}

// expand counts a mapping or a list of n items that an evaluation builds from the app's YAML: an
// alias repeats what it names without copying it in the file, so a value may build far more
// than its file shows (MaxExpandedNodes bounds it at load). Building an item counts as looking
// through 64, so a large value asks about the context every 16384 items.
func (b *budget) expand(n, itemSize int) error {
	if err := b.charge(n * itemSize); err != nil {
		return err
	}
	return b.scan(64 * n)
}

// envPatch turns $env into a mapping of the scope's names, so that $env, $env['…'], keys($env)
// and toJSON($env) show what a template may name and nothing of the evaluator's.
type envPatch struct{ names []string }

func (p envPatch) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok || id.Value != "$env" {
		return
	}
	m := &ast.MapNode{Pairs: make([]ast.Node, len(p.names))}
	for i, name := range p.names {
		k, v := &ast.StringNode{Value: name}, &ast.IdentifierNode{Value: name}
		pair := &ast.PairNode{Key: k, Value: v}
		for _, n := range []ast.Node{k, v, pair} {
			n.SetLocation(id.Location())
		}
		m.Pairs[i] = pair
	}
	ast.Patch(node, m)
}

func (v *Value) eval(e *Evaluator, env map[string]any) (any, error) {
	switch v.kind {
	case kindLit:
		return v.lit, nil
	case kindExpr:
		return e.run(v.prog, v.src, v.Pos, v.at, env)
	case kindInterp:
		var b strings.Builder
		for _, p := range v.parts {
			if p.prog == nil {
				b.WriteString(p.text)
				continue
			}
			out, err := e.run(p.prog, p.src, p.pos, p.at, env)
			if err != nil {
				return nil, err
			}
			text, err := stringifyPart(out)
			if err == nil && b.Len()+len(text) > MaxTemplateBytes {
				err = errBudget
			}
			if err != nil {
				return nil, &Error{Pos: p.pos, Msg: fmt.Sprintf("template {{ %s }}: %v", shortSource(p.src), err), Err: err}
			}
			b.WriteString(text)
		}
		if err := e.b.charge(b.Len()); err != nil {
			return nil, &Error{Pos: v.Pos, Msg: err.Error(), Err: err}
		}
		return b.String(), nil
	case kindMap:
		if err := e.b.expand(len(v.keys), 48); err != nil {
			return nil, &Error{Pos: v.Pos, Msg: err.Error(), Err: err}
		}
		out := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			x, err := v.vals[i].eval(e, env)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	case kindList:
		if err := e.b.expand(len(v.vals), 16); err != nil {
			return nil, &Error{Pos: v.Pos, Msg: err.Error(), Err: err}
		}
		out := make([]any, len(v.vals))
		for i, c := range v.vals {
			x, err := c.eval(e, env)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	}
	return nil, nil
}

// run runs one template, naming its position in an error.
func (e *Evaluator) run(prog *vm.Program, src string, pos Pos, at *origin, env map[string]any) (any, error) {
	if prog == nil {
		return nil, &Error{Pos: pos, Msg: "template did not compile"}
	}
	out, err := e.vm.Run(prog, env)
	if err != nil {
		msg := err.Error()
		var fe *file.Error
		if errors.As(err, &fe) {
			msg = fe.Message
			if at != nil {
				pos = at.pos(fe.From, nil)
			}
		}
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("template {{ %s }}: %s", shortSource(src), msg), Err: err}
	}
	if err := checkSize(out, MaxValueBytes); err != nil {
		return nil, &Error{Pos: pos, Msg: fmt.Sprintf("template {{ %s }}: its value is larger than %d MiB as JSON", shortSource(src), MaxValueBytes>>20)}
	}
	return out, nil
}
