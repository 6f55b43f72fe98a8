package connections

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// conn is a connection as a run's requests see it: it puts the credentials on each request,
// refreshes a token that is due or was refused, and disconnects the connection when the
// provider revoked access. It implements engine.Conn.
type conn struct {
	m       *Manager
	prog    *engine.Program
	cfg     *flows.Connection
	refresh *flows.Refresh
	stored  bool       // false while connecting: nothing to refresh or disconnect yet
	reached *originSet // while connecting: where the test flow sent the credentials

	mu    sync.Mutex
	rec   *Record
	env   map[string]any // the template value connection, for inject and request defaults
	vault map[string]any

	tmpls sync.Pool // *connTemplates that apply evaluates with, one request at a time each
}

var _ engine.ConnValue = (*conn)(nil)

// Conn returns the engine.Conn of a stored connection.
func (m *Manager) Conn(ctx context.Context, prog *engine.Program, rec *Record) (engine.Conn, error) {
	c := m.newConn(prog, rec)
	c.stored = rec.ID != ""
	if err := c.load(ctx, rec); err != nil {
		return nil, err
	}
	_, env, vault := c.current()
	bound, err := m.bind(ctx, prog, rec, env, vault)
	if err != nil {
		return nil, err
	}
	c.set(bound, env, vault)
	return c, nil
}

// memConn is the Conn of a connection being made, tested before it is stored; reached
// collects the origins the test sends its credentials to.
func (m *Manager) memConn(prog *engine.Program, rec *Record, reached *originSet) engine.Conn {
	c := m.newConn(prog, rec)
	c.reached = reached
	if err := c.load(context.Background(), rec); err != nil {
		return errConn{err}
	}
	return c
}

func (m *Manager) newConn(prog *engine.Program, rec *Record) *conn {
	c := &conn{m: m, prog: prog, cfg: prog.App.Connection, refresh: flows.DefaultRefresh()}
	if c.cfg != nil && c.cfg.Refresh != nil {
		c.refresh = c.cfg.Refresh
	}
	return c
}

// load makes rec the connection's current record.
func (c *conn) load(ctx context.Context, rec *Record) error {
	env, _, vault, err := c.m.env(ctx, c.prog, rec)
	if err != nil {
		return err
	}
	c.set(rec, env, vault)
	return nil
}

// set makes rec, with the template values already built for it, the current record.
func (c *conn) set(rec *Record, env, vault map[string]any) {
	c.mu.Lock()
	c.rec, c.env, c.vault = rec, env, vault
	c.mu.Unlock()
}

func (c *conn) current() (*Record, map[string]any, map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec, c.env, c.vault
}

// refreshable reports whether the connection has a token that can be requested anew.
func (c *conn) refreshable() bool {
	if !c.stored || c.cfg == nil {
		return false
	}
	return c.cfg.Type == flows.ConnOAuth2 || c.cfg.Type == flows.ConnToken
}

// Authorize puts the credentials on req, refreshing first a token that is due.
func (c *conn) Authorize(ctx context.Context, req *http.Request) error {
	rec, _, _ := c.current()
	if rec.Status == StatusDisconnected {
		return &DisconnectedError{Name: rec.Name, Reason: rec.Reason}
	}
	if c.reached != nil {
		c.reached.add(engine.Origin(req.URL))
	} else if err := c.m.checkOrigin(rec, req.URL); err != nil {
		return err
	}
	if now := c.m.now(); c.refreshable() && refreshDue(rec.Creds.Token, now, c.refresh.BeforeExpiry) {
		if _, err := c.refreshToken(ctx, rec.Creds.Token.AccessToken, false); err != nil {
			// A refresh before expiry that failed for a while (the token endpoint is down)
			// leaves the token valid: the request goes on with it (the failure is logged and
			// in LastError). One that disconnected, or an expired token, fails the request.
			if errors.Is(err, ErrDisconnected) || !now.Before(rec.Creds.Token.Expiry) {
				return err
			}
		}
	}
	rec, env, vault := c.current()
	if t := rec.Creds.Token; t != nil {
		// The run must not show the token it carries, refreshed after the run began or not.
		at := t.AccessToken.Reveal()
		engine.AddSecrets(ctx, at, url.QueryEscape(at))
	}
	return c.apply(req, rec, env, vault)
}

