package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/connections"
)

var appCmd = &command{
	Name:    "app",
	Args:    "init DIR --auth " + strings.Join(connections.AuthKinds, "|"),
	Summary: "start a new app from a template",
	Help: `
app init writes a new app into the folder DIR (created when missing): an app.yaml whose
connection is of the kind --auth names, with a test flow, ready for patchbay validate. For
oauth2 and oauth2-client-credentials it also writes auth.yaml, the built-in private flows
(authorize, exchange, refresh, revoke) for the author to change; delete it to use the built-in
ones. app init never overwrites an existing app.yaml.

The app's key is the folder's name, letters and digits only.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		var auth string
		fs.StringVar(&auth, "auth", "", "how users connect: `KIND`, one of "+strings.Join(connections.AuthKinds, ", "))
		return func(ctx context.Context, args []string) int {
			return e.dispatch(ctx, fs, args, []subcommand{
				{"init", "DIR", []string{"auth"}, func(ctx context.Context, a []string) int { return e.appInit(a[0], auth) }},
			})
		}
	},
}

func (e *env) appInit(dir, auth string) int {
	if auth == "" {
		return e.usageError("app init needs --auth, one of %s", strings.Join(connections.AuthKinds, ", "))
	}
	if !slices.Contains(connections.AuthKinds, auth) {
		return e.usageError("--auth %q is not one of %s", auth, strings.Join(connections.AuthKinds, ", "))
	}
	written, err := connections.Scaffold(dir, auth)
	for _, f := range written {
		fmt.Fprintf(e.stdout, "wrote %s\n", f)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	prog, ok := e.loadApp(dir)
	if !ok {
		return exitFailure // a template that does not load: printed above
	}
	app := prog.App
	fmt.Fprintf(e.stdout, "\nNext, edit %s (base_url, the endpoints, the test flow), then:\n\n", written[0])
	fmt.Fprintf(e.stdout, "  patchbay validate %s\n", dir)
	switch auth {
	case "none":
		fmt.Fprintf(e.stdout, "  patchbay run %s FLOW\n", dir)
		return exitOK
	case "oauth2", "oauth2-client-credentials", "oauth1":
		fmt.Fprintf(e.stdout, "  patchbay clients add %s --app %s --client-id ID    (the secret is asked for)\n", defaultClient(app), dir)
	}
	fmt.Fprintf(e.stdout, "  patchbay connect %s\n", dir)
	fmt.Fprintf(e.stdout, "  patchbay run %s FLOW --connection %s\n", dir, app.Key)
	return exitOK
}
