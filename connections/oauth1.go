package connections

// OAuth 1.0a (RFC 5849) connections. github.com/dghubble/oauth1 does the protocol: the request
// token (temporary credentials), the authorization URL, the access token (token credentials)
// and the HMAC-SHA1 signature of every request. This file adapts it to the Manager: a context
// and the manager's HTTP client for its token requests, secret-free errors, and signing a
// request in place instead of sending it.

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/dghubble/oauth1"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// oauth1Pending is what an oauth1 connection keeps between StartOAuth and FinishOAuth: the
// request token and its secret. Pending holds it by pointer, so that printing a Pending with
// %v or %+v shows an address rather than the secret.
type oauth1Pending struct {
	token  string
	secret Secret
}

// Errors of an oauth1 callback.
var (
	// ErrRequestTokenMismatch is a callback whose oauth_token is not the request token the
	// connection was started with: it belongs to another attempt, or was forged.
	ErrRequestTokenMismatch = errors.New("callback oauth_token does not match the request token this connection was started with")
	// ErrVerifierMissing is a callback without oauth_verifier.
	ErrVerifierMissing = errors.New("callback has no oauth_verifier parameter")
)

// oauth1OOB is the callback of a connection started without a redirect URL (RFC 5849 section
// 2.1, "out of band"): the provider shows the verifier and the user copies it.
const oauth1OOB = "oob"

// maxTokenResponse bounds the body of a request token or access token response.
const maxTokenResponse = 64 << 10

// startOAuth1 gets a request token for rec, signed with the consumer secret, and returns the
// pending connection whose AuthorizeURL sends the user to approve it. The state is added to the
// callback's query (RFC 5849 section 2.2 keeps the callback's query and adds oauth_token and
// oauth_verifier to it), so that the redirect finds its pending connection as oauth2's does.
func (m *Manager) startOAuth1(ctx context.Context, prog *engine.Program, rec *Record, redirectURL string) (*Pending, error) {
	env, secrets, _, err := m.env(ctx, prog, rec)
	if err != nil {
		return nil, err
	}
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	if redirectURL == "" {
		if cl, ok := env["client"].(map[string]any); ok {
			redirectURL = flows.Stringify(cl["redirect_uri"])
		}
	}
	callback := oauth1OOB
	if redirectURL != "" {
		u, err := url.Parse(redirectURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("oauth1: the redirect URL %q is not an absolute URL", redirectURL)
		}
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
		callback = u.String()
	}
	ex := m.newOAuth1Exchange(ctx)
	cfg := oauth1Config(env, callback, ex.client())
	if err := oauth1AddParams(prog.App.Connection, env, &cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("oauth1: %w", err)
	}
	token, secret, err := cfg.RequestToken()
	red := oauth1Redactor(append(secrets, secret)...)
	if err != nil {
		return nil, ex.fail("request token", cfg.Endpoint.RequestTokenURL, red, err)
	}
	au, err := cfg.AuthorizationURL(token)
	if err != nil || au.Scheme == "" || au.Host == "" {
		return nil, fmt.Errorf("oauth1: the connection's authorize_url %q is not an absolute URL", red.String(cfg.Endpoint.AuthorizeURL))
	}
	m.log.Info("oauth1 request token obtained", "app", rec.App, "name", rec.Name)
	return &Pending{
		AuthorizeURL: au.String(), State: state, RedirectURL: redirectURL, Expires: m.now().Add(PendingLifetime),
		rec: rec, oauth1: &oauth1Pending{token: token, secret: Secret(secret)},
	}, nil
}

