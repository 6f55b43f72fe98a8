package blocks_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// oaLoad writes src (with TOKEN_URL replaced by tokenURL) to t.TempDir()/app.yaml and loads it
// with the core blocks. The load error's text has the folder removed.
func oaLoad(t testing.TB, tokenURL, src string) (*engine.Program, string) {
	t.Helper()
	return loadYAML(t, strings.ReplaceAll(src, "TOKEN_URL", tokenURL))
}

// oaRun loads src, runs its flow main with opts and a trace, and returns the result, the error's
// text with the folder removed, and the error.
func oaRun(t *testing.T, tokenURL, src string, opts engine.Options) (*engine.Result, string, error) {
	t.Helper()
	prog, lerr := oaLoad(t, tokenURL, src)
	if lerr != "" {
		t.Fatalf("load: %s", lerr)
	}
	opts.Trace = true
	res, err := prog.Run(context.Background(), "main", opts)
	if err != nil {
		return res, strings.ReplaceAll(err.Error(), prog.App.Dir+string(filepath.Separator), ""), err
	}
	return res, "", nil
}

// oaAuthorizeApp is an app whose flow main runs one oauth2_authorize_url step with body (line 9).
func oaAuthorizeApp(body string) string {
	return `app: t
flows:
  main:
    inputs:
      state: {type: string}
      verifier: {type: string}
      scopes: {type: array}
    steps:
      - id: auth
        oauth2_authorize_url: ` + body + `
`
}

