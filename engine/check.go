package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// Body is a block's body checked against its Spec, what the block's Compile reads its fields
// from. A field whose value had the wrong kind was reported and is absent from Value and Field,
// but Has still reports it, so a block does not report it missing too.
type Body struct {
	// Node is the body as written.
	Node *yaml.Node
	// Short reports that the body is the spec's short form: Value(spec.Short) is Node.
	Short bool

	fields  map[string]flows.Field
	written map[string]*yaml.Node // every known key written, by key node
	items   map[string][]*Body    // the checked items of a list of objects
	objects map[string]*Body      // the checked bodies of objects
	pairs   []flows.Field         // a Map body's pairs, in order
}

// Value returns the value of field name, or nil when it is absent or was reported.
func (b *Body) Value(name string) *yaml.Node { return b.fields[name].Value }

// Field returns field name's key and value and whether it is there with a value of its kind.
func (b *Body) Field(name string) (flows.Field, bool) {
	f, ok := b.fields[name]
	return f, ok
}

// Has reports whether field name is written, whatever its value.
func (b *Body) Has(name string) bool { return b.written[name] != nil }

// Key returns the key node of field name, or nil when it is not written.
func (b *Body) Key(name string) *yaml.Node { return b.written[name] }

// Items returns the checked items of field name, a list of Object: one Body each, in order.
func (b *Body) Items(name string) []*Body { return b.items[name] }

// Object returns the checked body of field name, an Object, or nil when it is absent or is not
// a mapping.
func (b *Body) Object(name string) *Body { return b.objects[name] }

// Pairs returns the pairs of a Map body in document order, each value of the spec's Map type.
func (b *Body) Pairs() []flows.Field { return b.pairs }

func newBody(n *yaml.Node) *Body {
	return &Body{Node: n, fields: map[string]flows.Field{}, written: map[string]*yaml.Node{}, items: map[string][]*Body{}, objects: map[string]*Body{}}
}

// checkBody checks a block's body against its spec and reports every problem. It returns false
// when the body's shape is wrong (not a mapping, no short form): there is nothing to compile.
func (c *Compiler) checkBody(kind string, spec *Spec, n *yaml.Node) (*Body, bool) {
	if spec.Short != "" && n != nil && n.Kind != yaml.MappingNode {
		if f := spec.field(spec.Short); f != nil && c.fits(f.Type, f.Const, n) {
			b := newBody(n)
			b.Short = true
			b.fields[f.Name] = flows.Field{Key: n, Value: n}
			b.written[f.Name] = n
			return b, true
		}
	}
	if spec.Map != nil {
		b := newBody(n)
		pairs := flows.Pairs(c.file, n, c.errs, kind)
		if n == nil || n.Kind != yaml.MappingNode {
			return b, false
		}
		for _, p := range pairs {
			if c.checkValue(b, p.Key.Value, kind+": "+p.Key.Value, *spec.Map, false, p.Value) {
				b.pairs = append(b.pairs, p)
			}
		}
		return b, true
	}
	if n == nil || n.Kind != yaml.MappingNode {
		c.errs.Addf(c.Pos(n), "%s must be a mapping, found %s", kind, describe(n))
		return newBody(n), false
	}
	return c.checkObject(kind, spec.Fields, spec.Groups, n), true
}

func describe(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	return flows.Describe(n)
}

// checkObject checks a mapping against fields; what names it in messages ("call_api").
func (c *Compiler) checkObject(what string, fields []Field, groups []Group, n *yaml.Node) *Body {
	b := newBody(n)
	got := flows.Fields(c.file, n, c.errs, what, fieldNames(fields)...)
	for _, f := range fields {
		fl, ok := got[f.Name]
		if !ok {
			if f.Required && n != nil && n.Kind == yaml.MappingNode {
				c.errs.Addf(c.Pos(n), "%s: %s is missing%s", what, f.Name, missingHint(f))
			}
			continue
		}
		b.written[f.Name] = fl.Key
		before := len(*c.errs)
		if c.checkValue(b, f.Name, what+": "+f.Name, f.Type, f.Const, fl.Value) {
			b.fields[f.Name] = fl
		}
		if f.Hint != "" {
			for _, e := range (*c.errs)[before:] {
				e.Msg += " (" + f.Hint + ")"
			}
		}
	}
	if n != nil && n.Kind == yaml.MappingNode {
		for _, g := range groups {
			c.checkGroup(what, g, b)
		}
	}
	return b
}

// checkGroup reports two exclusive keys written, at the later one, and a needed group of which
// none is written, at the body.
func (c *Compiler) checkGroup(what string, g Group, b *Body) {
	var written []*yaml.Node
	for _, k := range g.Keys {
		if key := b.written[k]; key != nil {
			written = append(written, key)
		}
	}
	slices.SortFunc(written, func(x, y *yaml.Node) int {
		if x.Line != y.Line {
			return x.Line - y.Line
		}
		return x.Column - y.Column
	})
	switch {
	case g.Exclusive && len(written) > 1:
		why := g.Why
		if why == "" {
			why = "use one"
		}
		c.errs.Addf(c.Pos(written[1]), "%s: %s and %s are both set: %s", what, written[0].Value, written[1].Value, why)
	case g.Need && len(written) == 0:
		hint := ""
		if g.Missing != "" {
			hint = " (" + g.Missing + ")"
		}
		c.errs.Addf(c.Pos(b.Node), "%s: %s is missing%s", what, strings.Join(g.Keys, " or "), hint)
	}
}

