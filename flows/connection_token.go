package flows

import (
	"net/http"
	"slices"
	"strings"
)

// The connection keys that shape the token requests of the built-in oauth2 flows, for providers
// that do not follow RFC 6749 to the letter.
var connTokenFields = []string{
	"token_params", "refresh_params", "token_body", "token_headers", "refresh_url", "refresh_method",
	"token_in", "token_keep", "token_error_in", "client_id_param", "code_param",
}

// ClientAuths are the ways a client authenticates at a token endpoint.
var ClientAuths = []string{"basic", "post", "basic_raw", "none"}

// TokenBodies are the ways a token request sends its parameters.
var TokenBodies = []string{"form", "json"}

// tokenOutputKeys are the token's own fields in a token flow's output, which token_keep cannot
// name.
var tokenOutputKeys = []string{"access_token", "refresh_token", "token_type", "scope", "expires_in", "expires_at", "token_secret"}

// parseTokenShape reads the keys of connTokenFields into c.
func parseTokenShape(s *Scope, c *Connection, fields map[string]Field) {
	file, errs := s.File, s.Errs
	tmplMap := func(key string) map[string]*Value {
		f, ok := fields[key]
		if !ok {
			return nil
		}
		out := map[string]*Value{}
		for _, p := range Pairs(file, f.Value, errs, key) {
			out[p.Key.Value] = s.Compile(p.Value)
		}
		return out
	}
	c.TokenParams = tmplMap("token_params")
	c.RefreshParams = tmplMap("refresh_params")
	c.TokenHeaders = tmplMap("token_headers")
	for _, key := range []string{"token_params", "refresh_params"} {
		for _, p := range Pairs(file, fields[key].Value, &ErrorList{}, key) {
			if slices.Contains(tokenReservedParams, p.Key.Value) {
				errs.Addf(NodePos(file, p.Key), "%s: %s is set by the token request itself", key, p.Key.Value)
			}
		}
	}
	c.TokenBody = "form"
	if f, ok := fields["token_body"]; ok {
		c.TokenBody = String(file, f.Value, errs, "token_body")
		if !slices.Contains(TokenBodies, c.TokenBody) {
			errs.Addf(NodePos(file, f.Value), "token_body must be form or json, found %q", c.TokenBody)
		}
	}
	if f, ok := fields["refresh_url"]; ok {
		c.RefreshURL = stringTemplate(s, f.Value, "refresh_url")
	}
	c.RefreshMethod = c.TokenMethod
	if f, ok := fields["refresh_method"]; ok {
		c.RefreshMethod = strings.ToUpper(String(file, f.Value, errs, "refresh_method"))
		if c.RefreshMethod != http.MethodPost && c.RefreshMethod != http.MethodGet {
			errs.Addf(NodePos(file, f.Value), "refresh_method must be POST or GET, found %q", c.RefreshMethod)
		}
	}
	if c.TokenBody == "json" {
		for _, k := range []string{"token_method", "refresh_method"} {
			if f, ok := fields[k]; ok && strings.EqualFold(f.Value.Value, http.MethodGet) {
				errs.Addf(NodePos(file, f.Value), "%s GET sends no body: token_body json needs POST", k)
			}
		}
	}
	path := func(key string) string {
		f, ok := fields[key]
		if !ok {
			return ""
		}
		p := String(file, f.Value, errs, key)
		if !IsDotPath(p) {
			errs.Addf(NodePos(file, f.Value), "%s %q is not a dot path of names (authed_user, data.token)", key, p)
		}
		return p
	}
	c.TokenIn = path("token_in")
	c.TokenErrorIn = path("token_error_in")
	if f, ok := fields["token_keep"]; ok {
		c.TokenKeep = map[string]string{}
		for _, p := range Pairs(file, f.Value, errs, "token_keep") {
			name, v := p.Key.Value, String(file, p.Value, errs, "token_keep."+p.Key.Value)
			switch {
			case !IsIdent(name):
				errs.Addf(NodePos(file, p.Key), "token_keep: %q must be letters, digits and underscores (connection.extra.<name>)", name)
			case slices.Contains(tokenOutputKeys, name):
				errs.Addf(NodePos(file, p.Key), "token_keep: %s is the token's own field, not an extra value", name)
			case !IsDotPath(v):
				errs.Addf(NodePos(file, p.Value), "token_keep.%s: %q is not a dot path of names (team.id)", name, v)
			}
			c.TokenKeep[name] = v
		}
	}
	name := func(key, def string, refused ...string) string {
		f, ok := fields[key]
		if !ok {
			return def
		}
		v := String(file, f.Value, errs, key)
		if v == "" || strings.ContainsAny(v, "&=#? ") || slices.Contains(refused, v) {
			errs.Addf(NodePos(file, f.Value), "%s %q is not a query parameter name this can be", key, v)
		}
		return v
	}
	c.ClientIDParam = name("client_id_param", "client_id", "state", "redirect_uri", "scope", "response_type")
	c.CodeParam = name("code_param", "code", "state", "error")
}

// tokenReservedParams are the parameters a token request sets itself: token_params and
// refresh_params cannot replace them.
var tokenReservedParams = []string{"grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "client_secret", "scope"}

// IsDotPath reports whether s is names joined by dots (a.b.c; a part may be a list index).
func IsDotPath(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range strings.Split(s, ".") {
		if p == "" || strings.ContainsAny(p, " \t{}[]") {
			return false
		}
	}
	return true
}
