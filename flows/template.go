package flows

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// The names every flow template may use. Blocks add their own (a loop's item) with Scope.With.
var (
	FlowNames       = []string{"input", "steps", "vars", "connection", "app", "vault"}
	ConnectionNames = []string{"input", "connection", "app", "vault"}
)

// MaxTemplateNodes bounds the size of one expression (expr.MaxNodes).
const MaxTemplateNodes = 2000

// StepRef is a reference steps.<ID> found in a template where no step of that id has run yet.
// The flow compiler resolves it once it knows every step: "runs later" or "unknown step".
type StepRef struct {
	ID  string
	Pos Pos
}

// Scope is where templates are compiled: the file (for positions), the names they may use,
// the steps and inputs they may refer to. Errors go to Errs; the zero Scope is not usable.
type Scope struct {
	File string
	Src  []byte // the file's bytes, for positions inside block scalars; may be nil
	Errs *ErrorList

	names  []string
	Steps  map[string]bool // step ids that have run where the template is; nil: not checked
	Inputs map[string]bool // the flow's inputs; nil: not checked
	Refs   *[]StepRef      // references to steps not (yet) in Steps

	lines   []int                 // line offsets of Src, for positions
	aliases map[*yaml.Node]*Value // anchors compiled in this scope: each is compiled once
}

// NewScope returns a scope allowing names.
func NewScope(file string, src []byte, errs *ErrorList, names ...string) *Scope {
	return &Scope{File: file, Src: src, Errs: errs, names: append([]string(nil), names...), Refs: new([]StepRef), lines: cachedLineStarts(src)}
}

// With returns a scope that also allows names (sharing Steps, Inputs and Refs).
func (s *Scope) With(names ...string) *Scope {
	c := *s
	c.names = append(append([]string(nil), s.names...), names...)
	c.aliases = nil // an anchor compiles differently with more names
	return &c
}

// Names returns the names the scope allows.
func (s *Scope) Names() []string { return append([]string(nil), s.names...) }

// Has reports whether name is allowed in the scope.
func (s *Scope) Has(name string) bool {
	for _, n := range s.names {
		if n == name {
			return true
		}
	}
	return false
}

var envCache sync.Map // sorted names joined by "," -> *conf.Config

// config returns the expr configuration of the scope's names, built once for those names:
// building it (expr's builtins, the helpers, the environment) cost as much as compiling a
// template, and expr.Compile builds it anew for every template.
func (s *Scope) config() *conf.Config {
	names := append([]string(nil), s.names...)
	sort.Strings(names)
	key := strings.Join(names, ",")
	if c, ok := envCache.Load(key); ok {
		return c.(*conf.Config)
	}
	env := types.Map{ctxName: types.Any}
	for _, n := range names {
		env[n] = types.Any
	}
	opts := append([]expr.Option{expr.Env(env), expr.MaxNodes(MaxTemplateNodes), expr.Patch(envPatch{names})}, vaultOptions...)
	opts = append(opts, budgetOptions...)
	built := conf.CreateNew()
	for _, op := range opts {
		op(built)
	}
	for name := range built.Disabled {
		delete(built.Builtins, name)
	}
	built.Disabled = nil
	built.Check()
	c, _ := envCache.LoadOrStore(key, built)
	return c.(*conf.Config)
}

