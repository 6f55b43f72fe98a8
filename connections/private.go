package connections

import (
	"context"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// runPrivate runs one of the app's private flows for rec. input is what the runtime offers the
// flow (exchange: code, state, redirect_uri, code_verifier, query); the flow gets the inputs it
// declares, so an app's own flow need not declare those it has no use for.
func (m *Manager) runPrivate(ctx context.Context, prog *engine.Program, rec *Record, flow string, input map[string]any, conn engine.Conn) (any, error) {
	f := prog.Flow(flow)
	if f == nil {
		return nil, fmt.Errorf("app %s has no %s flow", prog.App.Key, flow)
	}
	offered := input
	input = make(map[string]any, len(offered))
	for k, v := range offered {
		if f.Def.Input(k) != nil {
			input[k] = v
		}
	}
	env, secrets, vault, err := m.env(ctx, prog, rec)
	if err != nil {
		return nil, err
	}
	if conn == nil && flow != "authorize" {
		// A flow that requests tokens: the request headers go on its requests when the app
		// says so (request.token_requests).
		h, err := tokenRequestHeaders(prog.App.Connection, newTemplates(ctx, env, prog.App, vault))
		if err != nil {
			return nil, err
		}
		if len(h) > 0 {
			conn = tokenRequestConn{headers: h}
		}
	}
	// What the runtime offers is secret whether or not the flow declares it sensitive.
	for _, k := range secretInputs {
		if s, ok := offered[k].(string); ok {
			secrets = append(secrets, s)
		}
	}
	res, err := prog.Run(ctx, flow, engine.Options{
		Input: input, Conn: conn, Connection: env, Vault: vault, Secrets: secrets, HTTPClient: m.privateClient(rec), Logger: m.log,
	})
	if err != nil {
		return nil, err
	}
	return res.Output, nil
}

// connTemplates evaluates the connection's own templates (URLs, inject, request defaults, label) as
// a run's are: with the memory budget, and stopping at the caller's deadline.
type connTemplates struct {
	ev  *flows.Evaluator
	env map[string]any
}

func newTemplates(ctx context.Context, conn map[string]any, app *flows.App, vault map[string]any) connTemplates {
	env := map[string]any{"connection": conn, "app": appEnv(app), "vault": vault, "input": nil}
	return connTemplates{ev: flows.NewEvaluator(ctx), env: env}
}

func (t connTemplates) eval(v *flows.Value) (any, error) { return t.ev.Eval(v, t.env) }

func (t connTemplates) evalString(v *flows.Value) (string, error) { return t.ev.EvalString(v, t.env) }

// vaultValues lists a vault's values, for redaction.
func vaultValues(vault map[string]any) []string {
	out := make([]string, 0, len(vault))
	for _, v := range vault {
		out = append(out, flows.Stringify(v))
	}
	return out
}

// secretInputs are the inputs the runtime offers private flows that are secrets: the OAuth
// code and PKCE verifier (exchange, authorize), the refresh token (refresh), the token to
// revoke (revoke).
var secretInputs = []string{"code", "code_verifier", "refresh_token", "token"}

func appEnv(app *flows.App) map[string]any {
	return map[string]any{"key": app.Key, "name": app.Name, "version": app.Version}
}

// env builds the template value connection for rec, the secrets to redact and the vault.
func (m *Manager) env(ctx context.Context, prog *engine.Program, rec *Record) (map[string]any, []string, map[string]any, error) {
	app := prog.App
	c := app.Connection
	var secrets []string
	params := map[string]any{}
	if c != nil {
		for _, p := range c.Params {
			if p.Default != "" {
				params[p.Key] = p.Default
			}
		}
	}
	for k, v := range rec.Params {
		params[k] = v
	}
	fields := map[string]any{}
	for k, v := range rec.Creds.Fields {
		fields[k] = v.Reveal()
	}
	for _, f := range Fields(c) {
		if f.Sensitive {
			secrets = append(secrets, rec.Creds.Fields[f.Key].Reveal())
		}
	}
	env := map[string]any{
		"id": rec.ID, "name": rec.Name, "label": rec.Label, "workspace": rec.Workspace,
		"params": params, "fields": fields, "extra": map[string]any{},
	}
	if t := rec.Creds.Token; t != nil {
		secrets = append(secrets, t.AccessToken.Reveal(), t.RefreshToken.Reveal(), t.TokenSecret.Reveal())
		if t.Extra != nil {
			env["extra"] = t.Extra
		}
	}
	vault, err := m.vault(ctx, rec.Workspace, app.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	if c == nil {
		return env, secrets, vault, nil
	}
	if c.Type == flows.ConnOAuth2 || c.Type == flows.ConnOAuth1 {
		cl, err := m.authClient(ctx, rec.Workspace, app.Key, rec.Client)
		if errors.Is(err, ErrNotFound) {
			return nil, nil, nil, fmt.Errorf("app %s has no auth client %q: add it with `patchbay clients add %s --app <app-dir> --client-id <id>`", app.Key, rec.Client, rec.Client)
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read auth client %q: %w", rec.Client, err)
		}
		env["client"] = map[string]any{"id": cl.ClientID, "secret": cl.Secret.Reveal(), "redirect_uri": cl.RedirectURL}
		secrets = append(secrets, cl.Secret.Reveal())
		scopes := c.Scopes
		if len(cl.Scopes) > 0 {
			scopes = cl.Scopes
		}
		list := make([]any, len(scopes))
		for i, s := range scopes {
			list[i] = s
		}
		env["scopes"] = list
	}
	pkce := c.Type == flows.ConnOAuth2 && c.Grant == "authorization_code"
	if c.PKCE != nil {
		pkce = *c.PKCE
	}
	env["pkce"] = pkce
	env["scope_separator"] = c.ScopeSeparator
	env["client_auth"] = c.ClientAuth
	env["token_method"] = c.TokenMethod
	tmpl := newTemplates(ctx, env, app, vault)
	for key, v := range map[string]*flows.Value{
		"authorize_url": c.AuthorizeURL, "token_url": c.TokenURL, "revoke_url": c.RevokeURL,
		"request_token_url": c.RequestTokenURL, "access_token_url": c.AccessTokenURL,
	} {
		if v == nil {
			continue
		}
		s, err := tmpl.evalString(v)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("connection %s: %w", key, err)
		}
		env[key] = s
	}
	if err := tokenShapeEnv(env, c, tmpl); err != nil {
		return nil, nil, nil, err
	}
	return env, secrets, vault, nil
}
