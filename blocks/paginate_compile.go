package blocks

import (
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// compilePaginate reads call_api's paginate: items, exactly one strategy (link, cursor, offset
// or page_number), stop_when, max_pages and on_max_pages.
func compilePaginate(c *engine.Compiler, fl flows.Field, kind bodyKind) *paginate {
	p := &paginate{maxPages: DefaultMaxPages}
	f := c.Fields(fl.Value, "paginate", paginateFields...)
	file, errs := c.File(), c.Errs()
	pc := c.With(nameResponse, namePages)

	if it, ok := f["items"]; ok {
		p.items = pc.Template(it.Value)
	} else if fl.Value.Kind == yaml.MappingNode {
		c.Errorf(fl.Value, "paginate: items is required: a template that selects the list of items from a page's response, such as \"{{ response.body }}\"")
	}

	var set []flows.Field
	for _, k := range paginateStrategies {
		if s, ok := f[k]; ok {
			set = append(set, s)
		}
	}
	switch {
	case len(set) == 0 && fl.Value.Kind == yaml.MappingNode:
		c.Errorf(fl.Value, "paginate: say how the next page is asked for: one of %s", strings.Join(paginateStrategies, ", "))
	case len(set) > 1:
		a, b := set[0].Key, set[1].Key
		c.Errorf(later(a, b), "paginate: %s and %s are both set: a walk follows one strategy", a.Value, b.Value)
	}
	if len(set) > 0 {
		p.strategy = set[0].Key.Value
		compileStrategy(c, pc, p, set[0].Value, kind)
	}

	if s, ok := f["stop_when"]; ok {
		p.stopWhen = pc.Template(s.Value)
	}
	if m, ok := f["max_pages"]; ok {
		p.maxPages = flows.Int(file, m.Value, errs, "max_pages")
		if m.Value.Tag == "!!int" && (p.maxPages < 1 || p.maxPages > MaxPages) {
			c.Errorf(m.Value, "max_pages %d is not between 1 and %d", p.maxPages, MaxPages)
		}
	}
	if o, ok := f["on_max_pages"]; ok {
		switch s := flows.String(file, o.Value, errs, "on_max_pages"); s {
		case "fail":
		case "stop":
			p.quiet = true
		default:
			c.Errorf(o.Value, "on_max_pages %q is not one of fail, stop%s", s, flows.Suggest(s, []string{"fail", "stop"}))
		}
	}
	return p
}

// compileStrategy reads the value of the strategy's key:
//
//	link: next                                       the relation of the next page's link
//	cursor: {value: "{{ .. }}", param: name}         the next cursor, and its query parameter
//	offset: {param: offset, limit: 100, limit_param: limit, start: 0}
//	page_number: {param: page, start: 1, total_pages: "{{ .. }}"}
//
// field in place of param (and limit_field of limit_param) puts the value in the JSON body.
func compileStrategy(c, pc *engine.Compiler, p *paginate, n *yaml.Node, kind bodyKind) {
	file, errs := c.File(), c.Errs()
	if p.strategy == "link" {
		p.rel = flows.String(file, n, errs, "link")
		if p.rel == "" || strings.ContainsAny(p.rel, " \t\",;") {
			c.Errorf(n, "link %q is not a link relation such as next", p.rel)
		}
		return
	}
	var fields []string
	switch p.strategy {
	case "cursor":
		fields = []string{"value", "param", "field"}
	case "offset":
		fields = []string{"param", "field", "limit", "limit_param", "limit_field", "start"}
	case "page_number":
		fields = []string{"param", "field", "start", "total_pages"}
		p.start = 1
	}
	f := c.Fields(n, p.strategy, fields...)
	if n.Kind != yaml.MappingNode {
		return
	}
	param, hasParam := f["param"]
	field, hasField := f["field"]
	switch {
	case hasParam && hasField:
		c.Errorf(later(param.Key, field.Key), "%s: param and field are both set: the value goes in a query parameter or in a field of the JSON body", p.strategy)
	case hasParam:
		p.param = flows.String(file, param.Value, errs, "param")
	case hasField:
		p.param, p.inBody = flows.String(file, field.Value, errs, "field"), true
		if kind != jsonBody {
			c.Errorf(field.Key, "%s: field puts the value in the JSON body, and the request has no json:", p.strategy)
		}
	default:
		c.Errorf(n, "%s: param is required: the query parameter that carries the %s (or field: a field of the JSON body)", p.strategy, map[string]string{"cursor": "cursor", "offset": "offset", "page_number": "page number"}[p.strategy])
	}
	if hasParam != hasField && p.param == "" {
		c.Errorf(n, "%s: the parameter's name is empty", p.strategy)
	}
	if v, ok := f["start"]; ok {
		if p.start = flows.Int(file, v.Value, errs, "start"); p.start < 0 {
			c.Errorf(v.Value, "start %d is negative", p.start)
		}
	}
	switch p.strategy {
	case "cursor":
		if v, ok := f["value"]; ok {
			p.cursor = pc.Template(v.Value)
		} else {
			c.Errorf(n, "cursor: value is required: a template that gives the next cursor from a page's response (null or empty when there is none)")
		}
	case "offset":
		if v, ok := f["limit"]; ok {
			if p.limit = flows.Int(file, v.Value, errs, "limit"); v.Value.Tag == "!!int" && p.limit < 1 {
				c.Errorf(v.Value, "limit %d is not a page size of at least 1", p.limit)
			}
		} else {
			c.Errorf(n, "offset: limit is required: the page size (a shorter page is the last)")
		}
		lp, hasLP := f["limit_param"]
		lf, hasLF := f["limit_field"]
		switch {
		case hasLP && p.inBody, hasLF && !p.inBody:
			k := lp
			if hasLF {
				k = lf
			}
			c.Errorf(k.Key, "offset: %s goes with %s: the offset and the page size go in the same place", k.Key.Value, map[bool]string{true: "field", false: "param"}[p.inBody])
		case hasLP:
			p.limitKey = flows.String(file, lp.Value, errs, "limit_param")
		case hasLF:
			p.limitKey = flows.String(file, lf.Value, errs, "limit_field")
		}
	case "page_number":
		if v, ok := f["total_pages"]; ok {
			p.total = pc.Template(v.Value)
		}
	}
}
