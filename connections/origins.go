package connections

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/patchbay/patchbay/engine"
)

// OriginError is a request of a connection to an origin the connection is not bound to: its
// credentials were not sent.
type OriginError struct {
	Name   string   // the connection's
	Origin string   // where the request went
	Bound  []string // where the connection's credentials may go
}

func (e *OriginError) Error() string {
	return fmt.Sprintf("connection %q was connected at %s, not %s: its credentials are not sent there "+
		"(another app with the same key, or --base-url, points elsewhere); if the API has moved, delete the connection and connect it again, "+
		"or allow the origin for one run with --allow-origin %s", e.Name, strings.Join(e.Bound, ", "), e.Origin, e.Origin)
}

// connOriginURLs are the connection URLs whose origins a connection is bound to, besides the
// app's base URL.
var connOriginURLs = []string{"authorize_url", "token_url", "refresh_url", "revoke_url", "request_token_url", "access_token_url"}

// appOrigins returns the origins of prog's base URL and connection URLs for the connection
// whose template values are env (its params, its token's extra fields) and vault: where its
// credentials may go. A URL that does not evaluate, or is empty, adds nothing.
func appOrigins(ctx context.Context, prog *engine.Program, env, vault map[string]any) []string {
	var raw []string
	if b := prog.App.BaseURL; b != nil {
		if s, err := newTemplates(ctx, env, prog.App, vault).evalString(b); err == nil {
			raw = append(raw, s)
		}
	}
	for _, k := range connOriginURLs {
		if s, ok := env[k].(string); ok {
			raw = append(raw, s)
		}
	}
	var out []string
	for _, s := range raw {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		if o := engine.Origin(u); o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// originSet collects origins from concurrent requests.
type originSet struct {
	mu   sync.Mutex
	list []string
}

func (s *originSet) add(o string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o != "" && !slices.Contains(s.list, o) {
		s.list = append(s.list, o)
	}
}

// union returns the set's origins and more, sorted, each once.
func (s *originSet) union(more []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.list)
	for _, o := range more {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

// checkOrigin fails with an *OriginError when rec's credentials may not go to u: its origin is
// neither one rec is bound to nor one Config.AllowOrigins allows. A record bound to no origin
// (stored before origins were recorded, not yet used since) is not checked here: bind binds it
// at its first use.
func (m *Manager) checkOrigin(rec *Record, u *url.URL) error {
	if len(rec.Origins) == 0 {
		return nil
	}
	o := engine.Origin(u)
	if slices.Contains(rec.Origins, o) || slices.Contains(m.allow, o) {
		return nil
	}
	return &OriginError{Name: rec.Name, Origin: o, Bound: rec.Origins}
}

// bind binds a stored connection that has no origins yet, one stored before patchbay recorded
// them, to the origins of the app it is used with now, and saves them (trust on first use);
// others are returned as they are. env and vault are rec's template values.
func (m *Manager) bind(ctx context.Context, prog *engine.Program, rec *Record, env, vault map[string]any) (*Record, error) {
	if rec.ID == "" || len(rec.Origins) > 0 || rec.Status == StatusDisconnected {
		return rec, nil
	}
	if v, ok := m.bound.Load(rec.ID); ok {
		// Bound here already: the caller holds the record as it was read before.
		next := *rec
		next.Origins = v.([]string)
		return &next, nil
	}
	origins := appOrigins(ctx, prog, env, vault)
	if len(origins) == 0 {
		return rec, nil
	}
	if m.frozen {
		next := *rec
		next.Origins = origins
		return &next, nil
	}
	saved, err := m.store.Locked(ctx, rec.ID, func(cur *Record) (*Record, error) {
		if len(cur.Origins) > 0 {
			return nil, nil // bound meanwhile
		}
		next := *cur
		next.Origins = origins
		return &next, nil
	})
	if err != nil {
		return nil, fmt.Errorf("bind connection %q to its origins: %w", rec.Name, err)
	}
	m.bound.Store(rec.ID, saved.Origins)
	m.log.Info("connection bound to origins at first use", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "origins", strings.Join(saved.Origins, " "))
	return saved, nil
}

// originGuard is the RoundTripper of a stored connection's private flows (refresh, revoke,
// test): a request to an origin the connection is not bound to is not sent.
type originGuard struct {
	m    *Manager
	rec  *Record
	next http.RoundTripper
}

func (g originGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := g.m.checkOrigin(g.rec, req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	return g.next.RoundTrip(req)
}

// privateClient is the HTTP client of rec's private flows: the manager's, following no redirect
// to another origin, and for a connection bound to origins sending nothing elsewhere.
func (m *Manager) privateClient(rec *Record) *http.Client {
	if len(rec.Origins) == 0 {
		return m.private
	}
	c := *m.private
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = originGuard{m: m, rec: rec, next: next}
	return &c
}
