package flows

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

var connFields = []string{
	"type", "grant", "authorize_url", "token_url", "revoke_url", "request_token_url", "access_token_url",
	"scopes", "scope_separator", "pkce", "client_auth", "token_method", "authorize_params", "client",
	"params", "fields", "inject", "request", "refresh", "label",
	"token_params", "refresh_params", "token_body", "token_headers", "refresh_url", "refresh_method",
	"token_in", "token_keep", "token_error_in", "client_id_param", "code_param",
	"username", "password", // basic
	"scope_in", // oauth1
}

// Names connection templates may use besides ConnectionNames: token in inject, test in label.
const (
	NameToken = "token"
	NameTest  = "test"
)

func parseConnection(s *Scope, n *yaml.Node) *Connection {
	file, errs := s.File, s.Errs
	c := &Connection{Pos: NodePos(file, n), Type: ConnNone}
	fields := Fields(file, n, errs, "connection", connFields...)
	typeOK := false // the checks of a type are noise when the type is wrong
	if f, ok := fields["type"]; ok {
		before := len(*errs)
		c.Type = String(file, f.Value, errs, "type")
		if typeOK = len(*errs) == before && slices.Contains(ConnectionTypes, c.Type); !typeOK && len(*errs) == before {
			errs.Addf(NodePos(file, f.Value), "connection type %q is not one of %s%s", c.Type, strings.Join(ConnectionTypes, ", "), Suggest(c.Type, ConnectionTypes))
		}
	} else if n.Kind == yaml.MappingNode {
		errs.Addf(c.Pos, "connection: type is missing (one of %s)", strings.Join(ConnectionTypes, ", "))
	}
	str := func(key string) string { return String(file, fields[key].Value, errs, key) }
	tmpl := func(key string) *Value {
		f, ok := fields[key]
		if !ok {
			return nil
		}
		return stringTemplate(s, f.Value, key)
	}
	c.Grant = str("grant")
	if c.Type == ConnOAuth2 {
		if c.Grant == "" {
			c.Grant = "authorization_code"
		}
		if g := []string{"authorization_code", "client_credentials"}; !slices.Contains(g, c.Grant) {
			errs.Addf(NodePos(file, fields["grant"].Value), "grant %q is not one of %s%s", c.Grant, strings.Join(g, ", "), Suggest(c.Grant, g))
		}
	} else if _, ok := fields["grant"]; ok && typeOK {
		errs.Addf(NodePos(file, fields["grant"].Key), "grant is for oauth2 connections")
	}
	c.AuthorizeURL = tmpl("authorize_url")
	c.TokenURL = tmpl("token_url")
	c.RevokeURL = tmpl("revoke_url")
	c.RequestTokenURL = tmpl("request_token_url")
	c.AccessTokenURL = tmpl("access_token_url")
	c.Scopes = Strings(file, fields["scopes"].Value, errs, "scopes")
	c.ScopeSeparator = " "
	if f, ok := fields["scope_separator"]; ok {
		c.ScopeSeparator = String(file, f.Value, errs, "scope_separator")
	}
	if f, ok := fields["pkce"]; ok {
		b := Bool(file, f.Value, errs, "pkce")
		c.PKCE = &b
	}
	c.ClientAuth = "basic"
	if f, ok := fields["client_auth"]; ok {
		c.ClientAuth = String(file, f.Value, errs, "client_auth")
		if !slices.Contains(ClientAuths, c.ClientAuth) {
			errs.Addf(NodePos(file, f.Value), "client_auth must be basic (client_secret_basic), post (client_secret_post), basic_raw (basic, id and secret not form-encoded) or none (a public client), found %q%s", c.ClientAuth, Suggest(c.ClientAuth, ClientAuths))
		}
	}
	c.TokenMethod = http.MethodPost
	if f, ok := fields["token_method"]; ok {
		c.TokenMethod = strings.ToUpper(String(file, f.Value, errs, "token_method"))
		if c.TokenMethod != http.MethodPost && c.TokenMethod != http.MethodGet {
			errs.Addf(NodePos(file, f.Value), "token_method must be POST or GET, found %q", c.TokenMethod)
		}
	}
	if f, ok := fields["authorize_params"]; ok {
		c.AuthorizeParams = map[string]*Value{}
		for _, p := range Pairs(file, f.Value, errs, "authorize_params") {
			c.AuthorizeParams[p.Key.Value] = s.Compile(p.Value)
		}
	}
	parseTokenShape(s, c, fields)
	c.Client = str("client")
	c.Params = parseParams(file, fields["params"].Value, errs, "params", false)
	c.Fields = parseParams(file, fields["fields"].Value, errs, "fields", true)
	if f, ok := fields["inject"]; ok {
		c.Inject = parseInject(s, f.Value)
	}
	if f, ok := fields["request"]; ok {
		c.Request = parseRequestDefaults(s, f.Value)
		if c.Request.TokenRequests && typeOK && c.Type != ConnOAuth2 && c.Type != ConnToken {
			for i := 0; i+1 < len(f.Value.Content); i += 2 {
				if k := f.Value.Content[i]; k.Value == "token_requests" {
					errs.Addf(NodePos(file, k), "request: token_requests is for the connections that request tokens (oauth2, token), not type %s", c.Type)
				}
			}
		}
	}
	if f, ok := fields["refresh"]; ok {
		c.Refresh = parseRefresh(file, f.Value, errs)
	}
	if f, ok := fields["label"]; ok {
		c.Label = stringTemplate(s.With(NameTest), f.Value, "label")
	}
	parseBasic(s, c, fields)
	parseOAuth1(s, c, fields)
	if typeOK {
		checkConnection(c, fields, errs, file)
	}
	return c
}

