package blocks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Pagination limits: max_pages when the step sets none, and the most it may set.
const (
	DefaultMaxPages = 100
	MaxPages        = 1000
)

// Pagination strategies: the keys of paginate that say how the next page is asked for.
var paginateStrategies = []string{"link", "cursor", "offset", "page_number"}

// paginate is call_api's paginate: the request is sent again for each next page, each page
// through the same send path (the connection's credentials at their origin only, the one
// retry after a 401, the response size limit), until a page is empty, there is no next page,
// stop_when holds or max_pages is reached; the step outputs {items, pages}. Its templates see
// response (the page's output: status, headers, body, url) and pages (the pages read so far).
type paginate struct {
	items    *flows.Value
	strategy string // one of paginateStrategies
	rel      string // link: the relation of the next page's link
	cursor   *flows.Value
	param    string // cursor, offset, page_number: the query parameter that carries the value
	inBody   bool   // param is a field of the JSON body, not a query parameter
	limit    int    // offset: the page size
	limitKey string // offset: the parameter (or field) of the page size; "" for none
	start    int    // offset, page_number: the first value
	total    *flows.Value
	stopWhen *flows.Value
	maxPages int
	quiet    bool // on_max_pages: stop
}

// paginate's names in templates.
const (
	nameResponse = "response"
	namePages    = "pages"
)

// walk sends r and the requests for the pages after it and gathers their items.
func (p *paginate) walk(ctx context.Context, st *engine.State, r *request) (any, error) {
	origin := engine.Origin(r.req.URL)
	var (
		items  []any
		size   int64
		cursor string
		cur    = r
		num    = p.start
	)
	if p.strategy == "offset" || p.strategy == "page_number" {
		var err error
		if cur, err = p.withParams(st, r, origin, num); err != nil {
			return nil, err
		}
	}
	for pages := 1; ; pages++ {
		out, err := cur.do(ctx, st)
		if err != nil {
			return nil, pageError(pages, err)
		}
		pst := st.Bind("", []string{nameResponse, namePages}, []any{out, pages})
		got, err := pst.Eval(p.items)
		if err != nil {
			return nil, pageError(pages, err)
		}
		list, ok := got.([]any)
		if !ok && got != nil {
			return nil, pageError(pages, &flows.Error{Pos: p.items.Pos, Msg: fmt.Sprintf("paginate items: want a list, found %s", typeName(got))})
		}
		items = append(items, list...)
		if err := st.CheckIterations(len(items)); err != nil {
			return nil, err
		}
		if size += int64(engine.SizeOf(list)); size > st.Limits().MaxOutputBytes {
			return nil, &engine.LimitError{Limit: "output_bytes", Max: st.Limits().MaxOutputBytes, What: fmt.Sprintf("the items of %d pages are too large", pages)}
		}
		done := len(list) == 0
		if !done && p.stopWhen != nil {
			v, err := pst.Eval(p.stopWhen)
			if err != nil {
				return nil, pageError(pages, err)
			}
			done = engine.Truthy(v)
		}
		var next *request
		if !done {
			switch p.strategy {
			case "link":
				next, err = p.linkRequest(st, r, out, origin)
			case "cursor":
				next, err = p.cursorRequest(st, pst, r, origin, &cursor)
			case "offset":
				if len(list) >= p.limit {
					num += len(list)
					next, err = p.withParams(st, r, origin, num)
				}
			case "page_number":
				next, err = p.pageRequest(st, pst, r, origin, &num)
			}
			if err != nil {
				return nil, pageError(pages, err)
			}
		}
		if items == nil {
			items = []any{} // an empty walk outputs an empty list, not null
		}
		if next == nil {
			return map[string]any{"items": items, "pages": pages}, nil
		}
		if pages == p.maxPages {
			if p.quiet {
				return map[string]any{"items": items, "pages": pages}, nil
			}
			return nil, &engine.LimitError{Limit: "pages", Max: int64(p.maxPages),
				What: fmt.Sprintf("paginate has more pages than max_pages (raise it, or write on_max_pages: stop to keep the first %d)", p.maxPages)}
		}
		cur = next
	}
}

// pageError says which page a failure is on.
func pageError(page int, err error) error { return fmt.Errorf("page %d: %w", page, err) }

// linkRequest is first sent to the page the response's Link header names with p.rel (nil:
// none), its URL resolved against the page's.
func (p *paginate) linkRequest(st *engine.State, first *request, out map[string]any, origin string) (*request, error) {
	h, _ := out["headers"].(map[string]any)
	var values []string
	switch v := h["link"].(type) {
	case string:
		values = []string{v}
	case []any:
		for _, x := range v {
			values = append(values, flows.Stringify(x))
		}
	}
	target := linkTarget(values, p.rel)
	if target == "" {
		return nil, nil
	}
	base, err := url.Parse(flows.Stringify(out["url"]))
	if err != nil {
		return nil, fmt.Errorf("the page's URL: %w", unwrapURLError(err))
	}
	ref, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("Link rel=%q: invalid URL %q: %w", p.rel, st.Redactor().String(target), unwrapURLError(err))
	}
	return first.at(st, base.ResolveReference(ref), origin)
}

