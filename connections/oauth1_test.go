package connections_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// The provider below checks every signature with its own implementation of RFC 5849 (the
// signature base string of section 3.4.1 and HMAC-SHA1 of section 3.4.2), so these tests do not
// trust the library that signs the requests.

const (
	o1ConsumerKey    = "patchbay-ck"
	o1ConsumerSecret = "cs-Sup3r&Secret/+=" // characters that must be percent-encoded in the key
)

// o1Encode percent-encodes s as RFC 5849 section 3.6 says: unreserved characters (ALPHA, DIGIT,
// "-", ".", "_", "~") as they are, every other byte of its UTF-8 as %XX with upper-case hex.
func o1Encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// o1BaseString is the signature base string of RFC 5849 section 3.4.1: the method, the base
// string URI and the normalized parameters (section 3.4.1.3.2: every query and form parameter
// and every oauth_ parameter but oauth_signature, each name and value encoded, sorted by name
// then value, duplicates kept).
func o1BaseString(method, baseURI, rawQuery string, form []byte, oauth map[string]string) (string, error) {
	type pair struct{ k, v string }
	var pairs []pair
	add := func(src string) error {
		vals, err := url.ParseQuery(src)
		if err != nil {
			return err
		}
		for k, vs := range vals {
			for _, v := range vs {
				pairs = append(pairs, pair{o1Encode(k), o1Encode(v)})
			}
		}
		return nil
	}
	if err := add(rawQuery); err != nil {
		return "", err
	}
	if form != nil {
		if err := add(string(form)); err != nil {
			return "", err
		}
	}
	for k, v := range oauth {
		if k != "oauth_signature" && k != "realm" {
			pairs = append(pairs, pair{o1Encode(k), o1Encode(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		parts[i] = p.k + "=" + p.v
	}
	return strings.ToUpper(method) + "&" + o1Encode(baseURI) + "&" + o1Encode(strings.Join(parts, "&")), nil
}

// o1Sign is HMAC-SHA1 (RFC 5849 section 3.4.2) keyed by the encoded consumer and token secrets.
func o1Sign(consumerSecret, tokenSecret, base string) string {
	mac := hmac.New(sha1.New, []byte(o1Encode(consumerSecret)+"&"+o1Encode(tokenSecret)))
	mac.Write([]byte(base))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// o1ParseAuth reads an `OAuth k="v", ...` Authorization header (RFC 5849 section 3.5.1).
func o1ParseAuth(h string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(h, "OAuth ")
	if !ok {
		return nil, fmt.Errorf("authorization %q is not OAuth", h)
	}
	out := map[string]string{}
	for _, item := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("authorization item %q is not name=\"value\"", item)
		}
		dk, err1 := url.PathUnescape(k)
		dv, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		if _, dup := out[dk]; dup {
			return nil, fmt.Errorf("authorization repeats %s", dk)
		}
		out[dk] = dv
	}
	return out, nil
}

// TestOAuth1Reference checks the test's own RFC 5849 implementation against the RFC's examples,
// so that the provider's verdicts can be trusted.
func TestOAuth1Reference(t *testing.T) {
	tests := []struct {
		name                 string
		method, uri, query   string
		form                 []byte
		oauth                map[string]string
		consumer, token      string
		wantBase, wantSigned string
	}{
		{
			name: "section 1.2 photos", method: "GET", uri: "http://photos.example.net/photos", query: "file=vacation.jpg&size=original",
			oauth: map[string]string{
				"oauth_consumer_key": "dpf43f3p2l4k3l03", "oauth_token": "nnch734d00sl2jdk", "oauth_signature_method": "HMAC-SHA1",
				"oauth_timestamp": "137131202", "oauth_nonce": "chapoH", "oauth_signature": "ignored",
			},
			consumer: "kd94hf93k423kf44", token: "pfkkdhi9sl3r4s00",
			wantBase:   "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal",
			wantSigned: "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
		},
		{
			name: "section 3.4.1 repeated names and a form body", method: "POST", uri: "http://example.com/request", query: "b5=%3D%253D&a3=a&c%40=&a2=r%20b",
			form: []byte("c2&a3=2+q"),
			oauth: map[string]string{
				"oauth_consumer_key": "9djdj82h48djs9d2", "oauth_token": "kkk9d7dh3k39sjv7", "oauth_signature_method": "HMAC-SHA1",
				"oauth_timestamp": "137131201", "oauth_nonce": "7d8f3e4a", "realm": "Example",
			},
			wantBase: "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := o1BaseString(tt.method, tt.uri, tt.query, tt.form, tt.oauth)
			if err != nil {
				t.Fatal(err)
			}
			if base != tt.wantBase {
				t.Errorf("base string\n got %s\nwant %s", base, tt.wantBase)
			}
			if tt.wantSigned != "" {
				if got := o1Sign(tt.consumer, tt.token, base); got != tt.wantSigned {
					t.Errorf("signature = %s, want %s", got, tt.wantSigned)
				}
			}
		})
	}
}

// o1Provider is an OAuth 1.0a provider: request token, authorize, access token, and an API.
type o1Provider struct {
	srv            *httptest.Server
	consumerSecret string
	echoSecret     bool // refuse the access token request with a body that echoes the request token secret

	mu          sync.Mutex
	n           int
	nonces      map[string]bool
	requests    map[string]*o1RequestToken // by request token
	access      map[string]string          // access token secret by access token
	callbacks   []string                   // oauth_callback of each request token request
	rtQueries   []url.Values               // the query of each request token request
	accessCalls int
	apiCalls    []o1APICall
}

type o1RequestToken struct {
	secret, callback, verifier string
	used                       bool
}

// o1APICall is an API request as the provider saw it.
type o1APICall struct {
	Method, Path string
	Problem      string // "" when the signature was valid
}

func newO1Provider(t *testing.T) *o1Provider {
	p := &o1Provider{consumerSecret: o1ConsumerSecret, nonces: map[string]bool{}, requests: map[string]*o1RequestToken{}, access: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/request_token", p.requestToken)
	mux.HandleFunc("GET /oauth/authorize", p.authorize)
	mux.HandleFunc("POST /oauth/access_token", p.accessToken)
	mux.HandleFunc("/api/", p.api)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// verify checks r's OAuth signature; secretOf gives the token secret of the request's
// oauth_token (ok false: unknown token). It returns the oauth parameters, the form body (nil
// when the body is not a form) and the problem ("" when valid), as an OAuth provider names it.
func (p *o1Provider) verify(r *http.Request, body []byte, secretOf func(token string) (string, bool)) (map[string]string, url.Values, string) {
	o, err := o1ParseAuth(r.Header.Get("Authorization"))
	if err != nil {
		return nil, nil, "parameter_absent"
	}
	for _, k := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_timestamp", "oauth_nonce", "oauth_signature"} {
		if o[k] == "" {
			return o, nil, "parameter_absent"
		}
	}
	if o["oauth_consumer_key"] != o1ConsumerKey {
		return o, nil, "consumer_key_unknown"
	}
	if o["oauth_signature_method"] != "HMAC-SHA1" || (o["oauth_version"] != "" && o["oauth_version"] != "1.0") {
		return o, nil, "signature_method_rejected"
	}
	ts, err := strconv.ParseInt(o["oauth_timestamp"], 10, 64)
	if err != nil || time.Since(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return o, nil, "timestamp_refused"
	}
	tokenSecret, ok := secretOf(o["oauth_token"])
	if !ok {
		return o, nil, "token_rejected"
	}
	var form []byte
	var values url.Values
	if r.Header.Get("Content-Type") == "application/x-www-form-urlencoded" || strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded;") {
		form = body
		if values, err = url.ParseQuery(string(body)); err != nil {
			return o, nil, "parameter_rejected"
		}
	}
	base, err := o1BaseString(r.Method, "http://"+strings.ToLower(r.Host)+r.URL.EscapedPath(), r.URL.RawQuery, form, o)
	if err != nil {
		return o, nil, "parameter_rejected"
	}
	if want := o1Sign(p.consumerSecret, tokenSecret, base); !hmac.Equal([]byte(want), []byte(o["oauth_signature"])) {
		return o, nil, "signature_invalid"
	}
	if p.nonces[o["oauth_nonce"]+o["oauth_timestamp"]] {
		return o, nil, "nonce_used"
	}
	p.nonces[o["oauth_nonce"]+o["oauth_timestamp"]] = true
	return o, values, ""
}

func o1Refuse(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (p *o1Provider) requestToken(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	o, _, problem := p.verify(r, body, func(tok string) (string, bool) { return "", tok == "" })
	if problem != "" {
		o1Refuse(w, http.StatusUnauthorized, "oauth_problem="+problem)
		return
	}
	if o["oauth_callback"] == "" {
		o1Refuse(w, http.StatusBadRequest, "oauth_problem=parameter_absent&oauth_parameters_absent=oauth_callback")
		return
	}
	p.n++
	tok := fmt.Sprintf("rt-%d", p.n)
	p.requests[tok] = &o1RequestToken{secret: fmt.Sprintf("rts-%d&Secret+", p.n), callback: o["oauth_callback"], verifier: fmt.Sprintf("v-%d", p.n)}
	p.callbacks = append(p.callbacks, o["oauth_callback"])
	p.rtQueries = append(p.rtQueries, r.URL.Query())
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {p.requests[tok].secret}, "oauth_callback_confirmed": {"true"}}.Encode())
}

// authorize is the page where the user approves: it approves at once and redirects to the
// callback with the request token and a verifier, or shows the verifier for "oob".
func (p *o1Provider) authorize(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	rt, ok := p.requests[r.URL.Query().Get("oauth_token")]
	p.mu.Unlock()
	if !ok {
		http.Error(w, "unknown request token", http.StatusBadRequest)
		return
	}
	if rt.callback == "oob" {
		io.WriteString(w, rt.verifier)
		return
	}
	u, err := url.Parse(rt.callback)
	if err != nil {
		http.Error(w, "bad callback", http.StatusBadRequest)
		return
	}
	q := u.Query()
	q.Set("oauth_token", r.URL.Query().Get("oauth_token"))
	q.Set("oauth_verifier", rt.verifier)
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *o1Provider) accessToken(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accessCalls++
	o, _, problem := p.verify(r, body, func(tok string) (string, bool) {
		rt, ok := p.requests[tok]
		if !ok || rt.used {
			return "", false
		}
		return rt.secret, true
	})
	if problem != "" {
		o1Refuse(w, http.StatusUnauthorized, "oauth_problem="+problem)
		return
	}
	rt := p.requests[o["oauth_token"]]
	if p.echoSecret {
		o1Refuse(w, http.StatusUnauthorized, "oauth_problem=verifier_invalid&"+url.Values{"debug_secret": {rt.secret}}.Encode())
		return
	}
	if o["oauth_verifier"] != rt.verifier {
		o1Refuse(w, http.StatusUnauthorized, "oauth_problem=verifier_invalid")
		return
	}
	rt.used = true
	tok := strings.Replace(o["oauth_token"], "rt-", "at-", 1)
	p.access[tok] = "ats-" + tok + "/Secret~="
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
	io.WriteString(w, url.Values{"oauth_token": {tok}, "oauth_token_secret": {p.access[tok]}, "user_id": {"42"}, "screen_name": {"alice"}}.Encode())
}

// api answers signed requests: /api/me with the user, anything else with what it received.
func (p *o1Provider) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	_, form, problem := p.verify(r, body, func(tok string) (string, bool) {
		s, ok := p.access[tok]
		return s, ok
	})
	p.apiCalls = append(p.apiCalls, o1APICall{Method: r.Method, Path: r.URL.EscapedPath(), Problem: problem})
	p.mu.Unlock()
	if problem != "" {
		o1Refuse(w, http.StatusUnauthorized, "oauth_problem="+problem)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/api/me" {
		io.WriteString(w, `{"name": "Alice"}`)
		return
	}
	first := func(v url.Values) map[string]string {
		out := map[string]string{}
		for k, vs := range v {
			out[k] = vs[0]
		}
		return out
	}
	json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "query": first(r.URL.Query()), "form": first(form), "body": string(body)})
}

