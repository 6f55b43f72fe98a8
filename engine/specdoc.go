package engine

import (
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// Docs returns the docs of the registered block types, sorted by kind: the JSON Schema of each
// body and the reference's rows, made from the specs the compiler checks bodies against
// (flows.Schema and flows.Reference take them).
func (r *Registry) Docs() []flows.BlockDoc {
	types := r.Types()
	out := make([]flows.BlockDoc, len(types))
	for i, t := range types {
		out[i] = t.Doc()
	}
	return out
}

// Doc returns the block type's docs, made from its spec.
func (t BlockType) Doc() flows.BlockDoc {
	s := &t.Spec
	d := flows.BlockDoc{Kind: t.Kind, Summary: t.Summary, Body: s.schema(), Doc: s.Doc, Examples: s.Examples}
	if ex := exampleBodies(t.Kind, s.Examples); len(ex) > 0 {
		d.Body["examples"] = ex // editors offer them as completions
	}
	if s.Short != "" {
		f := s.field(s.Short)
		what := f.Type.phrase()
		if what == "a value" {
			what = "any value but a mapping"
		}
		d.Doc = strings.TrimSpace(fmt.Sprintf("Short form: `%s: X`, X %s, is `%s: {%s: X}`. %s", t.Kind, what, t.Kind, f.Name, d.Doc))
	}
	d.Fields = fieldDocs("", s.Fields)
	if g := groupDocs(s.Groups); g != "" {
		d.Doc = strings.TrimSpace(d.Doc + " " + g)
	}
	return d
}

func fieldDocs(prefix string, fields []Field) []flows.FieldDoc {
	var out []flows.FieldDoc
	for _, f := range fields {
		typ := f.Type.docName()
		if f.Const {
			typ += ", no template"
		}
		doc := f.Doc
		if f.Type.Kind == KindObject && len(f.Type.Groups) > 0 {
			doc += " " + groupDocs(f.Type.Groups)
		}
		if f.Type.Kind == KindList && len(f.Type.Item.Groups) > 0 {
			doc += " " + groupDocs(f.Type.Item.Groups)
		}
		out = append(out, flows.FieldDoc{Key: prefix + f.Name, Type: typ, Required: f.Required, Default: f.Default, Doc: doc})
		switch {
		case f.Type.Kind == KindObject:
			out = append(out, fieldDocs(prefix+f.Name+".", f.Type.Fields)...)
		case f.Type.Kind == KindList && f.Type.Item.Kind == KindObject:
			out = append(out, fieldDocs(prefix+f.Name+"[].", f.Type.Item.Fields)...)
		}
	}
	return out
}

// exampleBodies returns the bodies of the block kind in examples (lists of steps), as JSON
// values; an example that is not such a list is left out (TestBlockExamples reports it).
func exampleBodies(kind string, examples []string) []any {
	var out []any
	for _, ex := range examples {
		var steps []map[string]any
		if err := yaml.Unmarshal([]byte(ex), &steps); err != nil {
			continue
		}
		for _, st := range steps {
			if body, ok := st[kind]; ok {
				out = append(out, body)
			}
		}
	}
	return out
}

// docName names a type in the reference, in markdown.
func (t Type) docName() string {
	switch t.Kind {
	case KindString:
		return "string"
	case KindTemplate:
		return "any value"
	case KindInt:
		if t.Min != nil && t.Max != nil {
			return fmt.Sprintf("integer, %d to %d", *t.Min, *t.Max)
		}
		if t.Min != nil || t.Max != nil {
			return "integer, " + intRange(t)
		}
		return "integer"
	case KindDuration:
		return "duration"
	case KindBool:
		return "`true` or `false`"
	case KindEnum:
		vals := make([]string, len(t.Values))
		for i, v := range t.Values {
			vals[i] = "`" + v + "`"
		}
		s := strings.Join(vals, ", ")
		if t.Fold {
			s += " (any case)"
		}
		return s
	case KindMapping:
		return "mapping"
	case KindList:
		switch t.Item.Kind {
		case KindString:
			return "list of strings"
		case KindObject:
			return "list of mappings (keys below)"
		}
		return "list of " + t.Item.docName()
	case KindSteps:
		return "list of [steps](#steps)"
	case KindObject:
		return "mapping (keys below)"
	case KindOneOf:
		names := make([]string, len(t.Of))
		for i, o := range t.Of {
			names[i] = o.docName()
		}
		return strings.Join(names, " or ")
	}
	return "any value"
}

// templateSchema is a string that holds a template, which any field but a constant one takes.
var templateSchema = map[string]any{"type": "string", "pattern": `\{\{`}

// schema returns the JSON Schema of a body of the spec.
func (s *Spec) schema() map[string]any {
	if s.Map != nil {
		return map[string]any{
			"type":                 "object",
			"propertyNames":        map[string]any{"pattern": `^[A-Za-z_][A-Za-z0-9_]*$`},
			"additionalProperties": s.Map.schema(false),
		}
	}
	obj := objectSchema(s.Fields, s.Groups)
	if s.Short == "" {
		return obj
	}
	f := s.field(s.Short)
	short := map[string]any{"not": map[string]any{"type": "object"}}
	if sch := f.Type.schema(f.Const); len(sch) > 0 {
		short = map[string]any{"allOf": []any{sch, short}}
	}
	return map[string]any{"anyOf": []any{short, obj}}
}

func objectSchema(fields []Field, groups []Group) map[string]any {
	props := map[string]any{}
	var required []any
	for _, f := range fields {
		p := f.Type.schema(f.Const)
		if _, ok := p["$ref"]; ok { // draft-07 tools ignore the siblings of $ref, the description among them
			p = map[string]any{"allOf": []any{p}}
		} else {
			p = copyMap(p)
		}
		desc := f.Doc
		if f.Default != "" {
			desc += fmt.Sprintf(" Default: %s.", f.Default)
		}
		p["description"] = desc
		props[f.Name] = p
		if f.Required {
			required = append(required, f.Name)
		}
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	var rules []any
	for _, g := range groups {
		if g.Exclusive {
			for i, a := range g.Keys {
				for _, b := range g.Keys[i+1:] {
					rules = append(rules, map[string]any{"not": map[string]any{"required": []any{a, b}}})
				}
			}
		}
		if g.Need {
			var alts []any
			for _, k := range g.Keys {
				alts = append(alts, map[string]any{"required": []any{k}})
			}
			rules = append(rules, map[string]any{"anyOf": alts})
		}
	}
	if len(rules) > 0 {
		o["allOf"] = rules
	}
	return o
}

// groupDocs says the rules of groups in the reference's words.
func groupDocs(groups []Group) string {
	var out []string
	for _, g := range groups {
		keys := make([]string, len(g.Keys))
		for i, k := range g.Keys {
			keys[i] = "`" + k + "`"
		}
		list := strings.Join(keys, ", ")
		var s string
		switch {
		case g.Exclusive && g.Need:
			s = "Exactly one of " + list
		case g.Exclusive:
			s = "At most one of " + list
		default:
			s = "At least one of " + list
		}
		if g.Why != "" {
			s += ": " + g.Why
		}
		out = append(out, s+".")
	}
	return strings.Join(out, " ")
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// schema returns the JSON Schema of a value of the type; isConst: no template.
func (t Type) schema(isConst bool) map[string]any {
	var s map[string]any
	switch t.Kind {
	case KindTemplate:
		return map[string]any{}
	case KindString:
		s := map[string]any{"type": []any{"string", "number", "boolean"}}
		if isConst {
			s["not"] = templateSchema
		}
		return s
	case KindSteps:
		return map[string]any{"$ref": "#/$defs/steps"}
	case KindObject:
		return objectSchema(t.Fields, t.Groups)
	case KindOneOf:
		alts := make([]any, len(t.Of))
		for i, o := range t.Of {
			alts[i] = o.schema(isConst)
		}
		return map[string]any{"anyOf": alts}
	case KindInt:
		s = map[string]any{"type": "integer"}
		if t.Min != nil {
			s["minimum"] = *t.Min
		}
		if t.Max != nil {
			s["maximum"] = *t.Max
		}
	case KindDuration:
		s = map[string]any{"$ref": "#/$defs/duration"}
	case KindBool:
		s = map[string]any{"type": "boolean"}
	case KindEnum:
		var vals []any
		for _, v := range t.Values {
			vals = append(vals, v)
		}
		if t.Fold { // the other case too, for completion; mixed case is left to the checker
			for _, v := range t.Values {
				other := strings.ToLower(v)
				if other == v {
					other = strings.ToUpper(v)
				}
				if other != v {
					vals = append(vals, other)
				}
			}
		}
		s = map[string]any{"enum": vals}
	case KindMapping:
		s = map[string]any{"type": "object"}
	case KindList:
		s = map[string]any{"type": "array", "items": t.Item.schema(isConst)}
	}
	if isConst {
		return s
	}
	return map[string]any{"anyOf": []any{s, templateSchema}}
}
