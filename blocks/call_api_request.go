package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

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
