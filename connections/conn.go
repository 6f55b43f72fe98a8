package connections

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

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
	stored  bool // false while connecting: nothing to refresh or disconnect yet

	mu    sync.Mutex
	rec   *Record
	env   map[string]any // the template value connection, for inject and request defaults
	vault map[string]any
}

var _ engine.Conn = (*conn)(nil)

// Conn returns the engine.Conn of a stored connection.
func (m *Manager) Conn(ctx context.Context, prog *engine.Program, rec *Record) (engine.Conn, error) {
	c := m.newConn(prog, rec)
	c.stored = rec.ID != ""
	if err := c.load(ctx, rec); err != nil {
		return nil, err
	}
	return c, nil
}

// memConn is the Conn of a connection being made, tested before it is stored.
func (m *Manager) memConn(prog *engine.Program, rec *Record) engine.Conn {
	c := m.newConn(prog, rec)
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
	tmpl := newTemplates(req.Context(), env, c.prog.App, vault)
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
		req.SetBasicAuth(rec.Creds.Fields["username"].Reveal(), rec.Creds.Fields["password"].Reveal())
	case c.cfg.Type == flows.ConnOAuth2:
		if t := rec.Creds.Token; t != nil {
			req.Header.Set("Authorization", "Bearer "+t.AccessToken.Reveal())
		}
	}
	return nil
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

