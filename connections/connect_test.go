package connections_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// These tests connect accounts that need no browser (api_key, basic, fields) against plain
// httptest APIs, and check what a connection puts on every request: the injected credential,
// the request defaults, and integration parameters in URLs. They also give bad input: wrong
// credentials, forged or refused callbacks, and token endpoints that answer with something
// other than a token.

// keyAppYAML is an api_key app against an API written as SRV that sends the key the GitHub way.
const keyAppYAML = `app: keyed
name: Keyed
base_url: SRV
connection:
  type: api_key
  inject: {in: header, name: Authorization, value: "token {{ token }}"}
  label: "{{ test.output.login }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {login: "{{ steps.me.body.login }}"}
`

const goodKey = "good-key-0123456789"

// keyAPI answers /me for goodKey sent as "token <key>", and 401 {"message":"Bad credentials"}
// otherwise, as GitHub does.
func keyAPI(t *testing.T) *plainProvider {
	return newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "token "+goodKey {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"login": "octocat"})
		},
	})
}

// TestConnectAPIKey: a key the API accepts is stored with the label from the test flow; a wrong
// one fails the test flow, stores nothing, and the message shows the provider's words; a
// missing or misnamed field is refused before any request.
func TestConnectAPIKey(t *testing.T) {
	tests := []struct {
		name     string
		fields   map[string]string
		wantErr  string // {file} is the app's file, {url} the API's
		requests int    // the API got
	}{
		{name: "good key", fields: map[string]string{"api_key": goodKey}, requests: 1},
		{
			name: "wrong key", fields: map[string]string{"api_key": "wrong-key-0123456789"}, requests: 1,
			wantErr: `connection test failed, nothing was stored: {file}:11:9: step "me" (call_api): GET {url}/me: 401 Unauthorized: {"message":"Bad credentials"}`,
		},
		{name: "no key", fields: nil, wantErr: "api_key: required field is missing"},
		{name: "misnamed key", fields: map[string]string{"apikey": goodKey}, wantErr: "apikey: unknown field (did you mean \"api_key\"?)\napi_key: required field is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := keyAPI(t)
			w := newWatched(t, nil, connections.Config{})
			prog := loadApp(t, strings.ReplaceAll(keyAppYAML, "SRV", api.srv.URL))
			rec, err := w.m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "gh", Fields: tt.fields})
			if n := len(api.at("/me")); n != tt.requests {
				t.Errorf("the API got %d requests, want %d", n, tt.requests)
			}
			if tt.wantErr != "" {
				want := strings.NewReplacer("{file}", prog.App.File, "{url}", api.srv.URL).Replace(tt.wantErr)
				if err == nil || err.Error() != want {
					t.Fatalf("Connect: err = %v,\nwant %s", err, want)
				}
				wantNothingStored(t, w.m)
				for _, v := range tt.fields {
					noLeak(t, "the error", err.Error(), v)
					noLeak(t, "the logs", w.logs.String(), v)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			got := reload(t, w.m, rec)
			if got.Label != "octocat" || got.Creds.Fields["api_key"] != goodKey || got.Type != "api_key" || got.LastTest == nil || !got.LastTest.OK {
				t.Errorf("stored label %q, type %q, last test %+v, key stored: %v; want octocat, api_key, ok, true",
					got.Label, got.Type, got.LastTest, got.Creds.Fields["api_key"] == goodKey)
			}
			noLeak(t, "the store's files", w.files(t), goodKey)
			noLeak(t, "the logs", w.logs.String(), goodKey)
		})
	}
}

