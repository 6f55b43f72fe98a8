package connections_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// The helpers of the token connection tests: a login endpoint that issues short-lived session
// tokens, an API that takes only the newest one, a fake clock both share with the manager, and
// a manager on a real SQLite store in t.TempDir(). Their names start with tk.

// tkT0 is when every token test starts, on the fake clock.
var tkT0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

// The credentials the login endpoint accepts, with characters that need escaping in a URL.
const (
	tkUser     = "alice@example.com"
	tkPassword = "pa55-W0rd&more/+= ok"
)

// tkClock is a clock that moves only when told.
type tkClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *tkClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *tkClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// tkNotifier keeps the events it hears of.
type tkNotifier struct {
	mu     sync.Mutex
	events []connections.Event
}

func (n *tkNotifier) Notify(_ context.Context, e connections.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, e)
}

func (n *tkNotifier) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, e := range n.events {
		out = append(out, e.Kind)
	}
	return out
}

// Ways the login endpoint takes credentials and gives the token.
const (
	tkJSON   = "json"   // POST /login with a JSON body; the token in a nested JSON field
	tkForm   = "form"   // POST /session with a form body; the token in the X-Session-Token header
	tkQuery  = "query"  // GET /auth with query parameters; the token in the body with expires_at; inject in the query
	tkCookie = "cookie" // POST /login with a JSON body; the token in a Set-Cookie header; inject as a Cookie
	tkFlat   = "flat"   // POST /login with a JSON body; {"token": .., "expires_in": ..}, as the scaffold expects
)

// tkIssued is a session token the login endpoint gave out.
type tkIssued struct {
	token  string
	expiry time.Time // zero: it never expires
}

// tkProvider is a login endpoint and an API on one httptest server. The API takes only the
// newest token, and only until it expires on the fake clock.
type tkProvider struct {
	srv      *httptest.Server
	clock    *tkClock
	mode     string
	lifetime time.Duration // 0: the login answer states no lifetime and tokens never expire

	logins  atomic.Int64 // token requests answered, whatever the answer
	apiOK   atomic.Int64 // API requests accepted
	refused atomic.Int64 // API requests refused with 401

	mu          sync.Mutex
	password    string
	loginStatus int        // not 0: the login endpoint answers this status (503, 429)
	hang        bool       // the login endpoint answers only when the request is given up
	refuseAll   bool       // the API refuses every token
	issued      []tkIssued // newest last
	revoked     map[string]bool
	log         []string // "login", "GET /me 200 sess-1", ...
	bad         []string // requests the login endpoint did not expect
}

func newTKProvider(t *testing.T, clock *tkClock, mode string, lifetime time.Duration) *tkProvider {
	t.Helper()
	p := &tkProvider{clock: clock, mode: mode, lifetime: lifetime, password: tkPassword, revoked: map[string]bool{}}
	mux := http.NewServeMux()
	switch mode {
	case tkJSON, tkCookie, tkFlat:
		mux.HandleFunc("/login", p.login)
	case tkForm:
		mux.HandleFunc("/session", p.login)
	case tkQuery:
		mux.HandleFunc("/auth", p.login)
	}
	mux.HandleFunc("GET /me", p.api)
	mux.HandleFunc("GET /accounts/{account}/items", p.api)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		p.srv.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, b := range p.bad {
			t.Errorf("the login endpoint got an unexpected request: %s", b)
		}
	})
	return p
}

// reject records an unexpected request and answers 400.
func (p *tkProvider) reject(w http.ResponseWriter, format string, args ...any) {
	p.mu.Lock()
	p.bad = append(p.bad, fmt.Sprintf(format, args...))
	p.mu.Unlock()
	http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
}