func TestOAuth2AuthorizeURL(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		name      string
		body      string
		input     map[string]any
		wantBase  string
		wantQuery url.Values
	}{
		{
			name:     "scopes joined by spaces",
			body:     `{url: "https://provider.example/oauth/authorize", client_id: app-1, redirect_uri: "https://patchbay.example/cb", scopes: [read, write], state: "{{ input.state }}"}`,
			input:    map[string]any{"state": "st-12345678"},
			wantBase: "https://provider.example/oauth/authorize",
			wantQuery: url.Values{
				"response_type": {"code"}, "client_id": {"app-1"}, "redirect_uri": {"https://patchbay.example/cb"},
				"scope": {"read write"}, "state": {"st-12345678"},
			},
		},
		{
			name:     "pkce challenge is base64url(sha256(verifier))",
			body:     `{url: "https://provider.example/auth", client_id: app-1, state: "{{ input.state }}", code_verifier: "{{ input.verifier }}"}`,
			input:    map[string]any{"state": "st-12345678", "verifier": verifier},
			wantBase: "https://provider.example/auth",
			wantQuery: url.Values{
				"response_type": {"code"}, "client_id": {"app-1"}, "state": {"st-12345678"},
				"code_challenge": {challenge}, "code_challenge_method": {"S256"},
			},
		},
		{
			name:     "custom scope separator",
			body:     `{url: "https://provider.example/auth", client_id: app-1, scopes: [a, b], scope_separator: ",", state: "st-12345678"}`,
			wantBase: "https://provider.example/auth",
			wantQuery: url.Values{
				"response_type": {"code"}, "client_id": {"app-1"}, "scope": {"a,b"}, "state": {"st-12345678"},
			},
		},
		{
			name:     "extra params, null and empty ones skipped",
			body:     `{url: "https://provider.example/auth", client_id: app-1, state: "st-12345678", params: {access_type: offline, prompt: consent, login_hint: "", hd: null, max_age: 0}}`,
			wantBase: "https://provider.example/auth",
			wantQuery: url.Values{
				"response_type": {"code"}, "client_id": {"app-1"}, "state": {"st-12345678"},
				"access_type": {"offline"}, "prompt": {"consent"}, "max_age": {"0"},
			},
		},
		{
			name:     "a query in the url is kept",
			body:     `{url: "https://login.example/tenant/authorize?audience=api", client_id: app-1, state: "st-12345678"}`,
			wantBase: "https://login.example/tenant/authorize",
			wantQuery: url.Values{
				"audience": {"api"}, "response_type": {"code"}, "client_id": {"app-1"}, "state": {"st-12345678"},
			},
		},
		{
			name:     "scopes from a template, one string as is",
			body:     `{url: "https://provider.example/auth", client_id: app-1, scopes: "{{ input.scopes }}", state: "st-12345678"}`,
			input:    map[string]any{"scopes": []any{"openid", "", "email profile"}},
			wantBase: "https://provider.example/auth",
			wantQuery: url.Values{
				"response_type": {"code"}, "client_id": {"app-1"}, "scope": {"openid email profile"}, "state": {"st-12345678"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, errText, _ := oaRun(t, "", oaAuthorizeApp(tt.body), engine.Options{Input: tt.input})
			if errText != "" {
				t.Fatalf("Run: %s", errText)
			}
			out, ok := res.Output.(map[string]any)
			if !ok || len(out) != 1 {
				t.Fatalf("output = %#v, want {authorize_url: ...}", res.Output)
			}
			u, err := url.Parse(out["authorize_url"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if base := u.Scheme + "://" + u.Host + u.Path; base != tt.wantBase {
				t.Errorf("authorize URL base = %q, want %q", base, tt.wantBase)
			}
			if got := u.Query(); !reflect.DeepEqual(got, tt.wantQuery) {
				t.Errorf("authorize URL query = %v, want %v", got, tt.wantQuery)
			}
		})
	}
}

func TestOAuth2AuthorizeURLRedactsVerifier(t *testing.T) {
	const verifier = "verifier-0123456789-abcdefghijklmnopqrstuvwxyz"
	body := `{url: "https://provider.example/auth", client_id: app-1, state: "st-12345678", code_verifier: "{{ input.verifier }}"}`
	res, errText, _ := oaRun(t, "", oaAuthorizeApp(body), engine.Options{Input: map[string]any{"verifier": verifier}})
	if errText != "" {
		t.Fatalf("Run: %s", errText)
	}
	trace, err := json.Marshal(res.Trace)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(trace), verifier) {
		t.Errorf("trace shows the code verifier: %s", trace)
	}
	in, _ := res.Trace[0].Input.(map[string]any)
	if in["code_verifier"] != engine.Redacted {
		t.Errorf("trace input code_verifier = %v, want %q", in["code_verifier"], engine.Redacted)
	}
}

func TestOAuth2AuthorizeURLRunErrors(t *testing.T) {
	tests := []struct {
		name, body string
		input      map[string]any
		want       string
	}{
		{
			name:  "state too short",
			body:  `{url: "https://provider.example/auth", client_id: app-1, state: "{{ input.state }}"}`,
			input: map[string]any{"state": "abc12"},
			want:  `app.yaml:9:9: step "auth" (oauth2_authorize_url): state must be at least 8 characters (found 5)`,
		},
		{
			name:  "state missing at run time",
			body:  `{url: "https://provider.example/auth", client_id: app-1, state: "{{ input.state }}"}`,
			input: map[string]any{},
			want:  `app.yaml:9:9: step "auth" (oauth2_authorize_url): state must be at least 8 characters (found 0)`,
		},
		{
			name: "url not absolute",
			body: `{url: "/oauth/authorize", client_id: app-1, state: "st-12345678"}`,
			want: `app.yaml:9:9: step "auth" (oauth2_authorize_url): url "/oauth/authorize" is not an absolute http or https URL`,
		},
		{
			name: "params from a template that is not a mapping",
			body: `{url: "https://provider.example/auth", client_id: app-1, state: "st-12345678", params: "{{ [1] }}"}`,
			want: `app.yaml:9:9: step "auth" (oauth2_authorize_url): params must be a mapping, found a list`,
		},
		{
			name: "params from a template setting a reserved key",
			body: `{url: "https://provider.example/auth", client_id: app-1, state: "st-12345678", params: "{{ {'state': 'x'} }}"}`,
			want: `app.yaml:9:9: step "auth" (oauth2_authorize_url): params.state: use state instead`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errText, _ := oaRun(t, "", oaAuthorizeApp(tt.body), engine.Options{Input: tt.input})
			if errText != tt.want {
				t.Errorf("Run error =\n%s\nwant\n%s", errText, tt.want)
			}
		})
	}
}

// oaTokenStep is an app whose flow main runs one oauth2_token step with body (line 9).
func oaTokenStep(body string) string {
	return `app: t
flows:
  main:
    inputs:
      code: {type: string}
      secret: {type: string}
      refresh: {type: string}
    steps:
      - id: token
        oauth2_token: ` + body + `
`
}

