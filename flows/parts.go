package flows

// Part is one piece of a text value: literal Text, or a Template (a Value of one whole
// expression, evaluated like any other Value).
type Part struct {
	Text     string
	Template *Value
}

// Parts returns the pieces of a value that is one template or text with templates, in order;
// nil for a constant, a mapping or a list. A block that must see what each template gave (a
// URL's empty path segment) evaluates the templates itself and joins the pieces.
func (v *Value) Parts() []Part {
	switch {
	case v == nil:
		return nil
	case v.kind == kindExpr:
		return []Part{{Template: v}}
	case v.kind != kindInterp:
		return nil
	}
	out := make([]Part, len(v.parts))
	for i, p := range v.parts {
		if p.prog == nil && p.src == "" {
			out[i] = Part{Text: p.text}
			continue
		}
		out[i] = Part{Template: &Value{Pos: p.pos, kind: kindExpr, prog: p.prog, src: p.src, at: p.at}}
	}
	return out
}