// credentials checks that r is exactly the token request of p's mode and returns the username
// and password it carries.
func (p *tkProvider) credentials(w http.ResponseWriter, r *http.Request) (user, pass string, ok bool) {
	if got := r.Header.Get("Authorization") + r.Header.Get("Cookie"); got != "" {
		p.reject(w, "the token request carries credentials of the connection: %q", got)
		return "", "", false
	}
	body, _ := io.ReadAll(r.Body)
	ct := r.Header.Get("Content-Type")
	switch p.mode {
	case tkJSON, tkCookie, tkFlat:
		var got map[string]any
		if r.Method != http.MethodPost || r.URL.RawQuery != "" || ct != "application/json" || json.Unmarshal(body, &got) != nil || len(got) != 2 {
			p.reject(w, "%s %s (%s) %q, want POST /login with a JSON body of username and password", r.Method, r.URL, ct, body)
			return "", "", false
		}
		user, _ = got["username"].(string)
		pass, _ = got["password"].(string)
	case tkForm:
		form, err := url.ParseQuery(string(body))
		want := url.Values{"login": {"x"}, "secret": {"x"}, "grant": {"session"}}
		if err != nil || r.Method != http.MethodPost || r.URL.RawQuery != "" || ct != "application/x-www-form-urlencoded" ||
			len(form) != len(want) || len(form["login"]) != 1 || len(form["secret"]) != 1 || !reflect.DeepEqual(form["grant"], want["grant"]) {
			p.reject(w, "%s %s (%s) %q, want POST /session with a form body of login, secret and grant=session", r.Method, r.URL, ct, body)
			return "", "", false
		}
		user, pass = form.Get("login"), form.Get("secret")
	case tkQuery:
		q := r.URL.Query()
		if r.Method != http.MethodGet || len(body) != 0 || ct != "" || len(q) != 3 || len(q["user"]) != 1 || len(q["pass"]) != 1 || q.Get("format") != "json" {
			p.reject(w, "%s %s (%s) %q, want GET /auth?user=..&pass=..&format=json without a body", r.Method, r.URL, ct, body)
			return "", "", false
		}
		user, pass = q.Get("user"), q.Get("pass")
	}
	return user, pass, true
}

func (p *tkProvider) login(w http.ResponseWriter, r *http.Request) {
	p.logins.Add(1)
	user, pass, ok := p.credentials(w, r)
	if !ok {
		return
	}
	p.mu.Lock()
	status, hang, password := p.loginStatus, p.hang, p.password
	p.log = append(p.log, "login")
	p.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, `{"error":"maintenance, try again later"}`)
		return
	}
	if user != tkUser || pass != password {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid credentials"}`)
		return
	}
	now := p.clock.Now()
	p.mu.Lock()
	tok := tkIssued{token: fmt.Sprintf("sess-%d-%x", len(p.issued)+1, now.UnixNano()^0x5eed5eed)}
	if p.lifetime > 0 {
		tok.expiry = now.Add(p.lifetime)
	}
	p.issued = append(p.issued, tok)
	p.mu.Unlock()
	secs := int(p.lifetime / time.Second)
	var out map[string]any
	switch p.mode {
	case tkJSON:
		out = map[string]any{"data": map[string]any{"session": map[string]any{"token": tok.token}}, "account_id": "acc-42"}
		if secs > 0 {
			out["expires_in"] = secs
		}
	case tkFlat:
		out = map[string]any{"token": tok.token}
		if secs > 0 {
			out["expires_in"] = secs
		}
	case tkCookie:
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: tok.token, Path: "/", HttpOnly: true})
		out = map[string]any{"account_id": "acc-42"}
		if secs > 0 {
			out["expires_in"] = secs
		}
	case tkForm:
		w.Header().Set("X-Session-Token", tok.token)
		if secs > 0 {
			w.Header().Set("X-Session-Expires-In", strconv.Itoa(secs))
		}
		out = map[string]any{"account": "acc-42"}
	case tkQuery:
		out = map[string]any{"sessionId": tok.token, "account": map[string]any{"id": "acc-42"}}
		if secs > 0 {
			out["expiresAt"] = tok.expiry.Format(time.RFC3339)
		}
	}
	json.NewEncoder(w).Encode(out)
}