// finishOAuth1 completes a pending oauth1 connection with the query of the provider's redirect
// (or, out of band, oauth_token and the oauth_verifier the user copied): it trades the request
// token for the access token, signed with the request token's secret, then tests, labels and
// stores the connection. The oauth_token of the callback binds it to this pending connection;
// a state, when the callback carries one, must match too.
func (m *Manager) finishOAuth1(ctx context.Context, prog *engine.Program, p *Pending, query url.Values) (*Record, error) {
	if p.oauth1 == nil {
		return nil, errors.New("oauth1: this connection was not started with StartOAuth")
	}
	if got := query.Get("state"); got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if query.Has("denied") {
		return nil, errors.New("the provider refused access: the user denied it")
	}
	if e := query.Get("error"); e != "" {
		return nil, errors.New("the provider refused access: " + e)
	}
	if m.now().After(p.Expires) {
		return nil, ErrPendingExpired
	}
	token := query.Get("oauth_token")
	if token == "" {
		return nil, errors.New("callback has no oauth_token parameter")
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(p.oauth1.token)) != 1 {
		return nil, ErrRequestTokenMismatch
	}
	verifier := query.Get("oauth_verifier")
	if verifier == "" {
		return nil, ErrVerifierMissing
	}
	rec := p.rec
	env, secrets, _, err := m.env(ctx, prog, rec)
	if err != nil {
		return nil, err
	}
	ex := m.newOAuth1Exchange(ctx)
	cfg := oauth1Config(env, "", ex.client())
	access, secret, err := cfg.AccessToken(p.oauth1.token, p.oauth1.secret.Reveal(), verifier)
	if err != nil {
		red := oauth1Redactor(append(secrets, p.oauth1.secret.Reveal(), secret)...)
		return nil, ex.fail("access token", cfg.Endpoint.AccessTokenURL, red, err)
	}
	rec.Creds.Token = &Token{
		AccessToken: Secret(access), TokenSecret: Secret(secret), ObtainedAt: m.now(), Extra: ex.extra(),
	}
	return m.finish(ctx, prog, rec)
}

// oauth1Config is the dghubble/oauth1 configuration of a connection from its template value
// (Manager.env): the auth client's id and secret as consumer key and secret, and the
// evaluated endpoint URLs.
func oauth1Config(env map[string]any, callback string, hc *http.Client) *oauth1.Config {
	cl, _ := env["client"].(map[string]any)
	secret := flows.Stringify(cl["secret"])
	return &oauth1.Config{
		ConsumerKey:    flows.Stringify(cl["id"]),
		ConsumerSecret: secret,
		CallbackURL:    callback,
		Endpoint: oauth1.Endpoint{
			RequestTokenURL: flows.Stringify(env["request_token_url"]),
			AuthorizeURL:    flows.Stringify(env["authorize_url"]),
			AccessTokenURL:  flows.Stringify(env["access_token_url"]),
		},
		Signer:     &oauth1.HMACSigner{ConsumerSecret: secret},
		HTTPClient: hc,
	}
}

// oauth1AddParams puts the connection's scopes (env's: the auth client's, else the app's),
// joined by scope_separator, as a scope parameter on the request-token URL or the authorize URL
// as scope_in says, and the evaluated authorize_params on the authorize URL, leaving out null and
// empty values. A parameter of the request-token URL's query is signed with the call (RFC 5849
// section 3.4.1.3.1); the authorize URL gets oauth_token besides.
func oauth1AddParams(c *flows.Connection, env map[string]any, ep *oauth1.Endpoint) error {
	auth := url.Values{}
	params, _ := env["authorize_params"].(map[string]any)
	for k, v := range params {
		switch v.(type) {
		case map[string]any:
			return fmt.Errorf("connection authorize_params.%s must be a string, number or boolean, found a mapping", k)
		case []any:
			return fmt.Errorf("connection authorize_params.%s must be a string, number or boolean, found a list", k)
		}
		if s := flows.Stringify(v); s != "" {
			auth.Set(k, s)
		}
	}
	scopes, _ := env["scopes"].([]any)
	list := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		list = append(list, flows.Stringify(sc))
	}
	if scope := strings.Join(list, flows.Stringify(env["scope_separator"])); scope != "" {
		if c.ScopeIn == flows.ScopeInRequestTokenURL {
			u, err := oauth1WithQuery(ep.RequestTokenURL, url.Values{"scope": {scope}})
			if err != nil {
				return fmt.Errorf("connection request_token_url: %w", err)
			}
			ep.RequestTokenURL = u
		} else {
			auth.Set("scope", scope)
		}
	}
	u, err := oauth1WithQuery(ep.AuthorizeURL, auth)
	if err != nil {
		return fmt.Errorf("connection authorize_url: %w", err)
	}
	ep.AuthorizeURL = u
	return nil
}