// Retry refreshes after a response whose status is in refresh.on_status and says whether to
// send the request again. On the retry's own response it disconnects the connection when the
// fresh token was refused as well (401).
func (c *conn) Retry(ctx context.Context, resp *http.Response) (bool, error) {
	if !c.refreshable() || !slices.Contains(c.refresh.OnStatus, resp.StatusCode) {
		return false, nil
	}
	rec, _, _ := c.current()
	carried := c.carries(resp.Request, rec)
	if engine.IsRetry(ctx) {
		// Only a 401 says a fresh token was refused. Another status the app lists (403) may
		// as well mean that the account may not see this resource: the request fails, and
		// the connection is kept.
		if carried && rec.Creds.Token != nil && resp.StatusCode == http.StatusUnauthorized {
			err := c.disconnect(ctx, rec.Creds.Token.AccessToken, fmt.Sprintf("the provider refused a freshly refreshed token (%s)", resp.Status))
			return false, err
		}
		return false, nil
	}
	if !carried {
		return true, nil // a newer token is here already: send the request again with it
	}
	var stale Secret
	if rec.Creds.Token != nil {
		stale = rec.Creds.Token.AccessToken
	}
	if _, err := c.refreshToken(ctx, stale, true); err != nil {
		return false, err
	}
	return true, nil
}

// token is the value of {{ token }} in inject: the access token, or for api_key and fields the
// first sensitive field.
func (c *conn) token(rec *Record) string {
	if t := rec.Creds.Token; t != nil {
		return t.AccessToken.Reveal()
	}
	for _, f := range Fields(c.cfg) {
		if f.Sensitive {
			return rec.Creds.Fields[f.Key].Reveal()
		}
	}
	return ""
}

// apply puts rec's credentials and request defaults on req; env and vault are rec's.
func (c *conn) apply(req *http.Request, rec *Record, env, vault map[string]any) error {
	if c.cfg == nil {
		return nil
	}
	if c.cfg.Type == flows.ConnOAuth2 && c.cfg.Request == nil && c.cfg.Inject == nil {
		// The common case, on every request: no template to evaluate.
		if t := rec.Creds.Token; t != nil {
			req.Header.Set("Authorization", "Bearer "+t.AccessToken.Reveal())
		}
		return nil
	}
	tmpl := c.templates(req.Context(), env, vault)
	defer c.release(tmpl)
	tmpl.env[flows.NameToken] = c.token(rec)
	if d := c.cfg.Request; d != nil {
		for _, k := range sortedKeys(d.Headers) {
			if req.Header.Get(k) != "" {
				continue
			}
			v, err := tmpl.evalString(d.Headers[k])
			if err != nil {
				return fmt.Errorf("connection request header %s: %w", k, err)
			}
			req.Header.Set(k, v)
		}
		if len(d.Query) > 0 {
			q := req.URL.Query()
			for _, k := range sortedKeys(d.Query) {
				if q.Has(k) {
					continue
				}
				v, err := tmpl.evalString(d.Query[k])
				if err != nil {
					return fmt.Errorf("connection request query %s: %w", k, err)
				}
				q.Set(k, v)
			}
			req.URL.RawQuery = q.Encode()
		}
	}
	switch {
	case c.cfg.Type == flows.ConnOAuth1:
		return c.m.signOAuth1(req, c, rec, env)
	case c.cfg.Inject != nil:
		v, err := tmpl.evalString(c.cfg.Inject.Value)
		if err != nil {
			return fmt.Errorf("connection inject: %w", err)
		}
		if c.cfg.Inject.In == "query" {
			q := req.URL.Query()
			q.Set(c.cfg.Inject.Name, v)
			req.URL.RawQuery = q.Encode()
		} else {
			req.Header.Set(c.cfg.Inject.Name, v)
		}
	case c.cfg.Type == flows.ConnBasic:
		return c.applyBasic(req, rec, *tmpl)
	case c.cfg.Type == flows.ConnOAuth2:
		if t := rec.Creds.Token; t != nil {
			req.Header.Set("Authorization", "Bearer "+t.AccessToken.Reveal())
		}
	}
	return nil
}