// TestConnectInject: the credential goes where the app says, in the form it says.
func TestConnectInject(t *testing.T) {
	const key = "k3y-0123456789abcdef"
	tests := []struct {
		name, inject string
		header       map[string]string // headers the API must get
		query        map[string]string // the whole query the API must get (nil: page=2 alone)
		noAuth       bool              // no Authorization header
	}{
		{name: "header with a value template", inject: `{in: header, name: Authorization, value: "token {{ token }}"}`, header: map[string]string{"Authorization": "token " + key}},
		{name: "header with a custom name", inject: `{in: header, name: X-Api-Key}`, header: map[string]string{"X-Api-Key": key}, noAuth: true},
		{name: "query with a custom name", inject: `{in: query, name: access_key}`, query: map[string]string{"access_key": key, "page": "2"}, noAuth: true},
		{name: "query with a value template", inject: `{in: query, name: auth, value: "key:{{ token }}"}`, query: map[string]string{"auth": "key:" + key, "page": "2"}, noAuth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newPlainProvider(t, map[string]http.HandlerFunc{"/items": func(w http.ResponseWriter, r *http.Request) {}})
			m := newManager(t, nil)
			src := `app: inj
name: Inj
base_url: ` + api.srv.URL + `
connection:
  type: api_key
  inject: ` + tt.inject + `
flows:
  list:
    steps:
      - id: list
        call_api: {method: GET, path: /items, query: {page: 2}}
`
			prog := loadApp(t, src)
			rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Fields: map[string]string{"api_key": key}})
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if _, err := runFlow(t.Context(), m, prog, rec, "list", nil); err != nil {
				t.Fatalf("run list: %v", err)
			}
			reqs := api.at("/items")
			if len(reqs) != 1 {
				t.Fatalf("the API got %d requests, want 1", len(reqs))
			}
			r := reqs[0]
			for k, v := range tt.header {
				if got := r.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tt.query == nil {
				tt.query = map[string]string{"page": "2"}
			}
			if got := formOf(r.Query); !equalJSON(got, tt.query) {
				t.Errorf("query = %v, want %v", got, tt.query)
			}
			if tt.noAuth && r.Header.Get("Authorization") != "" {
				t.Errorf("Authorization = %q, want none", r.Header.Get("Authorization"))
			}
		})
	}
}

// TestConnectRequestDefaults: the connection's request headers and query parameters go on
// every request, templated, unless the step sets them itself.
func TestConnectRequestDefaults(t *testing.T) {
	api := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"name": "n"})
		},
		"/items": func(w http.ResponseWriter, r *http.Request) {},
	})
	src := `app: defaults
name: Defaults
base_url: ` + api.srv.URL + `
connection:
  type: api_key
  params:
    - {key: team, label: Team, required: true}
  inject: {in: header, name: X-Api-Key}
  request:
    headers: {Accept: application/vnd.api+json, X-Team: "{{ connection.params.team }}"}
    query: {api_version: "2024-01", team: "{{ connection.params.team }}"}
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
  list:
    steps:
      - id: plain
        call_api: {method: GET, path: /items}
      - id: own
        call_api:
          method: GET
          path: /items
          headers: {Accept: text/csv}
          query: {api_version: "2023-06", page: 3}
`
	m := newManager(t, nil)
	prog := loadApp(t, src)
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Params: map[string]string{"team": "blue"}, Fields: map[string]string{"api_key": "key-0123456789"}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if _, err := runFlow(t.Context(), m, prog, rec, "list", nil); err != nil {
		t.Fatalf("run list: %v", err)
	}
	type req struct {
		Accept, Team, Key string
		Query             map[string]string
	}
	var got []req
	for _, r := range append(api.at("/me"), api.at("/items")...) {
		got = append(got, req{r.Header.Get("Accept"), r.Header.Get("X-Team"), r.Header.Get("X-Api-Key"), formOf(r.Query)})
	}
	want := []req{
		{"application/vnd.api+json", "blue", "key-0123456789", map[string]string{"api_version": "2024-01", "team": "blue"}}, // connect's test
		{"application/vnd.api+json", "blue", "key-0123456789", map[string]string{"api_version": "2024-01", "team": "blue"}},
		{"text/csv", "blue", "key-0123456789", map[string]string{"api_version": "2023-06", "page": "3", "team": "blue"}},
	}
	if !equalJSON(got, want) {
		t.Errorf("the API saw\n%+v\nwant\n%+v", got, want)
	}
}

