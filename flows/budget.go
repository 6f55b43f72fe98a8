package flows

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// MaxTemplateBytes bounds what one evaluation of a value builds: the text and lists its
// templates make by joining, repeating, replacing, encoding, parsing, writing JSON and +. expr
// itself bounds the items of its ranges, lists and loops (a million); this bounds the rest, so
// that a template cannot use up the process's memory (reduce(1..40, #acc + #acc, 'x')).
const MaxTemplateBytes = 16 << 20

// MaxValueBytes bounds one template's value, as JSON: a list may hold another many times over,
// and show as far more than it takes in memory.
const MaxValueBytes = 64 << 20

// addName is the function a + that may join text becomes.
const addName = "patchbay add"

// opPatch turns a + that may join text, and in, contains and matches over lists and text, into
// calls of functions that count what they build or look through; expr.WithContext then gives
// them the budget.
type opPatch struct{}

func (opPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.BinaryNode:
		var fn string
		right := n.Right
		switch n.Operator {
		case "+":
			if mayBeText(n.Left) && mayBeText(n.Right) && !(constantOperand(n.Left) && constantOperand(n.Right)) {
				fn = addName
			}
		case "in":
			if _, literal := n.Right.(*ast.ArrayNode); !literal && mayBeList(n.Right) {
				fn = inName
			}
		case "contains":
			if mayBeText(n.Left) && mayBeText(n.Right) {
				fn = containsName
			}
		case "matches":
			if !mayBeText(n.Left) || !mayBeText(n.Right) {
				break
			}
			if p, ok := n.Right.(*ast.StringNode); ok {
				re, err := regexp.Compile(p.Value)
				if err != nil {
					break // the compiler reports it
				}
				right = &ast.ConstantNode{Value: re}
				right.SetLocation(p.Location())
			}
			fn = matchesName
		}
		if fn != "" {
			ast.Patch(node, &ast.CallNode{
				Callee:    &ast.IdentifierNode{Value: fn},
				Arguments: []ast.Node{n.Left, right},
			})
		}
	}
}

// mayBeList reports whether n may be a list, as far as the checker knows before the patch.
func mayBeList(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.Slice || t.Kind() == reflect.Array
}

// The functions in, contains and matches become: as expr's operators, and looking through a list
// or a text counts as work.
const (
	inName       = "patchbay in"
	containsName = "patchbay contains"
	matchesName  = "patchbay matches"
)

func inOp(args ...any) (any, error) {
	b := budgetOf(args[0])
	if v := reflect.ValueOf(args[2]); v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
		if err := b.scan(v.Len()); err != nil {
			return nil, err
		}
	}
	return runtime.In(args[1], args[2]), nil
}

func containsOp(args ...any) (any, error) {
	b := budgetOf(args[0])
	if runtime.IsNil(args[1]) || runtime.IsNil(args[2]) {
		return false, nil
	}
	s := args[1].(string) // panics as expr's contains does
	if err := b.scan(len(s)); err != nil {
		return nil, err
	}
	return strings.Contains(s, args[2].(string)), nil
}

func matchesOp(args ...any) (any, error) {
	b := budgetOf(args[0])
	if runtime.IsNil(args[1]) || runtime.IsNil(args[2]) {
		return false, nil
	}
	re, ok := args[2].(*regexp.Regexp) // compiled once when the pattern is written in the template
	if !ok {
		var err error
		if re, err = regexp.Compile(args[2].(string)); err != nil {
			return nil, err
		}
	}
	if s, ok := args[1].(string); ok {
		if err := b.scan(len(s)); err != nil {
			return nil, err
		}
		return re.MatchString(s), nil
	}
	data := args[1].([]byte)
	if err := b.scan(len(data)); err != nil {
		return nil, err
	}
	return re.Match(data), nil
}

// mayBeText reports whether n may be text, as far as the checker knows before the patch: a
// + of numbers, times and durations stays as it is, and so does a mistake the checker reports.
func mayBeText(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
}

// constantOperand reports whether n is text written in the template.
func constantOperand(n ast.Node) bool {
	_, ok := n.(*ast.StringNode)
	return ok
}

