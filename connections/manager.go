package connections

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"
)

// Config is what a Manager is built from.
type Config struct {
	// Store keeps connections, clients and the vault (required).
	Store Store
	// HTTPClient sends the private flows' requests (default: a client with http.DefaultTransport,
	// which reaches every address; cmd gives one of internal/netpolicy, held to the network policy).
	HTTPClient *http.Client
	// Logger gets lifecycle lines (refreshed, disconnected); never a secret (default: discard).
	Logger *slog.Logger
	// Now is the clock that decides when a token is due (default time.Now).
	Now func() time.Time
	// Notifier hears of disconnects and other events (optional): the scheduler turns the
	// automations of a disconnected connection off.
	Notifier Notifier
	// RefreshTimeout bounds one refresh's token request, which runs on after the caller is gone
	// (default 1m). The refresh's lease in the store lasts 30 s longer, which is how long a
	// process killed in the middle of a refresh delays the next one.
	RefreshTimeout time.Duration
	// AllowOrigins are origins (scheme://host:port, as engine.Origin writes them) where every
	// connection's credentials may go besides those it is bound to: the user's explicit word
	// for one run (patchbay run --allow-origin).
	AllowOrigins []string
	// NoRefresh makes RunOptions give a Conn that puts the stored credentials on requests and
	// nothing more: it never requests a token nor changes the stored connection. For runs whose
	// responses are replayed from recordings: a token "refreshed" from one would be saved over
	// the live connection's.
	NoRefresh bool
}

// Notifier hears of connection events. Notify must not block for long.
type Notifier interface {
	Notify(ctx context.Context, e Event)
}

// Manager connects accounts, tests and deletes connections, and gives runs their connection.
// It is safe for concurrent use; one Manager per process keeps one refresh per connection at a
// time in that process, and a lease in the store keeps it across processes.
type Manager struct {
	store    Store
	client   *http.Client
	private  *http.Client // client for the private flows: no redirect to another origin
	log      *slog.Logger
	now      func() time.Time
	notifier Notifier
	timeout  time.Duration
	flight   singleflight.Group
	frozen   bool     // Config.NoRefresh
	allow    []string // Config.AllowOrigins
	bound    sync.Map // connection id -> origins bound at its first use (bind)
}

// NewManager returns a Manager.
func NewManager(cfg Config) *Manager {
	m := &Manager{store: cfg.Store, client: cfg.HTTPClient, log: cfg.Logger, now: cfg.Now, notifier: cfg.Notifier, timeout: cfg.RefreshTimeout, frozen: cfg.NoRefresh, allow: cfg.AllowOrigins}
	if m.client == nil {
		m.client = &http.Client{}
	}
	// A private flow's requests carry the client secret, a code or a token in their header,
	// body or query, which a redirect would send again: they follow none to another origin.
	m.private = engine.SameOriginClient(m.client)
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.timeout <= 0 {
		m.timeout = time.Minute
	}
	return m
}

// Store returns the manager's store.
func (m *Manager) Store() Store { return m.store }

// ConnectRequest is what a user gives to connect an account.
type ConnectRequest struct {
	Workspace string            // default DefaultWorkspace
	Name      string            // default the app's key
	Params    map[string]string // integration parameters (connection.params)
	Fields    map[string]string // credentials (fields, basic, api_key, token)
	Client    string            // auth client name (default the app's connection.client, else its key)
}

// FieldError is a bad value given when connecting; Field names it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Fields returns the credential fields a user enters for c: the app's own, or the defaults of
// its type (basic: username and password; api_key: api_key).
func Fields(c *flows.Connection) []*flows.Param {
	if c == nil {
		return nil
	}
	if len(c.Fields) > 0 {
		return c.Fields
	}
	switch c.Type {
	case flows.ConnBasic:
		return basicFields
	case flows.ConnAPIKey:
		return []*flows.Param{{Key: "api_key", Label: "API key", Required: true, Sensitive: true}}
	}
	return nil
}

