package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/patchbay/patchbay/connections/oauthtest"
)

// standIn is a test server standing in for a provider: it passes every request on to target
// (nil: answers with h) and counts them by path.
type standIn struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
	keys map[string]string // path → the X-Api-Key it last came with
}

func newStandIn(t *testing.T, h http.Handler) *standIn {
	t.Helper()
	s := &standIn{seen: map[string]int{}, keys: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen[r.URL.Path]++
		s.keys[r.URL.Path] = r.Header.Get("X-Api-Key")
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[path]
}

// key returns the X-Api-Key the last request for path came with.
func (s *standIn) key(path string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[path]
}

func (s *standIn) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.seen {
		n += c
	}
	return n
}

// TestMapOriginOAuth2: an oauth2 app whose authorize, token, revoke and API URLs are at
// https://provider.example is connected, run, tested and deleted against a stand-in (fosite)
// with --map-origin: the browser's address is the stand-in's with the listener's redirect_uri,
// state and PKCE work end to end, the connection is bound to the app's own origin, the trace
// says where the request went, and the revoke reaches the stand-in. Without the mapping
// nothing reaches it.
func TestMapOriginOAuth2(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	srv.AddClient("pb-client", clientSecret, []string{"http://127.0.0.1/callback"}, oauthtest.ClientOptions{Scopes: []string{"read"}})
	target, _ := url.Parse(srv.URL)
	stand := newStandIn(t, httputil.NewSingleHostReverseProxy(target))
	dir := oauthAppAt(t, "https://provider.example") // where no server answers
	data := t.TempDir()
	mapping := "https://provider.example=" + stand.URL
	note := "note: --map-origin: requests to https://provider.example:443 go to " + stand.URL + " instead, with the credentials bound to https://provider.example:443\n"
	pb := func(args ...string) result {
		t.Helper()
		return cli(t, nil, "", append([]string{"--data", data}, args...)...)
	}
	if r := cli(t, nil, clientSecret, "--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"); r.code != 0 {
		t.Fatalf("clients add = %d %q", r.code, r.stderr)
	}

	// Without the mapping the browser is sent to the app's own authorize_url.
	c := startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	if got := c.authorizeURL(t, "http"); !strings.HasPrefix(got, "https://provider.example"+oauthtest.AuthorizePath+"?") {
		t.Errorf("connect printed %s, want the app's authorize_url", got)
	}
	c.cancel()
	c.rest()

	c = startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser", "--map-origin", mapping)
	authURL := c.authorizeURL(t, "http")
	if !strings.HasPrefix(authURL, stand.URL+oauthtest.AuthorizePath+"?") {
		c.cancel()
		t.Fatalf("connect --map-origin printed %s, want the stand-in's authorize address", authURL)
	}
	u, _ := url.Parse(authURL)
	q := u.Query()
	if redirect := q.Get("redirect_uri"); !strings.HasPrefix(redirect, "http://127.0.0.1:") || q.Get("state") == "" || q.Get("code_challenge") == "" {
		t.Errorf("authorize address %s: want the listener's redirect_uri, a state and a code_challenge", authURL)
	}
	cb, err := srv.Approve(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, cb.String()); code != http.StatusOK {
		t.Errorf("redirect = %d %q, want 200", code, body)
	}
	if code, out := c.rest(); code != 0 || out != "\nconnected fosite (user-1@example.com)\n" || !strings.HasPrefix(c.stderr.String(), note) {
		t.Fatalf("connect --map-origin = %d, stdout %q, stderr:\n%s\nwant it to begin with\n%s", code, out, c.stderr.String(), note)
	}
	for _, p := range []string{oauthtest.AuthorizePath, oauthtest.TokenPath, oauthtest.APIPath} {
		if n := stand.count(p); n != 1 {
			t.Errorf("the stand-in got %d requests for %s while connecting, want 1", n, p)
		}
	}
	pair := "https://provider.example:443=" + stand.URL
	if want := "its credentials are the stand-in's: use it with --map-origin " + pair + "\n"; !strings.HasSuffix(c.stderr.String(), want) {
		t.Errorf("connect --map-origin, stderr:\n%s\nwant it to end with\n%s", c.stderr.String(), want)
	}
	r := pb("connections", "show", "fosite")
	for _, want := range []string{"sent only to:    https://provider.example:443\n", "made through:    --map-origin " + pair + " (its credentials are a stand-in's)\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("connections show: no %q in\n%s", want, r.stdout)
		}
	}
	if r := pb("connections", "show", "fosite", "--json"); !strings.Contains(r.stdout, `"stand_ins": [
    "`+pair+`"
  ],`) {
		t.Errorf("connections show --json: no stand_ins in\n%s", r.stdout)
	}

	r = pb("run", dir, "me", "--connection", "fosite", "--map-origin", mapping, "--trace")
	var me oauthtest.Me
	if err := json.Unmarshal([]byte(r.stdout), &me); err != nil || r.code != 0 || me.ID != oauthtest.User {
		t.Fatalf("run --map-origin = %d %q (%v), stderr:\n%s", r.code, r.stdout, err, r.stderr)
	}
	if want := "    sent to: " + stand.URL + oauthtest.APIPath + " (--map-origin)\n"; !strings.HasPrefix(r.stderr, note) || !strings.Contains(r.stderr, want) {
		t.Errorf("run --map-origin --trace, stderr:\n%s\nwant the note and %q", r.stderr, want)
	}
	noSecret(t, r, "ory_at_", "ory_rt_", clientSecret)
	if r := pb("connections", "test", "fosite", "--app", dir, "--map-origin", mapping); r.code != 0 {
		t.Errorf("connections test --map-origin = %d %q", r.code, r.stderr)
	}

	before := stand.total()
	r = pb("run", dir, "me", "--connection", "fosite")
	warning := `warning: connection "fosite" was made through a stand-in (--map-origin ` + pair + `): without that mapping its requests go to https://provider.example:443, which did not issue its credentials` + "\n"
	if r.code != 1 || !strings.HasPrefix(r.stderr, warning) || !strings.Contains(r.stderr, "GET https://provider.example"+oauthtest.APIPath+": ") {
		t.Errorf("run without --map-origin = %d, stderr:\n%s\nwant 1, the request to provider.example failed", r.code, r.stderr)
	}
	if r := pb("connections", "test", "fosite", "--app", dir); r.code != 1 || !strings.HasPrefix(r.stderr, warning) {
		t.Errorf("connections test without --map-origin = %d, stderr:\n%s\nwant 1 and the warning", r.code, r.stderr)
	}
	if n := stand.total(); n != before {
		t.Errorf("without --map-origin the stand-in got %d requests, want none", n-before)
	}

	r = pb("connections", "delete", "fosite", "--app", dir, "--map-origin", mapping)
	if r.code != 0 || r.stdout != "deleted fosite (app fosite); its token was revoked at the provider\n" || stand.count(oauthtest.RevokePath) != 1 {
		t.Errorf("connections delete --map-origin = %d %q, stderr %q; the stand-in got %d revoke requests, want 1", r.code, r.stdout, r.stderr, stand.count(oauthtest.RevokePath))
	}
}

