package blocks

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2"
)

// OAuth2AuthorizeURL builds the URL that sends a user to the provider to approve access, the
// output of an oauth2 app's authorize flow:
//
//	oauth2_authorize_url:
//	  url: https://provider.example/oauth/authorize     # required
//	  client_id: "{{ input.client_id }}"                # required
//	  redirect_uri: "{{ input.redirect_uri }}"
//	  scopes: [read, write]                             # a list, or one string
//	  scope_separator: ","                              # default " "
//	  state: "{{ input.state }}"                        # required, at least 8 characters
//	  code_verifier: "{{ input.code_verifier }}"        # PKCE: adds code_challenge (S256)
//	  params: {access_type: offline, prompt: consent}   # more query parameters
//	  client_id_param: app_id                           # the client id's name (default client_id)
//
// Every value may be a template. Its output is {"authorize_url": "..."}. The URL is built by
// golang.org/x/oauth2 (Config.AuthCodeURL): response_type=code, client_id, redirect_uri, scope
// (the scopes joined by scope_separator), state, code_challenge and code_challenge_method when
// code_verifier is given, then params, whose null or empty values are left out. A query already
// in url is kept. client_id_param renames client_id for providers that call it otherwise
// (x/oauth2 always names it client_id). The code verifier is redacted for the rest of the run.
type OAuth2AuthorizeURL struct {
	url, clientID, redirectURI, scopes, separator, state, verifier, params *flows.Value
	clientIDParam                                                          *flows.Value
}

var _ engine.Block = (*OAuth2AuthorizeURL)(nil)

// OAuth2AuthorizeURLType is the oauth2_authorize_url block.
var OAuth2AuthorizeURLType = engine.BlockType{
	Kind:    "oauth2_authorize_url",
	Summary: "builds an OAuth 2.0 authorization URL (scopes, state, PKCE S256, extra parameters)",
	Spec: engine.Spec{
		Doc: "Every value may be a template. The output is {authorize_url: \"...\"}, built by golang.org/x/oauth2: response_type=code, client_id, " +
			"redirect_uri, scope, state, code_challenge and code_challenge_method (S256) when code_verifier is given, then params. " +
			"A query already in url is kept. client_id_param renames client_id. The code verifier is redacted for the rest of the run.",
		Fields: []engine.Field{
			oauthURLField("https://provider.example/oauth/authorize", "The provider's authorization endpoint."),
			{Name: "client_id", Type: engine.String, Required: true, Missing: `client_id: "{{ input.client_id }}"`, Doc: "The OAuth client's id."},
			{Name: "redirect_uri", Type: engine.String, Doc: "Where the provider sends the user back."},
			oauthScopesField,
			{Name: "scope_separator", Type: engine.String, Default: `" "`, Doc: "Joins the scopes."},
			{Name: "state", Type: engine.String, Required: true, Missing: `state: "{{ input.state }}"`, Doc: "The state, at least 8 characters."},
			{Name: "code_verifier", Type: engine.String, Doc: "The PKCE code verifier: adds its S256 code_challenge."},
			oauthParamsField("More query parameters (access_type: offline); null or empty values are left out."),
			{Name: "client_id_param", Type: engine.String, Default: "client_id", Doc: "The name of the client id's parameter, for providers that call it otherwise (app_id)."},
		},
		Examples: []string{`- id: auth
  oauth2_authorize_url:
    url: https://provider.example/oauth/authorize
    client_id: my-client
    redirect_uri: https://patchbay.example/oauth/callback
    scopes: [read, write]
    state: "{{ uuid() }}"
    params: {access_type: offline}`, `- id: auth
  oauth2_authorize_url:
    url: https://provider.example/oauth/authorize
    client_id: my-app
    client_id_param: app_id
    state: "{{ uuid() }}"`},
	},
	Compile: compileOAuth2AuthorizeURL,
}

// The fields both OAuth 2.0 blocks have.
var oauthScopesField = engine.Field{Name: "scopes", Type: engine.OneOf(engine.List(engine.String), engine.String), Doc: "The scopes: a list, or one string."}

func oauthURLField(example, doc string) engine.Field {
	return engine.Field{Name: "url", Type: engine.String, Required: true, Missing: "url: " + example, Doc: doc}
}