// connNeeds lists the keys a connection type needs: for Type (and Grant, when set), Key.
// The parser and the JSON Schema both read it.
var connNeeds = []struct{ Type, Grant, Key string }{
	{ConnOAuth2, "", "token_url"},
	{ConnOAuth2, "authorization_code", "authorize_url"},
	{ConnOAuth1, "", "request_token_url"},
	{ConnOAuth1, "", "authorize_url"},
	{ConnOAuth1, "", "access_token_url"},
	{ConnAPIKey, "", "inject"},
	{ConnToken, "", "inject"},
}

// connKeyTypes lists the connection keys that only some types use, with those types; another
// type with the key is an error. The parser and the JSON Schema both read it.
var connKeyTypes = []struct {
	Key   string
	Types []string
}{
	{"inject", []string{ConnFields, ConnBasic, ConnAPIKey, ConnOAuth2, ConnOAuth1, ConnToken}},
	{"label", []string{ConnFields, ConnBasic, ConnAPIKey, ConnOAuth2, ConnOAuth1, ConnToken}},
	{"token_url", []string{ConnOAuth2}},
	{"revoke_url", []string{ConnOAuth2}},
	{"scopes", []string{ConnOAuth2, ConnOAuth1}},
	{"scope_separator", []string{ConnOAuth2, ConnOAuth1}},
	{"pkce", []string{ConnOAuth2}},
	{"client_auth", []string{ConnOAuth2}},
	{"token_method", []string{ConnOAuth2}},
	{"authorize_params", []string{ConnOAuth2, ConnOAuth1}},
	{"token_params", []string{ConnOAuth2}},
	{"refresh_params", []string{ConnOAuth2}},
	{"token_body", []string{ConnOAuth2}},
	{"token_headers", []string{ConnOAuth2}},
	{"refresh_url", []string{ConnOAuth2}},
	{"refresh_method", []string{ConnOAuth2}},
	{"token_in", []string{ConnOAuth2}},
	{"token_keep", []string{ConnOAuth2}},
	{"token_error_in", []string{ConnOAuth2}},
	{"client_id_param", []string{ConnOAuth2}},
	{"code_param", []string{ConnOAuth2}},
	{"authorize_url", []string{ConnOAuth2, ConnOAuth1}},
	{"client", []string{ConnOAuth2, ConnOAuth1}},
	{"request_token_url", []string{ConnOAuth1}},
	{"access_token_url", []string{ConnOAuth1}},
	{"refresh", []string{ConnOAuth2, ConnToken}},
	{"fields", []string{ConnFields, ConnBasic, ConnAPIKey, ConnToken}},
	{"username", []string{ConnBasic}},
	{"password", []string{ConnBasic}},
	{"scope_in", []string{ConnOAuth1}},
}

// checkConnection reports what a connection type needs but does not have, and what it has but
// cannot use.
func checkConnection(c *Connection, fields map[string]Field, errs *ErrorList, file string) {
	for _, n := range connNeeds {
		if n.Type != c.Type || (n.Grant != "" && n.Grant != c.Grant) {
			continue
		}
		if _, ok := fields[n.Key]; !ok {
			why := n.Type
			if n.Grant != "" {
				why += " with the " + n.Grant + " grant"
			}
			errs.Addf(c.Pos, "connection: %s needs %s", why, n.Key)
		}
	}
	for _, k := range connKeyTypes {
		if f, ok := fields[k.Key]; ok && !slices.Contains(k.Types, c.Type) {
			errs.Addf(NodePos(file, f.Key), "connection: %s is not used by type %s (only by %s)", k.Key, c.Type, strings.Join(k.Types, ", "))
		}
	}
}

var paramFields = []string{"key", "label", "required", "sensitive", "default", "help", "docs_url"}