// carried returns the token an API request carries, as p's mode has the app inject it.
func (p *tkProvider) carried(r *http.Request) string {
	switch p.mode {
	case tkQuery:
		return r.URL.Query().Get("session")
	case tkCookie:
		if c, err := r.Cookie("sid"); err == nil {
			return c.Value
		}
		return ""
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Session ")
	return tok
}

func (p *tkProvider) api(w http.ResponseWriter, r *http.Request) {
	tok := p.carried(r)
	now := p.clock.Now()
	p.mu.Lock()
	ok := len(p.issued) > 0 && tok == p.issued[len(p.issued)-1].token && !p.revoked[tok] && !p.refuseAll
	if ok {
		if exp := p.issued[len(p.issued)-1].expiry; !exp.IsZero() && !now.Before(exp) {
			ok = false
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusUnauthorized
	}
	p.log = append(p.log, fmt.Sprintf("%s %s %d %s", r.Method, r.URL.Path, status, tok))
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		p.refused.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"invalid session"}`)
		return
	}
	p.apiOK.Add(1)
	if r.URL.Path == "/me" {
		io.WriteString(w, `{"name":"Alice Example"}`)
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"account": r.PathValue("account"), "items": []string{"a", "b"}})
}

// set changes the provider's behaviour under its lock.
func (p *tkProvider) set(fn func(p *tkProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

// newest returns the newest token issued, "" when none.
func (p *tkProvider) newest() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.issued) == 0 {
		return ""
	}
	return p.issued[len(p.issued)-1].token
}

// tokens returns every token issued.
func (p *tkProvider) tokens() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.issued))
	for i, t := range p.issued {
		out[i] = t.token
	}
	return out
}

// calls returns the requests the provider answered since the nth, in order.
func (p *tkProvider) calls(since int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log[since:]...)
}

func (p *tkProvider) ncalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.log)
}

// tkExchange holds an exchange flow per mode, the token request written as an ordinary call_api.
var tkExchange = map[string]string{
	tkJSON: `  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /login
          json: {username: "{{ connection.fields.username }}", password: "{{ connection.fields.password }}"}
    output:
      access_token: "{{ steps.login.body.data.session.token }}"
      expires_in: "{{ steps.login.body.expires_in }}"
      account_id: "{{ steps.login.body.account_id }}"
`,
	tkCookie: `  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /login
          json: {username: "{{ connection.fields.username }}", password: "{{ connection.fields.password }}"}
    output:
      access_token: "{{ split(split(steps.login.headers['set-cookie'], ';')[0], '=')[1] }}"
      expires_in: "{{ steps.login.body.expires_in }}"
      account_id: "{{ steps.login.body.account_id }}"
`,
	tkForm: `  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /session
          form: {login: "{{ connection.fields.username }}", secret: "{{ connection.fields.password }}", grant: session}
    output:
      access_token: "{{ steps.login.headers['x-session-token'] }}"
      expires_in: "{{ steps.login.headers['x-session-expires-in'] }}"
      account_id: "{{ steps.login.body.account }}"
`,
	tkFlat: `  exchange:
    steps:
      - id: login
        call_api:
          method: POST
          path: /login
          json: {username: "{{ connection.fields.username }}", password: "{{ connection.fields.password }}"}
    output:
      access_token: "{{ steps.login.body.token }}"
      expires_in: "{{ steps.login.body.expires_in }}"
      account_id: acc-42
`,
	tkQuery: `  exchange:
    steps:
      - id: login
        call_api:
          method: GET
          path: /auth
          query: {user: "{{ connection.fields.username }}", pass: "{{ connection.fields.password }}", format: json}
    output:
      access_token: "{{ steps.login.body.sessionId }}"
      expires_at: "{{ steps.login.body.expiresAt }}"
      account_id: "{{ steps.login.body.account.id }}"
`,
}

// tkInject holds how each mode puts the token on a request.
var tkInject = map[string]string{
	tkJSON:   `{in: header, name: Authorization, value: "Session {{ token }}"}`,
	tkForm:   `{in: header, name: Authorization, value: "Session {{ token }}"}`,
	tkFlat:   `{in: header, name: Authorization, value: "Session {{ token }}"}`,
	tkQuery:  `{in: query, name: session}`,
	tkCookie: `{in: header, name: Cookie, value: "sid={{ token }}"}`,
}

// tkApp returns the app.yaml of a token app for mode, with refresh (a YAML flow mapping, ""
// for none).
func tkApp(mode, refresh string) string {
	src := `app: tokendemo
name: Token demo
version: 1
base_url: "{{ connection.params.server }}"
connection:
  type: token
  params:
    - {key: server, label: Server, required: true}
  fields:
    - {key: username, label: Username, required: true}
    - {key: password, label: Password, required: true, sensitive: true}
  inject: ` + tkInject[mode] + "\n"
	if refresh != "" {
		src += "  refresh: " + refresh + "\n"
	}
	src += `  label: "{{ test.output.name }}"
flows:
` + tkExchange[mode] + `  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {name: "{{ steps.me.body.name }}"}
  list:
    kind: action
    steps:
      - id: items
        call_api: {method: GET, path: "/accounts/{{ connection.extra.account_id }}/items"}
    output: "{{ steps.items.body }}"
`
	return src
}

// tkKey is the master key of every token test's store; a helper process is given it too.
var tkKey = bytes.Repeat([]byte{0x6b}, keys.Size)

// tkEnv is a provider, a manager with a fake clock on a SQLite store in t.TempDir(), and an app.
type tkEnv struct {
	p      *tkProvider
	clock  *tkClock
	store  *sqlite.Store
	dbDir  string
	appDir string
	prog   *engine.Program
	m      *connections.Manager
	logs   *lockedBuffer
	events *tkNotifier
}

// tkSetup configures newTKEnv.
type tkSetup struct {
	mode           string        // default tkJSON
	lifetime       time.Duration // of the provider's tokens
	refresh        string        // the app's refresh mapping, "" for none
	refreshTimeout time.Duration // the manager's RefreshTimeout
}

// tkLoadApp writes src as app.yaml into a new folder and loads it with the core blocks.
func tkLoadApp(t *testing.T, src string) (*engine.Program, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(tkRegistry(t), dir)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	return prog, dir
}

func tkRegistry(t testing.TB) *engine.Registry {
	t.Helper()
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// tkOpenStore opens the SQLite store in dir with tkKey.
func tkOpenStore(t testing.TB, dir string, log *slog.Logger) *sqlite.Store {
	t.Helper()
	key, err := keys.FromBytes(tkKey)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(filepath.Join(dir, "patchbay.db"), key, sqlite.WithLogger(log))
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTKEnv(t *testing.T, s tkSetup) *tkEnv {
	t.Helper()
	if s.mode == "" {
		s.mode = tkJSON
	}
	e := &tkEnv{clock: &tkClock{t: tkT0}, logs: &lockedBuffer{}, events: &tkNotifier{}, dbDir: t.TempDir()}
	e.p = newTKProvider(t, e.clock, s.mode, s.lifetime)
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.store = tkOpenStore(t, e.dbDir, log)
	e.prog, e.appDir = tkLoadApp(t, tkApp(s.mode, s.refresh))
	e.m = connections.NewManager(connections.Config{
		Store: e.store, Logger: log, Now: e.clock.Now, Notifier: e.events, RefreshTimeout: s.refreshTimeout,
	})
	return e
}

// request is the ConnectRequest of the connection "work" with password pass.
func (e *tkEnv) request(pass string) connections.ConnectRequest {
	return connections.ConnectRequest{
		Name:   "work",
		Params: map[string]string{"server": e.p.srv.URL},
		Fields: map[string]string{"username": tkUser, "password": pass},
	}
}

func (e *tkEnv) connect(t *testing.T) *connections.Record {
	t.Helper()
	rec, err := e.m.Connect(context.Background(), e.prog, e.request(tkPassword))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return rec
}

// record reads the connection "work" from the store.
func (e *tkEnv) record(t *testing.T) *connections.Record {
	t.Helper()
	rec, err := e.store.Connection(context.Background(), connections.DefaultWorkspace, "work")
	if err != nil {
		t.Fatalf("read the connection: %v", err)
	}
	return rec
}

// run runs flow with the stored connection "work", as a run of an automation would, with a trace.
func (e *tkEnv) run(ctx context.Context, flow string) (*engine.Result, error) {
	rec, err := e.store.Connection(ctx, connections.DefaultWorkspace, "work")
	if err != nil {
		return nil, err
	}
	opts, err := e.m.RunOptions(ctx, e.prog, rec)
	if err != nil {
		return nil, err
	}
	opts.Trace = true
	return e.prog.Run(ctx, flow, opts)
}

// storeFiles returns the bytes of every file of the store's folder (the database, -wal,
// -journal, -shm).
func (e *tkEnv) storeFiles(t *testing.T) string {
	t.Helper()
	var all []byte
	entries, err := os.ReadDir(e.dbDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(e.dbDir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return string(all)
}

// tkNoSecret fails when text shows one of secrets, as it is or escaped for a URL, a form or JSON.
func tkNoSecret(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		js, _ := json.Marshal(s)
		for _, v := range []string{s, url.QueryEscape(s), url.PathEscape(s), strings.Trim(string(js), `"`), base64.StdEncoding.EncodeToString([]byte(s))} {
			if strings.Contains(text, v) {
				i := strings.Index(text, v)
				t.Errorf("%s shows the secret %q: …%s…", what, v, text[max(0, i-80):min(len(text), i+len(v)+20)])
			}
		}
	}
}
