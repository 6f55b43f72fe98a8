package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/store/sqlite"
)

var connectionsCmd = &command{
	Name:    "connections",
	Args:    "list | show NAME | test NAME --app APP | delete NAME [--app APP]",
	Summary: "list, show, test and delete stored connections",
	Help: `
connections list prints the stored connections as a table: name, app, type, status, label,
when the token expires and the last test. connections show NAME prints everything about one
that is not secret: which credentials are set (their names, never their values), the token's
type, scope and expiry, refreshes, the last error and test. --json prints either as JSON.

connections test NAME --app APP runs the app's test flow with the connection (APP is the app's
folder) and prints ok or why it failed; the result is recorded.

connections delete NAME deletes a connection. With --app APP the app's revoke flow runs first,
so the provider forgets the token; without it the token is deleted here only. test and
delete take --map-origin FROM=TO as run does, for a connection made against a test server.

A connection's name is unique in its workspace, whatever its app; should two apps have one of
the same name (a database from a patchbay that allowed it), --app says which is meant.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		var o connectionsOptions
		fs.BoolVar(&o.json, "json", false, "print JSON (list, show)")
		fs.StringVar(&o.app, "app", "", "the app's folder `APP` (test, delete; show when a name is ambiguous)")
		e.netFlags(fs)
		return func(ctx context.Context, args []string) int {
			return e.dispatch(ctx, fs, args, []subcommand{
				{"list", "", []string{"json"}, func(ctx context.Context, _ []string) int { return e.connectionsList(ctx, o) }},
				{"show", "NAME", []string{"json", "app"}, func(ctx context.Context, a []string) int { return e.connectionsShow(ctx, o, a[0]) }},
				{"test", "NAME", []string{"app", "deny-private-networks", "allow-network", "map-origin"}, func(ctx context.Context, a []string) int { return e.connectionsTest(ctx, o, a[0]) }},
				{"delete", "NAME", []string{"app", "deny-private-networks", "allow-network", "map-origin"}, func(ctx context.Context, a []string) int { return e.connectionsDelete(ctx, o, a[0]) }},
			})
		}
	},
}

// connectionsOptions are the flags of connections.
type connectionsOptions struct {
	json bool
	app  string
}

// subcommand is one subcommand of a command (connections list). A command declares the flags
// of all its subcommands; flags names those this one takes.
type subcommand struct {
	name  string
	arg   string // the positional argument after the subcommand's name (NAME), or "" for none
	flags []string
	run   func(ctx context.Context, args []string) int
}

// dispatch runs the subcommand args[0] of the current command, refusing flags that are not
// its own and a wrong number of arguments.
func (e *env) dispatch(ctx context.Context, fs *flag.FlagSet, args []string, subs []subcommand) int {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.name
	}
	if len(args) == 0 {
		return e.usageError("want a subcommand: %s", strings.Join(names, ", "))
	}
	i := slices.IndexFunc(subs, func(s subcommand) bool { return s.name == args[0] })
	if i < 0 {
		return e.usageError("unknown subcommand %q%s", args[0], flows.Suggest(args[0], names))
	}
	s := subs[i]
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if !globalFlags[f.Name] && !slices.Contains(s.flags, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return e.usageError("%s %s does not take %s", e.cmd.Name, s.name, strings.Join(bad, ", "))
	}
	want, what := 0, "no arguments"
	if s.arg != "" {
		want, what = 1, s.arg
	}
	if got := len(args) - 1; got != want {
		return e.usageError("%s %s wants %s, found %d arguments", e.cmd.Name, s.name, what, got)
	}
	return s.run(ctx, args[1:])
}

// connView is what connections show and list --json print of a connection: everything but
// the secrets, of which only the names appear.
type connView struct {
	ID           string                  `json:"id"`
	Workspace    string                  `json:"workspace"`
	App          string                  `json:"app"`
	Name         string                  `json:"name"`
	Type         string                  `json:"type"`
	Status       string                  `json:"status"`
	Reason       string                  `json:"reason,omitempty"`
	Label        string                  `json:"label"`
	Params       map[string]string       `json:"params"`
	Client       string                  `json:"client,omitempty"`
	Credentials  []string                `json:"credentials"`         // names of what is set
	Origins      []string                `json:"origins"`             // where the credentials may go; none: bound at its first use
	StandIns     []string                `json:"stand_ins,omitempty"` // FROM=TO: made through patchbay connect --map-origin
	Token        *connections.Token      `json:"token,omitempty"`
	RefreshCount int                     `json:"refresh_count"`
	LastRefresh  *time.Time              `json:"last_refresh,omitempty"`
	LastError    string                  `json:"last_error,omitempty"`
	LastTest     *connections.TestResult `json:"last_test,omitempty"`
	CreatedAt    time.Time               `json:"created_at"`
	UpdatedAt    time.Time               `json:"updated_at"`
}

// view returns what may be shown of rec. Token marshals its secrets to nothing (json:"-").
func view(rec *connections.Record) connView {
	v := connView{
		ID: rec.ID, Workspace: rec.Workspace, App: rec.App, Name: rec.Name, Type: rec.Type, Status: rec.Status,
		Reason: rec.Reason, Label: rec.Label, Params: rec.Params, Client: rec.Client, Credentials: []string{}, Origins: rec.Origins, StandIns: rec.StandIns,
		Token: rec.Creds.Token, RefreshCount: rec.RefreshCount, LastError: rec.LastError, LastTest: rec.LastTest,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}
	if v.Params == nil {
		v.Params = map[string]string{}
	}
	if v.Origins == nil {
		v.Origins = []string{}
	}
	for k, s := range rec.Creds.Fields {
		if s != "" {
			v.Credentials = append(v.Credentials, k)
		}
	}
	sort.Strings(v.Credentials)
	if t := rec.Creds.Token; t != nil {
		for _, s := range []struct {
			name string
			set  bool
		}{{"access_token", t.AccessToken != ""}, {"refresh_token", t.RefreshToken != ""}, {"token_secret", t.TokenSecret != ""}} {
			if s.set {
				v.Credentials = append(v.Credentials, s.name)
			}
		}
	}
	if !rec.LastRefresh.IsZero() {
		v.LastRefresh = &rec.LastRefresh
	}
	return v
}

func (e *env) connectionsList(ctx context.Context, o connectionsOptions) int {
	return e.withStore(func(st *sqlite.Store) int { return e.printConnections(ctx, st, o) })
}

// printConnections prints the stored connections as a table, or as JSON with --json.
func (e *env) printConnections(ctx context.Context, st *sqlite.Store, o connectionsOptions) int {
	recs, err := st.Connections(ctx, connections.DefaultWorkspace)
	if err != nil {
		return e.fail(err)
	}
	if o.json {
		views := make([]connView, len(recs))
		for i, r := range recs {
			views[i] = view(r)
		}
		return e.printJSON(views)
	}
	if len(recs) == 0 {
		fmt.Fprintln(e.stderr, "no connections: add one with patchbay connect APP")
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAPP\tTYPE\tSTATUS\tLABEL\tEXPIRES\tLAST TEST")
	for _, r := range recs {
		expires := "-"
		if t := r.Creds.Token; t != nil && !t.Expiry.IsZero() {
			expires = stamp(t.Expiry)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.App, r.Type, r.Status, orDash(r.Label), expires, lastTest(r.LastTest))
	}
	tw.Flush()
	return exitOK
}

func (e *env) connectionsShow(ctx context.Context, o connectionsOptions, name string) int {
	return e.withStore(func(st *sqlite.Store) int {
		_, appKey, ok := e.optionalApp(o.app)
		if !ok {
			return exitFailure
		}
		rec, err := findConnection(ctx, st, name, appKey)
		if err != nil {
			return e.fail(err)
		}
		v := view(rec)
		if o.json {
			return e.printJSON(v)
		}
		writeView(e.stdout, v)
		return exitOK
	})
}

// writeView prints a connection as "key: value" lines.
func writeView(w io.Writer, v connView) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	line("name", v.Name)
	line("id", v.ID)
	line("app", v.App)
	line("type", v.Type)
	line("status", v.Status)
	if v.Reason != "" {
		line("reason", v.Reason)
	}
	line("label", orDash(v.Label))
	keys := make([]string, 0, len(v.Params))
	for k := range v.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		line("param "+k, v.Params[k])
	}
	if v.Client != "" {
		line("auth client", v.Client)
	}
	line("credentials set", orDash(strings.Join(v.Credentials, ", ")))
	origins := strings.Join(v.Origins, ", ")
	if origins == "" {
		origins = "not bound yet (bound to its app's origins at its first use)"
	}
	line("sent only to", origins)
	if len(v.StandIns) > 0 {
		line("made through", "--map-origin "+strings.Join(v.StandIns, " --map-origin ")+" (its credentials are a stand-in's)")
	}
	if t := v.Token; t != nil {
		line("token type", orDash(t.TokenType))
		line("token scope", orDash(t.Scope))
		expiry := "none stated"
		if !t.Expiry.IsZero() {
			expiry = stamp(t.Expiry)
		}
		line("token expires", expiry)
		if !t.ObtainedAt.IsZero() {
			line("token obtained", stamp(t.ObtainedAt))
		}
	}
	line("refreshes", fmt.Sprint(v.RefreshCount))
	if v.LastRefresh != nil {
		line("last refresh", stamp(*v.LastRefresh))
	}
	if v.LastError != "" {
		line("last error", v.LastError)
	}
	line("last test", lastTest(v.LastTest))
	if v.LastTest != nil && v.LastTest.Message != "" {
		line("last test message", v.LastTest.Message)
	}
	line("created", stamp(v.CreatedAt))
	line("updated", stamp(v.UpdatedAt))
	tw.Flush()
}

func (e *env) connectionsTest(ctx context.Context, o connectionsOptions, name string) int {
	if o.app == "" {
		return e.usageError("connections test needs --app APP: the app's folder holds the test flow")
	}
	prog, ok := e.loadApp(o.app)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		rec, err := findConnection(ctx, st, name, prog.App.Key)
		if err != nil {
			return e.fail(err)
		}
		e.warnStandIns(rec)
		if err := e.newManager(st, e.httpClient()).Test(ctx, prog, rec); err != nil {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
			if errors.Is(err, connections.ErrDisconnected) {
				fmt.Fprintln(e.stderr, reconnectHint(o.app, rec.Name))
			}
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "ok: %s (%s) passed the test of app %s\n", rec.Name, rec.Label, prog.App.Key)
		return exitOK
	})
}

func (e *env) connectionsDelete(ctx context.Context, o connectionsOptions, name string) int {
	if o.app == "" && len(e.net.origins.from) > 0 {
		return e.usageError("--map-origin needs --app: delete sends a request (the revoke) only with --app")
	}
	prog, appKey, ok := e.optionalApp(o.app)
	if !ok {
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int { return e.deleteConnection(ctx, st, prog, appKey, name) })
}

// deleteConnection deletes the connection called name, of the app appKey when it is not "",
// revoking its token first with prog's revoke flow when prog is not nil.
func (e *env) deleteConnection(ctx context.Context, st *sqlite.Store, prog *engine.Program, appKey, name string) int {
	rec, err := findConnection(ctx, st, name, appKey)
	if err != nil {
		return e.fail(err)
	}
	if prog != nil { // the revoke is sent
		e.warnStandIns(rec)
	}
	err = e.newManager(st, e.httpClient()).Delete(ctx, prog, rec)
	var re *connections.RevokeError
	if errors.As(err, &re) {
		fmt.Fprintf(e.stdout, "deleted %s (app %s)\n", rec.Name, rec.App)
		fmt.Fprintf(e.stderr, "warning: %v\n", err)
		return exitOK
	}
	if err != nil {
		return e.fail(err)
	}
	switch {
	case rec.Creds.Token == nil: // no token to revoke
		fmt.Fprintf(e.stdout, "deleted %s (app %s)\n", rec.Name, rec.App)
	case prog == nil:
		fmt.Fprintf(e.stdout, "deleted %s (app %s)\n", rec.Name, rec.App)
		fmt.Fprintln(e.stderr, "note: the token was deleted here but not revoked at the provider; give --app APP to run the app's revoke flow")
	case prog.Flow("revoke") == nil:
		fmt.Fprintf(e.stdout, "deleted %s (app %s)\n", rec.Name, rec.App)
		fmt.Fprintf(e.stderr, "note: app %s has no revoke flow: the token was not revoked at the provider\n", rec.App)
	default:
		fmt.Fprintf(e.stdout, "deleted %s (app %s); its token was revoked at the provider\n", rec.Name, rec.App)
	}
	return exitOK
}

// printJSON prints v as indented JSON.
func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return e.fail(err)
	}
	return exitOK
}

// stamp formats a time for a table: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// lastTest is "ok 2026-01-02T15:04:05Z", "failed ...", or "-".
func lastTest(t *connections.TestResult) string {
	if t == nil {
		return "-"
	}
	if t.OK {
		return "ok " + stamp(t.At)
	}
	return "failed " + stamp(t.At)
}