// compileWith is expr.Compile with a configuration built beforehand: its steps, on a copy of
// built. The checker and the compiler only read the configuration's tables, environment and
// patchers, which compilations share; the caches they fill are each one's own.
func compileWith(src string, built *conf.Config) (*vm.Program, error) {
	config := *built
	config.NtCache = nature.Cache{}
	if built.Env.TypeData != nil {
		// The environment's type caches what the checker and the compiler look up about it
		// (its methods) as they go: each compilation fills its own copy.
		td := *built.Env.TypeData
		config.Env.TypeData = &td
	}
	tree, err := checker.ParseCheck(src, &config)
	if err != nil {
		return nil, err
	}
	if config.Optimize {
		if err := optimizer.Optimize(&tree.Node, &config); err != nil {
			var fe *file.Error
			if errors.As(err, &fe) {
				return nil, fe.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, &config)
}

type valueKind uint8

const (
	kindLit    valueKind = iota // a constant
	kindExpr                    // one whole template: keeps the expression's type
	kindInterp                  // text with templates: a string
	kindMap
	kindList
)

// Value is a compiled YAML value whose strings may hold {{ templates }}. It is immutable and
// safe for concurrent use; Evaluator.Eval returns constants as shared values that callers must
// not modify.
type Value struct {
	Pos   Pos
	kind  valueKind
	lit   any
	prog  *vm.Program
	src   string
	at    *origin
	parts []part
	keys  []string
	vals  []*Value
}

type part struct {
	text string
	prog *vm.Program
	src  string
	pos  Pos
	at   *origin
}

// Const returns a Value that always evaluates to v.
func Const(v any) *Value { return &Value{kind: kindLit, lit: v} }

// IsConst reports whether the value holds no template; Evaluator.Eval then returns ConstValue.
func (v *Value) IsConst() bool { return v == nil || v.kind == kindLit }

// ConstValue returns the constant of a value without templates.
func (v *Value) ConstValue() any {
	if v == nil {
		return nil
	}
	return v.lit
}

// Source returns the expression text of a whole template ("" otherwise).
func (v *Value) Source() string {
	if v == nil || v.kind != kindExpr {
		return ""
	}
	return v.src
}

// Compile compiles a YAML value into a Value, reporting problems into s.Errs. It returns nil for a
// nil node. An alias or a document node is reported.
func (s *Scope) Compile(n *yaml.Node) *Value {
	if n == nil {
		return nil
	}
	v := s.compile(n)
	if v.kind == kindMap || v.kind == kindList {
		v.fold()
	}
	return v
}

func (s *Scope) compile(n *yaml.Node) *Value {
	pos := NodePos(s.File, n)
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" || !strings.Contains(n.Value, "{{") {
			return &Value{Pos: pos, kind: kindLit, lit: ScalarValue(n)}
		}
		return s.compileString(n, pos)
	case yaml.MappingNode:
		if isUnquotedTemplate(n) {
			s.Errs.Add(pos, unquotedTemplateHint)
			return &Value{Pos: pos}
		}
		v := &Value{Pos: pos, kind: kindMap}
		for _, f := range Pairs(s.File, n, s.Errs, "mapping") {
			if f.Key.Kind != yaml.ScalarNode {
				s.Errs.Addf(NodePos(s.File, f.Key), "keys must be strings, found %s", Describe(f.Key))
				continue
			}
			v.keys = append(v.keys, f.Key.Value)
			v.vals = append(v.vals, s.Compile(f.Value))
		}
		return v
	case yaml.SequenceNode:
		v := &Value{Pos: pos, kind: kindList}
		for _, c := range n.Content {
			v.vals = append(v.vals, s.Compile(c))
		}
		return v
	case yaml.AliasNode:
		if n.Alias != nil {
			// Aliases of aliases would expand exponentially (a billion laughs): compile each
			// anchor once and share its immutable Value.
			if v, ok := s.aliases[n.Alias]; ok {
				return v
			}
			v := s.Compile(n.Alias)
			if s.aliases == nil {
				s.aliases = map[*yaml.Node]*Value{}
			}
			s.aliases[n.Alias] = v
			return v
		}
	}
	s.Errs.Addf(pos, "unexpected %s", Describe(n))
	return &Value{Pos: pos}
}

// fold turns a mapping or list whose members are all constant into a constant.
func (v *Value) fold() {
	for _, c := range v.vals {
		if c != nil && c.kind != kindLit {
			return
		}
	}
	if v.kind == kindMap {
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			m[k] = v.vals[i].ConstValue()
		}
		v.lit = m
	} else {
		l := make([]any, len(v.vals))
		for i, c := range v.vals {
			l[i] = c.ConstValue()
		}
		v.lit = l
	}
	v.kind, v.keys, v.vals = kindLit, nil, nil
}

// ScalarValue converts a YAML scalar to a Go value by its tag: int, float64, bool, nil or string.
func ScalarValue(n *yaml.Node) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		return b
	case "!!int":
		if i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64); err == nil {
			return int(i)
		}
	case "!!float":
		switch strings.ToLower(n.Value) {
		case ".inf", "+.inf":
			return math.Inf(1)
		case "-.inf":
			return math.Inf(-1)
		case ".nan":
			return math.NaN()
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return f
		}
	}
	return n.Value
}

// compileString splits s into text and {{ expressions }}.
func (s *Scope) compileString(n *yaml.Node, pos Pos) *Value {
	text := n.Value
	var parts []part
	w := newScalarWalker(s.Src, s.lines, n) // one pass over the scalar for all its templates
	i := 0
	for {
		open := strings.Index(text[i:], "{{")
		if open < 0 {
			break
		}
		open += i
		end := closing(text, open+2)
		if end < 0 {
			s.Errs.Addf(s.offsetPos(n, open, w), "template opened with {{ is not closed with }}")
			return &Value{Pos: pos, kind: kindLit, lit: text}
		}
		if open > i {
			parts = append(parts, part{text: text[i:open]})
		}
		src := text[open+2 : end]
		at := &origin{file: s.File, src: s.Src, lines: s.lines, node: n, off: open + 2}
		ppos := at.pos(0, w)
		prog := s.compileExpr(src, at, w)
		parts = append(parts, part{prog: prog, src: strings.TrimSpace(src), pos: ppos, at: at})
		i = end + 2
	}
	if i < len(text) {
		parts = append(parts, part{text: text[i:]})
	}
	if len(parts) == 1 && parts[0].prog != nil {
		return &Value{Pos: parts[0].pos, kind: kindExpr, prog: parts[0].prog, src: parts[0].src, at: parts[0].at}
	}
	return &Value{Pos: pos, kind: kindInterp, parts: parts}
}

