package connections

import (
	"fmt"

	"github.com/patchbay/patchbay/flows"
)

// evalParams evaluates a mapping of templates of the connection (authorize_params,
// token_params, refresh_params, token_headers) over tenv.
func evalParams(key string, params map[string]*flows.Value, tenv map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(params))
	for k, v := range params {
		x, err := v.Eval(tenv, nil)
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
// the values to keep, and the names of the client id and the code. tenv is env's environment.
func tokenShapeEnv(env map[string]any, c *flows.Connection, tenv map[string]any) error {
	for key, params := range map[string]map[string]*flows.Value{
		"authorize_params": c.AuthorizeParams, "token_params": c.TokenParams,
		"refresh_params": c.RefreshParams, "token_headers": c.TokenHeaders,
	} {
		m, err := evalParams(key, params, tenv)
		if err != nil {
			return err
		}
		env[key] = m
	}
	env["refresh_url"] = env["token_url"]
	if c.RefreshURL != nil {
		s, err := c.RefreshURL.EvalString(tenv, nil)
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
