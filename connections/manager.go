package connections

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
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
	secrets  secretsCache
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

// vault returns the secrets app sees in workspace as the template value vault, from the cache
// while the store's secrets have not changed. The map is shared: read it, never change it.
func (m *Manager) vault(ctx context.Context, workspace, app string) (map[string]any, error) {
	v, ok := m.secrets.at(ctx, m.store)
	k := [2]string{workspace, app}
	if ok {
		if vault, hit := m.secrets.vault(v, k); hit {
			return vault, nil
		}
	}
	sv, err := m.store.Vault(ctx, workspace, app)
	if err != nil {
		return nil, fmt.Errorf("read vault: %w", err)
	}
	vault := make(map[string]any, len(sv))
	for k, v := range sv {
		vault[k] = v.Reveal()
	}
	if ok {
		m.secrets.putVault(v, k, vault)
	}
	return vault, nil
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

// tell gives the Notifier an event that is not stored: a refresh and a refresh that failed
// (metrics count them; the connection's record keeps its refresh count and last error).
func (m *Manager) tell(ctx context.Context, rec *Record, kind, reason string) {
	if m.notifier != nil {
		m.notifier.Notify(ctx, Event{Kind: kind, ConnectionID: rec.ID, Workspace: rec.Workspace, App: rec.App, Name: rec.Name, Reason: reason, At: m.now()})
	}
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