// TestConnectParamsInURLs: integration parameters are templated into the base URL, so two
// connections of one app (DEV and PROD) reach their own servers, side by side.
func TestConnectParamsInURLs(t *testing.T) {
	type server struct {
		name, key string
		ts        *httptest.Server
		rec       *reqRecorder
	}
	servers := []*server{{name: "DEV", key: "dev-key-0123456789"}, {name: "PROD", key: "prod-key-0123456789"}}
	pool := x509.NewCertPool()
	for _, s := range servers {
		s.rec = &reqRecorder{}
		s.ts = httptest.NewTLSServer(s.rec.wrap(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Api-Key") != s.key {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "not a " + s.name + " key"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"env": s.name, "path": r.URL.Path})
		}))
		t.Cleanup(s.ts.Close)
		pool.AddCert(s.ts.Certificate())
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(tr.CloseIdleConnections)
	m := newManagerConfig(t, nil, connections.Config{HTTPClient: &http.Client{Transport: tr}})
	prog := loadApp(t, `app: multi
name: Multi
base_url: "https://{{ connection.params.server }}/v1"
connection:
  type: api_key
  params:
    - {key: server, label: Server, required: true, help: "host:port of your instance"}
  inject: {in: header, name: X-Api-Key}
  label: "{{ test.output.env }}"
flows:
  test:
    steps:
      - id: who
        call_api: {method: GET, path: /whoami}
    output: "{{ steps.who.body }}"
`)
	recs := map[string]*connections.Record{}
	for _, s := range servers {
		host := strings.TrimPrefix(s.ts.URL, "https://")
		rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{
			Name: strings.ToLower(s.name), Params: map[string]string{"server": host}, Fields: map[string]string{"api_key": s.key},
		})
		if err != nil {
			t.Fatalf("connect %s: %v", s.name, err)
		}
		if rec.Label != s.name || rec.Params["server"] != host {
			t.Errorf("connection %s: label %q, params %v; want %s, server %s", s.name, rec.Label, rec.Params, s.name, host)
		}
		recs[s.name] = rec
	}
	for _, name := range []string{"DEV", "PROD", "DEV", "PROD"} {
		res, err := runFlow(t.Context(), m, prog, reload(t, m, recs[name]), "test", nil)
		if err != nil {
			t.Fatalf("run with %s: %v", name, err)
		}
		if want := map[string]any{"env": name, "path": "/v1/whoami"}; !equalJSON(res.Output, want) {
			t.Errorf("run with %s = %v, want %v", name, res.Output, want)
		}
	}
	for _, s := range servers {
		if n := len(s.rec.at("/v1/whoami")); n != 3 {
			t.Errorf("%s got %d requests, want 3 (its connect's test and two runs)", s.name, n)
		}
	}
}