// templates returns what evaluates the connection's templates for one request, from c's pool:
// every request evaluates inject and the request defaults, and needs no new VM or maps for it.
// env and vault are the current record's; ctx is the request's, whose end stops a template.
// Give it back with release.
func (c *conn) templates(ctx context.Context, env, vault map[string]any) *connTemplates {
	t, _ := c.tmpls.Get().(*connTemplates)
	if t == nil {
		t = &connTemplates{ev: flows.NewEvaluator(ctx), env: map[string]any{"app": appEnv(c.prog.App), "input": nil}}
	}
	t.ev.Reset(ctx)
	t.env["connection"], t.env["vault"] = env, vault
	return t
}

// release puts t back in the pool, holding neither the request's context nor the credentials.
func (c *conn) release(t *connTemplates) {
	t.ev.Reset(nil)
	t.env["connection"], t.env["vault"], t.env[flows.NameToken] = nil, nil, nil
	c.tmpls.Put(t)
}

// carries reports whether a sent request carried rec's current access token.
func (c *conn) carries(req *http.Request, rec *Record) bool {
	if req == nil || rec.Creds.Token == nil {
		return true
	}
	probe, _ := http.NewRequest(req.Method, req.URL.String(), nil)
	probe.Header = make(http.Header)
	probe.URL.RawQuery = ""
	_, env, vault := c.current()
	if err := c.apply(probe, rec, env, vault); err != nil {
		return true
	}
	if c.cfg.Inject != nil && c.cfg.Inject.In == "query" {
		return req.URL.Query().Get(c.cfg.Inject.Name) == probe.URL.Query().Get(c.cfg.Inject.Name)
	}
	name := "Authorization"
	if c.cfg.Inject != nil {
		name = c.cfg.Inject.Name
	}
	return req.Header.Get(name) == probe.Header.Get(name)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errConn is the Conn of a connection whose credentials could not be read: every request fails.
type errConn struct{ err error }

func (e errConn) Authorize(context.Context, *http.Request) error      { return e.err }
func (e errConn) Retry(context.Context, *http.Response) (bool, error) { return false, nil }

// redactor redacts rec's secrets and those of the connection's run values: the auth client's
// secret and the vault, which a token request sends and a provider may echo in its error.
func (c *conn) redactor(rec *Record) *engine.Redactor {
	all := secretsOf(rec)
	_, env, vault := c.current()
	if cl, ok := env["client"].(map[string]any); ok {
		all = append(all, flows.Stringify(cl["secret"]))
	}
	for _, v := range vault {
		all = append(all, flows.Stringify(v))
	}
	return engine.NewRedactor(all...)
}

// secretsOf lists a record's secret values, for redaction.
func secretsOf(rec *Record) []string {
	var out []string
	for _, v := range rec.Creds.Fields {
		out = append(out, v.Reveal())
	}
	if t := rec.Creds.Token; t != nil {
		out = append(out, t.AccessToken.Reveal(), t.RefreshToken.Reveal(), t.TokenSecret.Reveal())
	}
	return out
}

// Connection returns the template value connection of the current record: after a refresh
// during a run, the run's next template sees the values the refresh brought.
func (c *conn) Connection() map[string]any {
	_, env, _ := c.current()
	return env
}
