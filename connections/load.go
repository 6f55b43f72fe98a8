package connections

import (
	"embed"
	"path"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

//go:embed templates/*.yaml
var templates embed.FS

// Template returns the built-in private flows for an app's connection as YAML text, by file
// name, for `patchbay app init` to write out. It is empty for types without built-in flows.
func Template(c *flows.Connection) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range templateFiles(c) {
		b, err := templates.ReadFile(path.Join("templates", name))
		if err == nil {
			out[name] = b
		}
	}
	return out
}

func templateFiles(c *flows.Connection) []string {
	if c == nil || c.Type != flows.ConnOAuth2 {
		return nil
	}
	files := []string{"oauth2.yaml"}
	if c.Grant == "client_credentials" {
		files = []string{"oauth2_client_credentials.yaml"}
	}
	if c.RevokeURL != nil {
		files = append(files, "revoke.yaml")
	}
	return files
}

// LoadApp reads the app in dir, adds the built-in private flows its connection type needs and
// the app does not define, and compiles it with reg (which must hold the core blocks).
func LoadApp(reg *engine.Registry, dir string) (*engine.Program, error) {
	app, err := flows.LoadApp(dir)
	if app == nil {
		return nil, err
	}
	var errs flows.ErrorList
	errs.Append(flows.Pos{File: app.File}, err)
	errs.Append(flows.Pos{File: app.File}, AddBuiltins(app))
	prog, err := engine.Compile(reg, app)
	errs.Append(flows.Pos{File: app.File}, err)
	if err := checkPrivateFlows(prog); err != nil {
		errs.Append(flows.Pos{File: app.File}, err)
	}
	return prog, errs.Err()
}

// AddBuiltins adds to app the built-in private flows it lacks. Their positions name the
// template ("builtin:oauth2.yaml:12:9").
func AddBuiltins(app *flows.App) error {
	var errs flows.ErrorList
	for _, name := range templateFiles(app.Connection) {
		src, err := templates.ReadFile(path.Join("templates", name))
		if err != nil {
			return err
		}
		tmp := &flows.App{Key: app.Key, Files: map[string][]byte{}}
		errs.Append(flows.Pos{File: "builtin:" + name}, flows.ParseFlowFile(tmp, "builtin:"+name, src))
		for _, f := range tmp.Flows {
			if app.Flow(f.Name) == nil {
				app.Flows = append(app.Flows, f)
				app.Files[f.File] = src
			}
		}
	}
	return errs.Err()
}

// requiredFlows are the private flows each connection type needs to connect an account.
func requiredFlows(c *flows.Connection) []string {
	if c == nil {
		return nil
	}
	switch c.Type {
	case flows.ConnOAuth2:
		if c.Grant == "client_credentials" {
			return []string{"exchange", "refresh"}
		}
		return []string{"authorize", "exchange", "refresh"}
	case flows.ConnToken:
		return []string{"exchange"}
	}
	return nil
}

// checkPrivateFlows reports a private flow the connection type needs but the app lacks.
func checkPrivateFlows(prog *engine.Program) error {
	if prog == nil {
		return nil
	}
	app := prog.App
	var errs flows.ErrorList
	for _, name := range requiredFlows(app.Connection) {
		if app.Flow(name) == nil {
			errs.Addf(app.Connection.Pos, "connection type %s needs a private flow %q", app.Connection.Type, name)
		}
	}
	if f := app.Flow(AfterConnectFlow); f != nil && !hasToken(app.Connection) {
		errs.Addf(f.Pos, "flow %s runs after a connection gets its token, and connection type %s gets none (oauth2, oauth1 and token do)", AfterConnectFlow, app.Connection)
	}
	return errs.Err()
}

// hasToken reports whether connections of c get a token, after which after_connect runs.
func hasToken(c *flows.Connection) bool {
	return c != nil && (c.Type == flows.ConnOAuth2 || c.Type == flows.ConnOAuth1 || c.Type == flows.ConnToken)
}
