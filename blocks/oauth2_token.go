package blocks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth2Token makes one request to an OAuth 2.0 token endpoint, the heart of an oauth2 app's
// exchange and refresh flows:
//
//	oauth2_token:
//	  url: https://provider.example/oauth/token          # required
//	  grant_type: authorization_code                     # | refresh_token | client_credentials
//	  client_id: "{{ input.client_id }}"
//	  client_secret: "{{ input.client_secret }}"
//	  client_auth: basic                                 # basic (the default) | post | basic_raw | none
//	  method: POST                                       # POST (the default) | GET
//	  code: "{{ input.code }}"                           # authorization_code
//	  redirect_uri: "{{ input.redirect_uri }}"           # authorization_code
//	  code_verifier: "{{ input.code_verifier }}"         # authorization_code, PKCE
//	  refresh_token: "{{ input.refresh_token }}"         # refresh_token
//	  scopes: [read]                                     # a list, or one string
//	  params: {audience: https://api.example}            # more form parameters
//	  headers: {Accept: application/json}                # more request headers
//	  body: form                                         # form (the default) | json
//	  token_in: authed_user                              # the answer's object holding the token
//	  keep: {team_id: team.id}                           # the answer's fields to output
//	  error_in: error                                    # where the answer holds an error
//
// The request is made by golang.org/x/oauth2 (Config.Exchange, Config.TokenSource,
// clientcredentials.Config.Token) with the run's HTTP client. client_auth basic sends the
// client's id and secret in an Authorization header (client_secret_basic), post in the form
// (client_secret_post). method GET sends the form as the URL's query instead, for providers
// that want it so. scopes are joined by spaces and sent with every grant. client_auth basic_raw
// sends the id and secret in the Authorization header as they are, not form-encoded first as
// RFC 6749 section 2.3.1 says (some providers decode neither); none sends the client_id in the
// form and no secret (a public client). body json sends the parameters as one JSON object.
//
// token_in names, as a dot path, the object of the answer that holds access_token and its
// fields when they are not at the top level; its fields are moved there. keep, when given,
// makes the output the token's fields and only the named fields of the answer, each read at a
// dot path (team.id). error_in names, as a dot path, where a provider that does not answer
// errors as RFC 6749 says puts its error (an HTTP 200 with {"ok": false, "error": "..."}, or an
// {"error": {"message": "..."}} object): present and not empty, it fails the step with the
// provider's words as an *oauth2.RetrieveError. An HTTP 200 whose error field is text is one
// already, as x/oauth2 reads it.
//
// The output is a mapping of every field of the token response, JSON or form-encoded, so that
// extras such as instance_url or id_token are kept, with these fields normalized:
//
//	access_token   always present
//	refresh_token  the refresh token; on a refresh that returned none, the one sent
//	token_type     "Bearer" when the provider gave none
//	scope          a string, when the provider returned scope
//	expires_in     integer seconds, only when the provider stated an expiry
//	expires_at     RFC 3339 UTC time, only when the provider stated an expiry
//
// The client secret, code, code verifier and both tokens are redacted for the rest of the run.
// An error response of the endpoint fails the step with an error wrapping *oauth2.RetrieveError;
// TokenErrorCode reads its status and OAuth error code.
type OAuth2Token struct {
	url, grant, clientID, clientSecret, clientAuth, method    *flows.Value
	code, redirectURI, verifier, refreshToken, scopes, params *flows.Value
	headers, body, tokenIn, keep, errorIn                     *flows.Value
}

var _ engine.Block = (*OAuth2Token)(nil)

