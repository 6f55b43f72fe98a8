package main

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/store/sqlite"
)

var vaultCmd = &command{
	Name:    "vault",
	Args:    "set NAME [--app APP] | list [--app APP] | delete NAME [--app APP]",
	Summary: "keep named secrets that apps read as {{ vault.NAME }}",
	Help: `
The vault keeps named secrets, encrypted, that templates read as {{ vault.NAME }} in every run
(with or without --connection) and that are redacted wherever a value is shown. A secret
belongs to the workspace, or with --app APP (the app's folder) to that app alone; an app's
secret overrides the workspace's of the same name. A template that reads a secret the vault
has not fails its step; {{ vault?.NAME }} is null instead.

vault set NAME reads the value from a prompt without echo on a terminal, else the whole of
stdin without its final line ending (so a PEM key can be piped in): never from the command
line. It replaces a value of the same name.

vault list prints the names of the secrets, never their values (with --app: those the app
sees, its own and the workspace's). vault delete NAME removes one.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		var app string
		fs.StringVar(&app, "app", "", "the secret belongs to the app in the folder `APP` (default: the workspace)")
		return func(ctx context.Context, args []string) int {
			flags := []string{"app"}
			return e.dispatch(ctx, fs, args, []subcommand{
				{"set", "NAME", flags, func(ctx context.Context, a []string) int { return e.vaultSet(ctx, app, a[0]) }},
				{"list", "", flags, func(ctx context.Context, _ []string) int { return e.vaultList(ctx, app) }},
				{"delete", "NAME", flags, func(ctx context.Context, a []string) int { return e.vaultDelete(ctx, app, a[0]) }},
			})
		}
	},
}

// vaultOwner names where a secret lives, for messages.
func vaultOwner(app string) string {
	if app == "" {
		return "the workspace"
	}
	return "app " + app
}

func (e *env) vaultSet(ctx context.Context, dir, name string) int {
	if !flows.IsIdent(name) {
		return e.usageError("vault name %q must be letters, digits and underscores, as in {{ vault.%s }}", name, name)
	}
	_, app, ok := e.optionalApp(dir)
	if !ok {
		return exitFailure
	}
	value, err := e.newPrompter().secret(ctx, "Value of "+name)
	if err != nil {
		return e.fail(err)
	}
	if value == "" {
		fmt.Fprintln(e.stderr, "error: the value is empty; nothing was stored")
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		if err := st.SetVault(ctx, connections.DefaultWorkspace, app, name, connections.Secret(value)); err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "stored %s in the vault of %s\n", name, vaultOwner(app))
		return exitOK
	})
}

func (e *env) vaultList(ctx context.Context, dir string) int {
	_, app, ok := e.optionalApp(dir)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		v, err := st.Vault(ctx, connections.DefaultWorkspace, app)
		if err != nil {
			return e.fail(err)
		}
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintln(e.stdout, n)
		}
		if len(names) == 0 {
			fmt.Fprintf(e.stderr, "the vault of %s is empty\n", vaultOwner(app))
		}
		return exitOK
	})
}

func (e *env) vaultDelete(ctx context.Context, dir, name string) int {
	_, app, ok := e.optionalApp(dir)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		if err := st.DeleteVault(ctx, connections.DefaultWorkspace, app, name); err != nil {
			return e.failNotFound(err, "the vault of %s has no secret %q", vaultOwner(app), name)
		}
		fmt.Fprintf(e.stdout, "deleted %s from the vault of %s\n", name, vaultOwner(app))
		return exitOK
	})
}
