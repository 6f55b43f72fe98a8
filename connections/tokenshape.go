package connections

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// evalParams evaluates a mapping of templates of the connection (authorize_params,
// token_params, refresh_params, token_headers).
func evalParams(key string, params map[string]*flows.Value, tmpl connTemplates) (map[string]any, error) {
	out := make(map[string]any, len(params))
	for k, v := range params {
		x, err := tmpl.eval(v)
		if err != nil {
			return nil, fmt.Errorf("connection %s.%s: %w", key, k, err)
		}
		out[k] = x
	}
	return out, nil
}

// tokenShapeEnv puts the settings that shape the token requests of the built-in oauth2 flows
// into env, the template value connection: the token request's extra parameters and headers,
// the refresh's URL, method and parameters, where the answer holds the token, its error and
// the values to keep, and the names of the client id and the code. tmpl evaluates over env.
func tokenShapeEnv(env map[string]any, c *flows.Connection, tmpl connTemplates) error {
	for key, params := range map[string]map[string]*flows.Value{
		"authorize_params": c.AuthorizeParams, "token_params": c.TokenParams,
		"refresh_params": c.RefreshParams, "token_headers": c.TokenHeaders,
	} {
		m, err := evalParams(key, params, tmpl)
		if err != nil {
			return err
		}
		env[key] = m
	}
	if h, err := tokenRequestHeaders(c, tmpl); err != nil {
		return err
	} else if len(h) > 0 {
		// request.token_requests: the request headers go on the token requests, under
		// token_headers of the same name.
		th := env["token_headers"].(map[string]any)
		for k, v := range h {
			if !hasHeader(th, k) {
				th[k] = v
			}
		}
	}
	env["refresh_url"] = env["token_url"]
	if c.RefreshURL != nil {
		s, err := tmpl.evalString(c.RefreshURL)
		if err != nil {
			return fmt.Errorf("connection refresh_url: %w", err)
		}
		env["refresh_url"] = s
	}
	env["refresh_method"] = c.RefreshMethod
	env["token_body"] = c.TokenBody
	env["token_in"] = c.TokenIn
	env["token_error_in"] = c.TokenErrorIn
	env["client_id_param"] = c.ClientIDParam
	env["code_param"] = c.CodeParam
	env["token_keep"] = nil // every field of the answer is kept
	if c.TokenKeep != nil {
		keep := make(map[string]any, len(c.TokenKeep))
		for k, v := range c.TokenKeep {
			keep[k] = v
		}
		env["token_keep"] = keep
	}
	return nil
}

// tokenRequestHeaders evaluates the connection's request headers when request.token_requests
// puts them on the token requests; nil otherwise.
func tokenRequestHeaders(c *flows.Connection, tmpl connTemplates) (map[string]any, error) {
	if c == nil || c.Request == nil || !c.Request.TokenRequests {
		return nil, nil
	}
	return evalParams("request.headers", c.Request.Headers, tmpl)
}

// hasHeader reports whether h names header k, in any case.
func hasHeader(h map[string]any, k string) bool {
	for name := range h {
		if strings.EqualFold(name, k) {
			return true
		}
	}
	return false
}

// tokenRequestConn is the Conn of a private flow that requests tokens (exchange, refresh,
// revoke) when request.token_requests is set: it puts the request headers on each call_api
// request of the flow, and no credential, as the flow is the one that gets them.
type tokenRequestConn struct{ headers map[string]any }

// Authorize adds the headers the request does not set already.
func (c tokenRequestConn) Authorize(_ context.Context, req *http.Request) error {
	for _, k := range sortedKeys(c.headers) {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, flows.Stringify(c.headers[k]))
		}
	}
	return nil
}

// Retry never retries: there is no credential to refresh.
func (tokenRequestConn) Retry(context.Context, *http.Response) (bool, error) { return false, nil }

var _ engine.Conn = tokenRequestConn{}

// afterConnect runs the app's after_connect flow, when it has one, for a connection that has
// just got its token (connecting, or connecting again after a disconnect): the flow's requests
// carry the new token, and its output, a mapping, is kept in connection.extra over the token
// answer's values (a cloud id, a tenant id looked up with the token). A refresh keeps them.
func (m *Manager) afterConnect(ctx context.Context, prog *engine.Program, rec *Record, reached *originSet) error {
	if prog.Flow(AfterConnectFlow) == nil || rec.Creds.Token == nil {
		return nil
	}
	out, err := m.runPrivate(ctx, prog, rec, AfterConnectFlow, nil, m.memConn(prog, rec, reached))
	if err != nil {
		return fmt.Errorf("%s failed, nothing was stored: %w", AfterConnectFlow, err)
	}
	if out == nil {
		return nil
	}
	o, ok := out.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: the flow's output must be a mapping (kept as connection.extra), found %T; nothing was stored", AfterConnectFlow, out)
	}
	tok := *rec.Creds.Token
	tok.Extra = mergeExtra(tok.Extra, o)
	rec.Creds.Token = &tok
	return nil
}

// AfterConnectFlow is the private flow run once after a connection gets its token.
const AfterConnectFlow = "after_connect"
