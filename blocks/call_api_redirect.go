package blocks

import (
	"fmt"
	"net/http"

	"github.com/patchbay/patchbay/engine"
)

// exchange is one request sent, with the redirects it followed, through a client of its own:
// the run's client with a RoundTripper that puts the connection's credentials on each hop whose
// origin is the first request's, and the redirect policy. The client never holds a credential,
// so it copies none to a redirect's target, and no hop sends a Referer.
type exchange struct {
	r      *request
	conn   engine.Conn
	red    *engine.Redactor
	next   http.RoundTripper
	origin string // where the credentials go: the request's origin, or the first page's
	policy string

	hops       []any // {status, url} of each redirect followed, for the output
	authorized bool  // the last hop carried the connection's credentials
}

// client returns the client that sends one request of r with conn (nil: none).
func (r *request) client(base *http.Client, conn engine.Conn, red *engine.Redactor) (*http.Client, *exchange) {
	x := &exchange{r: r, conn: conn, red: red, next: base.Transport, origin: r.origin, policy: r.follow}
	if x.origin == "" {
		x.origin = engine.Origin(r.req.URL)
	}
	if x.next == nil {
		x.next = http.DefaultTransport
	}
	if x.policy == "" {
		x.policy = engine.FollowAny
		if conn != nil || r.carriesSecret(red) {
			x.policy = engine.FollowSameOrigin
		}
	}
	c := *base
	c.Transport = x
	c.CheckRedirect = engine.Chain(x.checkRedirect, base.CheckRedirect)
	return &c, x
}

// RoundTrip sends one hop: with the connection's credentials on a copy of req when the hop is
// at the first request's origin, as it is otherwise.
func (x *exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	x.authorized = false
	if x.conn == nil || engine.Origin(req.URL) != x.origin {
		return x.next.RoundTrip(req)
	}
	signed := req.Clone(req.Context())
	if err := x.conn.Authorize(req.Context(), signed); err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, also when it fails
		}
		return nil, fmt.Errorf("authorize: %w", err)
	}
	x.authorized = true
	return x.next.RoundTrip(signed)
}

// checkRedirect applies the policy and records the hop. A hop to another origin, when the
// policy lets it go there, loses every header that holds a secret of the run (the step's own,
// written from the vault or an input; the connection's are never on req) and the cookies, and a
// body holding one is not sent there again (307, 308).
func (x *exchange) checkRedirect(req *http.Request, via []*http.Request) error {
	if err := engine.CheckRedirect(x.policy)(req, via); err != nil {
		return err
	}
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	x.hops = append(x.hops, map[string]any{"status": status, "url": x.red.String(req.URL.Redacted())})
	from := engine.Origin(via[0].URL)
	if engine.Origin(req.URL) == from {
		return nil
	}
	dropSecretHeaders(req.Header, x.red)
	if req.GetBody != nil && x.r.body != nil && x.red.String(string(x.r.body)) != string(x.r.body) {
		return fmt.Errorf("redirect (%d) from %s to another origin, %s, not followed: the body it would send again holds a secret", status, from, engine.Origin(req.URL))
	}
	return nil
}

// dropSecretHeaders deletes from h, a request's header bound for another origin than its
// credentials', the headers that carry credentials and those that hold a secret of the run.
func dropSecretHeaders(h http.Header, red *engine.Redactor) {
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie"} {
		h.Del(k)
	}
	for k, vs := range h {
		for _, v := range vs {
			if red.String(v) != v {
				h.Del(k)
				break
			}
		}
	}
}

// carriesSecret reports whether the request, as the step wrote it, holds a secret of the run in
// its URL, a header or its body: such a request follows redirects within its origin only,
// unless the step says otherwise.
func (r *request) carriesSecret(red *engine.Redactor) bool {
	if red.Empty() {
		return false
	}
	if red.String(r.url) != r.url {
		return true
	}
	for _, vs := range r.header {
		for _, v := range vs {
			if red.String(v) != v {
				return true
			}
		}
	}
	return r.body != nil && red.String(string(r.body)) != string(r.body)
}