// OAuth2TokenType is the oauth2_token block.
var OAuth2TokenType = engine.BlockType{
	Kind:    "oauth2_token",
	Summary: "requests tokens from an OAuth 2.0 token endpoint (authorization_code, refresh_token, client_credentials)",
	Spec: engine.Spec{
		Doc: "The request is made by golang.org/x/oauth2 with the run's HTTP client. The output is every field of the token response " +
			"(JSON or form-encoded), with access_token, refresh_token (on a refresh that returned none, the one sent), token_type " +
			"(Bearer when none), scope, expires_in and expires_at normalized. The client secret, code, code verifier and both tokens " +
			"are redacted for the rest of the run.",
		Fields: []engine.Field{
			oauthURLField("https://provider.example/oauth/token", "The provider's token endpoint."),
			{Name: "grant_type", Type: engine.Enum(oauthGrants...), Required: true, Missing: "grant_type: " + strings.Join(oauthGrants, " | "), Doc: "The grant."},
			{Name: "client_id", Type: engine.String, Doc: "The OAuth client's id."},
			{Name: "client_secret", Type: engine.String, Doc: "The OAuth client's secret."},
			{Name: "client_auth", Type: engine.Enum(oauthClientAuths...), Default: "basic", Doc: "basic sends the client's id and secret in an Authorization header (client_secret_basic), post in the form (client_secret_post); " +
				"basic_raw sends them in the header as they are, not form-encoded first (for providers that decode neither); none sends the client_id in the form and no secret (a public client)."},
			{Name: "method", Type: engine.EnumFold(oauthMethods...), Default: "POST", Doc: "GET sends the form as the URL's query instead, for providers that want it so."},
			{Name: "code", Type: engine.String, Doc: "The authorization code (authorization_code, where it is required)."},
			{Name: "redirect_uri", Type: engine.String, Doc: "The redirect URI of the authorization (authorization_code)."},
			{Name: "code_verifier", Type: engine.String, Doc: "The PKCE code verifier (authorization_code)."},
			{Name: "refresh_token", Type: engine.String, Doc: "The refresh token (refresh_token, where it is required)."},
			oauthScopesField,
			oauthParamsField("More form parameters (audience: https://api.example)."),
			{Name: "headers", Type: engine.Mapping, Doc: "More request headers (Accept: application/json), sent to the token endpoint's origin only."},
			{Name: "body", Type: engine.Enum(oauthBodies...), Default: "form", Doc: "form sends the parameters form-encoded; json sends them as one JSON object (with method POST)."},
			{Name: "token_in", Type: engine.String, Doc: "A dot path to the object of the answer that holds access_token and its fields when they are not at the top level (authed_user); they are moved there."},
			{Name: "keep", Type: engine.Mapping, Doc: "Makes the output the token's fields and only these fields of the answer, each read at a dot path (team_id: team.id)."},
			{Name: "error_in", Type: engine.String, Doc: "A dot path to where a provider that does not answer errors as RFC 6749 says puts its error (error, or error.message): present and not empty, it fails the step with the provider's words."},
		},
		Examples: []string{`- id: token
  oauth2_token:
    url: https://provider.example/oauth/token
    grant_type: client_credentials
    client_id: my-client
    client_secret: "{{ vault.client_secret }}"
    scopes: [read]`, `- id: app_token
  oauth2_token:
    url: https://provider.example/api/oauth.access
    grant_type: client_credentials
    client_id: my-client
    client_secret: "{{ vault.client_secret }}"
    client_auth: post
    headers: {Accept: application/json}
    token_in: authed_user
    keep: {team_id: team.id}
    error_in: error`},
	},
	Compile: compileOAuth2Token,
}

var (
	oauthGrants      = []string{"authorization_code", "refresh_token", "client_credentials"}
	oauthClientAuths = []string{"basic", "post", "basic_raw", "none"}
	oauthMethods     = []string{"POST", "GET"}
)

// tokenReserved are the form parameters the block sets from its own fields.
var tokenReserved = map[string]string{
	"grant_type":    "grant_type",
	"code":          "code",
	"redirect_uri":  "redirect_uri",
	"code_verifier": "code_verifier",
	"refresh_token": "refresh_token",
	"client_secret": "client_secret",
	"scope":         "scopes",
}

// oauthGrantOnly are the fields that only one grant uses, in the order they are checked.
var oauthGrantOnly = []struct{ field, grant string }{
	{"code", "authorization_code"},
	{"redirect_uri", "authorization_code"},
	{"code_verifier", "authorization_code"},
	{"refresh_token", "refresh_token"},
}

