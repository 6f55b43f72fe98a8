package blocks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// UserAgent is the User-Agent header of call_api requests that set none.
const UserAgent = "patchbay/0.1.0"

// Methods are the HTTP methods call_api sends.
var Methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// CallAPI sends one HTTP request with the run's connection and outputs the response:
//
//	steps.<id>.status   the status code (an int)
//	steps.<id>.headers  the response headers, names in lower case; a repeated header is a list
//	steps.<id>.body     the body, parsed by its Content-Type (or by parse:): JSON decoded (a number
//	                    is an int when integral, else a float64), a form as a mapping, XML as a
//	                    tree ({root: {"@attr": .., child: .., "#text": ..}}), text as a string,
//	                    anything else a string when UTF-8 and base64 otherwise
//	steps.<id>.url      the URL of the final response (after redirects)
//	steps.<id>.redirects the redirects followed, [{status, url}], only when there were some
//
// A status that accept does not list fails the step with an *engine.HTTPError; a body larger
// than the run's MaxResponseBytes with an *engine.LimitError. When the connection asks for it
// after a response (a 401: its token went stale), the request is sent once more, freshly signed.
//
// With paginate (see paginate), the request is sent again for each next page and the step
// outputs {items, pages} instead.
//
// follow_redirects says which redirects are followed: same_origin (those within the origin,
// scheme, host and port, of the request), any, or none (the 3xx response is the response). The
// default is same_origin for a credentialed request (the run has a connection, or the URL, a
// header or the body holds a secret) and any otherwise. The connection's credentials go only to
// the request's own origin: they are added to each hop there, never to a hop elsewhere. No hop
// sends a Referer, and a hop to another origin loses the step's headers that hold a secret.
type CallAPI struct {
	method      string // upper case; "" when methodV is a template
	methodV     *flows.Value
	path        *urlTemplate // joined to the app's base_url; nil when url is set
	url         *urlTemplate
	base        *urlTemplate // the app's base_url, when path is set and the app has one
	query       *flows.Value
	headers     *flows.Value
	header      http.Header    // the request's headers, when nothing in them is a template; read only
	headerTrace map[string]any // header for the trace
	kind        bodyKind
	body        *flows.Value
	bodyConst   []byte // the encoded body, when it has no template
	contentType *flows.Value
	timeout     time.Duration
	timeoutV    *flows.Value
	accept      []statusRange // nil: 2xx
	acceptV     *flows.Value
	parse       string // "" when parseV is a template
	parseV      *flows.Value
	follow      string // follow_redirects; "" for the default
	paginate    *paginate
}

var _ engine.Block = (*CallAPI)(nil)

// CallAPIType is the call_api block.
var CallAPIType = engine.BlockType{
	Kind:    "call_api",
	Summary: "sends an HTTP request with the connection's credentials and outputs the response (status, headers, body, url); with paginate, the items of all its pages",
	Spec:    callAPISpec,
	Compile: compileCallAPI,
}

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

// Kind returns "call_api".
func (b *CallAPI) Kind() string { return "call_api" }

// request is one evaluated request of a run.
type request struct {
	method  string
	req     *http.Request // method, URL and Host; send copies it and adds the rest
	url     string        // req.URL as text
	rurl    string        // the URL redacted, for errors and the trace
	header  http.Header
	body    []byte // nil: no body
	timeout time.Duration
	accept  []statusRange
	parse   string
	follow  string
	origin  string         // where the connection's credentials go; "" for req's own origin
	trace   map[string]any // the step's input for the trace
}

// Run evaluates the request, sends it and reads the response; with paginate, it walks the pages.
func (b *CallAPI) Run(ctx context.Context, st *engine.State) (any, error) {
	r, err := b.request(st)
	if err != nil {
		return nil, err
	}
	if b.paginate != nil {
		return b.paginate.walk(ctx, st, r)
	}
	out, err := r.do(ctx, st)
	if err != nil {
		return nil, err // not a nil map in an interface
	}
	return out, nil
}

