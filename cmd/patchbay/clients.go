package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/store/sqlite"
)

var clientsCmd = &command{
	Name:    "clients",
	Args:    "add NAME --app APP --client-id ID [--redirect-url URL] [--scope S]... | list [--app APP] | delete NAME --app APP",
	Summary: "keep the OAuth clients (id and secret) that oauth connections use",
	Help: `
An auth client is an OAuth client registered at the provider: its client id and secret, kept
once (the secret encrypted) and used by every connection of the app. APP is the app's folder;
the client belongs to the app whose key its app.yaml names.

clients add stores a client, replacing one of the same name. The client secret is read from a
prompt without echo on a terminal, else from stdin (echo -n "$SECRET" | patchbay clients add
...); it may be empty for a public client. NAME is the name the app's connection.client gives,
or the app's key when it gives none; connect --client picks another.

--redirect-url is the redirect URL registered at the provider; patchbay connect then listens on
its host and port. Without it, connect uses http://127.0.0.1:8085/callback (see connect
--listen). --scope replaces the app's connection.scopes for connections made with the client.

clients list prints the clients (never their secrets); clients delete removes one.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &clientsOptions{}
		fs.StringVar(&o.app, "app", "", "the app's folder `APP`")
		fs.StringVar(&o.clientID, "client-id", "", "the OAuth client `ID` the provider gave (add)")
		fs.StringVar(&o.redirectURL, "redirect-url", "", "the redirect `URL` registered at the provider (add)")
		fs.Func("scope", "a `SCOPE` to request instead of the app's scopes (add; repeatable)", func(s string) error {
			o.scopes = append(o.scopes, s)
			return nil
		})
		return func(ctx context.Context, args []string) int {
			return e.dispatch(ctx, fs, args, []subcommand{
				{"add", "NAME", []string{"app", "client-id", "redirect-url", "scope"}, func(ctx context.Context, a []string) int { return e.clientsAdd(ctx, o, a[0]) }},
				{"list", "", []string{"app"}, func(ctx context.Context, _ []string) int { return e.clientsList(ctx, o) }},
				{"delete", "NAME", []string{"app"}, func(ctx context.Context, a []string) int { return e.clientsDelete(ctx, o, a[0]) }},
			})
		}
	},
}

// clientsOptions are the flags of clients.
type clientsOptions struct {
	app         string
	clientID    string
	redirectURL string
	scopes      []string
}

func (e *env) clientsAdd(ctx context.Context, o *clientsOptions, name string) int {
	switch {
	case o.app == "":
		return e.usageError("clients add needs --app APP")
	case o.clientID == "":
		return e.usageError("clients add needs --client-id ID")
	case !flows.IsIdent(strings.ReplaceAll(name, "-", "_")):
		return e.usageError("client name %q must be letters, digits, - and _", name)
	}
	if o.redirectURL != "" {
		if u, err := url.Parse(o.redirectURL); err != nil || u.Scheme == "" || u.Host == "" {
			return e.usageError("--redirect-url %q is not an absolute URL", o.redirectURL)
		}
	}
	prog, ok := e.loadApp(o.app)
	if !ok {
		return exitFailure
	}
	app := prog.App
	if c := app.Connection; c == nil || (c.Type != flows.ConnOAuth2 && c.Type != flows.ConnOAuth1) {
		typ := flows.ConnNone
		if c != nil {
			typ = c.Type
		}
		fmt.Fprintf(e.stderr, "error: app %s connects with %s: auth clients are for oauth2 and oauth1 connections\n", app.Key, typ)
		return exitFailure
	}
	secret, err := e.newPrompter().secret(ctx, "Client secret")
	if err != nil {
		return e.fail(err)
	}
	return e.withStore(func(st *sqlite.Store) int {
		cl := &connections.Client{
			Workspace: connections.DefaultWorkspace, App: app.Key, Name: name, ClientID: o.clientID,
			Secret: connections.Secret(secret), RedirectURL: o.redirectURL, Scopes: o.scopes,
		}
		if err := st.PutClient(ctx, cl); err != nil {
			return e.fail(err)
		}
		kind := "with a secret"
		if secret == "" {
			kind = "without a secret (a public client)"
		}
		fmt.Fprintf(e.stdout, "added auth client %s of app %s, %s\n", name, app.Key, kind)
		if def := defaultClient(app); name != def {
			fmt.Fprintf(e.stderr, "note: app %s's connections use client %q unless patchbay connect is given --client %s\n", app.Key, def, name)
		}
		return exitOK
	})
}

// defaultClient is the auth client an app's connections use when connect is given none.
func defaultClient(app *flows.App) string {
	if c := app.Connection; c != nil && c.Client != "" {
		return c.Client
	}
	return app.Key
}

func (e *env) clientsList(ctx context.Context, o *clientsOptions) int {
	_, appKey, ok := e.optionalApp(o.app)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int { return e.printClients(ctx, st, appKey) })
}

// printClients prints the auth clients, of the app appKey when it is not "".
func (e *env) printClients(ctx context.Context, st *sqlite.Store, appKey string) int {
	list, err := st.Clients(ctx, connections.DefaultWorkspace)
	if err != nil {
		return e.fail(err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	n := 0
	for _, c := range list {
		if appKey != "" && c.App != appKey {
			continue
		}
		if n == 0 {
			fmt.Fprintln(tw, "NAME\tAPP\tCLIENT ID\tSECRET\tREDIRECT URL\tSCOPES")
		}
		n++
		secret := "set"
		if c.Secret == "" {
			secret = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.App, c.ClientID, secret, orDash(c.RedirectURL), orDash(strings.Join(c.Scopes, " ")))
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(e.stderr, "no auth clients: add one with patchbay clients add NAME --app APP --client-id ID")
	}
	return exitOK
}

func (e *env) clientsDelete(ctx context.Context, o *clientsOptions, name string) int {
	if o.app == "" {
		return e.usageError("clients delete needs --app APP")
	}
	prog, ok := e.loadApp(o.app)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		if err := st.DeleteClient(ctx, connections.DefaultWorkspace, prog.App.Key, name); err != nil {
			return e.failNotFound(err, "app %s has no auth client %q", prog.App.Key, name)
		}
		fmt.Fprintf(e.stdout, "deleted auth client %s of app %s\n", name, prog.App.Key)
		return exitOK
	})
}