// newRecord checks a request against the app and returns the record to connect.
func (m *Manager) newRecord(prog *engine.Program, req ConnectRequest) (*Record, error) {
	app := prog.App
	c := app.Connection
	typ := flows.ConnNone
	if c != nil {
		typ = c.Type
	}
	rec := &Record{
		Workspace: req.Workspace, App: app.Key, Name: req.Name, Type: typ, Status: StatusConnected,
		Params: map[string]string{}, Creds: Credentials{Fields: map[string]Secret{}}, Client: req.Client,
	}
	if rec.Workspace == "" {
		rec.Workspace = DefaultWorkspace
	}
	if rec.Name == "" {
		rec.Name = app.Key
	}
	if !flows.IsIdent(strings.ReplaceAll(rec.Name, "-", "_")) {
		return nil, &FieldError{Field: "name", Msg: fmt.Sprintf("%q must be letters, digits, - and _", rec.Name)}
	}
	var problems []error
	var params []*flows.Param
	if c != nil {
		params = c.Params
	}
	problems = append(problems, fill(rec.Params, params, req.Params, "param", func(s string) string { return s })...)
	plain := map[string]string{}
	problems = append(problems, fill(plain, Fields(c), req.Fields, "field", func(s string) string { return s })...)
	for k, v := range plain {
		rec.Creds.Fields[k] = Secret(v)
	}
	if c != nil && (c.Type == flows.ConnOAuth2 || c.Type == flows.ConnOAuth1) && rec.Client == "" {
		rec.Client = c.Client
		if rec.Client == "" {
			rec.Client = app.Key
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return rec, nil
}

// fill checks given values against their declarations (unknown keys, required) into dst.
func fill(dst map[string]string, decl []*flows.Param, given map[string]string, what string, conv func(string) string) []error {
	var problems []error
	keys := make([]string, 0, len(decl))
	for _, p := range decl {
		keys = append(keys, p.Key)
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Contains(keys, k) {
			msg := "unknown " + what + flows.Suggest(k, keys)
			if len(keys) == 0 {
				msg = fmt.Sprintf("unknown %s: the app takes no %ss", what, what)
			}
			problems = append(problems, &FieldError{Field: k, Msg: msg})
		}
	}
	for _, p := range decl {
		v, ok := given[p.Key]
		if !ok || v == "" {
			v = p.Default
		}
		if v == "" && p.Required {
			problems = append(problems, &FieldError{Field: p.Key, Msg: "required " + what + " is missing"})
			continue
		}
		if v != "" {
			dst[p.Key] = conv(v)
		}
	}
	return problems
}

// Connect connects an account whose type needs no browser: none, fields, basic, api_key, token
// and oauth2 client_credentials. It runs exchange (when the type has one) and test; on any
// failure it stores nothing and says why.
func (m *Manager) Connect(ctx context.Context, prog *engine.Program, req ConnectRequest) (*Record, error) {
	rec, err := m.newRecord(prog, req)
	if err != nil {
		return nil, err
	}
	if err := m.checkName(ctx, rec); err != nil {
		return nil, err
	}
	c := prog.App.Connection
	switch {
	case c == nil || c.Type == flows.ConnNone, c.Type == flows.ConnFields, c.Type == flows.ConnBasic, c.Type == flows.ConnAPIKey:
	case c.Type == flows.ConnToken || (c.Type == flows.ConnOAuth2 && c.Grant == "client_credentials"):
		tok, err := m.exchange(ctx, prog, rec, nil)
		if err != nil {
			return nil, err
		}
		rec.Creds.Token = tok
	default:
		return nil, fmt.Errorf("connection type %s is connected in a browser: use StartOAuth", c)
	}
	return m.finish(ctx, prog, rec)
}

// checkName refuses the name of a connection the workspace has already (of any app: names are
// meant to be unique in a workspace, as the command line addresses connections by name alone),
// before the provider is asked for anything: a consent given in a browser would otherwise be
// thrown away at the end. A disconnected connection of the same app may be connected again
// under its name: rec then takes its id, and finish saves over it.
// A failed lookup is left to the store, which refuses a duplicate when the connection is saved.
func (m *Manager) checkName(ctx context.Context, rec *Record) error {
	cur, err := m.store.Connection(ctx, rec.Workspace, rec.Name)
	if err != nil {
		return nil
	}
	if cur.App == rec.App && cur.Status == StatusDisconnected {
		rec.ID, rec.CreatedAt = cur.ID, cur.CreatedAt
		return nil
	}
	return &FieldError{Field: "name", Msg: fmt.Sprintf("a connection named %q (app %s) exists already: choose another name, or delete that one first", rec.Name, cur.App)}
}

// exchange runs the exchange flow and reads its output as a token.
func (m *Manager) exchange(ctx context.Context, prog *engine.Program, rec *Record, input map[string]any) (*Token, error) {
	out, err := m.runPrivate(ctx, prog, rec, "exchange", input, nil)
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	tok, err := tokenFromOutput(out, m.now(), assumeLifetime(prog.App.Connection))
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	return tok, nil
}

func assumeLifetime(c *flows.Connection) time.Duration {
	if c == nil || c.Refresh == nil {
		return 0
	}
	return c.Refresh.AssumeLifetime
}

// finish runs after_connect, tests a new connection, binds it to the origins of its app and
// of the requests those two made with the credentials, labels it and stores it.
func (m *Manager) finish(ctx context.Context, prog *engine.Program, rec *Record) (*Record, error) {
	reached := &originSet{}
	if err := m.afterConnect(ctx, prog, rec, reached); err != nil {
		return nil, err
	}
	out, tested, err := m.test(ctx, prog, rec, m.memConn(prog, rec, reached))
	if err != nil {
		return nil, fmt.Errorf("connection test failed, nothing was stored: %w", err)
	}
	env, _, vault, err := m.env(ctx, prog, rec)
	if err != nil {
		return nil, err
	}
	rec.Origins = reached.union(appOrigins(ctx, prog, env, vault))
	if tested {
		rec.LastTest = &TestResult{At: m.now(), OK: true}
	}
	rec.Label = m.label(ctx, prog, rec, out)
	if rec.ID != "" {
		// Connecting a disconnected connection again: same id, so what refers to it still does.
		if err := m.reconnect(ctx, rec); err != nil {
			return nil, err
		}
		m.emit(ctx, rec, "reconnected", "")
		m.log.Info("connection reconnected", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "type", rec.Type)
		return rec, nil
	}
	if err := m.store.CreateConnection(ctx, rec); err != nil {
		return nil, fmt.Errorf("store connection %q: %w", rec.Name, err)
	}
	m.emit(ctx, rec, "created", "")
	m.log.Info("connection created", "connection_id", rec.ID, "app", rec.App, "name", rec.Name, "type", rec.Type)
	return rec, nil
}

// reconnect saves rec over the disconnected connection with its id, under the connection's
// lock; one that was connected again meanwhile is left alone and refused.
func (m *Manager) reconnect(ctx context.Context, rec *Record) error {
	_, err := m.store.Locked(ctx, rec.ID, func(cur *Record) (*Record, error) {
		if cur.Status != StatusDisconnected {
			return nil, &FieldError{Field: "name", Msg: fmt.Sprintf("connection %q was connected again meanwhile", rec.Name)}
		}
		next := *rec
		return &next, nil
	})
	if err != nil {
		return fmt.Errorf("store connection %q: %w", rec.Name, err)
	}
	return nil
}

// test runs the app's test flow (if it has one) with conn.
func (m *Manager) test(ctx context.Context, prog *engine.Program, rec *Record, conn engine.Conn) (any, bool, error) {
	if prog.Flow("test") == nil {
		return nil, false, nil
	}
	out, err := m.runPrivate(ctx, prog, rec, "test", nil, conn)
	return out, true, err
}

// label evaluates the app's label template over the test's output; the connection's name when
// the app has none or it fails.
func (m *Manager) label(ctx context.Context, prog *engine.Program, rec *Record, testOut any) string {
	c := prog.App.Connection
	if c == nil || c.Label == nil {
		return rec.Name
	}
	env, secrets, vault, err := m.env(ctx, prog, rec)
	if err != nil {
		return rec.Name
	}
	// The label is kept and shown in clear: no secret may be in it (an API may echo the key).
	for _, v := range vault {
		secrets = append(secrets, flows.Stringify(v))
	}
	red := engine.NewRedactor(secrets...)
	tmpl := newTemplates(ctx, env, prog.App, vault)
	tmpl.env[flows.NameTest] = map[string]any{"output": testOut}
	s, err := tmpl.evalString(c.Label)
	if err != nil || s == "" {
		var msg string
		if err != nil {
			msg = red.String(err.Error())
		}
		m.log.Warn("connection label failed", "app", rec.App, "name", rec.Name, "error", msg)
		return rec.Name
	}
	return red.String(s)
}

// Pending is an OAuth connection waiting for the user's approval in a browser.
type Pending struct {
	AuthorizeURL string
	State        string
	RedirectURL  string
	Expires      time.Time
	verifier     Secret // the PKCE code verifier: a Secret, so printing a Pending cannot show it
	rec          *Record
	oauth1       *oauth1Pending // oauth1: the request token and its secret
}

// String shows the pending connection without its secrets (the PKCE verifier, oauth1's request
// token secret): fmt prints unexported fields as they are, whatever their type.
func (p Pending) String() string {
	return fmt.Sprintf("{AuthorizeURL:%s State:%s RedirectURL:%s Expires:%s}", p.AuthorizeURL, p.State, p.RedirectURL, p.Expires.Format(time.RFC3339))
}

// GoString is String for %#v.
func (p Pending) GoString() string { return "connections.Pending" + p.String() }

// PendingLifetime is how long a user has to approve access.
const PendingLifetime = 15 * time.Minute

// StartOAuth begins connecting an oauth2 (authorization code) account: it runs the authorize
// flow with a fresh state and PKCE verifier and returns the URL to send the user to.
func (m *Manager) StartOAuth(ctx context.Context, prog *engine.Program, req ConnectRequest, redirectURL string) (*Pending, error) {
	c := prog.App.Connection
	if c == nil || c.Type != flows.ConnOAuth1 && (c.Type != flows.ConnOAuth2 || c.Grant != "authorization_code") {
		return nil, fmt.Errorf("app %s does not connect in a browser (connection type %s)", prog.App.Key, c)
	}
	rec, err := m.newRecord(prog, req)
	if err != nil {
		return nil, err
	}
	if err := m.checkName(ctx, rec); err != nil {
		return nil, err
	}
	if c.Type == flows.ConnOAuth1 {
		return m.startOAuth1(ctx, prog, rec, redirectURL)
	}
	state, err := randomString(32)
	if err != nil {
		return nil, err
	}
	p := &Pending{State: state, RedirectURL: redirectURL, Expires: m.now().Add(PendingLifetime), verifier: Secret(oauth2.GenerateVerifier()), rec: rec}
	out, err := m.runPrivate(ctx, prog, rec, "authorize", map[string]any{
		"state": state, "redirect_uri": redirectURL, "code_verifier": p.verifier.Reveal(),
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	o, _ := out.(map[string]any)
	p.AuthorizeURL = flows.Stringify(o["authorize_url"])
	if u, err := url.Parse(p.AuthorizeURL); err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("authorize: the flow's output authorize_url %q is not an absolute URL", p.AuthorizeURL)
	}
	return p, nil
}

// Errors of an OAuth callback.
var (
	ErrStateMismatch  = errors.New("callback state does not match the one this connection was started with")
	ErrStateMissing   = errors.New("callback has no state parameter")
	ErrPendingExpired = errors.New("the approval took too long; start connecting again")
)

// FinishOAuth completes a pending connection with the query of the provider's redirect: it
// checks state, runs exchange and test, and stores the connection.
func (m *Manager) FinishOAuth(ctx context.Context, prog *engine.Program, p *Pending, query url.Values) (*Record, error) {
	if p.oauth1 != nil {
		return m.finishOAuth1(ctx, prog, p, query)
	}
	// The state first: an error callback must be this connection's too, or anyone who can
	// send the redirect could end it with words of their own.
	got := query.Get("state")
	if got == "" {
		return nil, ErrStateMissing
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(p.State)) != 1 {
		return nil, ErrStateMismatch
	}
	if e := query.Get("error"); e != "" {
		msg := "the provider refused access: " + e
		if d := query.Get("error_description"); d != "" {
			msg += ": " + d
		}
		return nil, errors.New(msg)
	}
	if m.now().After(p.Expires) {
		return nil, ErrPendingExpired
	}
	param := "code"
	if c := prog.App.Connection; c.CodeParam != "" {
		param = c.CodeParam
	}
	code := query.Get(param)
	if code == "" {
		return nil, fmt.Errorf("callback has no %s parameter", param)
	}
	q := map[string]any{}
	for k, v := range query {
		if len(v) > 0 {
			q[k] = v[0]
		}
	}
	rec := p.rec
	tok, err := m.exchange(ctx, prog, rec, map[string]any{
		"code": code, "state": got, "redirect_uri": p.RedirectURL, "code_verifier": p.verifier.Reveal(), "query": q,
	})
	if err != nil {
		return nil, err
	}
	rec.Creds.Token = tok
	return m.finish(ctx, prog, rec)
}

// Test runs a stored connection's test flow and records the result.
func (m *Manager) Test(ctx context.Context, prog *engine.Program, rec *Record) error {
	if rec.Status == StatusDisconnected {
		return &DisconnectedError{Name: rec.Name, Reason: rec.Reason}
	}
	conn, err := m.Conn(ctx, prog, rec)
	if err != nil {
		return err
	}
	_, tested, err := m.test(ctx, prog, rec, conn)
	if !tested {
		return fmt.Errorf("app %s has no test flow", prog.App.Key)
	}
	res := &TestResult{At: m.now(), OK: err == nil}
	if err != nil {
		res.Message = err.Error()
	}
	_, lerr := m.store.Locked(ctx, rec.ID, func(cur *Record) (*Record, error) {
		cur.LastTest = res
		return cur, nil
	})
	if err != nil {
		return fmt.Errorf("connection test failed: %w", err)
	}
	return lerr
}

// Delete revokes a connection's token at the provider when the app has a revoke flow, then
// deletes the connection. A failed revoke still deletes, and is returned as a *RevokeError.
func (m *Manager) Delete(ctx context.Context, prog *engine.Program, rec *Record) error {
	var revokeErr error
	if prog != nil && prog.Flow("revoke") != nil && rec.Creds.Token != nil {
		tok, hint := rec.Creds.Token.RefreshToken, "refresh_token"
		if tok == "" {
			tok, hint = rec.Creds.Token.AccessToken, "access_token"
		}
		_, revokeErr = m.runPrivate(ctx, prog, rec, "revoke", map[string]any{"token": tok.Reveal(), "token_type_hint": hint}, nil)
	}
	if err := m.store.DeleteConnection(ctx, rec.ID); err != nil {
		return fmt.Errorf("delete connection %q: %w", rec.Name, err)
	}
	m.emit(ctx, rec, "deleted", "")
	if revokeErr != nil {
		return &RevokeError{Err: revokeErr}
	}
	return nil
}

// RunOptions returns the options for running a flow of prog with rec: its Conn, the
// connection template value, the vault and the secrets to redact.
func (m *Manager) RunOptions(ctx context.Context, prog *engine.Program, rec *Record) (engine.Options, error) {
	if rec.App != prog.App.Key {
		return engine.Options{}, fmt.Errorf("connection %q belongs to app %s, not %s", rec.Name, rec.App, prog.App.Key)
	}
	if rec.Status == StatusDisconnected {
		return engine.Options{}, &DisconnectedError{Name: rec.Name, Reason: rec.Reason}
	}
	env, secrets, vault, err := m.env(ctx, prog, rec)
	if err != nil {
		return engine.Options{}, err
	}
	if rec, err = m.bind(ctx, prog, rec, env, vault); err != nil {
		return engine.Options{}, err
	}
	// The Conn starts from the values just built: reading the vault and the client twice per
	// run doubled what a run with a connection costs.
	conn := m.newConn(prog, rec)
	conn.stored = rec.ID != "" && !m.frozen
	conn.set(rec, env, vault)
	red := engine.NewRedactor(append(secrets, vaultValues(vault)...)...)
	return engine.Options{Conn: conn, Connection: env, Vault: vault, Secrets: secrets, Redactor: red, HTTPClient: m.client, Logger: m.log}, nil
}

// WorkspaceOptions returns the options for running a flow of prog in workspace without a
// connection: the vault (the app's secrets over the workspace's) and a redactor for it.
func (m *Manager) WorkspaceOptions(ctx context.Context, workspace string, prog *engine.Program) (engine.Options, error) {
	vault, err := m.vault(ctx, workspace, prog.App.Key)
	if err != nil {
		return engine.Options{}, err
	}
	return engine.Options{Vault: vault, Redactor: engine.NewRedactor(vaultValues(vault)...), HTTPClient: m.client, Logger: m.log}, nil
}

// vault returns the secrets app sees in workspace as the template value vault.
func (m *Manager) vault(ctx context.Context, workspace, app string) (map[string]any, error) {
	sv, err := m.store.Vault(ctx, workspace, app)
	if err != nil {
		return nil, fmt.Errorf("read vault: %w", err)
	}
	vault := make(map[string]any, len(sv))
	for k, v := range sv {
		vault[k] = v.Reveal()
	}
	return vault, nil
}

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
		cl, err := m.store.Client(ctx, rec.Workspace, app.Key, rec.Client)
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

func (m *Manager) emit(ctx context.Context, rec *Record, kind, reason string) {
	e := Event{Kind: kind, ConnectionID: rec.ID, Workspace: rec.Workspace, App: rec.App, Name: rec.Name, Reason: reason, At: m.now()}
	if err := m.store.AddEvent(context.WithoutCancel(ctx), e); err != nil {
		m.log.Error("record connection event", "connection_id", rec.ID, "kind", kind, "error", err)
	}
	if m.notifier != nil {
		m.notifier.Notify(ctx, e)
	}
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