func compileOAuth2Token(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	const what = "oauth2_token"
	b := &OAuth2Token{}
	b.url = c.Template(in.Value("url"))
	b.grant = c.Template(in.Value("grant_type"))
	b.clientID = c.Template(in.Value("client_id"))
	b.clientSecret = c.Template(in.Value("client_secret"))
	b.clientAuth = c.Template(in.Value("client_auth"))
	b.method = c.Template(in.Value("method"))
	b.code = c.Template(in.Value("code"))
	b.redirectURI = c.Template(in.Value("redirect_uri"))
	b.verifier = c.Template(in.Value("code_verifier"))
	b.refreshToken = c.Template(in.Value("refresh_token"))
	b.scopes = c.Template(in.Value("scopes"))
	b.params = oauthParams(c, in, what, tokenReserved)
	b.headers = c.Template(in.Value("headers"))
	b.body = c.Template(in.Value("body"))
	b.tokenIn = oauthPathField(c, in, what, "token_in")
	b.keep = c.Template(in.Value("keep"))
	b.errorIn = oauthPathField(c, in, what, "error_in")
	if b.body != nil && b.body.IsConst() && b.method != nil && b.method.IsConst() &&
		flows.Stringify(b.body.ConstValue()) == "json" && strings.EqualFold(flows.Stringify(b.method.ConstValue()), http.MethodGet) {
		c.Errorf(in.Value("body"), "%s: body json needs method POST (a GET has no body)", what)
	}
	if b.grant != nil && b.grant.IsConst() {
		grant := flows.Stringify(b.grant.ConstValue())
		for _, g := range oauthGrantOnly {
			if in.Has(g.field) && grant != g.grant {
				c.Errorf(in.Key(g.field), "%s: %s is only for grant_type %s", what, g.field, g.grant)
			}
		}
		for _, g := range oauthGrantNeeds {
			if grant == g.grant && !in.Has(g.field) {
				c.Errorf(in.Node, "%s: %s is missing (%s)", what, g.field, g.example)
			}
		}
	}
	return b, nil
}

// oauthGrantNeeds are the fields a grant needs.
var oauthGrantNeeds = []struct{ grant, field, example string }{
	{"authorization_code", "code", `code: "{{ input.code }}"`},
	{"refresh_token", "refresh_token", `refresh_token: "{{ input.refresh_token }}"`},
}

// Kind returns "oauth2_token".
func (b *OAuth2Token) Kind() string { return "oauth2_token" }

// oauthTokenRequest is one token request, evaluated.
type oauthTokenRequest struct {
	url, grant, clientID, clientSecret, clientAuth, method string
	code, redirectURI, verifier, refreshToken              string
	scopes                                                 []string
	params                                                 map[string]string
	headers, keep                                          map[string]string
	body, tokenIn, errorIn                                 string
}

// Run evaluates the fields, requests the token and returns the token response.
func (b *OAuth2Token) Run(ctx context.Context, st *engine.State) (any, error) {
	var ev oauthEval
	r := oauthTokenRequest{
		url:          ev.str(st, "url", b.url),
		grant:        ev.str(st, "grant_type", b.grant),
		clientID:     ev.str(st, "client_id", b.clientID),
		clientSecret: ev.str(st, "client_secret", b.clientSecret),
		clientAuth:   ev.str(st, "client_auth", b.clientAuth),
		method:       ev.str(st, "method", b.method),
		code:         ev.str(st, "code", b.code),
		redirectURI:  ev.str(st, "redirect_uri", b.redirectURI),
		verifier:     ev.str(st, "code_verifier", b.verifier),
		refreshToken: ev.str(st, "refresh_token", b.refreshToken),
		scopes:       ev.list(st, "scopes", b.scopes),
		params:       ev.params(st, b.params, tokenReserved),
		headers:      ev.strMap(st, "headers", b.headers),
		body:         ev.str(st, "body", b.body),
		tokenIn:      ev.str(st, "token_in", b.tokenIn),
		keep:         ev.strMap(st, "keep", b.keep),
		errorIn:      ev.str(st, "error_in", b.errorIn),
	}
	if ev.err != nil {
		return nil, ev.err
	}
	st.AddSecrets(r.clientSecret, r.code, r.verifier, r.refreshToken)
	if err := r.check(); err != nil {
		return nil, err
	}
	st.Input(r.input())

	limit := min(st.Limits().MaxResponseBytes, oauthMaxBody)
	base := st.HTTPClient()
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	tr := &oauthTransport{next: next, get: r.method == http.MethodGet, limit: limit, shape: r.shape()}
	// The request carries the client secret, the code or the refresh token in its header, body
	// or query, which a redirect would send again: it follows none to another origin.
	client := engine.SameOriginClient(base)
	client.Transport = tr
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)

	tok, err := r.do(ctx, tr)
	if re := tr.shape.providerError(tr.resp); re != nil {
		err = re // the provider's own error shape, whatever x/oauth2 made of the answer
	}
	if err != nil {
		return nil, oauthTokenErr(st.Redactor(), tr.resp, err)
	}
	st.AddSecrets(tok.AccessToken, tok.RefreshToken)
	out := oauthTokenOutput(tok, tr.resp)
	if r.keep != nil {
		out = oauthKeep(out, tr.resp, r.keep)
	}
	return out, nil
}

