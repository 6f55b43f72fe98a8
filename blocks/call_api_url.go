package blocks

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// urlTemplate is a URL, a path or the app's base_url, compiled so that its evaluation sees what
// each template gives: a template that gives null or "" in the host or the path fails the step
// (it would build another URL without a word: /v3/company/{{ realm }}/query asking for
// /v3/company//query), unless it is written optional(...), when the segment is left out with
// its slash.
type urlTemplate struct {
	what  string // url, path or base_url: the field, for errors
	v     *flows.Value
	parts []urlPart // nil: v has no template
}

type urlPart struct {
	text     string
	tmpl     *flows.Value // nil: text
	optional bool         // the template is optional(...)
}

// optionalFunc is the helper that marks a URL's part that may be empty.
const optionalFunc = "optional"

func newURLTemplate(what string, v *flows.Value) *urlTemplate {
	u := &urlTemplate{what: what, v: v}
	for _, p := range v.Parts() {
		up := urlPart{text: p.Text, tmpl: p.Template}
		if p.Template != nil {
			up.optional = isOptionalCall(p.Template.Source())
		}
		u.parts = append(u.parts, up)
	}
	return u
}

// isOptionalCall reports whether the expression src is one call of optional.
func isOptionalCall(src string) bool {
	tree, err := parser.Parse(src)
	if err != nil {
		return false
	}
	call, ok := tree.Node.(*ast.CallNode)
	if !ok {
		return false
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	return ok && id.Value == optionalFunc
}

// eval evaluates the URL, checking each template that stands in its host or path.
func (u *urlTemplate) eval(st *engine.State) (string, error) {
	if u.parts == nil {
		return st.EvalString(u.v)
	}
	var b strings.Builder
	inQuery := false // past the path: a ? or a # was written
	dropDot := false // an optional host label was left out: so is the dot after it
	for i, p := range u.parts {
		if p.tmpl == nil {
			text := p.text
			if dropDot {
				text, dropDot = strings.TrimPrefix(text, "."), false
			}
			b.WriteString(text)
			inQuery = inQuery || strings.ContainsAny(p.text, "?#")
			continue
		}
		x, err := st.Eval(p.tmpl)
		if err != nil {
			if u.what == "base_url" { // path and url name their own templates, as before
				err = fmt.Errorf("base_url: %w", err)
			}
			return "", err
		}
		s := flows.Stringify(x)
		if s == "" && !inQuery {
			if !p.optional {
				what := "empty"
				if x == nil {
					what = "null"
				}
				return "", &flows.Error{Pos: p.tmpl.Pos, Msg: fmt.Sprintf("%s: template {{ %s }} is %s in the URL's %s (write optional(...) around it when it may be left out)",
					u.what, p.tmpl.Source(), what, u.section(b.String()))}
			}
			// An optional segment left out takes its slash with it: /a/{{ optional(x) }}/b is /a/b;
			// an optional host label its dot: {{ optional(x) }}.example.com is example.com.
			cur := b.String()
			switch {
			case u.section(cur) == "host":
				dropDot = (strings.HasSuffix(cur, "://") || strings.HasSuffix(cur, ".")) && u.startsWith(i+1, '.')
			case strings.HasSuffix(cur, "/") && !strings.HasSuffix(cur, "//") && u.segmentEnds(i+1):
				b.Reset()
				b.WriteString(cur[:len(cur)-1])
			}
			continue
		}
		if b.Len()+len(s) > flows.MaxTemplateBytes {
			return "", &flows.Error{Pos: p.tmpl.Pos, Msg: fmt.Sprintf("%s: template {{ %s }}: the URL is longer than %d MiB", u.what, p.tmpl.Source(), flows.MaxTemplateBytes>>20)}
		}
		b.WriteString(s)
		inQuery = inQuery || strings.ContainsAny(s, "?#")
	}
	return b.String(), nil
}

// segmentEnds reports whether the path segment ends before part i: there is no part i, or it is
// text that starts with /, ? or #.
func (u *urlTemplate) segmentEnds(i int) bool {
	return i >= len(u.parts) || u.startsWith(i, '/') || u.startsWith(i, '?') || u.startsWith(i, '#')
}

// startsWith reports whether part i is text that starts with c.
func (u *urlTemplate) startsWith(i int, c byte) bool {
	return i < len(u.parts) && u.parts[i].tmpl == nil && strings.HasPrefix(u.parts[i].text, string(c))
}

// section names the part of the URL that follows sofar: its host or its path.
func (u *urlTemplate) section(sofar string) string {
	if u.what == "path" {
		return "path"
	}
	i := strings.Index(sofar, "://")
	if i < 0 || !strings.Contains(sofar[i+3:], "/") {
		return "host"
	}
	return "path"
}
