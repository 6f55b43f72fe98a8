package blocks

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

type bodyKind uint8

const (
	noBody bodyKind = iota
	jsonBody
	formBody
	rawBody
)

var bodyKeys = map[string]bodyKind{"json": jsonBody, "form": formBody, "body": rawBody}

// statusRange is an accepted status or class of statuses, lo to hi inclusive.
type statusRange struct{ lo, hi int }

var accept2xx = []statusRange{{200, 299}}

func compileCallAPI(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &CallAPI{method: http.MethodGet, parse: parseAuto}
	file, errs := c.File(), c.Errs()
	if fl, ok := in.Field("method"); ok {
		if hasTemplate(fl.Value) {
			b.method, b.methodV = "", c.Template(fl.Value)
		} else {
			b.method = strings.ToUpper(fl.Value.Value)
		}
	}

	path, hasPath := in.Field("path")
	u, hasURL := in.Field("url")
	switch {
	case in.Has("path") && in.Has("url"): // reported by the compiler (the spec's groups)
	case hasPath:
		s := path.Value.Value
		if !hasTemplate(path.Value) && isAbsURL(s) {
			c.Errorf(path.Value, "path %q is an absolute URL: use url: instead", s)
		} else if c.App().BaseURL == nil {
			c.Errorf(path.Value, "path needs the app's base_url (or use url: for an absolute URL)")
		}
		b.path = newURLTemplate("path", c.Template(path.Value))
		if c.App().BaseURL != nil {
			b.base = newURLTemplate("base_url", c.App().BaseURL)
		}
	case hasURL:
		s := u.Value.Value
		if !hasTemplate(u.Value) && s != "" && !isAbsURL(s) {
			c.Errorf(u.Value, "url %q is not an absolute http or https URL (for a path under the app's base_url use path:)", s)
		}
		b.url = newURLTemplate("url", c.Template(u.Value))
	}

	if fl, ok := in.Field("query"); ok {
		b.query = compileMapping(c, fl.Value, "query", false)
	}
	if fl, ok := in.Field("headers"); ok {
		b.headers = compileMapping(c, fl.Value, "headers", true)
	}

	var bodyFields []flows.Field
	for _, k := range []string{"json", "form", "body"} {
		if in.Has(k) {
			bodyFields = append(bodyFields, flows.Field{Key: in.Key(k), Value: in.Value(k)})
		}
	}
	slices.SortFunc(bodyFields, func(a, b flows.Field) int { return a.Key.Line*1e4 + a.Key.Column - b.Key.Line*1e4 - b.Key.Column })
	if len(bodyFields) > 0 && bodyFields[0].Value != nil { // a second one is reported by the compiler
		b.compileBody(c, bodyFields[0])
	}
	if fl, ok := in.Field("content_type"); ok {
		if len(bodyFields) == 0 {
			c.Errorf(fl.Key, "call_api: content_type needs a body (json, form or body)")
		}
		b.contentType = c.Template(fl.Value)
	}

	if fl, ok := in.Field("timeout"); ok {
		if hasTemplate(fl.Value) {
			b.timeoutV = c.Template(fl.Value)
		} else {
			b.timeout = flows.Duration(file, fl.Value, errs, "timeout")
		}
	}
	if fl, ok := in.Field("accept"); ok {
		if v := c.Template(fl.Value); !v.IsConst() {
			b.acceptV = v
		} else {
			b.accept = compileAccept(c, fl.Value)
		}
	}
	if b.headers.IsConst() && b.contentType.IsConst() {
		if h, err := makeHeader(b.headers.ConstValue(), b.constContentType()); err == nil {
			b.header, b.headerTrace = h, valuesMap(h)
		}
	}
	if fl, ok := in.Field("follow_redirects"); ok {
		b.follow = fl.Value.Value
	}
	if fl, ok := in.Field("parse"); ok {
		if hasTemplate(fl.Value) {
			b.parse, b.parseV = "", c.Template(fl.Value)
		} else {
			b.parse = fl.Value.Value
		}
	}
	if pg := in.Object("paginate"); pg != nil {
		b.paginate = compilePaginate(c, pg, b.kind)
		if b.parse == parseNone {
			c.Errorf(in.Key("paginate"), "call_api: paginate reads the items of each page from its body, which parse: none leaves unread")
		}
	}
	return b, nil
}

func (b *CallAPI) compileBody(c *engine.Compiler, fl flows.Field) {
	b.kind = bodyKeys[fl.Key.Value]
	switch b.kind {
	case jsonBody:
		b.body = c.Template(fl.Value)
		if b.body.IsConst() {
			data, err := encodeJSON(b.body.ConstValue())
			if err != nil {
				c.Errorf(fl.Value, "json: %v", err)
			}
			b.bodyConst = data
		}
	case formBody:
		b.body = compileMapping(c, fl.Value, "form", false)
		if b.body.IsConst() {
			q, err := formValues("form", b.body.ConstValue())
			if err != nil {
				c.Errorf(fl.Value, "%v", err)
			}
			b.bodyConst = []byte(q.Encode())
		}
	case rawBody:
		b.body = c.Template(fl.Value)
		if b.body.IsConst() {
			b.bodyConst = []byte(flows.Stringify(b.body.ConstValue()))
		}
	}
}

// compileMapping compiles query, headers or form: a mapping whose values are scalars or lists of
// scalars, or one template that gives such a mapping.
func compileMapping(c *engine.Compiler, n *yaml.Node, what string, header bool) *flows.Value {
	switch {
	case n.Kind == yaml.MappingNode:
		for _, p := range flows.Pairs(c.File(), n, c.Errs(), what) {
			if header && !validHeaderName(p.Key.Value) {
				c.Errorf(p.Key, "%s: %q is not a valid header name", what, p.Key.Value)
			}
			v := p.Value
			if v.Kind == yaml.SequenceNode {
				for _, item := range v.Content {
					if item.Kind != yaml.ScalarNode {
						c.Errorf(item, "%s %s: list items must be strings or numbers, found %s", what, p.Key.Value, flows.Describe(item))
					}
				}
			} else if v.Kind != yaml.ScalarNode {
				c.Errorf(v, "%s %s: want a string, a number or a list, found %s", what, p.Key.Value, flows.Describe(v))
			}
		}
	}
	return c.Template(n)
}

func compileAccept(c *engine.Compiler, n *yaml.Node) []statusRange {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			c.Errorf(n, "accept: the list is empty")
			return nil
		}
	}
	out := make([]statusRange, 0, len(items))
	for _, it := range items {
		if it.Kind != yaml.ScalarNode { // reported by the compiler
			continue
		}
		r, ok := parseStatus(it.Value)
		if !ok {
			c.Errorf(it, "accept %q: want a status code (404) or a class (2xx)", it.Value)
			continue
		}
		out = append(out, r)
	}
	return out
}

// parseStatus reads "404" or "4xx".
func parseStatus(s string) (statusRange, bool) {
	if len(s) != 3 || s[0] < '1' || s[0] > '5' {
		return statusRange{}, false
	}
	if s[1:] == "xx" || s[1:] == "XX" {
		lo := int(s[0]-'0') * 100
		return statusRange{lo, lo + 99}, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return statusRange{}, false
	}
	return statusRange{n, n}, true
}

func hasTemplate(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str" && strings.Contains(n.Value, "{{")
}

func isAbsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
