package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// originMap is --map-origin: requests to an origin of the app go to another origin (a test
// server standing in for the provider). It rewrites requests where they are sent, below the
// credentials and the redirect policy, which see the app's own origins: a connection made
// through a stand-in is bound to the app's origins, and a redirect is judged there.
type originMap struct {
	from []string            // the mapped origins, in the order given, as engine.Origin writes them
	to   map[string]*url.URL // from → the origin requests go to instead: scheme and host, as given
}

// set adds one mapping, FROM=TO: both origins (scheme://host[:port]).
func (m *originMap) set(s string) error {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want FROM=TO, two origins, such as https://api.example.com=http://127.0.0.1:8080")
	}
	f, err := engine.ParseOrigin(from)
	if err != nil {
		return err
	}
	t, err := engine.ParseOrigin(to)
	if err != nil {
		return err
	}
	if f == t {
		return fmt.Errorf("%s is mapped to itself", f)
	}
	if m.to == nil {
		m.to = map[string]*url.URL{}
	}
	if old, ok := m.to[f]; ok {
		return fmt.Errorf("%s is mapped twice, to %s and to %s", f, engine.Origin(old), t)
	}
	u, _ := url.Parse(to) // ParseOrigin parsed it; its port as given, so a Host header has none by default
	m.from = append(m.from, f)
	m.to[f] = &url.URL{Scheme: strings.ToLower(u.Scheme), Host: u.Host}
	return nil
}

// target returns the origin that requests to u's origin go to, nil when it is not mapped.
func (m *originMap) target(u *url.URL) *url.URL {
	if len(m.to) == 0 {
		return nil
	}
	return m.to[engine.Origin(u)]
}

// mapURL returns s with its origin replaced by the one it is mapped to, and whether it is
// mapped. Only the scheme and authority change: the rest of s is kept as it is written, so a
// redacted value in the query stays as it was.
func (m *originMap) mapURL(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil {
		return s, false
	}
	t := m.target(u)
	if t == nil {
		return s, false
	}
	rest := s[strings.Index(s, "://")+3:]
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[i:]
	} else {
		rest = ""
	}
	return t.Scheme + "://" + t.Host + rest, true
}

// announce says on w which origins are mapped, so that no one takes a stand-in's answers for
// the provider's.
func (m *originMap) announce(w io.Writer) {
	for _, f := range m.from {
		fmt.Fprintf(w, "note: --map-origin: requests to %s go to %s instead, with the credentials bound to %s\n", f, engine.Origin(m.to[f]), f)
	}
}

// transport returns next with the mapping applied to every request it sends.
func (m *originMap) transport(next http.RoundTripper) http.RoundTripper {
	if len(m.to) == 0 {
		return next
	}
	return &mapTransport{m: m, next: next}
}

// mapTransport sends each request to its origin's mapped origin. The response reads as the
// app's origin's: its Request is the request as it was given, and a redirect to the stand-in's
// own origin is a redirect to the origin it stands in for (a test server that only knows its
// own address stays within the origin).
type mapTransport struct {
	m    *originMap
	next http.RoundTripper
}

func (t *mapTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	to := t.m.target(req.URL)
	if to == nil {
		return t.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host = to.Scheme, to.Host
	out.Host = "" // the Host header follows the URL
	resp, err := t.next.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	resp.Request = req
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.IsAbs() && engine.Origin(loc) == engine.Origin(to) {
		loc.Scheme, loc.Host = req.URL.Scheme, req.URL.Host
		resp.Header.Set("Location", loc.String())
	}
	return resp, nil
}

// pairs returns the mappings of the origins among bound (a connection's), as FROM=TO.
func (m *originMap) pairs(bound []string) []string {
	var out []string
	for _, f := range m.from {
		if slices.Contains(bound, f) {
			out = append(out, f+"="+engine.Origin(m.to[f]))
		}
	}
	return out
}

// markStandIns records in rec, connected just now, the mappings it was made through, so that
// connections show and the commands that use it say so.
func (e *env) markStandIns(ctx context.Context, st connections.Store, rec *connections.Record) error {
	pairs := e.net.origins.pairs(rec.Origins)
	if slices.Equal(pairs, rec.StandIns) {
		return nil
	}
	rec.StandIns = pairs
	if err := st.UpdateConnection(ctx, rec); err != nil {
		return fmt.Errorf("record the stand-ins of connection %q: %w", rec.Name, err)
	}
	return nil
}

// warnStandIns warns when the command's mappings are not those rec was made through: without
// them a stand-in's credentials go to the provider, and with others the provider's (or
// another stand-in's) credentials go to the stand-in.
func (e *env) warnStandIns(rec *connections.Record) {
	now := e.net.origins.pairs(rec.Origins)
	for _, p := range rec.StandIns {
		if !slices.Contains(now, p) {
			from, _, _ := strings.Cut(p, "=")
			fmt.Fprintf(e.stderr, "warning: connection %q was made through a stand-in (--map-origin %s): without that mapping its requests go to %s, which did not issue its credentials\n", rec.Name, p, from)
		}
	}
	for _, p := range now {
		if !slices.Contains(rec.StandIns, p) {
			_, to, _ := strings.Cut(p, "=")
			fmt.Fprintf(e.stderr, "warning: connection %q was not made through --map-origin %s: its credentials go to %s\n", rec.Name, p, to)
		}
	}
}