// TestConnectBasic: a basic connection sends the stored username and password as HTTP basic
// auth, when connecting and on every later request; a wrong password stores nothing.
func TestConnectBasic(t *testing.T) {
	const user, pass = "alice", "p:ss wörd&=+/0123"
	api := newPlainProvider(t, map[string]http.HandlerFunc{"/me": func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="api"`)
			writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
			return
		}
		writeJSONBody(w, http.StatusOK, map[string]any{"login": u})
	}})
	w := newWatched(t, nil, connections.Config{})
	prog := loadApp(t, `app: basicapp
name: Basic
base_url: `+api.srv.URL+`
connection:
  type: basic
  label: "{{ test.output.login }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {login: "{{ steps.me.body.login }}"}
`)
	_, err := w.m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "bad", Fields: map[string]string{"username": user, "password": "not-the-password"}})
	if want := "connection test failed, nothing was stored: " + prog.App.File + `:10:9: step "me" (call_api): GET ` + api.srv.URL + `/me: 401 Unauthorized: {"message":"Bad credentials"}`; err == nil || err.Error() != want {
		t.Fatalf("Connect with a wrong password: err = %v,\nwant %s", err, want)
	}
	wantNothingStored(t, w.m)

	rec, err := w.m.Connect(t.Context(), prog, connections.ConnectRequest{Fields: map[string]string{"username": user, "password": pass}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	got := reload(t, w.m, rec)
	if got.Label != user || got.Creds.Fields["username"] != user || got.Creds.Fields["password"] != pass {
		t.Errorf("stored label %q, username %q, password stored: %v; want %s, %s, true", got.Label, got.Creds.Fields["username"].Reveal(), got.Creds.Fields["password"] == pass, user, user)
	}
	if err := w.m.Test(t.Context(), prog, got); err != nil {
		t.Fatalf("Test: %v", err)
	}
	reqs := api.at("/me")
	if len(reqs) != 3 {
		t.Fatalf("the API got %d requests, want 3", len(reqs))
	}
	for i, r := range reqs[1:] {
		if r.User != user || r.Pass != pass {
			t.Errorf("request %d: basic auth %q:%q, want %q:%q", i+2, r.User, r.Pass, user, pass)
		}
	}
	noLeak(t, "the store's files", w.files(t), pass)
	noLeak(t, "the logs", w.logs.String(), pass, "not-the-password")
}

// TestConnectSensitiveFields: a fields connection's sensitive field is encrypted at rest and
// redacted wherever a value is shown: the trace's inputs and outputs, errors, the log.
func TestConnectSensitiveFields(t *testing.T) {
	const secret, wrong = "fld-s3cret-0123456789", "wrong-s3cret-0123456789"
	api := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			if s := r.Header.Get("X-Secret"); s != secret {
				// A provider that echoes what it was given: the message must not show it.
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "secret " + s + " is not valid"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"name": "ACME " + r.Header.Get("X-Account")})
		},
		"/echo": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"header": r.Header.Get("X-Secret"), "query": r.URL.Query().Get("s")})
		},
		"/fail": func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream rejected "+r.Header.Get("X-Secret"), http.StatusBadGateway)
		},
	})
	w := newWatched(t, nil, connections.Config{})
	prog := loadApp(t, `app: fieldsapp
name: Fields
base_url: `+api.srv.URL+`
connection:
  type: fields
  fields:
    - {key: account_id, label: Account ID, required: true}
    - {key: secret, label: Secret, required: true, sensitive: true}
  request:
    headers: {X-Account: "{{ connection.fields.account_id }}", X-Secret: "{{ connection.fields.secret }}"}
  label: "{{ test.output.name }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {name: "{{ steps.me.body.name }}"}
  echo:
    steps:
      - id: echo
        call_api: {method: GET, path: /echo, query: {s: "{{ connection.fields.secret }}"}}
    output: "{{ steps.echo.body }}"
  fail:
    steps:
      - id: fail
        call_api: {method: GET, path: /fail}
`)
	ctx := t.Context()
	_, err := w.m.Connect(ctx, prog, connections.ConnectRequest{Fields: map[string]string{"account_id": "A1", "secret": wrong}})
	if want := "connection test failed, nothing was stored: " + prog.App.File + `:15:9: step "me" (call_api): GET ` + api.srv.URL + `/me: 401 Unauthorized: {"message":"secret [redacted] is not valid"}`; err == nil || err.Error() != want {
		t.Fatalf("Connect with a wrong secret: err = %v,\nwant %s", err, want)
	}
	wantNothingStored(t, w.m)

	rec, err := w.m.Connect(ctx, prog, connections.ConnectRequest{Fields: map[string]string{"account_id": "A1", "secret": secret}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if rec.Label != "ACME A1" {
		t.Errorf("label = %q, want ACME A1", rec.Label)
	}
	rec = reload(t, w.m, rec)
	if rec.Creds.Fields["secret"] != secret {
		t.Errorf("the secret did not survive the store")
	}

	res, err := runFlow(ctx, w.m, prog, rec, "echo", nil)
	if err != nil {
		t.Fatalf("run echo: %v", err)
	}
	trace := traceText(t, res)
	if !strings.Contains(trace, engine.Redacted) {
		t.Errorf("the trace shows no %s:\n%s", engine.Redacted, trace)
	}
	res, err = runFlow(ctx, w.m, prog, rec, "fail", nil)
	if want := prog.App.File + `:25:9: step "fail" (call_api): GET ` + api.srv.URL + "/fail: 502 Bad Gateway: upstream rejected [redacted]"; err == nil || err.Error() != want {
		t.Fatalf("run fail: err = %v,\nwant %s", err, want)
	}
	var he *engine.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusBadGateway {
		t.Errorf("run fail: err is not an *engine.HTTPError with status 502: %#v", err)
	}
	trace += traceText(t, res)

	noLeak(t, "the traces", trace, secret)
	noLeak(t, "the logs", w.logs.String(), secret, wrong)
	noLeak(t, "the store's files", w.files(t), secret)
	noLeak(t, "the record", strings.Join([]string{rec.Creds.Fields["secret"].String(), rec.Reason, rec.LastError}, " "), secret)
}

// plainCallbackApp is an oauth2 app at a plain provider whose token endpoint each case writes.
func plainCallbackApp(t *testing.T, token http.HandlerFunc, flows string) (*plainProvider, *watched, *engine.Program) {
	t.Helper()
	p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": token, "/api/me": bearerAPI("at-1")})
	w := newWatched(t, nil, connections.Config{})
	prog := loadApp(t, plainApp(p, "", flows))
	putPlainClient(t, w.m, "plain")
	return p, w, prog
}

// TestConnectBadCallback: a callback that does not come from the authorization this connection
// started, or that brings the provider's refusal, is rejected before any token request and
// stores nothing.
func TestConnectBadCallback(t *testing.T) {
	tests := []struct {
		name    string
		query   func(p *connections.Pending) url.Values
		later   time.Duration
		wantIs  error
		wantErr string
	}{
		{
			name: "wrong state",
			query: func(p *connections.Pending) url.Values {
				return url.Values{"code": {plainCode}, "state": {"forged-state-0123456789"}}
			},
			wantIs: connections.ErrStateMismatch, wantErr: "callback state does not match the one this connection was started with",
		},
		{
			name:   "no state",
			query:  func(p *connections.Pending) url.Values { return url.Values{"code": {plainCode}} },
			wantIs: connections.ErrStateMissing, wantErr: "callback has no state parameter",
		},
		{
			name: "access denied",
			query: func(p *connections.Pending) url.Values {
				return url.Values{"error": {"access_denied"}, "error_description": {"The user denied access"}, "state": {p.State}}
			},
			wantErr: "the provider refused access: access_denied: The user denied access",
		},
		{
			name:   "too late",
			query:  func(p *connections.Pending) url.Values { return url.Values{"code": {plainCode}, "state": {p.State}} },
			later:  connections.PendingLifetime + time.Second,
			wantIs: connections.ErrPendingExpired, wantErr: "the approval took too long; start connecting again",
		},
		{
			name:    "no code",
			query:   func(p *connections.Pending) url.Values { return url.Values{"state": {p.State}} },
			wantErr: "callback has no code parameter",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": tokenJSON(map[string]any{"access_token": "at-1"})})
			clock := newFakeClock(time.Now())
			m := newManager(t, clock)
			prog := loadApp(t, plainApp(p, "", ""))
			putPlainClient(t, m, "plain")
			pending := beginOAuth(t, m, prog, "a")
			clock.Advance(tt.later)
			_, err := m.FinishOAuth(t.Context(), prog, pending, tt.query(pending))
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("FinishOAuth: err = %v, want %s", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("FinishOAuth: err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if n := len(p.at("/token")); n != 0 {
				t.Errorf("the token endpoint got %d requests, want none", n)
			}
			wantNothingStored(t, m)
		})
	}
}

// TestConnectBadTokenResponse: a token endpoint that answers something other than a token
// fails the connection with the status and an excerpt, or says what is missing, and stores
// nothing.
func TestConnectBadTokenResponse(t *testing.T) {
	const (
		at       = `exchange: builtin:oauth2.yaml:35:9: step "token" (oauth2_token): token request: `
		ownFlows = `  exchange:
    inputs:
      code: {type: string, required: true, sensitive: true}
    steps:
      - id: token
        call_api:
          method: POST
          url: "{{ connection.token_url }}"
          form: {code: "{{ input.code }}", client_id: "{{ connection.client.id }}"}
    output: {token: "{{ steps.token.body.token }}"}
`
	)
	tests := []struct {
		name    string
		token   http.HandlerFunc
		flows   string
		wantErr string
	}{
		{
			name: "HTML error page",
			token: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, "<html><head><title>502 Bad Gateway</title><style>body{color:red}</style></head>\n<body><h1>Bad Gateway</h1><p>The upstream server is unreachable.</p></body></html>")
			},
			wantErr: at + `502 Bad Gateway: text/html response "502 Bad Gateway Bad Gateway The upstream server is unreachable."`,
		},
		{
			name: "HTML page with status 200",
			token: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				io.WriteString(w, "<html><body>Please sign in</body></html>")
			},
			wantErr: at + `200 OK: not a token: text/html response "Please sign in"`,
		},
		{
			name:    "no access_token",
			token:   tokenJSON(map[string]any{"token_type": "bearer", "expires_in": 3600}),
			wantErr: at + "token response has no access_token (fields: expires_in, token_type)",
		},
		{
			name:    "no access_token from the app's own exchange",
			token:   tokenJSON(map[string]any{"token": "t-1"}),
			flows:   ownFlows,
			wantErr: "exchange: token response has no access_token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, w, prog := plainCallbackApp(t, tt.token, tt.flows)
			_, _, err := connectPlain(t, w.m, prog, "a")
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("connect: err = %v,\nwant %s", err, tt.wantErr)
			}
			if n := len(p.at("/token")); n != 1 {
				t.Errorf("the token endpoint got %d requests, want 1", n)
			}
			if n := len(p.at("/api/me")); n != 0 {
				t.Errorf("the test flow ran (%d API requests); it must not without a token", n)
			}
			wantNothingStored(t, w.m)
			noLeak(t, "the error", err.Error(), plainClientSecret, plainCode)
			noLeak(t, "the logs", w.logs.String(), plainClientSecret, plainCode)
		})
	}
}

// TestConnectRefusesEarly: a name in use, and a browser connection asked of an app that has
// none, are refused before the provider is asked anything.
func TestConnectRefusesEarly(t *testing.T) {
	const taken = `name: a connection named "a" (app keyed) exists already: choose another name, or delete that one first`
	api := keyAPI(t)
	m := newManager(t, nil)
	keyed := loadApp(t, strings.ReplaceAll(keyAppYAML, "SRV", api.srv.URL))
	if _, err := m.Connect(t.Context(), keyed, connections.ConnectRequest{Name: "a", Fields: map[string]string{"api_key": goodKey}}); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": tokenJSON(map[string]any{"access_token": "at-1"}), "/api/me": bearerAPI("at-1")})
	plain := loadApp(t, plainApp(p, "", ""))
	putPlainClient(t, m, "plain")

	_, err := m.Connect(t.Context(), keyed, connections.ConnectRequest{Name: "a", Fields: map[string]string{"api_key": goodKey}})
	var fe *connections.FieldError
	if err == nil || err.Error() != taken || !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("Connect with a name in use: err = %v, want the *FieldError %s", err, taken)
	}
	if _, err := m.StartOAuth(t.Context(), plain, connections.ConnectRequest{Name: "a"}, testRedirectURL); err == nil || err.Error() != taken {
		t.Errorf("StartOAuth with a name in use: err = %v, want %s", err, taken)
	}
	const notBrowser = "app keyed does not connect in a browser (connection type api_key)"
	if _, err := m.StartOAuth(t.Context(), keyed, connections.ConnectRequest{Name: "b"}, testRedirectURL); err == nil || err.Error() != notBrowser {
		t.Errorf("StartOAuth of an api_key app: err = %v, want %s", err, notBrowser)
	}
	if n := len(api.at("/me")); n != 1 {
		t.Errorf("the API got %d requests, want 1 (the first connect's test)", n)
	}
	if n := p.count(); n != 0 {
		t.Errorf("the oauth2 provider got %d requests, want none", n)
	}
	if recs := listConnections(t, m); len(recs) != 1 {
		t.Errorf("%d connections stored, want 1", len(recs))
	}
}
