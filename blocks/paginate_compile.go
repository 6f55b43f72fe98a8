package blocks

import (
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// compilePaginate reads call_api's paginate, checked against paginateType: items, the one
// strategy (link, cursor, offset or page_number), stop_when, max_pages and on_max_pages.
func compilePaginate(c *engine.Compiler, in *engine.Body, kind bodyKind) *paginate {
	p := &paginate{maxPages: DefaultMaxPages}
	pc := c.With(nameResponse, namePages)
	if v := in.Value("items"); v != nil {
		p.items = pc.Template(v)
	}
	for _, k := range paginateStrategies {
		if in.Has(k) {
			p.strategy = k
			break
		}
	}
	switch p.strategy {
	case "link":
		if v := in.Value("link"); v != nil {
			if p.rel = v.Value; p.rel == "" || strings.ContainsAny(p.rel, " \t\",;") {
				c.Errorf(v, "link %q is not a link relation such as next", p.rel)
			}
		}
	case "cursor", "offset", "page_number":
		if s := in.Object(p.strategy); s != nil {
			compileStrategy(c, pc, p, s, kind)
		}
	}
	if v := in.Value("stop_when"); v != nil {
		p.stopWhen = pc.Template(v)
	}
	if v := in.Value("max_pages"); v != nil {
		p.maxPages = flows.Int(c.File(), v, c.Errs(), "paginate")
	}
	if v := in.Value("on_max_pages"); v != nil {
		p.quiet = v.Value == "stop"
	}
	return p
}

// compileStrategy reads the mapping of a cursor, offset or page_number strategy:
//
//	cursor: {value: "{{ .. }}", param: name}         the next cursor, and its query parameter
//	offset: {param: offset, limit: 100, limit_param: limit, start: 0}
//	page_number: {param: page, start: 1, total_pages: "{{ .. }}"}
//
// field in place of param (and limit_field of limit_param) puts the value in the JSON body.
func compileStrategy(c, pc *engine.Compiler, p *paginate, in *engine.Body, kind bodyKind) {
	if p.strategy == "page_number" {
		p.start = 1
	}
	switch {
	case in.Has("param") && in.Has("field"): // reported by the spec
	case in.Value("param") != nil:
		p.param = in.Value("param").Value
	case in.Value("field") != nil:
		p.param, p.inBody = in.Value("field").Value, true
		if kind != jsonBody {
			c.Errorf(in.Key("field"), "%s: field puts the value in the JSON body, and the request has no json:", p.strategy)
		}
	}
	if (in.Value("param") != nil) != (in.Value("field") != nil) && p.param == "" {
		c.Errorf(in.Node, "%s: the parameter's name is empty", p.strategy)
	}
	if v := in.Value("start"); v != nil {
		p.start = flows.Int(c.File(), v, c.Errs(), "paginate")
	}
	switch p.strategy {
	case "cursor":
		if v := in.Value("value"); v != nil {
			p.cursor = pc.Template(v)
		}
	case "offset":
		if v := in.Value("limit"); v != nil {
			p.limit = flows.Int(c.File(), v, c.Errs(), "paginate")
		}
		for _, k := range []string{"limit_param", "limit_field"} {
			v := in.Value(k)
			if v == nil {
				continue
			}
			if inBody := k == "limit_field"; inBody != p.inBody && (in.Has("param") || in.Has("field")) {
				c.Errorf(in.Key(k), "offset: %s goes with %s: the offset and the page size go in the same place", k, map[bool]string{true: "field", false: "param"}[p.inBody])
			}
			p.limitKey = v.Value
		}
	case "page_number":
		if v := in.Value("total_pages"); v != nil {
			p.total = pc.Template(v)
		}
	}
}