// refreshToken gets a new token unless another caller, here or in another process, already
// did: one refresh per connection at a time (singleflight in the process, the store's lock
// across processes), the record re-read under the lock. reactive is a refresh after a refused
// request; it honours min_interval by failing rather than refreshing again.
func (c *conn) refreshToken(ctx context.Context, stale Secret, reactive bool) (*Record, error) {
	rec, _, _ := c.current()
	ran := false // this caller ran the refresh (and loaded its result) rather than waited for it
	v, err, _ := c.m.flight.Do(rec.ID, func() (any, error) {
		ran = true
		// The refresh outlives a caller that gives up: a rotated refresh token must be saved.
		// (A process killed between the provider's answer and Locked's commit loses it: the
		// next refresh sends the retired one and, refused, disconnects; docs/connections.md.)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.m.timeout)
		defer cancel()
		var refreshed bool
		var failure string
		saved, err := c.m.store.Locked(ctx, rec.ID, func(cur *Record) (*Record, error) {
			if cur.Status == StatusDisconnected {
				return nil, &DisconnectedError{Name: cur.Name, Reason: cur.Reason}
			}
			now := c.m.now()
			tok := cur.Creds.Token
			if tok != nil && tok.AccessToken != stale && !refreshDue(tok, now, c.refresh.BeforeExpiry) && (!reactive || vouched(tok, now, c.refresh.MinInterval)) {
				return nil, nil // refreshed meanwhile
			}
			if !cur.LastRefresh.IsZero() && now.Sub(cur.LastRefresh) < minInterval(tok, c.refresh.MinInterval) {
				if reactive {
					return nil, ErrTooSoon
				}
				return nil, nil
			}
			newTok, err := c.m.requestToken(ctx, c.prog, cur)
			if err != nil {
				next := *cur
				next.LastError = reason(err, c.redactor(cur))
				if clientRefused(err) {
					// The client is wrong (a secret rotated at the provider), not the grant:
					// deleting the tokens would make every user connect again once it is fixed.
					next.Status, next.Reason = StatusError, next.LastError
					return &next, fmt.Errorf("refresh token: the provider refused the auth client %q, not the account: %s; fix the client (patchbay clients add) and the connection works again", cur.Client, next.LastError)
				}
				if rejected(err) {
					failure = next.LastError
					return disconnected(&next, failure), &DisconnectedError{Name: cur.Name, Reason: failure}
				}
				return &next, transient(err)
			}
			if newTok.RefreshToken == "" && tok != nil {
				newTok.RefreshToken = tok.RefreshToken // the provider did not rotate it
			}
			next := *cur
			next.Creds.Token = newTok
			next.Status, next.Reason, next.LastError = StatusConnected, "", ""
			next.LastRefresh = now
			next.RefreshCount++
			refreshed = true
			return &next, nil
		})
		if saved != nil {
			if lerr := c.load(ctx, saved); lerr != nil && err == nil {
				err = lerr
			}
		}
		switch {
		case saved == nil && refreshed:
			// The store could not save fn's record: the token the provider has just issued
			// is lost, and a refresh token it rotated away, still in the store, will be
			// refused at the next refresh.
			c.m.log.Error("new token not saved", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "error", err)
		case saved == nil && failure != "":
			c.m.log.Error("disconnect not saved", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", failure, "error", err)
		case failure != "":
			c.m.log.Warn("connection disconnected", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", failure)
			c.m.emit(ctx, saved, "disconnected", failure)
		case refreshed:
			c.m.log.Info("token refreshed", "connection_id", rec.ID, "app", rec.App, "expires_at", saved.Creds.Token.Expiry)
		case err != nil && !errors.Is(err, ErrTooSoon) && !errors.Is(err, ErrDisconnected):
			c.m.log.Warn("token refresh failed", "connection_id", rec.ID, "app", rec.App, "error", err)
		}
		return saved, err
	})
	saved, _ := v.(*Record)
	if !ran && saved != nil {
		// A caller that waited for another's refresh uses its result too: without it, this
		// conn would send the token the refresh just rotated away.
		if lerr := c.load(ctx, saved); lerr != nil && err == nil {
			err = lerr
		}
	}
	if err != nil {
		return nil, err
	}
	return saved, nil
}

// vouched reports whether a token newer than the one a refused request carried may be taken
// for a fresh one without asking the provider: its stated expiry says it is good, or it was
// obtained within min_interval (at least vouchFloor). A token without an expiry obtained
// longer ago may have died unnoticed since; taken, its refusal on the retry would disconnect
// a connection whose credentials are good.
func vouched(t *Token, now time.Time, d time.Duration) bool {
	return !t.Expiry.IsZero() || !now.After(t.ObtainedAt.Add(max(minInterval(t, d), vouchFloor)))
}

// vouchFloor is the least age up to which another caller's new token counts as fresh, also
// with min_interval 0s: runs refused in turn would otherwise each request a new token, and
// with a provider that takes only the newest, refuse each other's forever.
const vouchFloor = time.Minute

// minInterval is refresh.min_interval for the token t, capped at half its lifetime as
// before_expiry is: a token that lives less than twice min_interval must still be refreshed
// before it expires (a 60-second token every 30 s).
func minInterval(t *Token, d time.Duration) time.Duration {
	if t == nil || t.Expiry.IsZero() || t.ObtainedAt.IsZero() {
		return d
	}
	// A token issued already expired (a clock skew, a provider bug) keeps the full interval:
	// refreshing it at every request would hammer the provider.
	if half := t.Expiry.Sub(t.ObtainedAt) / 2; half > 0 && half < d {
		return half
	}
	return d
}

// requestToken runs the flow that gives a connection a new token: refresh for oauth2
// authorization code (with the refresh token), refresh for client credentials (a new token
// request), exchange with the stored fields for token connections.
func (m *Manager) requestToken(ctx context.Context, prog *engine.Program, rec *Record) (*Token, error) {
	c := prog.App.Connection
	var out any
	var err error
	switch {
	case c.Type == flows.ConnToken:
		out, err = m.runPrivate(ctx, prog, rec, "exchange", nil, nil)
	case c.Grant == "client_credentials":
		out, err = m.runPrivate(ctx, prog, rec, "refresh", nil, nil)
	default:
		if rec.Creds.Token == nil || rec.Creds.Token.RefreshToken == "" {
			return nil, errNoRefreshToken
		}
		out, err = m.runPrivate(ctx, prog, rec, "refresh", map[string]any{"refresh_token": rec.Creds.Token.RefreshToken.Reveal()}, nil)
	}
	if err != nil {
		return nil, err
	}
	return tokenFromOutput(out, m.now(), assumeLifetime(c))
}

// disconnect marks the connection disconnected under its lock and tells whoever listens.
func (c *conn) disconnect(ctx context.Context, refused Secret, why string) error {
	rec, _, _ := c.current()
	var did, newer bool
	saved, err := c.m.store.Locked(context.WithoutCancel(ctx), rec.ID, func(cur *Record) (*Record, error) {
		if cur.Status == StatusDisconnected {
			return nil, nil
		}
		if cur.Creds.Token != nil && cur.Creds.Token.AccessToken != refused {
			// Another caller, here or in another process, got a newer token meanwhile: the
			// refusal was of an old one, and says nothing about the grant.
			newer = true
			return nil, nil
		}
		did = true
		next := *cur
		return disconnected(&next, why), nil
	})
	if err != nil {
		return err
	}
	if saved != nil {
		_ = c.load(ctx, saved)
	}
	if newer {
		return nil
	}
	if did {
		c.m.log.Warn("connection disconnected", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "reason", why)
		c.m.emit(ctx, saved, "disconnected", why)
	}
	return &DisconnectedError{Name: rec.Name, Reason: why}
}

// disconnected returns rec without credentials, disconnected for why.
func disconnected(rec *Record, why string) *Record {
	rec.Status = StatusDisconnected
	rec.Reason = why
	rec.LastError = why
	rec.Creds = Credentials{}
	return rec
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
