package blocks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
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