// TestMapOriginAPIKey: an api_key app at https://api.keyed.example connects and runs against a
// stand-in. The stand-in's redirect to its own address is a redirect within the origin it
// stands in for, so the key goes with it; the trace shows both requests' real addresses and
// the output the app's. The network policy judges the address actually dialled.
func TestMapOriginAPIKey(t *testing.T) {
	noMasterKey(t)
	var stand *standIn
	stand = newStandIn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Api-Key") != apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/eu/me":
			w.Write([]byte(`{"email":"ann@example.com"}`))
		case "/eu/items":
			http.Redirect(w, r, stand.URL+"/eu/list", http.StatusFound)
		case "/eu/list":
			w.Write([]byte(`{"items":["a"]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	dir := keyApp(t, "https://api.keyed.example")
	data := t.TempDir()
	mapping := "https://api.keyed.example=" + stand.URL
	pb := func(args ...string) result {
		t.Helper()
		return cli(t, nil, "", append([]string{"--data", data}, args...)...)
	}
	if r := pb("connect", dir, "--param", "region=eu", "--field", "api_key="+apiKey, "--map-origin", mapping); r.code != 0 || r.stdout != "connected keyed (ann@example.com)\n" {
		t.Fatalf("connect --map-origin = %d %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}

	r := pb("run", dir, "items", "--connection", "keyed", "--map-origin", mapping, "--trace")
	if r.code != 0 || !strings.Contains(r.stdout, `"a"`) {
		t.Fatalf("run --map-origin = %d %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"    sent to: " + stand.URL + "/eu/items (--map-origin)\n",
		"    sent to: " + stand.URL + "/eu/list (--map-origin)\n",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("run --map-origin --trace: no %q in\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, `"url": "https://api.keyed.example/eu/list"`); n != 3 {
		t.Errorf("run --map-origin --trace: the hop (input, output) and the final URL at the app's origin %d times, want 3:\n%s", n, r.stderr)
	}
	noSecret(t, r, apiKey)
	if stand.key("/eu/list") != apiKey {
		t.Errorf("the redirect within the stand-in went without the key")
	}

	r = pb("run", dir, "items", "--connection", "keyed", "--map-origin", mapping, "--json-trace")
	var step struct {
		SentTo []string `json:"sent_to"`
	}
	if err := json.Unmarshal([]byte(strings.Split(r.stderr, "\n")[1]), &step); err != nil || r.code != 0 ||
		strings.Join(step.SentTo, " ") != stand.URL+"/eu/items "+stand.URL+"/eu/list" {
		t.Errorf("run --json-trace = %d, sent_to %q (%v), stderr:\n%s", r.code, step.SentTo, err, r.stderr)
	}

	before := stand.total()
	r = pb("run", dir, "items", "--connection", "keyed", "--map-origin", mapping, "--deny-private-networks")
	if r.code != 1 || !strings.Contains(r.stderr, "is loopback: refused by the outbound network policy") {
		t.Errorf("run --map-origin --deny-private-networks = %d, stderr:\n%s\nwant the stand-in's loopback address refused", r.code, r.stderr)
	}
	r = pb("run", dir, "items", "--connection", "keyed")
	if r.code != 1 || !strings.Contains(r.stderr, "GET https://api.keyed.example/eu/items: ") {
		t.Errorf("run without --map-origin = %d, stderr:\n%s", r.code, r.stderr)
	}
	if n := stand.total(); n != before {
		t.Errorf("the stand-in got %d requests, want none", n-before)
	}
}

// TestMapOriginFlagErrors: a bad --map-origin is a usage error naming the flag, as is one
// given where nothing is sent.
func TestMapOriginFlagErrors(t *testing.T) {
	dir := tasksApp(t, "http://localhost:1")
	tests := []struct {
		args []string
		want string // the first line of stderr
	}{
		{[]string{"run", dir, "list", "--map-origin", "https://a.example"}, `patchbay run: invalid value "https://a.example" for flag -map-origin: want FROM=TO, two origins, such as https://api.example.com=http://127.0.0.1:8080`},
		{[]string{"run", dir, "list", "--map-origin", "https://a.example/v1=http://127.0.0.1:1"}, `patchbay run: invalid value "https://a.example/v1=http://127.0.0.1:1" for flag -map-origin: https://a.example with a user, path or query is not an origin: want scheme://host[:port] alone`},
		{[]string{"connect", dir, "--map-origin", "https://a.example=ftp://127.0.0.1"}, `patchbay connect: invalid value "https://a.example=ftp://127.0.0.1" for flag -map-origin: "ftp://127.0.0.1" is not an origin: want scheme://host[:port], such as https://api.example.com`},
		{[]string{"connections", "test", "x", "--app", dir, "--map-origin", "https://a.example=https://a.example:443"}, `patchbay connections: invalid value "https://a.example=https://a.example:443" for flag -map-origin: https://a.example:443 is mapped to itself`},
		{[]string{"run", dir, "list", "--map-origin", "https://a.example=http://127.0.0.1:1", "--map-origin", "https://A.example:443=http://127.0.0.1:2"}, `patchbay run: invalid value "https://A.example:443=http://127.0.0.1:2" for flag -map-origin: https://a.example:443 is mapped twice, to http://127.0.0.1:1 and to http://127.0.0.1:2`},
		{[]string{"run", dir, "list", "--map-origin", "https://a.example=http://127.0.0.1:1", "--replay", t.TempDir()}, `patchbay run: --replay and --map-origin exclude each other: a replayed run sends no request`},
		{[]string{"connections", "show", "x", "--map-origin", "https://a.example=http://127.0.0.1:1"}, `patchbay connections: connections show does not take --map-origin`},
		{[]string{"connections", "delete", "x", "--map-origin", "https://a.example=http://127.0.0.1:1"}, `patchbay connections: --map-origin needs --app: delete sends a request (the revoke) only with --app`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"--data", t.TempDir()}, tt.args...)...)
			if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != exitUsage || first != tt.want {
				t.Errorf("patchbay %s = %d, stderr:\n%s\nwant %d and first line\n%s", strings.Join(tt.args, " "), r.code, r.stderr, exitUsage, tt.want)
			}
		})
	}
}

