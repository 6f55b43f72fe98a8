package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/store/sqlite"
)

var connectCmd = &command{
	Name:    "connect",
	Args:    "APP [--name NAME] [--param key=value]... [--field key=value]... [flags]",
	Summary: "connect an account to an app and store the connection",
	Help: `
Connect connects an account to the app in the folder APP and stores the connection, encrypted,
in the data directory, as NAME (default: the app's key). Runs use it with
patchbay run APP FLOW --connection NAME.

The app's integration parameters (--param) and credential fields (--field) that are not given
are asked for on the terminal, one per line, with the field's help line and where to find it;
sensitive ones without echo. An environment variable PATCHBAY_FIELD_<KEY> (the key in upper
case) also gives a field. When stdin is not a terminal, the answers are read from it one per
line, so a script can pipe them in. --field puts a secret on the command line, where other
users may see it: use it for scripts and tests only.

Fields, basic, api_key, token and oauth2 client_credentials connections are checked at once:
the app's exchange flow (when it has one) and its test flow run, and the connection is stored
only when they succeed; otherwise the provider's answer is shown and nothing is stored.

oauth2 (authorization code) and oauth1 connections are approved in a browser. Connect listens
on --listen for the provider's redirect to http://<listen>/callback (or on the address of the
auth client's redirect URL, when it has one; a loopback address only), prints the address to
open, opens it in the browser unless --no-browser is given, and waits up to 10 minutes for the
redirect. Add the auth client first: patchbay clients add NAME --app APP --client-id ID.
--listen 127.0.0.1:0 picks a free port (a provider that accepts any loopback port, as RFC 8252
asks, allows this).

--map-origin FROM=TO connects against a test server at TO standing in for the provider at FROM:
the address to approve access at and the connection's requests go there; the connection is
bound to FROM, so runs with the same --map-origin use it (docs/cli.md: Testing against a
stand-in).

Exit status: 0 when the connection was stored, 1 when it was not.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &connectOptions{params: map[string]string{}, fields: map[string]string{}}
		fs.StringVar(&o.name, "name", "", "store the connection as `NAME` (default: the app's key)")
		fs.Func("param", "an integration parameter as `key=value` (repeatable)", keyValue(o.params))
		fs.Func("field", "a credential field as `key=value` (repeatable; visible to other users: for scripts and tests)", keyValue(o.fields))
		fs.StringVar(&o.client, "client", "", "the auth client `NAME` of an oauth connection (default: the app's connection.client, else its key)")
		fs.StringVar(&o.listen, "listen", defaultListen, "listen on `ADDR` for the OAuth redirect (port 0: any free port)")
		fs.BoolVar(&o.noBrowser, "no-browser", false, "print the OAuth address without opening a browser")
		e.netFlags(fs)
		return func(ctx context.Context, args []string) int { return e.connect(ctx, o, args) }
	},
}

// defaultListen is where connect waits for an OAuth redirect.
const defaultListen = "127.0.0.1:8085"

// connectOptions are connect's flags.
type connectOptions struct {
	name      string
	params    map[string]string
	fields    map[string]string
	client    string
	listen    string
	noBrowser bool
}

// keyValue returns a flag.Func setter that adds key=value to m.
func keyValue(m map[string]string) func(string) error {
	return func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("want key=value, found %q", s)
		}
		m[k] = v
		return nil
	}
}

func (e *env) connect(ctx context.Context, o *connectOptions, args []string) int {
	if len(args) != 1 {
		return e.usageError("want APP, found %d arguments", len(args))
	}
	prog, ok := e.loadApp(args[0])
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int { return e.connectApp(ctx, st, prog, o) })
}

// connectApp connects an account to prog and stores the connection in st.
func (e *env) connectApp(ctx context.Context, st *sqlite.Store, prog *engine.Program, o *connectOptions) int {
	app := prog.App
	name := o.name
	if name == "" {
		name = app.Key
	}
	if old, err := findConnection(ctx, st, name, app.Key); err == nil {
		if old.Status != connections.StatusDisconnected {
			fmt.Fprintf(e.stderr, "error: app %s already has a connection named %q: give another --name, or delete it first (patchbay connections delete %s)\n", app.Key, name, name)
			return exitFailure
		}
		fmt.Fprintf(e.stderr, "connecting %q again (it was disconnected: %s)\n", name, old.Reason)
	}
	req := connections.ConnectRequest{Name: o.name, Params: o.params, Fields: o.fields, Client: o.client}
	c := app.Connection
	for _, f := range connections.Fields(c) {
		if _, given := req.Fields[f.Key]; !given {
			if v := e.getenv("PATCHBAY_FIELD_" + strings.ToUpper(f.Key)); v != "" {
				req.Fields[f.Key] = v
			}
		}
	}
	if err := e.askMissing(ctx, c, &req); err != nil {
		fmt.Fprintf(e.stderr, "error: %v\nnothing was stored\n", err)
		return exitFailure
	}
	m := e.newManager(st, e.httpClient())
	if c != nil && (c.Type == flows.ConnOAuth1 || c.Type == flows.ConnOAuth2 && c.Grant == "authorization_code") {
		return e.connectInBrowser(ctx, m, st, prog, req, o)
	}
	rec, err := m.Connect(ctx, prog, req)
	if err != nil {
		e.printConnectError(err)
		return exitFailure
	}
	return e.connected(ctx, st, rec)
}

// connected reports the connection rec, stored just now, with the stand-ins it was made
// through.
func (e *env) connected(ctx context.Context, st connections.Store, rec *connections.Record) int {
	if err := e.markStandIns(ctx, st, rec); err != nil {
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
	}
	fmt.Fprintf(e.stdout, "connected %s (%s)\n", rec.Name, rec.Label)
	if len(rec.StandIns) > 0 {
		fmt.Fprintf(e.stderr, "its credentials are the stand-in's: use it with --map-origin %s\n", strings.Join(rec.StandIns, " --map-origin "))
	}
	return exitOK
}

// askMissing asks for the parameters and credential fields of c that req lacks.
func (e *env) askMissing(ctx context.Context, c *flows.Connection, req *connections.ConnectRequest) error {
	if c == nil {
		return nil
	}
	var p *prompter
	ask := func(decl []*flows.Param, given map[string]string) error {
		for _, f := range decl {
			if _, ok := given[f.Key]; ok {
				continue
			}
			if p == nil {
				p = e.newPrompter()
			}
			var notes []string
			switch {
			case f.Default != "":
				notes = append(notes, "default "+f.Default)
			case f.Required:
				notes = append(notes, "required")
			default:
				notes = append(notes, "optional")
			}
			if f.Sensitive && p.terminal() {
				notes = append(notes, "typing is hidden")
			}
			var help []string
			if f.Help != "" {
				help = append(help, f.Help)
			}
			if f.DocsURL != "" {
				help = append(help, "where to find it: "+f.DocsURL)
			}
			v, err := p.ask(ctx, fmt.Sprintf("%s (%s)", f.Label, strings.Join(notes, "; ")), help, f.Sensitive)
			if err != nil {
				return fmt.Errorf("read %s: %w", f.Key, err)
			}
			if v != "" {
				given[f.Key] = v
			}
		}
		return nil
	}
	if err := ask(c.Params, req.Params); err != nil {
		return err
	}
	return ask(connections.Fields(c), req.Fields)
}

// printConnectError prints why connecting failed, each bad value on a line of its own, and
// that nothing was stored.
func (e *env) printConnectError(err error) {
	var fe *connections.FieldError
	if joined, ok := err.(interface{ Unwrap() []error }); ok && errors.As(err, &fe) {
		for _, er := range joined.Unwrap() {
			fmt.Fprintf(e.stderr, "error: %v\n", er)
		}
	} else {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
	}
	// The manager says so itself when the test flow failed.
	if !strings.Contains(err.Error(), "nothing was stored") {
		fmt.Fprintln(e.stderr, "nothing was stored")
	}
}