// closing finds the "}}" that ends a template starting at i, skipping quoted strings.
func closing(s string, i int) int {
	var quote byte
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			return i
		}
	}
	return -1
}

// offsetPos maps a byte offset in the scalar's value to a file position (see scalarWalker).
func (s *Scope) offsetPos(n *yaml.Node, off int, w *scalarWalker) Pos {
	return (&origin{file: s.File, src: s.Src, lines: s.lines, node: n}).valuePos(off, w)
}

// compileExpr compiles one expression found at at (the first character after "{{"); w walks
// its scalar.
func (s *Scope) compileExpr(src string, at *origin, w *scalarWalker) *vm.Program {
	if strings.TrimSpace(src) == "" {
		s.Errs.Addf(at.pos(0, w), "empty template {{ }}")
		return nil
	}
	prog, err := compileWith(src, s.config())
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			s.Errs.Add(at.pos(fe.From, w), "template: "+fe.Message)
		} else {
			s.Errs.Add(at.pos(0, w), "template: "+err.Error())
		}
		return nil
	}
	s.checkRefs(prog, at, w)
	return prog
}

type refVisitor struct {
	s  *Scope
	at *origin
	w  *scalarWalker
}

func (r refVisitor) Visit(node *ast.Node) {
	m, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return
	}
	pos := r.at.pos(m.Property.Location().From, r.w)
	switch id.Value {
	case "steps":
		if r.s.Steps != nil && !r.s.Steps[prop.Value] {
			*r.s.Refs = append(*r.s.Refs, StepRef{ID: prop.Value, Pos: pos})
		}
	case "input":
		if r.s.Inputs != nil && !r.s.Inputs[prop.Value] {
			keys := make([]string, 0, len(r.s.Inputs))
			for k := range r.s.Inputs {
				keys = append(keys, k)
			}
			r.s.Errs.Addf(pos, "unknown input %q%s", prop.Value, Suggest(prop.Value, keys))
		}
	}
}

func (s *Scope) checkRefs(prog *vm.Program, at *origin, w *scalarWalker) {
	if s.Steps == nil && s.Inputs == nil {
		return
	}
	node := prog.Node()
	ast.Walk(&node, refVisitor{s: s, at: at, w: w})
}

// Refs calls fn for each reference name.a.b… in v's templates whose members are constants
// (name.a, name["a"]), once for each prefix of the chain (name.a, then name.a.b …), with the
// position of the prefix's last member; its callers check what a name holds (an automation's
// actions.<id>.output).
func (v *Value) Refs(name string, fn func(path []string, pos Pos)) {
	if v == nil {
		return
	}
	walk := func(prog *vm.Program, at *origin) {
		if prog == nil || at == nil {
			return
		}
		node := prog.Node()
		ast.Walk(&node, memberVisitor{name: name, fn: func(path []string, from int) { fn(path, at.pos(from, nil)) }})
	}
	walk(v.prog, v.at)
	for _, p := range v.parts {
		walk(p.prog, p.at)
	}
	for _, c := range v.vals {
		c.Refs(name, fn)
	}
}

// memberVisitor calls fn with the members of each name.a.b… chain it visits, and the offset of
// the last one.
type memberVisitor struct {
	name string
	fn   func(path []string, from int)
}

func (m memberVisitor) Visit(node *ast.Node) {
	mem, ok := (*node).(*ast.MemberNode)
	if !ok {
		return
	}
	var path []string
	for n := ast.Node(mem); ; {
		switch x := n.(type) {
		case *ast.MemberNode:
			prop, ok := x.Property.(*ast.StringNode)
			if !ok {
				return
			}
			path = append(path, prop.Value)
			n = x.Node
			continue
		case *ast.ChainNode:
			n = x.Node
			continue
		case *ast.IdentifierNode:
			if x.Value == m.name {
				slices.Reverse(path)
				m.fn(path, mem.Property.Location().From)
			}
		}
		return
	}
}

// shortSource is a template's source for an error message: on one line, at most 80 bytes.
func shortSource(src string) string { return truncate(strings.Join(strings.Fields(src), " "), 80) }

// Stringify formats a value for text: strings as they are, nil as "", whole floats without a
// fraction, times in RFC 3339, lists and mappings as JSON.
func Stringify(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case time.Time:
		return x.Format(time.RFC3339)
	case time.Duration:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