// cursorRequest is the request with the next cursor in p.param (nil: the cursor is null or
// empty). The same cursor twice would ask for the same page for ever: that fails.
func (p *paginate) cursorRequest(st, pst *engine.State, first *request, origin string, last *string) (*request, error) {
	v, err := pst.Eval(p.cursor)
	if err != nil {
		return nil, err
	}
	c := flows.Stringify(v)
	if c == "" {
		return nil, nil
	}
	if c == *last {
		return nil, &flows.Error{Pos: p.cursor.Pos, Msg: fmt.Sprintf("paginate cursor: the page gave the cursor it was asked with, %q, again", st.Redactor().String(c))}
	}
	*last = c
	return p.with(st, first, origin, map[string]any{p.param: c})
}

// pageRequest is the request for the page after *num (nil: total_pages says it was the last).
func (p *paginate) pageRequest(st, pst *engine.State, first *request, origin string, num *int) (*request, error) {
	if p.total != nil {
		v, err := pst.Eval(p.total)
		if err != nil {
			return nil, err
		}
		// A number in the body, or text in a header (GitLab's x-total-pages).
		total, ok := v.(int)
		if t, isText := v.(string); isText {
			n, err := strconv.Atoi(strings.TrimSpace(t))
			total, ok = n, err == nil
		}
		if !ok {
			return nil, &flows.Error{Pos: p.total.Pos, Msg: fmt.Sprintf("paginate total_pages: want a number, found %q", flows.Stringify(v))}
		}
		if *num-p.start+1 >= total {
			return nil, nil
		}
	}
	*num++
	return p.withParams(st, first, origin, *num)
}

// withParams is first with the offset or page number n (and the page size) in its query.
func (p *paginate) withParams(st *engine.State, first *request, origin string, n int) (*request, error) {
	set := map[string]any{p.param: n}
	if p.limitKey != "" {
		set[p.limitKey] = p.limit
	}
	return p.with(st, first, origin, set)
}

// with is r with the query parameters, or the JSON body's fields, in set replaced.
func (p *paginate) with(st *engine.State, r *request, origin string, set map[string]any) (*request, error) {
	u := *r.req.URL
	if !p.inBody {
		q := u.Query()
		for k, v := range set {
			q.Set(k, flows.Stringify(v))
		}
		u.RawQuery = q.Encode()
		return r.at(st, &u, origin)
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber() // the body's other numbers go as they were written
	if err := dec.Decode(&body); err != nil || body == nil {
		return nil, fmt.Errorf("paginate: the JSON body is not an object, so it has no field %s", p.param)
	}
	for k, v := range set {
		body[k] = v
	}
	data, err := encodeJSON(body)
	if err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	next, err := r.at(st, &u, origin)
	if err != nil {
		return nil, err
	}
	next.body = data
	next.trace["body"] = body
	return next, nil
}

// at is r sent to u, with the connection's credentials only at origin, the first page's: at
// another origin the page also goes without the step's headers that hold a secret, and not at
// all when its body holds one (as a redirect there would not be followed).
func (r *request) at(st *engine.State, u *url.URL, origin string) (*request, error) {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("the next page's URL %q is not an absolute http or https URL", st.Redactor().String(u.Redacted()))
	}
	raw := u.String()
	req, err := http.NewRequest(r.method, raw, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", st.Redactor().String(u.Redacted()), unwrapURLError(err))
	}
	c := *r
	c.req, c.origin = req, origin
	c.url, c.rurl = raw, redactURL(st, req.URL, raw)
	if to := engine.Origin(req.URL); to != origin {
		red := st.Redactor()
		if r.body != nil && red.String(string(r.body)) != string(r.body) {
			return nil, fmt.Errorf("the next page is at another origin, %s, than the first, %s: not asked for, as the body it would send there holds a secret", to, origin)
		}
		c.header = r.header.Clone()
		dropSecretHeaders(c.header, red)
	}
	c.trace = make(map[string]any, len(r.trace))
	for k, v := range r.trace {
		c.trace[k] = v
	}
	c.trace["url"] = c.rurl
	return &c, nil
}

// linkTarget returns the target of the first link in Link header values whose rel holds rel
// (RFC 8288: `<uri>; rel="next"; ...`, links separated by commas, rel a list of relation types
// separated by spaces, compared without regard to case); "" when there is none.
func linkTarget(values []string, rel string) string {
	for _, s := range values {
		for s != "" {
			s = strings.TrimLeft(s, " \t,")
			if !strings.HasPrefix(s, "<") {
				break
			}
			end := strings.IndexByte(s, '>')
			if end < 0 {
				break
			}
			target := s[1:end]
			s = s[end+1:]
			var params string
			params, s = linkParams(s)
			if relHas(params, rel) {
				return strings.TrimSpace(target)
			}
		}
	}
	return ""
}

// linkParams splits s, what follows a link's <uri>, at the comma that ends the link's
// parameters (outside quotes).
func linkParams(s string) (params, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// relHas reports whether the link parameters params (`; rel="next last"; title=x`) have a rel
// that lists rel.
func relHas(params, rel string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "rel") {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		for _, r := range strings.Fields(v) {
			if strings.EqualFold(r, rel) {
				return true
			}
		}
		return false // the first rel counts (RFC 8288, section 3.3)
	}
	return false
}