func (p *o1Provider) calls() []o1APICall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]o1APICall(nil), p.apiCalls...)
}

// o1App is an app whose endpoints and base URL come from the connection's server parameter.
const o1App = `app: tumblr
name: Tumblr
version: 1
base_url: "{{ connection.params.server }}/api"
connection:
  type: oauth1
  request_token_url: "{{ connection.params.server }}/oauth/request_token"
  authorize_url: "{{ connection.params.server }}/oauth/authorize"
  access_token_url: "{{ connection.params.server }}/oauth/access_token"
  client: tumblr
  params:
    - {key: server, label: Server, required: true}
  label: "{{ test.output.name }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {name: "{{ steps.me.body.name }}"}
  sync:
    steps:
      - id: list
        call_api:
          method: GET
          path: /items
          query: {q: "a b&c=d", tag: "x/y~z", n: 3}
      - id: add
        call_api:
          method: POST
          path: /items
          form: {title: "hello world", note: "é+%!*"}
    output:
      list: "{{ steps.list.body.query }}"
      add: "{{ steps.add.body.form }}"
      user: "{{ connection.extra.screen_name }}"
`

// o1Env is one provider, a store holding the app's auth client, and a manager.
type o1Env struct {
	p        *o1Provider
	store    connections.Store
	m        *connections.Manager
	prog     *engine.Program
	logs     *lockedBuffer
	dataDir  string    // the SQLite store's folder
	now      time.Time // the manager's clock
	redirect string
}