func TestOAuth2LoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{
			name: "authorize: required fields missing",
			src:  oaAuthorizeApp(`{redirect_uri: "https://x.example/cb"}`),
			want: `app.yaml:10:31: oauth2_authorize_url: client_id is missing (client_id: "{{ input.client_id }}")
app.yaml:10:31: oauth2_authorize_url: state is missing (state: "{{ input.state }}")
app.yaml:10:31: oauth2_authorize_url: url is missing (url: https://provider.example/oauth/authorize)`,
		},
		{
			name: "authorize: unknown field",
			src:  oaAuthorizeApp(`{url: "https://p.example/a", client_id: x, state: st-12345678, scope: read}`),
			want: `app.yaml:10:94: oauth2_authorize_url: unknown field "scope" (did you mean "scopes"?)`,
		},
		{
			name: "authorize: constant state too short",
			src:  oaAuthorizeApp(`{url: "https://p.example/a", client_id: x, state: abc}`),
			want: `app.yaml:10:81: oauth2_authorize_url: state must be at least 8 characters (found 3)`,
		},
		{
			name: "authorize: params setting a field's parameter",
			src:  oaAuthorizeApp(`{url: "https://p.example/a", client_id: x, state: st-12345678, params: {scope: a, code_challenge: b}}`),
			want: `app.yaml:10:103: oauth2_authorize_url: params.scope: use scopes instead
app.yaml:10:113: oauth2_authorize_url: params.code_challenge: use code_verifier instead`,
		},
		{
			name: "authorize: params and scopes of the wrong shape",
			src:  oaAuthorizeApp(`{url: "https://p.example/a", client_id: x, state: st-12345678, params: [a], scopes: {a: b}}`),
			want: `app.yaml:10:102: oauth2_authorize_url: params must be a mapping, found a list
app.yaml:10:115: oauth2_authorize_url: scopes must be a list of strings or a string, found a mapping`,
		},
		{
			name: "token: url and grant_type missing",
			src:  oaTokenStep(`{client_id: x}`),
			want: `app.yaml:10:23: oauth2_token: grant_type is missing (grant_type: authorization_code | refresh_token | client_credentials)
app.yaml:10:23: oauth2_token: url is missing (url: https://provider.example/oauth/token)`,
		},
		{
			name: "token: unknown grant_type, client_auth and method",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: client_credential, client_auth: header, method: PUT}`),
			want: `app.yaml:10:64: oauth2_token: grant_type "client_credential" is not one of authorization_code, refresh_token, client_credentials (did you mean "client_credentials"?)
app.yaml:10:96: oauth2_token: client_auth "header" is not one of basic, post, basic_raw, none
app.yaml:10:112: oauth2_token: method "PUT" is not one of POST, GET (did you mean "GET"?)`,
		},
		{
			name: "token: authorization_code without code",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: authorization_code}`),
			want: `app.yaml:10:23: oauth2_token: code is missing (code: "{{ input.code }}")`,
		},
		{
			name: "token: refresh_token grant without refresh_token",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: refresh_token, client_id: x}`),
			want: `app.yaml:10:23: oauth2_token: refresh_token is missing (refresh_token: "{{ input.refresh_token }}")`,
		},
		{
			name: "token: fields of another grant",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: client_credentials, code: x, refresh_token: y}`),
			want: `app.yaml:10:84: oauth2_token: code is only for grant_type authorization_code
app.yaml:10:93: oauth2_token: refresh_token is only for grant_type refresh_token`,
		},
		{
			name: "token: params setting a field's parameter",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: client_credentials, params: {client_secret: x, audience: y}}`),
			want: `app.yaml:10:93: oauth2_token: params.client_secret: use client_secret instead`,
		},
		{
			name: "token: template error at load",
			src:  oaTokenStep(`{url: "https://p.example/t", grant_type: client_credentials, client_id: "{{ input.clientid }}"}`),
			want: `app.yaml:10:105: unknown input "clientid"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := oaLoad(t, "", tt.src)
			if got != tt.want {
				t.Errorf("Load error =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