// check validates the evaluated request and fills in defaults.
func (r *oauthTokenRequest) check() error {
	if err := oauthCheckURL(r.url); err != nil {
		return err
	}
	var err error
	if r.grant, err = oauthChoice("grant_type", r.grant, "", oauthGrants); err != nil {
		return err
	}
	if r.clientAuth, err = oauthChoice("client_auth", r.clientAuth, "basic", oauthClientAuths); err != nil {
		return err
	}
	if r.method, err = oauthChoice("method", r.method, http.MethodPost, oauthMethods); err != nil {
		return err
	}
	if r.body, err = oauthChoice("body", r.body, "form", oauthBodies); err != nil {
		return err
	}
	if r.body == "json" && r.method == http.MethodGet {
		return fmt.Errorf("body json needs method POST (a GET has no body)")
	}
	for k, v := range map[string]string{"token_in": r.tokenIn, "error_in": r.errorIn} {
		if err := oauthCheckPath(k, v); err != nil {
			return err
		}
	}
	if err := oauthCheckKeep(r.keep); err != nil {
		return err
	}
	switch {
	case r.grant == "authorization_code" && r.code == "":
		return fmt.Errorf("code is empty")
	case r.grant == "refresh_token" && r.refreshToken == "":
		return fmt.Errorf("refresh_token is empty")
	}
	return nil
}

// input is the request as the trace shows it: no secret, code or token.
func (r *oauthTokenRequest) input() map[string]any {
	in := map[string]any{"url": r.url, "grant_type": r.grant, "client_auth": r.clientAuth, "method": r.method}
	set := func(k, v string, secret bool) {
		switch {
		case v == "":
		case secret:
			in[k] = engine.Redacted
		default:
			in[k] = v
		}
	}
	set("client_id", r.clientID, false)
	set("client_secret", r.clientSecret, true)
	switch r.grant {
	case "authorization_code":
		set("code", r.code, true)
		set("redirect_uri", r.redirectURI, false)
		set("code_verifier", r.verifier, true)
	case "refresh_token":
		set("refresh_token", r.refreshToken, true)
	}
	if len(r.scopes) > 0 {
		in["scopes"] = r.scopes
	}
	if len(r.params) > 0 {
		in["params"] = r.params
	}
	if len(r.headers) > 0 {
		in["headers"] = r.headers
	}
	if r.body != "form" {
		in["body"] = r.body
	}
	for k, v := range map[string]string{"token_in": r.tokenIn, "error_in": r.errorIn} {
		if v != "" {
			in[k] = v
		}
	}
	if r.keep != nil {
		in["keep"] = r.keep
	}
	return in
}

// shape is how the request and its answer differ from RFC 6749's.
func (r *oauthTokenRequest) shape() *oauthShape {
	s := &oauthShape{headers: r.headers, json: r.body == "json", tokenIn: oauthPath(r.tokenIn), errorIn: oauthPath(r.errorIn)}
	if r.clientAuth == "basic_raw" {
		s.rawID = &[2]string{r.clientID, r.clientSecret}
	}
	return s
}