// do sends the request, once more after the connection refreshed its credentials when it asks
// for that, and reads the response into the step's output.
func (r *request) do(ctx context.Context, st *engine.State) (map[string]any, error) {
	conn := st.Conn()
	client := st.HTTPClient()
	resp, x, cancel, err := r.send(ctx, client, conn, st.Redactor())
	if err != nil {
		return nil, err
	}
	// Only a response to a request that carried the credentials says they went stale.
	if conn != nil && x.authorized {
		again, err := conn.Retry(ctx, resp)
		if err != nil {
			discard(resp)
			cancel()
			return nil, fmt.Errorf("%s %s: %s: %w", r.method, r.rurl, resp.Status, err)
		}
		if again {
			discard(resp)
			cancel()
			// The one retry: its context is marked so the connection, seeing this response too,
			// can tell that a fresh token was refused; it never asks for another retry.
			rctx := engine.RetryContext(ctx)
			if resp, x, cancel, err = r.send(rctx, client, conn, st.Redactor()); err != nil {
				return nil, err
			}
			if x.authorized {
				if _, err := conn.Retry(rctx, resp); err != nil {
					discard(resp)
					cancel()
					return nil, fmt.Errorf("%s %s: %s: %w", r.method, r.rurl, resp.Status, err)
				}
			}
		}
	}
	defer cancel()
	defer resp.Body.Close()
	if len(x.hops) > 0 {
		r.trace["redirects"] = x.hops // the trace shows each hop, also when the status fails the step
		st.Input(r.trace)
	}
	return r.response(st, resp, x.hops)
}

// send sends the request once, bounded by its timeout, with the redirects its policy follows;
// the caller calls cancel once it has read the body. The body is built afresh from r.body each
// time, so a retry sends the same bytes.
func (r *request) send(ctx context.Context, client *http.Client, conn engine.Conn, red *engine.Redactor) (*http.Response, *exchange, context.CancelFunc, error) {
	cancel := context.CancelFunc(func() {})
	parent := ctx
	if r.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
	}
	req := r.req.WithContext(ctx)
	if r.body != nil {
		// As http.NewRequest does for a *bytes.Reader: GetBody lets the client replay it.
		data := r.body
		req.ContentLength = int64(len(data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		req.Body, _ = req.GetBody()
		if len(data) == 0 {
			req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		}
	}
	req.Header = r.header
	if client.Jar != nil {
		// The cookie jar adds to the header, which may be the block's own (read only).
		req.Header = r.header.Clone()
	}
	hc, x := r.client(client, conn, red)
	resp, err := hc.Do(req)
	if err != nil {
		err = unwrapURLError(err)
		if ctx.Err() != nil && parent.Err() == nil {
			err = fmt.Errorf("timed out after %s: %w", r.timeout, err)
		}
		cancel()
		return nil, nil, nil, fmt.Errorf("%s %s: %w", r.method, r.rurl, err)
	}
	return resp, x, cancel, nil
}

// unwrapURLError drops *url.Error's wrapping, whose message holds the URL unredacted; what it
// wraps still tells net errors and timeouts apart.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// response reads and checks a response and makes the step's output.
func (r *request) response(st *engine.State, resp *http.Response, hops []any) (map[string]any, error) {
	if !accepts(r.accept, resp.StatusCode) {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 4*engine.BodyExcerpt))
		discard(resp)
		return nil, &engine.HTTPError{
			Method: r.method, URL: r.rurl, StatusCode: resp.StatusCode, Status: resp.Status,
			Body: excerpt(st.Redactor(), head), Header: resp.Header,
		}
	}
	var body any
	if r.parse == parseNone {
		discard(resp)
	} else {
		max := st.Limits().MaxResponseBytes
		data, err := readBody(resp, max)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %s: read body: %w", r.method, r.rurl, resp.Status, err)
		}
		if int64(len(data)) > max {
			return nil, &engine.LimitError{Limit: "response_bytes", Max: max, What: fmt.Sprintf("the response body of %s %s is larger", r.method, r.rurl)}
		}
		if body, err = parseBody(r.parse, resp.Header.Get("Content-Type"), data); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %w: %s", r.method, r.rurl, resp.Status, err, excerpt(st.Redactor(), data))
		}
	}
	out := map[string]any{
		"status":  resp.StatusCode,
		"headers": responseHeaders(resp.Header),
		"body":    body,
		"url":     r.finalURL(resp),
	}
	if len(hops) > 0 {
		out["redirects"] = hops
	}
	return out, nil
}

// finalURL is the URL of the response: the one sent unless the client followed a redirect or
// the connection signed the URL.
func (r *request) finalURL(resp *http.Response) string {
	if resp.Request == nil || resp.Request.URL == r.req.URL {
		return r.url
	}
	return resp.Request.URL.String()
}

func accepts(accept []statusRange, status int) bool {
	if accept == nil {
		accept = accept2xx
	}
	for _, a := range accept {
		if status >= a.lo && status <= a.hi {
			return true
		}
	}
	return false
}

// readBody reads at most max+1 bytes of the body, so that a longer body shows as one byte over.
func readBody(resp *http.Response, max int64) ([]byte, error) {
	size := 512
	if cl := resp.ContentLength; cl >= 0 && cl <= max {
		size = int(cl) + 1 // one more, so that reading EOF does not grow the buffer
	}
	buf := make([]byte, 0, size)
	lr := io.LimitReader(resp.Body, max+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, unwrapURLError(err)
		}
	}
}