func missingHint(f Field) string {
	if f.Missing == "" {
		return ""
	}
	return " (" + f.Missing + ")"
}

// isTemplate reports whether n is a string holding a template.
func isTemplate(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "{{")
}

func isScalar(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag != "!!null"
}

// fits reports, without reporting anything, whether n is a value of type t.
func (c *Compiler) fits(t Type, isConst bool, n *yaml.Node) bool {
	var sink flows.ErrorList
	tmp := *c
	tmp.errs = &sink
	tmp.checkValue(newBody(n), "", "", t, isConst, n)
	return len(sink) == 0
}

// checkValue checks n against t and reports what is wrong, naming it what ("call_api:
// method"). Lists of objects keep their items' bodies in b under name.
func (c *Compiler) checkValue(b *Body, name, what string, t Type, isConst bool, n *yaml.Node) bool {
	if !isConst && t.Kind != KindSteps && t.Kind != KindObject && isTemplate(n) {
		return true
	}
	bad := func(want string) bool {
		c.errs.Addf(c.Pos(n), "%s must be %s, found %s", what, want, describe(n))
		return false
	}
	switch t.Kind {
	case KindTemplate, KindSteps: // nested steps are checked as they are compiled
		return true
	case KindString:
		if !isScalar(n) {
			return bad("a string")
		}
	case KindDuration:
		if !isScalar(n) {
			return bad("a duration such as 30s or 5m")
		}
	case KindBool:
		if n == nil || n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			return bad("true or false")
		}
	case KindInt:
		before := len(*c.errs)
		i := flows.Int(c.file, n, c.errs, what)
		if len(*c.errs) > before {
			return false
		}
		if (t.Min != nil && i < *t.Min) || (t.Max != nil && i > *t.Max) {
			c.errs.Addf(c.Pos(n), "%s must be %s, found %d", what, intRange(t), i)
			return false
		}
	case KindEnum:
		if !isScalar(n) {
			return bad("one of " + strings.Join(t.Values, ", "))
		}
		if !t.enumHas(n.Value) {
			c.errs.Addf(c.Pos(n), "%s %q is not one of %s%s", what, n.Value, strings.Join(t.Values, ", "), flows.Suggest(n.Value, t.Values))
			return false
		}
	case KindMapping:
		if n == nil || n.Kind != yaml.MappingNode {
			return bad("a mapping")
		}
		flows.Pairs(c.file, n, c.errs, what)
	case KindList:
		if n == nil || n.Kind != yaml.SequenceNode {
			return bad("a list")
		}
		// A list is kept when some of its items are wrong (they are reported), so that the
		// block can still check the others.
		for _, item := range n.Content {
			if t.Item.Kind == KindObject {
				b.items[name] = append(b.items[name], c.checkObject(t.Item.Name, t.Item.Fields, t.Item.Groups, item))
				continue
			}
			c.checkValue(b, name, what+" item", *t.Item, isConst, item)
		}
	case KindObject:
		before := len(*c.errs)
		b.objects[name] = c.checkObject(what, t.Fields, t.Groups, n)
		return len(*c.errs) == before
	case KindOneOf:
		for _, alt := range t.Of {
			if c.fits(alt, isConst, n) {
				return c.checkValue(b, name, what, alt, isConst, n)
			}
		}
		for _, alt := range t.Of { // the one written as a list or a mapping says what is wrong inside
			if n != nil && (n.Kind == yaml.SequenceNode && alt.Kind == KindList || n.Kind == yaml.MappingNode && (alt.Kind == KindMapping || alt.Kind == KindObject)) {
				return c.checkValue(b, name, what, alt, isConst, n)
			}
		}
		want := make([]string, len(t.Of))
		for i, alt := range t.Of {
			want[i] = alt.phrase()
		}
		return bad(strings.Join(want, " or "))
	}
	return true
}

func intRange(t Type) string {
	switch {
	case t.Min != nil && t.Max != nil:
		return fmt.Sprintf("between %d and %d", *t.Min, *t.Max)
	case t.Min != nil:
		return fmt.Sprintf("at least %d", *t.Min)
	}
	return fmt.Sprintf("at most %d", *t.Max)
}

// phrase names a type in a message: "a string", "a list of strings".
func (t Type) phrase() string {
	switch t.Kind {
	case KindString:
		return "a string"
	case KindInt:
		return "an integer"
	case KindDuration:
		return "a duration"
	case KindBool:
		return "true or false"
	case KindEnum:
		return "one of " + strings.Join(t.Values, ", ")
	case KindMapping, KindObject:
		return "a mapping"
	case KindList:
		if t.Item.Kind == KindString {
			return "a list of strings"
		}
		return "a list"
	case KindSteps:
		return "a list of steps"
	}
	return "a value"
}