// do sends the request through x/oauth2 with the HTTP client in ctx.
func (r *oauthTokenRequest) do(ctx context.Context, tr *oauthTransport) (*oauth2.Token, error) {
	style, id, secret := oauth2.AuthStyleInHeader, r.clientID, r.clientSecret
	switch r.clientAuth {
	case "post":
		style = oauth2.AuthStyleInParams
	case "none":
		style, secret = oauth2.AuthStyleInParams, "" // x/oauth2 then sends client_id alone
	case "basic_raw":
		style, id, secret = oauth2.AuthStyleInParams, "", "" // the transport sets the header
	}
	conf := oauth2.Config{
		ClientID:     id,
		ClientSecret: secret,
		Endpoint:     oauth2.Endpoint{TokenURL: r.url, AuthStyle: style},
	}
	scope := strings.Join(r.scopes, " ")
	switch r.grant {
	case "authorization_code":
		conf.RedirectURL = r.redirectURI
		var opts []oauth2.AuthCodeOption
		if r.verifier != "" {
			opts = append(opts, oauth2.VerifierOption(r.verifier))
		}
		if scope != "" {
			opts = append(opts, oauth2.SetAuthURLParam("scope", scope))
		}
		for _, k := range oauthSortedKeys(r.params) {
			opts = append(opts, oauth2.SetAuthURLParam(k, r.params[k]))
		}
		return conf.Exchange(ctx, r.code, opts...)
	case "refresh_token":
		// x/oauth2's refresh takes no options: the transport adds scope and params to the form.
		tr.extra = maps.Clone(r.params)
		if scope != "" {
			if tr.extra == nil {
				tr.extra = map[string]string{}
			}
			tr.extra["scope"] = scope
		}
		// An expired access token, so that the token source really refreshes.
		expired := &oauth2.Token{RefreshToken: r.refreshToken, Expiry: time.Unix(1, 0)}
		return conf.TokenSource(ctx, expired).Token()
	default:
		cc := clientcredentials.Config{
			ClientID:     id,
			ClientSecret: secret,
			TokenURL:     r.url,
			Scopes:       r.scopes,
			AuthStyle:    style,
		}
		if len(r.params) > 0 {
			cc.EndpointParams = url.Values{}
			for k, v := range r.params {
				cc.EndpointParams.Set(k, v)
			}
		}
		return cc.Token(ctx)
	}
}

// oauthMaxBody is the most of a token response read, as x/oauth2 reads.
const oauthMaxBody = 1 << 20

// byteSize is n bytes as a person says it: "1 MiB", else "1000 bytes".
func byteSize(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// oauthTransport is the RoundTripper under x/oauth2's token requests. It keeps the raw
// response, which x/oauth2 parses but does not show whole; it turns the POST x/oauth2 makes
// into a GET with the form as query when get is set; and it adds extra to the form. One
// transport serves one token request (and the redirects it follows), from one goroutine.
type oauthTransport struct {
	next  http.RoundTripper
	get   bool
	extra map[string]string // form parameters added when the form lacks them
	limit int64
	shape *oauthShape

	resp *oauthResponse // the last response
}

// oauthResponse is a token endpoint's response, its body read.
type oauthResponse struct {
	code   int
	status string
	header http.Header
	ctype  string // media type, without parameters
	body   []byte // as x/oauth2 reads it: the token lifted to the top level (token_in)
	raw    []byte // as the endpoint sent it
}

// RoundTrip rewrites the request as the block asks, sends it and keeps the response body.
func (t *oauthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPost && req.Body != nil && (t.get || len(t.extra) > 0 || t.shape.json) {
		r, err := t.rewrite(req)
		if err != nil {
			return nil, err
		}
		req = r
	} else if len(t.shape.headers) > 0 || t.shape.rawID != nil {
		req = req.Clone(req.Context())
		t.shape.prepare(req, nil)
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// One byte past the limit tells a body that is too large from one that fits: cut at the
	// limit, a large token response would fail to parse as if the endpoint had sent half a token.
	body, err := io.ReadAll(io.LimitReader(resp.Body, t.limit+1))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	ctype, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if int64(len(body)) > t.limit {
		t.resp = &oauthResponse{code: resp.StatusCode, status: resp.Status, header: resp.Header, ctype: ctype}
		return nil, &engine.LimitError{Limit: "response_bytes", Max: t.limit, What: "the token response is larger than " + byteSize(t.limit)}
	}
	t.resp = &oauthResponse{code: resp.StatusCode, status: resp.Status, header: resp.Header, ctype: ctype, body: body, raw: body}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		body = t.shape.lift(ctype, body)
		t.resp.body = body
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, nil
}

// rewrite returns a copy of req with extra in its form, and the form moved to the query of
// a GET when get is set. Headers (Authorization included) go along. It closes req's body.
func (t *oauthTransport) rewrite(req *http.Request) (*http.Request, error) {
	raw, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, err
	}
	for k, v := range t.extra {
		if _, ok := form[k]; !ok {
			form.Set(k, v)
		}
	}
	enc := form.Encode()
	r := req.Clone(req.Context())
	if t.get {
		r.Method = http.MethodGet
		switch {
		case enc == "":
		case r.URL.RawQuery == "":
			r.URL.RawQuery = enc
		default:
			r.URL.RawQuery += "&" + enc
		}
		r.Body, r.GetBody, r.ContentLength = nil, nil, 0
		r.Header.Del("Content-Type")
		t.shape.prepare(r, form)
		return r, nil
	}
	r.Body = io.NopCloser(strings.NewReader(enc))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(enc)), nil }
	r.ContentLength = int64(len(enc))
	t.shape.prepare(r, form)
	return r, nil
}