func oauthParamsField(doc string) engine.Field {
	return engine.Field{Name: "params", Type: engine.Mapping, Doc: doc}
}

// oauthMinState is the shortest state accepted: a shorter one is guessable, and is most
// likely a template that evaluated to something other than intended.
const oauthMinState = 8

// authorizeReserved are the query parameters the block sets from its own fields.
var authorizeReserved = map[string]string{
	"client_id":             "client_id",
	"redirect_uri":          "redirect_uri",
	"state":                 "state",
	"scope":                 "scopes",
	"code_challenge":        "code_verifier",
	"code_challenge_method": "code_verifier",
}

func compileOAuth2AuthorizeURL(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	const what = "oauth2_authorize_url"
	b := &OAuth2AuthorizeURL{}
	b.url = c.Template(in.Value("url"))
	b.clientID = c.Template(in.Value("client_id"))
	b.redirectURI = c.Template(in.Value("redirect_uri"))
	b.scopes = c.Template(in.Value("scopes"))
	b.separator = c.Template(in.Value("scope_separator"))
	b.state = c.Template(in.Value("state"))
	if b.state != nil && b.state.IsConst() {
		if n := len(flows.Stringify(b.state.ConstValue())); n < oauthMinState {
			c.Errorf(in.Value("state"), "%s: state must be at least %d characters (found %d)", what, oauthMinState, n)
		}
	}
	b.verifier = c.Template(in.Value("code_verifier"))
	b.params = oauthParams(c, in, what, authorizeReserved)
	b.clientIDParam = c.Template(in.Value("client_id_param"))
	return b, nil
}

// Kind returns "oauth2_authorize_url".
func (b *OAuth2AuthorizeURL) Kind() string { return "oauth2_authorize_url" }