// discard reads a little of a response body, so that its connection may be reused, and closes it.
func discard(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// excerpt returns at most engine.BodyExcerpt bytes of a body, redacted, as valid UTF-8.
func excerpt(red *engine.Redactor, data []byte) string {
	if len(data) > 4*engine.BodyExcerpt {
		data = data[:4*engine.BodyExcerpt]
	}
	s := red.String(strings.ToValidUTF8(string(data), "\uFFFD"))
	if len(s) > engine.BodyExcerpt {
		cut := engine.BodyExcerpt
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.TrimSpace(s)
}

// request evaluates the templates of the block into a request and records it for the trace.
func (b *CallAPI) request(st *engine.State) (*request, error) {
	r := &request{method: b.method, timeout: b.timeout, accept: b.accept, parse: b.parse, follow: b.follow}
	var err error
	if b.methodV != nil {
		m, err := st.EvalString(b.methodV)
		if err != nil {
			return nil, err
		}
		if r.method = strings.ToUpper(m); !slices.Contains(Methods, r.method) {
			return nil, fmt.Errorf("method %q is not one of %s", m, strings.Join(Methods, ", "))
		}
	}

	var raw string
	if b.url != nil {
		if raw, err = b.url.eval(st); err != nil {
			return nil, err
		}
	} else {
		base := st.BaseURLOption()
		if base == "" && b.base != nil {
			if base, err = b.base.eval(st); err != nil {
				return nil, err
			}
		}
		p, err := b.path.eval(st)
		if err != nil {
			return nil, err
		}
		raw = joinURL(base, p)
	}
	red := st.Redactor()
	if r.req, err = http.NewRequest(r.method, raw, nil); err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", red.String(raw), unwrapURLError(err))
	}
	u := r.req.URL
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("URL %q is not an absolute http or https URL", red.String(raw))
	}

	var query any
	if b.query != nil {
		if query, err = st.Eval(b.query); err != nil {
			return nil, err
		}
		q, err := formValues("query", query)
		if err != nil {
			return nil, err
		}
		if len(q) > 0 {
			if u.RawQuery != "" {
				u.RawQuery += "&" + q.Encode()
			} else {
				u.RawQuery = q.Encode()
			}
		}
	}
	raw = u.String() // as sent: escaped where the template left spaces and the like
	r.url, r.rurl = raw, redactURL(st, u, raw)

	bodyVal, ct, err := b.evalBody(st, r)
	if err != nil {
		return nil, err
	}
	r.header = b.header
	headerTrace := b.headerTrace
	if r.header == nil {
		var h any
		if b.headers != nil {
			if h, err = st.Eval(b.headers); err != nil {
				return nil, err
			}
		}
		if r.header, err = makeHeader(h, ct); err != nil {
			return nil, err
		}
		headerTrace = valuesMap(r.header)
	}

	if err := b.evalOptions(st, r); err != nil {
		return nil, err
	}
	r.trace = map[string]any{"method": r.method, "url": r.rurl, "headers": headerTrace, "query": query, "body": bodyVal}
	st.Input(r.trace)
	return r, nil
}

// makeHeader builds a request's header from the evaluated headers mapping, with the body's
// Content-Type ct (none when "") and the User-Agent unless the mapping sets them.
func makeHeader(v any, ct string) (http.Header, error) {
	vals, err := formValues("headers", v)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(vals)+2)
	for k, vs := range vals {
		h[http.CanonicalHeaderKey(k)] = vs
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{UserAgent}
	}
	if _, ok := h["Content-Type"]; !ok && ct != "" {
		h["Content-Type"] = []string{ct}
	}
	return h, nil
}

var defaultContentTypes = [...]string{
	jsonBody: "application/json",
	formBody: "application/x-www-form-urlencoded",
	rawBody:  "text/plain; charset=utf-8",
}

// constContentType is the body's Content-Type when content_type has no template.
func (b *CallAPI) constContentType() string {
	if s := flows.Stringify(b.contentType.ConstValue()); s != "" {
		return s
	}
	return defaultContentTypes[b.kind]
}

