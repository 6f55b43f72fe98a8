package connections

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"golang.org/x/oauth2"
)

// Pending is an OAuth connection waiting for the user's approval in a browser.
type Pending struct {
	AuthorizeURL string
	State        string
	RedirectURL  string
	Expires      time.Time
	verifier     Secret // the PKCE code verifier: a Secret, so printing a Pending cannot show it
	rec          *Record
	oauth1       *oauth1Pending // oauth1: the request token and its secret
}

// String shows the pending connection without its secrets (the PKCE verifier, oauth1's request
// token secret): fmt prints unexported fields as they are, whatever their type.
func (p Pending) String() string {
	return fmt.Sprintf("{AuthorizeURL:%s State:%s RedirectURL:%s Expires:%s}", p.AuthorizeURL, p.State, p.RedirectURL, p.Expires.Format(time.RFC3339))
}

// GoString is String for %#v.
func (p Pending) GoString() string { return "connections.Pending" + p.String() }

// PendingLifetime is how long a user has to approve access.
const PendingLifetime = 15 * time.Minute

// StartOAuth begins connecting an oauth2 (authorization code) account: it runs the authorize
// flow with a fresh state and PKCE verifier and returns the URL to send the user to.
func (m *Manager) StartOAuth(ctx context.Context, prog *engine.Program, req ConnectRequest, redirectURL string) (*Pending, error) {
	c := prog.App.Connection
	if c == nil || c.Type != flows.ConnOAuth1 && (c.Type != flows.ConnOAuth2 || c.Grant != "authorization_code") {
		return nil, fmt.Errorf("app %s does not connect in a browser (connection type %s)", prog.App.Key, c)
	}
	rec, err := m.newRecord(prog, req)
	if err != nil {
		return nil, err
	}
	if err := m.checkName(ctx, rec); err != nil {
		return nil, err
	}
	if c.Type == flows.ConnOAuth1 {
		return m.startOAuth1(ctx, prog, rec, redirectURL)
	}
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	p := &Pending{State: state, RedirectURL: redirectURL, Expires: m.now().Add(PendingLifetime), verifier: Secret(oauth2.GenerateVerifier()), rec: rec}
	out, err := m.runPrivate(ctx, prog, rec, "authorize", map[string]any{
		"state": state, "redirect_uri": redirectURL, "code_verifier": p.verifier.Reveal(),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	o, _ := out.(map[string]any)
	p.AuthorizeURL = flows.Stringify(o["authorize_url"])
	if u, err := url.Parse(p.AuthorizeURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("authorize: the flow's output authorize_url %q is not an absolute URL", p.AuthorizeURL)
	}
	return p, nil
}

// Errors of an OAuth callback.
var (
	ErrStateMismatch  = errors.New("callback state does not match the one this connection was started with")
	ErrStateMissing   = errors.New("callback has no state parameter")
	ErrPendingExpired = errors.New("the approval took too long; start connecting again")
)

// FinishOAuth completes a pending connection with the query of the provider's redirect: it
// checks state, runs exchange and test, and stores the connection.
func (m *Manager) FinishOAuth(ctx context.Context, prog *engine.Program, p *Pending, query url.Values) (*Record, error) {
	if p.oauth1 != nil {
		return m.finishOAuth1(ctx, prog, p, query)
	}
	// The state first: an error callback must be this connection's too, or anyone who can
	// send the redirect could end it with words of their own.
	got := query.Get("state")
	if got == "" {
		return nil, ErrStateMissing
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(p.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if e := query.Get("error"); e != "" {
		msg := "the provider refused access: " + e
		if d := query.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return nil, errors.New(msg)
	}
	if m.now().After(p.Expires) {
		return nil, ErrPendingExpired
	}
	param := "code"
	if c := prog.App.Connection; c.CodeParam != "" {
		param = c.CodeParam
	}
	code := query.Get(param)
	if code == "" {
		return nil, fmt.Errorf("callback has no %s parameter", param)
	}
	q := map[string]any{}
	for k, v := range query {
		if len(v) > 0 {
			q[k] = v[0]
		}
	}
	rec := p.rec
	tok, err := m.exchange(ctx, prog, rec, map[string]any{
		"code": code, "state": got, "redirect_uri": p.RedirectURL, "code_verifier": p.verifier.Reveal(), "query": q,
	})
	if err != nil {
		return nil, err
	}
	rec.Creds.Token = tok
	return m.finish(ctx, prog, rec)
}