// oauth1WithQuery returns rawURL with params set in its query; spaces are %20, as RFC 5849
// section 3.6 encodes them.
func oauth1WithQuery(rawURL string, params url.Values) (string, error) {
	if len(params) == 0 {
		return rawURL, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", errors.New("not a URL")
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	// Encode escapes a literal + as %2B: each + left is a space.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}

// oauth1Exchange sends the request token or access token request of one connection attempt
// through the manager's HTTP client. dghubble/oauth1's RequestToken and AccessToken take no
// context, put a refused response's whole body in their error, and drop every response field
// but the token and its secret; so the transport puts ctx on each request and keeps the last
// response's status and body, for a bounded, redacted error and for Token.Extra.
type oauth1Exchange struct {
	ctx  context.Context
	hc   *http.Client // the manager's, for private flows
	resp *http.Response
	body []byte
}

func (m *Manager) newOAuth1Exchange(ctx context.Context) *oauth1Exchange {
	return &oauth1Exchange{ctx: ctx, hc: m.private}
}

// client returns the HTTP client to give dghubble/oauth1.
func (x *oauth1Exchange) client() *http.Client {
	return &http.Client{Transport: x, CheckRedirect: x.hc.CheckRedirect, Jar: x.hc.Jar, Timeout: x.hc.Timeout}
}

// RoundTrip sends req with the attempt's context and keeps the response's body.
func (x *oauth1Exchange) RoundTrip(req *http.Request) (*http.Response, error) {
	base := x.hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req.WithContext(x.ctx))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxTokenResponse {
		return nil, fmt.Errorf("the response body is larger than %d bytes", maxTokenResponse)
	}
	x.resp, x.body = resp, body
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// fail turns the failure of a token request into an error without secrets: a refused request
// becomes an *engine.HTTPError with the status and a redacted excerpt of the body (an OAuth 1
// provider says why in it: oauth_problem=signature_invalid).
func (x *oauth1Exchange) fail(what, rawURL string, red *engine.Redactor, err error) error {
	where := rawURL
	if u, perr := url.Parse(rawURL); perr == nil {
		where = u.Scheme + "://" + u.Host + u.Path // the query may carry anything: leave it out
	}
	where = red.String(where)
	if r := x.resp; r != nil && r.StatusCode != http.StatusOK && r.StatusCode != http.StatusCreated {
		return fmt.Errorf("oauth1 %s: %w", what, &engine.HTTPError{
			Method: http.MethodPost, URL: where, StatusCode: r.StatusCode, Status: r.Status,
			Body: oauth1Excerpt(red, x.body), Header: r.Header,
		})
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("oauth1 %s: POST %s: %w", what, where, ue.Err)
	}
	return fmt.Errorf("oauth1 %s: POST %s: %s", what, where, red.String(strings.TrimPrefix(err.Error(), "oauth1: ")))
}

// extra returns the fields of the access token response besides the token and its secret
// (user_id, screen_name ...), for Token.Extra; nil when there are none.
func (x *oauth1Exchange) extra() map[string]any {
	vals, err := url.ParseQuery(strings.TrimSpace(string(x.body)))
	if err != nil {
		return nil
	}
	var out map[string]any
	for k, vs := range vals {
		if k == "oauth_token" || k == "oauth_token_secret" || len(vs) == 0 {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = vs[0]
	}
	return out
}

// oauth1Redactor redacts secrets as they are and as a form or an OAuth parameter encodes them,
// which is how a provider's response body carries them.
func oauth1Redactor(secrets ...string) *engine.Redactor {
	all := make([]string, 0, 3*len(secrets))
	for _, s := range secrets {
		all = append(all, s, url.QueryEscape(s), oauth1.PercentEncode(s))
	}
	return engine.NewRedactor(all...)
}

// oauth1Excerpt returns at most engine.BodyExcerpt bytes of a body, redacted, as valid UTF-8.
func oauth1Excerpt(red *engine.Redactor, data []byte) string {
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

// signOAuth1 signs req for an oauth1 connection: an Authorization header with the HMAC-SHA1
// signature (RFC 5849 section 3.4.2) over the method, the URL, the query and, for a form body,
// its parameters (section 3.4.1.3), keyed by the consumer secret and the access token secret.
//
// dghubble/oauth1 signs only inside its Transport, which then sends the request; its signing
// code is unexported. So a copy of req goes through that Transport with a base RoundTripper
// that keeps the signed Authorization header and answers without sending anything, and the
// header is put on req. The Transport reads a form body only when Content-Type is exactly
// application/x-www-form-urlencoded and takes one value per parameter name, so the copy gets
// that Content-Type (a charset parameter does not change the form), and a parameter given
// twice is refused here rather than signed wrongly.
func (m *Manager) signOAuth1(req *http.Request, c *conn, rec *Record, env map[string]any) error {
	tok := rec.Creds.Token
	if tok == nil || tok.AccessToken == "" {
		return errors.New("oauth1: the connection has no access token; connect it again")
	}
	form, isForm, err := oauth1FormBody(req)
	if err != nil {
		return fmt.Errorf("oauth1 signature: %w", err)
	}
	if err := oauth1CheckRepeated(req.URL.RawQuery, form); err != nil {
		return fmt.Errorf("oauth1 signature: %w", err)
	}
	probe := req.Clone(req.Context())
	probe.Body, probe.GetBody = nil, nil
	if isForm {
		probe.Body = io.NopCloser(bytes.NewReader(form))
		probe.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	var auth string
	keep := oauth1KeepHeader(func(r *http.Request) (*http.Response, error) {
		auth = r.Header.Get("Authorization")
		return &http.Response{StatusCode: http.StatusNoContent, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	ctx := context.WithValue(probe.Context(), oauth1.HTTPClient, &http.Client{Transport: keep})
	token := oauth1.NewToken(tok.AccessToken.Reveal(), tok.TokenSecret.Reveal())
	resp, err := oauth1Config(env, "", nil).Client(ctx, token).Transport.RoundTrip(probe)
	if err != nil {
		return fmt.Errorf("oauth1 signature: %w", err)
	}
	resp.Body.Close()
	if auth == "" {
		return errors.New("oauth1 signature: the request was not signed")
	}
	req.Header.Set("Authorization", auth)
	return nil
}

// oauth1FormBody returns req's body when it is a form (Content-Type application/x-www-form-urlencoded),
// leaving req able to send it: read through GetBody when req has it, else read from Body and
// put back in Body and GetBody.
func oauth1FormBody(req *http.Request) ([]byte, bool, error) {
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" || req.Body == nil || req.Body == http.NoBody {
		return nil, false, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, false, fmt.Errorf("read form body: %w", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, false, fmt.Errorf("read form body: %w", err)
		}
		return b, true, nil
	}
	b, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, false, fmt.Errorf("read form body: %w", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, true, nil
}

// oauth1CheckRepeated refuses a parameter name given more than once across the query and the form
// body: RFC 5849 section 3.4.1.3 signs every value, dghubble/oauth1 only one per name, so the
// provider would reject the signature.
func oauth1CheckRepeated(rawQuery string, form []byte) error {
	count := map[string]int{}
	for _, src := range []struct{ what, s string }{{"query", rawQuery}, {"form body", string(form)}} {
		vals, err := url.ParseQuery(src.s)
		if err != nil {
			return fmt.Errorf("parse the %s: %w", src.what, err)
		}
		for k, vs := range vals {
			count[k] += len(vs)
		}
	}
	var repeated []string
	for k, n := range count {
		if n > 1 {
			repeated = append(repeated, k)
		}
	}
	if len(repeated) == 0 {
		return nil
	}
	sort.Strings(repeated)
	return fmt.Errorf("parameter %q is given more than once in the query and form body; oauth1 requests can sign one value per parameter name", repeated[0])
}

type oauth1KeepHeader func(*http.Request) (*http.Response, error)

func (f oauth1KeepHeader) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
