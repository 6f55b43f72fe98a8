package connections_test

// Helpers of the connect tests (oauth2_test.go, connect_test.go): a manager whose logs and
// store files are kept for leak checks, a recorder of the requests a plain httptest provider
// gets, and the leak check itself. The shared helpers (newManager, loadApp, fakeClock ...) are
// in testutil_test.go.

import (
	"bytes"
	"crypto/sha256"
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
	"strings"
	"sync"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/sqlite"
)

// watched is a manager over a SQLite store in its own folder whose every log line, at debug
// level, the test keeps.
type watched struct {
	m    *connections.Manager
	logs *lockedBuffer // the text log lines of the manager and its store
	dir  string        // the store's folder: patchbay.db and its WAL
}

// newWatched returns a watched manager on clock (nil: the real clock); cfg's Store, Logger and
// Now are set here.
func newWatched(t *testing.T, clock *fakeClock, cfg connections.Config) *watched {
	t.Helper()
	w := &watched{logs: &lockedBuffer{}, dir: t.TempDir()}
	log := slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key, _ := newMasterKey(t)
	st, err := sqlite.Open(filepath.Join(w.dir, "patchbay.db"), key, sqlite.WithLogger(log))
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Store, cfg.Logger = st, log
	w.m = newManagerConfig(t, clock, cfg)
	return w
}

// files returns the bytes of every file in the store's folder (the database, WAL, journal).
func (w *watched) files(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(w.dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return string(all)
}

// listConnections lists the default workspace's stored connections.
func listConnections(t *testing.T, m *connections.Manager) []*connections.Record {
	t.Helper()
	recs, err := m.Store().Connections(t.Context(), connections.DefaultWorkspace)
	if err != nil {
		t.Fatalf("list connections: %v", err)
	}
	return recs
}

// wantNothingStored fails when m's store holds a connection.
func wantNothingStored(t *testing.T, m *connections.Manager) {
	t.Helper()
	if recs := listConnections(t, m); len(recs) != 0 {
		names := make([]string, len(recs))
		for i, r := range recs {
			names[i] = r.Name
		}
		t.Errorf("connections stored: %q, want none", names)
	}
}

// leakForms are the ways a secret may be written: as it is, URL-encoded, in JSON, in base64
// (a Basic header).
func leakForms(s string) []string {
	j, _ := json.Marshal(s)
	return []string{s, url.QueryEscape(s), string(j[1 : len(j)-1]), base64.StdEncoding.EncodeToString([]byte(s))}
}

// noLeak fails when text shows one of secrets in any of its leakForms.
func noLeak(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 6 {
			t.Fatalf("secret %q is too short to look for", s)
		}
		for _, f := range leakForms(s) {
			if strings.Contains(text, f) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, text)
				break
			}
		}
	}
}

// traceText is a run's trace as JSON, as a run record would keep it.
func traceText(t *testing.T, res *engine.Result) string {
	t.Helper()
	if res == nil {
		return ""
	}
	b, err := json.Marshal(res.Trace)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seenRequest is one request a plain httptest provider got.
type seenRequest struct {
	Method, Path string
	Query        url.Values
	Header       http.Header
	Form         url.Values // a form body's fields
	Body         string
	User, Pass   string // HTTP basic auth
}

// reqRecorder keeps the requests of a plain httptest provider, each before its handler runs.
type reqRecorder struct {
	mu   sync.Mutex
	reqs []seenRequest
}

// wrap returns h recording each request first; a form body stays readable for h.
func (rc *reqRecorder) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := seenRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone()}
		s.User, s.Pass, _ = r.BasicAuth()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.Body = string(body)
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			s.Form, _ = url.ParseQuery(string(body))
		}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, s)
		rc.mu.Unlock()
		h(w, r)
	}
}