func parseParams(file string, n *yaml.Node, errs *ErrorList, what string, allowSensitive bool) []*Param {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		errs.Addf(NodePos(file, n), "%s must be a list, found %s", what, Describe(n))
		return nil
	}
	var out []*Param
	seen := map[string]bool{}
	for _, pn := range n.Content {
		fields := Fields(file, pn, errs, what+" item", paramFields...)
		p := &Param{Pos: NodePos(file, pn)}
		p.Key = String(file, fields["key"].Value, errs, "key")
		if _, ok := fields["key"]; !ok && pn.Kind == yaml.MappingNode {
			errs.Addf(p.Pos, "%s item: key is missing", what)
		} else if p.Key != "" && !IsIdent(p.Key) {
			errs.Addf(NodePos(file, fields["key"].Value), "key %q must be letters, digits and underscores", p.Key)
		} else if p.Key != "" && seen[p.Key] {
			errs.Addf(NodePos(file, fields["key"].Value), "%s: key %q appears twice", what, p.Key)
		}
		seen[p.Key] = true
		p.Label = String(file, fields["label"].Value, errs, "label")
		if p.Label == "" {
			p.Label = p.Key
		}
		p.Required = Bool(file, fields["required"].Value, errs, "required")
		if f, ok := fields["sensitive"]; ok {
			if !allowSensitive {
				errs.Addf(NodePos(file, f.Key), "params are not secret; put secret values in fields")
			}
			p.Sensitive = Bool(file, f.Value, errs, "sensitive")
		}
		p.Default = String(file, fields["default"].Value, errs, "default")
		p.Help = String(file, fields["help"].Value, errs, "help")
		p.DocsURL = String(file, fields["docs_url"].Value, errs, "docs_url")
		out = append(out, p)
	}
	return out
}

func parseInject(s *Scope, n *yaml.Node) *Inject {
	file, errs := s.File, s.Errs
	fields := Fields(file, n, errs, "inject", "in", "name", "value")
	in := &Inject{In: "header", Name: "Authorization", Pos: NodePos(file, n)}
	if f, ok := fields["in"]; ok {
		in.In = String(file, f.Value, errs, "in")
		if in.In != "header" && in.In != "query" {
			errs.Addf(NodePos(file, f.Value), "inject in must be header or query, found %q", in.In)
		}
	}
	if f, ok := fields["name"]; ok {
		in.Name = String(file, f.Value, errs, "name")
	}
	if f, ok := fields["value"]; ok {
		in.Value = stringTemplate(s.With(NameToken), f.Value, "value")
	} else {
		in.Value = s.With(NameToken).Compile(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "{{ token }}", Line: n.Line, Column: n.Column})
	}
	return in
}

// requestFields are the keys of request; the parser, the JSON Schema and the reference read it.
var requestFields = []string{"headers", "query", "token_requests"}

func parseRequestDefaults(s *Scope, n *yaml.Node) *RequestDefaults {
	fields := Fields(s.File, n, s.Errs, "request", requestFields...)
	r := &RequestDefaults{Headers: map[string]*Value{}, Query: map[string]*Value{}}
	r.TokenRequests = Bool(s.File, fields["token_requests"].Value, s.Errs, "token_requests")
	for _, p := range Pairs(s.File, fields["headers"].Value, s.Errs, "headers") {
		r.Headers[p.Key.Value] = s.Compile(p.Value)
	}
	for _, p := range Pairs(s.File, fields["query"].Value, s.Errs, "query") {
		r.Query[p.Key.Value] = s.Compile(p.Value)
	}
	return r
}

func parseRefresh(file string, n *yaml.Node, errs *ErrorList) *Refresh {
	fields := Fields(file, n, errs, "refresh", "before_expiry", "min_interval", "on_status", "assume_lifetime")
	r := DefaultRefresh()
	if f, ok := fields["before_expiry"]; ok {
		r.BeforeExpiry = Duration(file, f.Value, errs, "before_expiry")
	}
	if f, ok := fields["min_interval"]; ok {
		r.MinInterval = Duration(file, f.Value, errs, "min_interval")
	}
	if f, ok := fields["assume_lifetime"]; ok {
		r.AssumeLifetime = Duration(file, f.Value, errs, "assume_lifetime")
	}
	if f, ok := fields["on_status"]; ok {
		r.OnStatus = nil
		if f.Value.Kind != yaml.SequenceNode {
			errs.Addf(NodePos(file, f.Value), "on_status must be a list of status codes, found %s", Describe(f.Value))
		}
		for _, c := range f.Value.Content {
			before := len(*errs)
			code := Int(file, c, errs, "on_status item")
			if len(*errs) > before {
				continue
			}
			if code < 400 || code > 599 {
				errs.Addf(NodePos(file, c), "on_status: %d is not an error status (400-599)", code)
				continue
			}
			r.OnStatus = append(r.OnStatus, code)
		}
	}
	return r
}

// DefaultRefresh returns the refresh settings of a connection that states none.
func DefaultRefresh() *Refresh {
	return &Refresh{BeforeExpiry: 30 * 60e9, MinInterval: 60e9, OnStatus: []int{401}}
}

// String describes the connection for messages.
func (c *Connection) String() string {
	if c == nil {
		return ConnNone
	}
	if c.Type == ConnOAuth2 {
		return fmt.Sprintf("%s (%s)", c.Type, c.Grant)
	}
	return c.Type
}
