package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// A Spec declares a block's body as data, as Benthos's ConfigSpec does for its plugins: the
// compiler checks a body against it before the block's Compile runs (unknown and repeated keys,
// missing required keys, values of the wrong kind, all at their file:line:col), and the JSON
// Schema of app.yaml and the block reference are generated from it, so a field cannot be
// documented differently from how it is checked. Adding a field is one line in Fields.
type Spec struct {
	// Fields are the keys of a mapping body, in the order the docs list them.
	Fields []Field
	// Short, when set, is the field a body that is not a mapping stands for when it has Short's
	// type (fail: "message" is fail: {message: "message"}).
	Short string
	// Map, when set, makes the body a free mapping of names (letters, digits, underscores) to
	// values of this type (set: {name: value}); Fields is then empty.
	Map *Type
	// Groups are rules over several fields (path or url, one body at most).
	Groups []Group
	// Doc says what the body is beyond its fields: the short form, the map's keys.
	Doc string
	// Examples are steps that use the block, as YAML (a list of steps). A test compiles each in
	// an app with a base_url and a flow get_task taking the input task, and the reference shows them.
	Examples []string
}

// A Group is a rule over fields of a mapping: with Exclusive at most one of Keys may be written,
// with Need at least one must be.
type Group struct {
	Keys      []string
	Exclusive bool
	Need      bool
	Why       string // ends the message when two exclusive keys are written ("a request has one body")
	Missing   string // a YAML example shown when none of a needed group is written
}

// A Field is one key of a block's body.
type Field struct {
	Name     string
	Type     Type
	Required bool
	Default  string // as the docs show it; the block applies it
	Doc      string // one or more sentences for the docs and the editor's hover
	// Missing is a YAML example shown when a required field is missing ("message: \"...\"").
	Missing string
	// Hint ends a message about a value of the wrong kind ("for a JSON body use json:").
	Hint string
	// Const makes the field refuse templates: it must be known at load (a loop's item name).
	Const bool
}

// TypeKind is the kind of value a field takes.
type TypeKind uint8

// The kinds of field values. Every kind but Steps and Object also takes a template ("{{ … }}")
// unless the field is Const; the value the template gives is checked when the step runs.
const (
	KindString   TypeKind = iota + 1 // a scalar: text, which may hold templates
	KindTemplate                     // any value: templates at any depth
	KindInt                          // an integer, between Min and Max when they are set
	KindDuration                     // a duration such as 30s (Go's syntax) or seconds
	KindBool                         // true or false
	KindEnum                         // one of Values
	KindMapping                      // a mapping of keys to values (templates at any depth)
	KindList                         // a list of Item
	KindSteps                        // nested steps, compiled with Compiler.CompileSteps
	KindObject                       // a mapping with the keys Fields (a switch's case)
	KindOneOf                        // any of Of (a short form: one string or a list of them)
)

// A Type is the type of a field's value. Make one with String, Template, Int, IntRange,
// Duration, Bool, Enum, EnumFold, Mapping, List, Steps, Object or OneOf.
type Type struct {
	Kind     TypeKind
	Values   []string // KindEnum
	Fold     bool     // KindEnum: case does not matter
	Min, Max *int     // KindInt
	Item     *Type    // KindList
	Name     string   // KindObject: how messages name it ("switch case")
	Fields   []Field  // KindObject
	Groups   []Group  // KindObject
	Of       []Type   // KindOneOf
}

// The field types.
var (
	String   = Type{Kind: KindString}
	Template = Type{Kind: KindTemplate}
	Int      = Type{Kind: KindInt}
	Duration = Type{Kind: KindDuration}
	Bool     = Type{Kind: KindBool}
	Mapping  = Type{Kind: KindMapping}
	Steps    = Type{Kind: KindSteps}
)

// IntRange is an integer from lo to hi.
func IntRange(lo, hi int) Type { return Type{Kind: KindInt, Min: &lo, Max: &hi} }

// Enum is one of values, exactly.
func Enum(values ...string) Type { return Type{Kind: KindEnum, Values: values} }

// EnumFold is one of values in any case (get is GET).
func EnumFold(values ...string) Type { return Type{Kind: KindEnum, Values: values, Fold: true} }

// List is a list of item.
func List(item Type) Type { return Type{Kind: KindList, Item: &item} }

// Object is a mapping with the keys fields; messages call it name.
func Object(name string, fields ...Field) Type {
	return Type{Kind: KindObject, Name: name, Fields: fields}
}

// With returns the object type t with the rules groups.
func (t Type) With(groups ...Group) Type {
	t.Groups = groups
	return t
}

// OneOf is a value of any of types, tried in order.
func OneOf(types ...Type) Type { return Type{Kind: KindOneOf, Of: types} }

// field returns the field called name, or nil.
func (s *Spec) field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

func fieldNames(fields []Field) []string {
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = f.Name
	}
	return out
}

// enumHas reports whether an enum type allows s.
func (t Type) enumHas(s string) bool {
	if t.Fold {
		return slices.ContainsFunc(t.Values, func(v string) bool { return strings.EqualFold(v, s) })
	}
	return slices.Contains(t.Values, s)
}

// check reports a spec that cannot work: no fields, a field twice or without a type, a short
// form that is not a field.
func (s *Spec) check() error {
	if len(s.Fields) == 0 && s.Map == nil {
		return errors.New("spec: no fields and no map")
	}
	if len(s.Fields) > 0 && s.Map != nil {
		return errors.New("spec: fields and map both set")
	}
	if s.Short != "" && s.field(s.Short) == nil {
		return fmt.Errorf("spec: short form %q is not a field", s.Short)
	}
	return checkFields(s.Fields, s.Groups)
}

func checkFields(fields []Field, groups []Group) error {
	for _, g := range groups {
		if len(g.Keys) < 2 || (!g.Exclusive && !g.Need) {
			return fmt.Errorf("spec: group %v needs two keys and a rule", g.Keys)
		}
		for _, k := range g.Keys {
			if !slices.ContainsFunc(fields, func(f Field) bool { return f.Name == k }) {
				return fmt.Errorf("spec: group key %q is not a field", k)
			}
		}
	}
	seen := map[string]bool{}
	for _, f := range fields {
		if f.Name == "" || seen[f.Name] {
			return fmt.Errorf("spec: field %q is empty or repeated", f.Name)
		}
		seen[f.Name] = true
		if f.Type.Kind == 0 || f.Doc == "" {
			return fmt.Errorf("spec: field %q needs a type and a doc", f.Name)
		}
		if f.Type.Kind == KindObject {
			if err := checkFields(f.Type.Fields, f.Type.Groups); err != nil {
				return err
			}
		}
		if f.Type.Kind == KindList && f.Type.Item.Kind == KindObject {
			if err := checkFields(f.Type.Item.Fields, f.Type.Item.Groups); err != nil {
				return err
			}
		}
	}
	return nil
}