// oauthParseBody parses a token response as x/oauth2 does: form encoding for
// application/x-www-form-urlencoded and text/plain, JSON otherwise. It returns nil when the
// body is neither.
func oauthParseBody(ctype string, body []byte) map[string]any {
	m, _ := oauthParseBodyOK(ctype, body)
	return m
}

func oauthParseBodyOK(ctype string, body []byte) (map[string]any, bool) {
	switch ctype {
	case "application/x-www-form-urlencoded", "text/plain":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, false
		}
		out := make(map[string]any, len(vals))
		for k, vs := range vals {
			if len(vs) == 1 {
				out[k] = vs[0]
				continue
			}
			list := make([]any, len(vs))
			for i, v := range vs {
				list[i] = v
			}
			out[k] = list
		}
		return out, true
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil || out == nil {
		return nil, false
	}
	return out, true
}

// oauthTokenOutput is the block's output: the raw response's fields with the token's fields
// normalized over them.
func oauthTokenOutput(tok *oauth2.Token, resp *oauthResponse) map[string]any {
	out := map[string]any{}
	if resp != nil {
		maps.Copy(out, oauthParseBody(resp.ctype, resp.body))
	}
	out["access_token"] = tok.AccessToken
	if tok.RefreshToken != "" {
		out["refresh_token"] = tok.RefreshToken
	} else {
		delete(out, "refresh_token")
	}
	out["token_type"] = tok.Type()
	switch s := out["scope"].(type) {
	case nil:
		delete(out, "scope")
	case string:
		if s == "" {
			delete(out, "scope")
		}
	case []any:
		parts := make([]string, len(s))
		for i, p := range s {
			parts[i] = flows.Stringify(p)
		}
		out["scope"] = strings.Join(parts, " ")
	default:
		out["scope"] = flows.Stringify(s)
	}
	if n := oauthExpiresIn(out["expires_in"]); n > 0 {
		out["expires_in"] = n
		exp := tok.Expiry
		if exp.IsZero() {
			exp = time.Now().Add(time.Duration(n) * time.Second)
		}
		out["expires_at"] = exp.UTC().Format(time.RFC3339)
	} else {
		// No stated expiry: expires_at is only ever the block's own RFC 3339 time.
		delete(out, "expires_in")
		delete(out, "expires_at")
	}
	return out
}

// oauthExpiresIn reads expires_in, a number or a numeric string (PayPal); 0 when absent.
func oauthExpiresIn(v any) int {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0
		}
	default:
		return 0
	}
	switch {
	case f <= 0 || math.IsNaN(f):
		return 0
	case f > math.MaxInt32:
		return math.MaxInt32
	}
	return int(math.Round(f))
}