// add is + for a pair that may be text.
func add(args ...any) (any, error) {
	b := budgetOf(args[0])
	if x, ok := args[1].(string); ok {
		if y, ok := args[2].(string); ok {
			if err := b.charge(len(x) + len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		}
	}
	return runtime.Add(args[1], args[2]), nil
}

var (
	contextType    = reflect.TypeOf((*context.Context)(nil)).Elem()
	anyWithContext = reflect.TypeOf(new(func(context.Context, ...any) (any, error))).Elem()
)

// sizing says how a budgeted function's result is counted.
type sizing uint8

const (
	sizeNone    sizing = iota // one of its arguments, or a few bytes
	sizeShallow               // text's bytes, a list's or a mapping's items
	sizeDeep                  // a new tree (parsed JSON): everything in it
)

// budgetFunction returns the option defining name as fn, which gets the budget as its first
// argument (expr.WithContext passes it to a function whose first argument is a context), checks args with pre (when set) before fn runs, counts the items or bytes of its
// argument scan (when not -1) as looked through, and counts fn's result.
// secretResults are the helpers whose result is a credential of its own (a signed JWT is a
// bearer assertion until its exp): the run redacts it from the moment it is made.
var secretResults = map[string]bool{"jwt_sign": true}

func budgetFunction(name string, fn func(args ...any) (any, error), pre func(args []any) (int, error), scan int, size sizing, types []reflect.Type, validate func([]reflect.Type) (reflect.Type, error)) expr.Option {
	withBudget := []reflect.Type{anyWithContext} // arguments checked by validate, or not at all
	if len(types) > 0 {
		withBudget = make([]reflect.Type, len(types))
	}
	for i, t := range types {
		in := []reflect.Type{contextType}
		for j := range t.NumIn() {
			in = append(in, t.In(j))
		}
		out := make([]reflect.Type, t.NumOut())
		for j := range out {
			out[j] = t.Out(j)
		}
		withBudget[i] = reflect.FuncOf(in, out, t.IsVariadic())
	}
	f := &builtin.Function{
		Name:  name,
		Types: withBudget,
		Func: func(args ...any) (any, error) {
			b := budgetOf(args[0])
			args = args[1:]
			if scan >= 0 && scan < len(args) {
				if err := b.scan(scanSize(args[scan])); err != nil {
					return nil, err
				}
			}
			if pre != nil {
				n, err := pre(args)
				if err == nil {
					err = b.charge(n)
				}
				if err != nil {
					return nil, err
				}
			}
			out, err := fn(args...)
			if err != nil {
				return nil, err
			}
			if secretResults[name] {
				b.secret(Stringify(out))
			}
			switch size {
			case sizeShallow:
				err = b.charge(shallowSize(out))
			case sizeDeep:
				err = b.charge(deepSize(out, MaxTemplateBytes+1))
			}
			return out, err
		},
	}
	if validate != nil {
		f.Validate = func(args []reflect.Type) (reflect.Type, error) {
			if len(args) > 0 {
				args = args[1:]
			}
			return validate(args)
		}
	}
	return func(c *conf.Config) { c.Functions[name] = f }
}

// builtinOverrides are expr's builtins that build text or lists, with how to check their
// arguments first and count their results.
var builtinOverrides = []struct {
	name string
	pre  func(args []any) (int, error)
	size sizing
	scan bool // its first argument is looked through
}{
	{"indexOf", nil, sizeNone, true},
	{"lastIndexOf", nil, sizeNone, true},
	{"max", nil, sizeNone, true},
	{"min", nil, sizeNone, true},
	{"mean", nil, sizeNone, true},
	{"median", nil, sizeShallow, true},
	{"string", argsSize, sizeShallow, false},
	{"upper", nil, sizeShallow, false},
	{"lower", nil, sizeShallow, false},
	{"trim", nil, sizeShallow, false},
	{"trimPrefix", nil, sizeShallow, false},
	{"trimSuffix", nil, sizeShallow, false},
	{"split", nil, sizeShallow, false},
	{"splitAfter", nil, sizeShallow, false},
	{"replace", replaceSize, sizeNone, false},
	{"repeat", repeatSize, sizeNone, false},
	{"join", joinSize, sizeNone, false},
	{"toJSON", toJSONSize, sizeShallow, false},
	{"fromJSON", nil, sizeDeep, false},
	{"toBase64", nil, sizeShallow, false},
	{"fromBase64", nil, sizeShallow, false},
	{"keys", nil, sizeShallow, false},
	{"values", nil, sizeShallow, false},
	{"toPairs", nil, sizeShallow, false},
	{"fromPairs", nil, sizeShallow, false},
	{"uniq", nil, sizeShallow, false},
	{"take", nil, sizeShallow, false},
	{"sort", nil, sizeShallow, false},
	{"reverse", nil, sizeShallow, false},
	{"concat", nil, sizeShallow, false},
	{"flatten", flattenSize, sizeNone, false},
}

// budgetOptions define + and the budgeted builtins and helpers.
var budgetOptions = func() []expr.Option {
	opts := []expr.Option{
		expr.Patch(opPatch{}),
		expr.Function(addName, add, new(func(context.Context, any, any) any)),
		expr.Function(inName, inOp, new(func(context.Context, any, any) bool)),
		expr.Function(containsName, containsOp, new(func(context.Context, any, any) bool)),
		expr.Function(matchesName, matchesOp, new(func(context.Context, any, any) bool)),
	}
	for _, o := range builtinOverrides {
		f := builtin.Builtins[builtin.Index[o.name]]
		call := f.Func
		switch {
		case f.Fast != nil:
			fast := f.Fast
			call = func(args ...any) (any, error) {
				if len(args) != 1 {
					return nil, fmt.Errorf("invalid number of arguments (expected 1, got %d)", len(args))
				}
				return fast(args[0]), nil
			}
		case f.Safe != nil:
			safe := f.Safe
			call = func(args ...any) (any, error) {
				out, _, err := safe(args...)
				return out, err
			}
		}
		scan := -1
		if o.scan {
			scan = 0
		}
		opts = append(opts, budgetFunction(o.name, call, o.pre, scan, o.size, f.Types, f.Validate))
	}
	for _, f := range Funcs {
		size := sizeShallow
		switch f.Name {
		case "json_decode":
			size = sizeDeep
		case "default":
			size = sizeNone
		}
		types := make([]reflect.Type, len(f.Types))
		for i, t := range f.Types {
			types[i] = reflect.TypeOf(t).Elem()
		}
		opts = append(opts, budgetFunction(f.Name, f.Fn, argsSize, -1, size, types, nil))
	}
	// Last: the functions above, and + in contains matches once opPatch has made them calls.
	return append(opts, expr.WithContext(ctxName))
}()

// stringifyPart formats a template's value for the text around it, failing for a list or a
// mapping too large to write.
func stringifyPart(v any) (string, error) {
	if err := checkSize(v, MaxTemplateBytes); err != nil {
		return "", err
	}
	return Stringify(v), nil
}