func newO1Env(t *testing.T, clientSecret string) *o1Env {
	t.Helper()
	return newO1EnvApp(t, clientSecret, o1App, nil)
}

// newO1EnvApp is newO1Env with the app's source (an oauth1 app whose auth client is tumblr) and
// the auth client's scopes.
func newO1EnvApp(t *testing.T, clientSecret, src string, scopes []string) *o1Env {
	t.Helper()
	e := &o1Env{p: newO1Provider(t), logs: &lockedBuffer{}, now: time.Now(), redirect: "https://patchbay.example/oauth/callback"}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key, err := keys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	e.dataDir = t.TempDir()
	st, err := sqlite.Open(filepath.Join(e.dataDir, "patchbay.db"), key, sqlite.WithLogger(log))
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(reg, dir)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}
	e.prog = prog
	err = e.store.PutClient(context.Background(), &connections.Client{
		Workspace: connections.DefaultWorkspace, App: "tumblr", Name: "tumblr", ClientID: o1ConsumerKey, Secret: connections.Secret(clientSecret), Scopes: scopes,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.m = connections.NewManager(connections.Config{Store: e.store, Logger: log, Now: func() time.Time { return e.now }})
	return e
}

// storeFiles returns the bytes of every file of the SQLite store (the database, its WAL).
func (e *o1Env) storeFiles(t *testing.T) string {
	t.Helper()
	var all []byte
	entries, err := os.ReadDir(e.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(e.dataDir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return string(all)
}

func (e *o1Env) request() connections.ConnectRequest {
	return connections.ConnectRequest{Name: "alice", Params: map[string]string{"server": e.p.srv.URL}}
}

// approve opens the pending connection's authorize URL as the user's browser would and returns
// the query the provider redirected to the callback with.
func (e *o1Env) approve(t *testing.T, pending *connections.Pending) url.Values {
	t.Helper()
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(pending.AuthorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		t.Fatalf("authorize answered %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != e.redirect {
		t.Fatalf("the provider redirected to %s, want %s", got, e.redirect)
	}
	return loc.Query()
}

// connect connects an account the whole way.
func (e *o1Env) connect(t *testing.T) *connections.Record {
	t.Helper()
	ctx := context.Background()
	pending, err := e.m.StartOAuth(ctx, e.prog, e.request(), e.redirect)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	rec, err := e.m.FinishOAuth(ctx, e.prog, pending, e.approve(t, pending))
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	return rec
}

// o1Secrets are every secret of a connection to provider p: none may be shown anywhere.
func o1Secrets(p *o1Provider) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []string{o1ConsumerSecret}
	for _, rt := range p.requests {
		out = append(out, rt.secret)
	}
	for _, s := range p.access {
		out = append(out, s)
	}
	return out
}

// noSecrets fails when text shows a secret, as it is or escaped for a URL or form.
func noSecrets(t *testing.T, what, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		for _, v := range []string{s, url.QueryEscape(s), o1Encode(s)} {
			if strings.Contains(text, v) {
				t.Errorf("%s shows the secret %q:\n%s", what, v, text)
			}
		}
	}
}

func TestOAuth1Connect(t *testing.T) {
	e := newO1Env(t, o1ConsumerSecret)
	ctx := context.Background()
	pending, err := e.m.StartOAuth(ctx, e.prog, e.request(), e.redirect)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	if want := e.p.srv.URL + "/oauth/authorize?oauth_token=rt-1"; pending.AuthorizeURL != want {
		t.Errorf("AuthorizeURL = %s, want %s", pending.AuthorizeURL, want)
	}
	if want := []string{e.redirect + "?state=" + url.QueryEscape(pending.State)}; !reflect.DeepEqual(e.p.callbacks, want) {
		t.Errorf("the provider got oauth_callback %q, want %q", e.p.callbacks, want)
	}
	query := e.approve(t, pending)
	if query.Get("state") != pending.State || query.Get("oauth_token") != "rt-1" || query.Get("oauth_verifier") != "v-1" {
		t.Errorf("callback query = %v, want state %s, oauth_token rt-1, oauth_verifier v-1", query, pending.State)
	}
	rec, err := e.m.FinishOAuth(ctx, e.prog, pending, query)
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}

	tok := rec.Creds.Token
	if rec.Label != "Alice" || rec.Type != "oauth1" || rec.Status != connections.StatusConnected || rec.Client != "tumblr" || rec.LastTest == nil || !rec.LastTest.OK {
		t.Errorf("record = label %q, type %q, status %q, client %q, last test %+v; want Alice, oauth1, connected, tumblr, ok",
			rec.Label, rec.Type, rec.Status, rec.Client, rec.LastTest)
	}
	if tok.AccessToken.Reveal() != "at-1" || tok.TokenSecret.Reveal() != "ats-at-1/Secret~=" || !tok.Expiry.IsZero() || tok.RefreshToken != "" {
		t.Errorf("token = %q / %q, expiry %v, refresh %q; want at-1 / ats-at-1/Secret~=, no expiry, no refresh token",
			tok.AccessToken.Reveal(), tok.TokenSecret.Reveal(), tok.Expiry, tok.RefreshToken.Reveal())
	}
	if want := map[string]any{"user_id": "42", "screen_name": "alice"}; !reflect.DeepEqual(tok.Extra, want) {
		t.Errorf("token extra = %v, want %v", tok.Extra, want)
	}
	stored, err := e.store.Connection(ctx, connections.DefaultWorkspace, "alice")
	if err != nil {
		t.Fatalf("the connection was not stored: %v", err)
	}
	if stored.Creds.Token.TokenSecret.Reveal() != "ats-at-1/Secret~=" {
		t.Errorf("stored token secret = %q", stored.Creds.Token.TokenSecret.Reveal())
	}

	opts, err := e.m.RunOptions(ctx, e.prog, stored)
	if err != nil {
		t.Fatalf("RunOptions: %v", err)
	}
	opts.Trace = true
	res, err := e.prog.Run(ctx, "sync", opts)
	if err != nil {
		t.Fatalf("run sync: %v", err)
	}
	want := map[string]any{
		"list": map[string]any{"q": "a b&c=d", "tag": "x/y~z", "n": "3"},
		"add":  map[string]any{"title": "hello world", "note": "é+%!*"},
		"user": "alice",
	}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("sync output = %v, want %v", res.Output, want)
	}
	wantCalls := []o1APICall{{"GET", "/api/me", ""}, {"GET", "/api/items", ""}, {"POST", "/api/items", ""}}
	if got := e.p.calls(); !reflect.DeepEqual(got, wantCalls) {
		t.Errorf("the API saw %+v, want %+v (valid signatures)", got, wantCalls)
	}

	secrets := o1Secrets(e.p)
	trace, err := json.Marshal(res.Trace)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, "the trace", string(trace), secrets)
	noSecrets(t, "the logs", e.logs.String(), secrets)
	noSecrets(t, "the pending connection", fmt.Sprintf("%v %+v %#v", pending, *pending, pending), secrets)
	noSecrets(t, "the record", fmt.Sprintf("%v %+v %#v", rec, *rec, rec.Creds), secrets)
	noSecrets(t, "the store's files", e.storeFiles(t), secrets)
	if !strings.Contains(e.logs.String(), "connection created") {
		t.Errorf("the logs lack the connection created line:\n%s", e.logs)
	}
}