// Run evaluates the fields and builds the URL.
func (b *OAuth2AuthorizeURL) Run(ctx context.Context, st *engine.State) (any, error) {
	var ev oauthEval
	endpoint := ev.str(st, "url", b.url)
	clientID := ev.str(st, "client_id", b.clientID)
	redirect := ev.str(st, "redirect_uri", b.redirectURI)
	scopes := ev.list(st, "scopes", b.scopes)
	sep := ev.str(st, "scope_separator", b.separator)
	state := ev.str(st, "state", b.state)
	verifier := ev.str(st, "code_verifier", b.verifier)
	params := ev.params(st, b.params, authorizeReserved)
	idParam := ev.str(st, "client_id_param", b.clientIDParam)
	if ev.err != nil {
		return nil, ev.err
	}
	st.AddSecrets(verifier)
	if err := oauthCheckURL(endpoint); err != nil {
		return nil, err
	}
	if clientID == "" {
		return nil, fmt.Errorf("client_id is empty")
	}
	if len(state) < oauthMinState {
		return nil, fmt.Errorf("state must be at least %d characters (found %d)", oauthMinState, len(state))
	}
	if sep == "" {
		sep = " "
	}
	in := map[string]any{"url": endpoint, "client_id": clientID}
	if redirect != "" {
		in["redirect_uri"] = redirect
	}
	if len(scopes) > 0 {
		in["scopes"] = scopes
	}
	if verifier != "" {
		in["code_verifier"] = engine.Redacted
	}
	if len(params) > 0 {
		in["params"] = params
	}
	st.Input(in)

	conf := oauth2.Config{ClientID: clientID, Endpoint: oauth2.Endpoint{AuthURL: endpoint}, RedirectURL: redirect}
	var opts []oauth2.AuthCodeOption
	if sep == " " {
		conf.Scopes = scopes
	} else if len(scopes) > 0 {
		opts = append(opts, oauth2.SetAuthURLParam("scope", strings.Join(scopes, sep)))
	}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	for _, k := range oauthSortedKeys(params) {
		opts = append(opts, oauth2.SetAuthURLParam(k, params[k]))
	}
	u := conf.AuthCodeURL(state, opts...)
	if idParam != "" && idParam != "client_id" {
		if _, taken := params[idParam]; taken || authorizeReserved[idParam] != "" {
			return nil, fmt.Errorf("client_id_param %q names a parameter the URL has already", idParam)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		q := parsed.Query()
		q.Set(idParam, q.Get("client_id"))
		q.Del("client_id")
		parsed.RawQuery = q.Encode()
		u = parsed.String()
	}
	return map[string]any{"authorize_url": u}, nil
}

// oauthParams compiles params, a mapping (or a template giving one), and reports the keys a
// field of the block sets.
func oauthParams(c *engine.Compiler, in *engine.Body, what string, reserved map[string]string) *flows.Value {
	n := in.Value("params")
	if n != nil && n.Kind == yaml.MappingNode {
		for _, p := range flows.Pairs(c.File(), n, c.Errs(), what+": params") {
			if use, ok := reserved[p.Key.Value]; ok {
				c.Errorf(p.Key, "%s: params.%s: use %s instead", what, p.Key.Value, use)
			}
		}
	}
	return c.Template(n)
}

// oauthChoice checks that s (or def when s is empty) is one of allowed; methods compare in
// upper case.
func oauthChoice(key, s, def string, allowed []string) (string, error) {
	if s == "" {
		s = def
	}
	if key == "method" {
		s = strings.ToUpper(s)
	}
	if !slices.Contains(allowed, s) {
		return "", fmt.Errorf("%s %q is not one of %s%s", key, s, strings.Join(allowed, ", "), flows.Suggest(s, allowed))
	}
	return s, nil
}

// oauthCheckURL reports a URL that cannot be an OAuth endpoint.
func oauthCheckURL(s string) error {
	if s == "" {
		return fmt.Errorf("url is empty")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %q is not an absolute http or https URL", s)
	}
	return nil
}

// oauthEval evaluates a block's fields, keeping the first error.
type oauthEval struct{ err error }

func (e *oauthEval) value(st *engine.State, key string, v *flows.Value) any {
	if e.err != nil || v == nil {
		return nil
	}
	x, err := st.Eval(v)
	if err != nil {
		e.err = fmt.Errorf("%s: %w", key, err)
	}
	return x
}

func (e *oauthEval) str(st *engine.State, key string, v *flows.Value) string {
	x := e.value(st, key, v)
	if e.err != nil || x == nil {
		return ""
	}
	switch x.(type) {
	case map[string]any, []any:
		e.err = fmt.Errorf("%s must be a string, found %s", key, oauthDescribe(x))
		return ""
	}
	return flows.Stringify(x)
}

// list evaluates a list of strings; one string is a list of one, null and empty items are
// left out.
func (e *oauthEval) list(st *engine.State, key string, v *flows.Value) []string {
	x := e.value(st, key, v)
	if e.err != nil || x == nil {
		return nil
	}
	items, ok := x.([]any)
	if !ok {
		if ss, isStrings := x.([]string); isStrings {
			items = make([]any, len(ss))
			for i, s := range ss {
				items[i] = s
			}
		} else {
			items = []any{x}
		}
	}
	var out []string
	for _, it := range items {
		switch it.(type) {
		case map[string]any, []any:
			e.err = fmt.Errorf("%s must be a list of strings, found an item that is %s", key, oauthDescribe(it))
			return nil
		}
		if s := flows.Stringify(it); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// params evaluates a mapping of parameters to text, leaving out null and empty values.
func (e *oauthEval) params(st *engine.State, v *flows.Value, reserved map[string]string) map[string]string {
	x := e.value(st, "params", v)
	if e.err != nil || x == nil {
		return nil
	}
	m, ok := x.(map[string]any)
	if !ok {
		e.err = fmt.Errorf("params must be a mapping, found %s", oauthDescribe(x))
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range oauthSortedKeys(m) {
		if use, ok := reserved[k]; ok {
			e.err = fmt.Errorf("params.%s: use %s instead", k, use)
			return nil
		}
		switch m[k].(type) {
		case map[string]any, []any:
			e.err = fmt.Errorf("params.%s must be a string, number or boolean, found %s", k, oauthDescribe(m[k]))
			return nil
		}
		if s := flows.Stringify(m[k]); s != "" {
			out[k] = s
		}
	}
	return out
}

// oauthDescribe names the kind of an evaluated value for error messages; never its content,
// which may be a secret.
func oauthDescribe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}

func oauthSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