// evalBody sets the request's body; it returns the body's value for the trace and its
// Content-Type.
func (b *CallAPI) evalBody(st *engine.State, r *request) (val any, ct string, err error) {
	if b.kind == noBody {
		return nil, "", nil
	}
	switch b.kind {
	case jsonBody:
		val = b.body.ConstValue()
		r.body = b.bodyConst
		if r.body == nil {
			v, err := st.Eval(b.body)
			if err != nil {
				return nil, "", err
			}
			if r.body, err = encodeJSON(v); err != nil {
				return nil, "", fmt.Errorf("json: %w", err)
			}
			val = v
		}
	case formBody:
		val = b.body.ConstValue()
		r.body = b.bodyConst
		if r.body == nil {
			v, err := st.Eval(b.body)
			if err != nil {
				return nil, "", err
			}
			q, err := formValues("form", v)
			if err != nil {
				return nil, "", err
			}
			r.body, val = []byte(q.Encode()), v
		}
	case rawBody:
		r.body = b.bodyConst
		if r.body == nil {
			v, err := st.Eval(b.body)
			if err != nil {
				return nil, "", err
			}
			if bs, ok := v.([]byte); ok {
				r.body = bs
			} else {
				r.body = []byte(flows.Stringify(v))
			}
		}
		val = string(r.body)
	}
	ct = defaultContentTypes[b.kind]
	if b.contentType != nil {
		s, err := st.EvalString(b.contentType)
		if err != nil {
			return nil, "", err
		}
		if s != "" {
			ct = s
		}
	}
	return val, ct, nil
}

// evalOptions evaluates the templated timeout, accept and parse.
func (b *CallAPI) evalOptions(st *engine.State, r *request) error {
	if b.timeoutV != nil {
		v, err := st.Eval(b.timeoutV)
		if err != nil {
			return err
		}
		if r.timeout, err = toDuration(v); err != nil {
			return fmt.Errorf("timeout: %w", err)
		}
	}
	if b.acceptV != nil {
		v, err := st.Eval(b.acceptV)
		if err != nil {
			return err
		}
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		r.accept = make([]statusRange, 0, len(items))
		for _, it := range items {
			sr, ok := parseStatus(flows.Stringify(it))
			if !ok {
				return fmt.Errorf("accept %q: want a status code (404) or a class (2xx)", flows.Stringify(it))
			}
			r.accept = append(r.accept, sr)
		}
	}
	if b.parseV != nil {
		p, err := st.EvalString(b.parseV)
		if err != nil {
			return err
		}
		if !slices.Contains(parseModes, p) {
			return fmt.Errorf("parse %q is not one of %s", p, strings.Join(parseModes, ", "))
		}
		r.parse = p
	}
	return nil
}

func toDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case int:
		if x >= 0 && int64(x) <= maxSeconds {
			return time.Duration(x) * time.Second, nil
		}
	case float64:
		if x >= 0 && x <= float64(maxSeconds) {
			return time.Duration(x * float64(time.Second)), nil
		}
	case time.Duration:
		if x >= 0 {
			return x, nil
		}
	case string:
		if d, err := time.ParseDuration(x); err == nil && d >= 0 {
			return d, nil
		}
	}
	return 0, fmt.Errorf("want a duration such as 30s, found %q", flows.Stringify(v))
}

// joinURL puts path under base with exactly one slash between them.
func joinURL(base, path string) string {
	if path == "" {
		return base
	}
	if path[0] == '?' {
		return base + path
	}
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

// formValues turns an evaluated query, headers or form mapping into values: a list is a repeated
// parameter, nil is left out, anything else is formatted as text.
func formValues(what string, v any) (url.Values, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a mapping, found %s", what, typeName(v))
	}
	out := make(url.Values, len(m))
	for k, e := range m {
		switch x := e.(type) {
		case nil:
		case []any:
			for _, it := range x {
				if it != nil {
					out[k] = append(out[k], flows.Stringify(it))
				}
			}
		case []string:
			out[k] = append(out[k], x...)
		default:
			out[k] = []string{flows.Stringify(x)}
		}
	}
	return out, nil
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, int64, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}

// encodeJSON encodes a body as compact JSON, without escaping <, > and & as encoding/json does
// for HTML.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// redactURL returns raw (the URL u) redacted for errors and the trace. The run's secrets may
// stand in the URL escaped (a token with a "/" in a query parameter): those escaped forms are
// secrets of the run from now on, so the step's output (its url) and a response body that echoes
// them are redacted too. A password in the URL's user info is hidden as well.
func redactURL(st *engine.State, u *url.URL, raw string) string {
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			raw = u.Redacted()
		}
	}
	red := st.Redactor()
	if red.Empty() {
		return raw
	}
	var escaped []string
	add := func(s string, escape func(string) string) {
		if red.String(s) != s {
			if esc := escape(s); esc != s {
				escaped = append(escaped, esc)
			}
		}
	}
	for k, vs := range u.Query() {
		add(k, url.QueryEscape)
		for _, v := range vs {
			add(v, url.QueryEscape)
		}
	}
	for _, seg := range strings.Split(u.Path, "/") {
		add(seg, url.PathEscape)
	}
	if len(escaped) > 0 {
		st.AddSecrets(escaped...)
	}
	return st.Redactor().String(raw)
}
