package engine

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Origin returns u's origin as scheme://host:port (RFC 6454): scheme and host in lower case,
// the port written out (80 for http, 443 for https). It has no user info, path or query, so
// it never holds a secret. It returns "" for a URL without a scheme or host.
func Origin(u *url.URL) string {
	if u == nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	host := strings.ToLower(u.Hostname())
	if port == "" {
		if strings.Contains(host, ":") {
			return scheme + "://[" + host + "]"
		}
		return scheme + "://" + host
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// ParseOrigin reads an origin given by a user (a flag): scheme://host[:port], nothing more.
func ParseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an origin: want scheme://host[:port], such as https://api.example.com", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		// Not quoted whole: the user info or the query may hold a secret.
		return "", fmt.Errorf("%s with a user, path or query is not an origin: want scheme://host[:port] alone", u.Scheme+"://"+u.Host)
	}
	return Origin(u), nil
}

// Redirect policies of a request (call_api's follow_redirects).
const (
	FollowSameOrigin = "same_origin" // redirects within the origin of the first request only
	FollowAny        = "any"         // any redirect; credentials stay with their origin
	FollowNone       = "none"        // none: the 3xx response is the response
)

// FollowPolicies are the redirect policies, in the order the docs give them.
var FollowPolicies = []string{FollowSameOrigin, FollowAny, FollowNone}

// maxRedirects is how many redirects one request follows, as net/http's default policy.
const maxRedirects = 10

// RedirectError is a redirect a request did not follow. It names origins only: a URL's path
// and query may carry a secret.
type RedirectError struct {
	Status int    // the 3xx status
	From   string // the origin of the request that was redirected
	To     string // the origin of the Location, "" when the limit was reached
	Policy string // the policy that refused it
	Why    string // why it was refused, when not for a step's follow_redirects
}

func (e *RedirectError) Error() string {
	if e.To == "" {
		return fmt.Sprintf("stopped after %d redirects", maxRedirects)
	}
	why := e.Why
	if why == "" {
		why = "follow_redirects: " + e.Policy
	}
	return fmt.Sprintf("redirect (%d) from %s to another origin, %s, not followed (%s)", e.Status, e.From, e.To, why)
}

// CheckRedirect is the http.Client CheckRedirect of policy: it follows redirects as the policy
// says, at most 10, and never sends a Referer (net/http sets one, holding the previous URL and
// its query, before it asks CheckRedirect). FollowNone returns http.ErrUseLastResponse, so the
// 3xx response is the response; a redirect the policy refuses is a *RedirectError. It does not
// take credentials off: a request's credentials must be added per hop, where the hop's origin is
// known (a RoundTripper), so that the client has none to copy.
func CheckRedirect(policy string) func(req *http.Request, via []*http.Request) error {
	return checkRedirect(policy, "")
}

func checkRedirect(policy, why string) func(req *http.Request, via []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		req.Header.Del("Referer")
		if policy == FollowNone {
			return http.ErrUseLastResponse
		}
		if len(via) >= maxRedirects {
			return &RedirectError{Policy: policy}
		}
		from, to := Origin(via[0].URL), Origin(req.URL)
		if policy != FollowAny && from != to {
			status := 0
			if r := req.Response; r != nil {
				status = r.StatusCode
			}
			return &RedirectError{Status: status, From: from, To: to, Policy: policy, Why: why}
		}
		return nil
	}
}

// SameOriginClient returns a copy of c that follows redirects within the origin of the first
// request only and sends no Referer, for requests that carry secrets in their body or URL
// (token, revoke and the other private-flow requests). A CheckRedirect c has is asked after.
func SameOriginClient(c *http.Client) *http.Client {
	out := *c
	out.CheckRedirect = Chain(checkRedirect(FollowSameOrigin, "the request carries secrets: it follows no redirect to another origin"), c.CheckRedirect)
	return &out
}

// Chain returns a CheckRedirect that asks first, then next when first allows the redirect.
// A nil next is left out.
func Chain(first, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	if next == nil {
		return first
	}
	return func(req *http.Request, via []*http.Request) error {
		if err := first(req, via); err != nil {
			return err
		}
		return next(req, via)
	}
}
