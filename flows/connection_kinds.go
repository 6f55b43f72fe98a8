package flows

import (
	"slices"
	"strings"
)

// The settings of one connection type each, read by parseConnection after the keys every type
// shares; connKeyTypes refuses them on the other types.

// basicDefaults are the fields a basic connection asks for when it declares none; each is also
// the default source of the setting of its name.
var basicDefaults = []string{"username", "password"}

// parseBasic reads username and password, the templates of a basic connection's credentials,
// and checks that each credential has a source: its template, else the field of its name. A
// template's connection.fields.<key> must name one of the connection's fields.
func parseBasic(s *Scope, c *Connection, fields map[string]Field) {
	for _, key := range basicDefaults {
		f, ok := fields[key]
		if !ok {
			continue
		}
		v := stringTemplate(s, f.Value, key)
		if key == "username" {
			c.Username = v
		} else {
			c.Password = v
		}
	}
	if c.Type != ConnBasic {
		return
	}
	if _, ok := fields["inject"]; ok {
		for _, key := range basicDefaults {
			if f, set := fields[key]; set {
				s.Errs.Addf(NodePos(s.File, f.Key), "connection: %s is not sent by a basic connection with inject (inject replaces basic auth)", key)
			}
		}
	}
	keys := basicDefaults
	if len(c.Fields) > 0 {
		keys = make([]string, len(c.Fields))
		for i, p := range c.Fields {
			keys[i] = p.Key
		}
		if slices.Contains(keys, "") {
			return // an item without a key, reported already
		}
		for _, key := range basicDefaults {
			if _, set := fields[key]; !set && !slices.Contains(keys, key) {
				s.Errs.Addf(NodePos(s.File, fields["fields"].Key), "connection: basic without %s: sends the field %s, and fields has none; add it, or set %s: to a template such as \"{{ connection.fields.%s }}\"",
					key, key, key, keys[0])
			}
		}
	}
	for _, v := range []*Value{c.Username, c.Password} {
		checkFieldRefs(s, v, keys)
	}
}

// checkFieldRefs reports each connection.fields.<key> in v whose key is not one of keys.
func checkFieldRefs(s *Scope, v *Value, keys []string) {
	v.Refs("connection", func(path []string, pos Pos) {
		if len(path) == 2 && path[0] == "fields" && !slices.Contains(keys, path[1]) {
			s.Errs.Addf(pos, "connection has no field %q (fields: %s)%s", path[1], strings.Join(keys, ", "), Suggest(path[1], keys))
		}
	})
}

// The values of scope_in, where an oauth1 connection sends its scopes.
const (
	ScopeInAuthorizeURL    = "authorize_url"
	ScopeInRequestTokenURL = "request_token_url"
)

// oauth1Reserved are query parameters of an oauth1 authorize URL that authorize_params may not set.
var oauth1Reserved = map[string]string{"oauth_token": "patchbay sets it to the request token", "scope": "use scopes instead"}

// parseOAuth1 reads scope_in and checks that authorize_params leaves the parameters patchbay
// sets to it. scopes, scope_separator and authorize_params are read as for oauth2.
func parseOAuth1(s *Scope, c *Connection, fields map[string]Field) {
	c.ScopeIn = ScopeInAuthorizeURL
	if f, ok := fields["scope_in"]; ok {
		c.ScopeIn = String(s.File, f.Value, s.Errs, "scope_in")
		if in := []string{ScopeInAuthorizeURL, ScopeInRequestTokenURL}; !slices.Contains(in, c.ScopeIn) {
			s.Errs.Addf(NodePos(s.File, f.Value), "scope_in must be authorize_url or request_token_url, found %q%s", c.ScopeIn, Suggest(c.ScopeIn, in))
		}
	}
	if c.Type != ConnOAuth1 {
		return
	}
	for _, p := range Pairs(s.File, fields["authorize_params"].Value, &ErrorList{}, "") {
		if why, ok := oauth1Reserved[p.Key.Value]; ok {
			s.Errs.Addf(NodePos(s.File, p.Key), "authorize_params.%s: %s", p.Key.Value, why)
		}
	}
}