// TestOAuth1OutOfBand connects without a redirect URL: the callback is "oob" and the user
// copies the verifier the provider shows.
func TestOAuth1OutOfBand(t *testing.T) {
	e := newO1Env(t, o1ConsumerSecret)
	ctx := context.Background()
	pending, err := e.m.StartOAuth(ctx, e.prog, e.request(), "")
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	if want := []string{"oob"}; !reflect.DeepEqual(e.p.callbacks, want) {
		t.Errorf("oauth_callback = %q, want %q", e.p.callbacks, want)
	}
	resp, err := http.Get(pending.AuthorizeURL)
	if err != nil {
		t.Fatal(err)
	}
	verifier, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rec, err := e.m.FinishOAuth(ctx, e.prog, pending, url.Values{"oauth_token": {"rt-1"}, "oauth_verifier": {string(verifier)}})
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	if rec.Label != "Alice" {
		t.Errorf("label = %q, want Alice", rec.Label)
	}
}

func TestOAuth1ConnectErrors(t *testing.T) {
	tests := []struct {
		name         string
		clientSecret string
		echoSecret   bool
		edit         func(q url.Values)
		later        time.Duration
		wantErr      string // {url} is the provider's URL
		wantIs       error
		wantStatus   int // of an *engine.HTTPError
		wantAccess   int // access token requests the provider got
	}{
		{
			name: "wrong consumer secret", clientSecret: "not-the-secret",
			wantErr: "oauth1 request token: POST {url}/oauth/request_token: 401 Unauthorized: oauth_problem=signature_invalid", wantStatus: 401,
		},
		{
			name: "oauth_token of another attempt", edit: func(q url.Values) { q.Set("oauth_token", "rt-999") },
			wantErr: "callback oauth_token does not match the request token this connection was started with", wantIs: connections.ErrRequestTokenMismatch,
		},
		{
			name: "no oauth_token", edit: func(q url.Values) { q.Del("oauth_token") },
			wantErr: "callback has no oauth_token parameter",
		},
		{
			name: "no verifier", edit: func(q url.Values) { q.Del("oauth_verifier") },
			wantErr: "callback has no oauth_verifier parameter", wantIs: connections.ErrVerifierMissing,
		},
		{
			name: "wrong state", edit: func(q url.Values) { q.Set("state", "forged") },
			wantErr: connections.ErrStateMismatch.Error(), wantIs: connections.ErrStateMismatch,
		},
		{
			name: "user denied", edit: func(q url.Values) { q.Del("oauth_verifier"); q.Set("denied", "rt-1") },
			wantErr: "the provider refused access: the user denied it",
		},
		{
			name: "too late", later: connections.PendingLifetime + time.Second,
			wantErr: connections.ErrPendingExpired.Error(), wantIs: connections.ErrPendingExpired,
		},
		{
			name: "wrong verifier", edit: func(q url.Values) { q.Set("oauth_verifier", "guess") },
			wantErr: "oauth1 access token: POST {url}/oauth/access_token: 401 Unauthorized: oauth_problem=verifier_invalid", wantStatus: 401, wantAccess: 1,
		},
		{
			name: "provider echoes the request token secret", echoSecret: true,
			wantErr: "oauth1 access token: POST {url}/oauth/access_token: 401 Unauthorized: oauth_problem=verifier_invalid&debug_secret=[redacted]", wantStatus: 401, wantAccess: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := o1ConsumerSecret
			if tt.clientSecret != "" {
				secret = tt.clientSecret
			}
			e := newO1Env(t, secret)
			e.p.echoSecret = tt.echoSecret
			ctx := context.Background()
			pending, err := e.m.StartOAuth(ctx, e.prog, e.request(), e.redirect)
			if err == nil {
				query := e.approve(t, pending)
				if tt.edit != nil {
					tt.edit(query)
				}
				e.now = e.now.Add(tt.later)
				_, err = e.m.FinishOAuth(ctx, e.prog, pending, query)
			}
			want := strings.ReplaceAll(tt.wantErr, "{url}", e.p.srv.URL)
			if err == nil || err.Error() != want {
				t.Fatalf("error = %v\nwant %s", err, want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tt.wantIs)
			}
			var he *engine.HTTPError
			if tt.wantStatus != 0 && (!errors.As(err, &he) || he.StatusCode != tt.wantStatus) {
				t.Errorf("error is not an *engine.HTTPError with status %d: %#v", tt.wantStatus, err)
			}
			if e.p.accessCalls != tt.wantAccess {
				t.Errorf("the provider got %d access token requests, want %d", e.p.accessCalls, tt.wantAccess)
			}
			if got, _ := e.store.Connections(ctx, connections.DefaultWorkspace); len(got) != 0 {
				t.Errorf("a failed connect stored %d connections", len(got))
			}
			secrets := append(o1Secrets(e.p), secret)
			noSecrets(t, "the error", err.Error(), secrets)
			noSecrets(t, "the logs", e.logs.String(), secrets)
		})
	}
}