// TestMapOriginWarnings: a connection made with the provider (here keyAPI), used with a mapping
// of its origin, says that its credentials go to the stand-in, and the stand-in receives them.
func TestMapOriginWarnings(t *testing.T) {
	noMasterKey(t)
	a, _ := keyAPI(t)
	stand := newStandIn(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"items":[]}`))
	}))
	dir := keyApp(t, a.URL)
	data := t.TempDir()
	if r := cli(t, nil, "", "--data", data, "connect", dir, "--param", "region=eu", "--field", "api_key="+apiKey); r.code != 0 {
		t.Fatalf("connect = %d %q", r.code, r.stderr)
	}
	if r := cli(t, nil, "", "--data", data, "connections", "show", "keyed"); strings.Contains(r.stdout, "made through") {
		t.Errorf("connections show of a connection made without a stand-in:\n%s", r.stdout)
	}
	pair := origin(t, a.URL) + "=" + stand.URL
	r := cli(t, nil, "", "--data", data, "run", dir, "items", "--connection", "keyed", "--map-origin", a.URL+"="+stand.URL)
	want := `warning: connection "keyed" was not made through --map-origin ` + pair + `: its credentials go to ` + stand.URL + "\n"
	if r.code != 0 || !strings.Contains(r.stderr, want) || stand.key("/eu/items") != apiKey {
		t.Errorf("run --map-origin with a provider's connection = %d, stderr:\n%s\nwant 0 and\n%s", r.code, r.stderr, want)
	}
}

// roundTripFunc is a RoundTripper of a function: it shows the request a transport passes on.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestMapTransport: the request passed on has the mapped scheme and host (a default port as
// given: none in the Host header) and keeps its path and query; the response's Request is the
// request as given; a Location at the stand-in is written at the origin it stands in for, one
// elsewhere is left alone; an origin not mapped goes as it is.
func TestMapTransport(t *testing.T) {
	var m originMap
	for _, s := range []string{"https://api.example.com=http://127.0.0.1:8080", "https://login.example.com=HTTPS://stand.example"} {
		if err := m.set(s); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		url, location     string
		wantSent, wantLoc string
		wantHost          string
	}{
		{"https://api.example.com/v1/x?q=1", "http://127.0.0.1:8080/v1/y?q=2", "http://127.0.0.1:8080/v1/x?q=1", "https://api.example.com/v1/y?q=2", "127.0.0.1:8080"},
		{"https://login.example.com:443/token", "https://other.example/z", "https://stand.example/token", "https://other.example/z", "stand.example"},
		{"https://other.example/a", "/b", "https://other.example/a", "/b", "other.example"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			var sent *http.Request
			rt := m.transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent = r
				return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {tt.location}}, Request: r}, nil
			}))
			req, _ := http.NewRequest(http.MethodGet, tt.url, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			host := sent.Host
			if host == "" {
				host = sent.URL.Host
			}
			if sent.URL.String() != tt.wantSent || host != tt.wantHost {
				t.Errorf("sent %s (Host %s), want %s (Host %s)", sent.URL, host, tt.wantSent, tt.wantHost)
			}
			if resp.Request != req || req.URL.String() != tt.url {
				t.Errorf("response's Request = %s, want the request as given, unchanged: %s", resp.Request.URL, tt.url)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLoc {
				t.Errorf("Location = %s, want %s", got, tt.wantLoc)
			}
		})
	}
	for in, want := range map[string]string{
		"https://api.example.com/v1?key=[redacted]": "http://127.0.0.1:8080/v1?key=[redacted]",
		"https://API.example.com":                   "http://127.0.0.1:8080",
		"https://api.example.com#top":               "http://127.0.0.1:8080#top",
		"https://other.example/v1":                  "",
	} {
		got, mapped := m.mapURL(in)
		if want == "" && (mapped || got != in) || want != "" && got != want {
			t.Errorf("mapURL(%q) = %q, %v, want %q", in, got, mapped, want)
		}
	}
}