// at returns the requests to path, in order.
func (rc *reqRecorder) at(path string) []seenRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []seenRequest
	for _, s := range rc.reqs {
		if s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// count returns how many requests arrived, to any path.
func (rc *reqRecorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// writeJSONBody answers status with v as JSON.
func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// s256 is the PKCE S256 code challenge of verifier (RFC 7636 section 4.2).
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// formOf returns the form of a request as a plain map, for comparisons.
func formOf(v url.Values) map[string]string {
	out := make(map[string]string, len(v))
	for k, vs := range v {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

// String describes the request for a failure message.
func (s seenRequest) String() string {
	return fmt.Sprintf("%s %s?%s form=%v basic=%q", s.Method, s.Path, s.Query.Encode(), s.Form, s.User)
}

// equalJSON reports whether got and want encode to the same JSON (an int and a float64 of the
// same value are equal; map order does not matter).
func equalJSON(got, want any) bool {
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	return err1 == nil && err2 == nil && string(g) == string(w)
}

// plainProvider is a plain httptest OAuth provider and API whose handlers each test writes; every
// request is recorded first.
type plainProvider struct {
	*reqRecorder
	srv *httptest.Server
}

// newPlainProvider serves handlers by path (exact match) and closes when the test ends; any other
// path answers 404.
func newPlainProvider(t *testing.T, handlers map[string]http.HandlerFunc) *plainProvider {
	t.Helper()
	p := &plainProvider{reqRecorder: &reqRecorder{}}
	mux := http.NewServeMux()
	for path, h := range handlers {
		mux.HandleFunc(path, p.wrap(h))
	}
	mux.HandleFunc("/", p.wrap(http.NotFound))
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

// plainAppYAML is an oauth2 app against a provider written as SRV: CONN is replaced by more
// connection settings (indented two spaces) and FLOWS by more flows (indented two spaces).
const plainAppYAML = `app: plain
name: Plain
base_url: SRV/api
connection:
  type: oauth2
  authorize_url: SRV/authorize
  token_url: SRV/token
  scopes: [read, write]
  label: "{{ test.output.email }}"
CONN
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: "{{ steps.me.body }}"
FLOWS
`

// plainApp returns plainAppYAML with conn and flows put in, for p (SRV in conn and flows too).
func plainApp(p *plainProvider, conn, flows string) string {
	s := strings.Replace(plainAppYAML, "CONN\n", conn, 1)
	s = strings.Replace(s, "FLOWS\n", flows, 1)
	return strings.ReplaceAll(s, "SRV", p.srv.URL)
}

// The plain provider's client and the code it hands out.
const (
	plainClientID     = "plain-client"
	plainClientSecret = "plain-client-s3cret"
	plainCode         = "plain-code-0001"
)

// putPlainClient stores the plain provider's client as app's auth client.
func putPlainClient(t *testing.T, m *connections.Manager, app string) {
	t.Helper()
	err := m.Store().PutClient(t.Context(), &connections.Client{
		Workspace: connections.DefaultWorkspace, App: app, Name: app, ClientID: plainClientID, Secret: connections.Secret(plainClientSecret),
	})
	if err != nil {
		t.Fatalf("PutClient: %v", err)
	}
}

// bearerAPI answers /api/me for the access token want with {"email": "user@example.com"}, and
// 401 otherwise.
func bearerAPI(want ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, tok := range want {
			if r.Header.Get("Authorization") == "Bearer "+tok {
				writeJSONBody(w, http.StatusOK, map[string]any{"email": "user@example.com"})
				return
			}
		}
		writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "Bad credentials"})
	}
}

// connectPlain connects name to prog's oauth2 app at a plain provider: StartOAuth, then
// FinishOAuth with plainCode and the pending state, as the provider's redirect would carry.
func connectPlain(t *testing.T, m *connections.Manager, prog *engine.Program, name string) (*connections.Pending, *connections.Record, error) {
	t.Helper()
	p, err := m.StartOAuth(t.Context(), prog, connections.ConnectRequest{Name: name}, testRedirectURL)
	if err != nil {
		t.Fatalf("StartOAuth: %v", err)
	}
	rec, err := m.FinishOAuth(t.Context(), prog, p, url.Values{"code": {plainCode}, "state": {p.State}})
	return p, rec, err
}

// mustQuery returns the query of the URL s.
func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