// TestOAuth1Sign signs requests of many shapes with a connected account's Conn and sends them
// to the provider, which checks each signature; a form body must still be there to send.
func TestOAuth1Sign(t *testing.T) {
	e := newO1Env(t, o1ConsumerSecret)
	rec := e.connect(t)
	ctx := context.Background()
	form := "title=hello+world&note=%C3%A9%2B%25&empty="
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		plainReader bool   // a body http.NewRequest cannot rewind: no GetBody
		tokenSecret string // instead of the connection's
		wantForm    map[string]string
		wantQuery   map[string]string
		wantErr     string
		wantProblem string
	}{
		{name: "GET", method: "GET", path: "/api/items"},
		{
			name: "GET with query", method: "GET", path: "/api/items?q=a+b%26c&tag=x%2Fy~z&empty=&star=*",
			wantQuery: map[string]string{"q": "a b&c", "tag": "x/y~z", "empty": "", "star": "*"},
		},
		{name: "escaped path", method: "GET", path: "/api/a%20b/c%2Fd"},
		{
			name: "POST form", method: "POST", path: "/api/items", contentType: "application/x-www-form-urlencoded", body: form,
			wantForm: map[string]string{"title": "hello world", "note": "é+%", "empty": ""},
		},
		{
			name: "POST form with charset", method: "POST", path: "/api/items", contentType: "application/x-www-form-urlencoded; charset=utf-8", body: form,
			wantForm: map[string]string{"title": "hello world", "note": "é+%", "empty": ""},
		},
		{
			name: "PUT form and query", method: "PUT", path: "/api/items/7?fields=a%2Cb", contentType: "application/x-www-form-urlencoded", body: "title=x",
			wantForm: map[string]string{"title": "x"}, wantQuery: map[string]string{"fields": "a,b"},
		},
		{
			name: "form without GetBody", method: "POST", path: "/api/items", contentType: "application/x-www-form-urlencoded", body: form, plainReader: true,
			wantForm: map[string]string{"title": "hello world", "note": "é+%", "empty": ""},
		},
		{name: "JSON body is not signed", method: "POST", path: "/api/items", contentType: "application/json", body: `{"title":"x=y&z"}`},
		{
			name: "repeated query parameter", method: "GET", path: "/api/items?tag=a&tag=b",
			wantErr: `oauth1 signature: parameter "tag" is given more than once in the query and form body; oauth1 requests can sign one value per parameter name`,
		},
		{
			name: "parameter in query and form", method: "POST", path: "/api/items?title=a", contentType: "application/x-www-form-urlencoded", body: "title=b",
			wantErr: `oauth1 signature: parameter "title" is given more than once in the query and form body; oauth1 requests can sign one value per parameter name`,
		},
		{name: "wrong token secret", method: "GET", path: "/api/items", tokenSecret: "wrong", wantProblem: "signature_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := *rec
			if tt.tokenSecret != "" {
				tok := *rec.Creds.Token
				tok.TokenSecret = connections.Secret(tt.tokenSecret)
				r.Creds.Token = &tok
			}
			conn, err := e.m.Conn(ctx, e.prog, &r)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
				if tt.plainReader {
					body = io.MultiReader(body)
				}
			}
			req, err := http.NewRequestWithContext(ctx, tt.method, e.p.srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			err = conn.Authorize(ctx, req)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Authorize error = %v\nwant %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			if !strings.HasPrefix(req.Header.Get("Authorization"), "OAuth ") {
				t.Fatalf("Authorization = %q, want an OAuth header", req.Header.Get("Authorization"))
			}
			if tt.body != "" {
				if req.GetBody == nil {
					t.Fatal("the signed request has no GetBody")
				}
				rc, _ := req.GetBody()
				again, _ := io.ReadAll(rc)
				if string(again) != tt.body {
					t.Errorf("GetBody gives %q, want %q", again, tt.body)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			calls := e.p.calls()
			if last := calls[len(calls)-1]; last.Problem != tt.wantProblem {
				t.Fatalf("the provider found problem %q, want %q (%s)", last.Problem, tt.wantProblem, resp.Status)
			}
			if tt.wantProblem != "" {
				return
			}
			var got struct {
				Method string            `json:"method"`
				Query  map[string]string `json:"query"`
				Form   map[string]string `json:"form"`
				Body   string            `json:"body"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.Body != tt.body {
				t.Errorf("the provider received body %q, want %q", got.Body, tt.body)
			}
			if tt.wantForm == nil {
				tt.wantForm = map[string]string{}
			}
			if tt.wantQuery == nil {
				tt.wantQuery = map[string]string{}
			}
			if !reflect.DeepEqual(got.Form, tt.wantForm) || !reflect.DeepEqual(got.Query, tt.wantQuery) {
				t.Errorf("the provider received form %v and query %v, want %v and %v", got.Form, got.Query, tt.wantForm, tt.wantQuery)
			}
		})
	}
	noSecrets(t, "the logs", e.logs.String(), o1Secrets(e.p))
}
