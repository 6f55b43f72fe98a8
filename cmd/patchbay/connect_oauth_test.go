package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections/oauthtest"
)

const clientSecret = "cs-4d1b8e0f6a2c9e7b"

// oauthApp writes an oauth2 (authorization code) app for srv; it uses the built-in private
// flows, and its flow me calls srv's protected API.
func oauthApp(t *testing.T, srv *oauthtest.Server) string {
	t.Helper()
	return oauthAppAt(t, srv.URL)
}

// oauthAppAt writes the app of oauthApp with its base_url and endpoints at base, where an
// oauthtest.Server (or a stand-in for one) answers.
func oauthAppAt(t *testing.T, base string) string {
	t.Helper()
	return writeApp(t, "", map[string]string{"app.yaml": `app: fosite
base_url: ` + base + `
connection:
  type: oauth2
  authorize_url: ` + base + oauthtest.AuthorizePath + `
  token_url: ` + base + oauthtest.TokenPath + `
  revoke_url: ` + base + oauthtest.RevokePath + `
  scopes: [read]
  label: "{{ test.output.email }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: {email: "{{ steps.me.body.email }}"}
  me:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
`})
}

// connecting is a patchbay connect running in the background.
type connecting struct {
	lines  chan string // stdout, line by line
	code   chan int
	stderr bytes.Buffer // read only after code
	cancel context.CancelFunc
}

// startConnect runs patchbay connect with args in the background.
func startConnect(t *testing.T, args ...string) *connecting {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &connecting{lines: make(chan string, 100), code: make(chan int, 1), cancel: cancel}
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	go func() {
		code := run(ctx, args, strings.NewReader(""), pw, &c.stderr, func(string) string { return "" })
		pw.Close()
		c.code <- code
	}()
	return c
}

// authorizeURL returns the address connect printed for the browser.
func (c *connecting) authorizeURL(t *testing.T, prefix string) string {
	t.Helper()
	for l := range c.lines {
		if s := strings.TrimSpace(l); strings.HasPrefix(s, prefix) {
			return s
		}
	}
	t.Fatalf("connect ended (%d) without printing an address starting with %s; stderr:\n%s", <-c.code, prefix, c.stderr.String())
	return ""
}

// rest returns the exit code and the rest of stdout.
func (c *connecting) rest() (int, string) {
	var b strings.Builder
	for l := range c.lines {
		b.WriteString(l + "\n")
	}
	return <-c.code, b.String()
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConnectOAuth2 connects an oauth2 account end to end against a real authorization
// server (fosite): clients add, connect with a loopback redirect on a free port, a redirect
// with a wrong state refused, the right one accepted; then run --connection calls the
// protected API with the token, and delete --app revokes it.
func TestConnectOAuth2(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	srv.AddClient("pb-client", clientSecret, []string{"http://127.0.0.1/callback"}, oauthtest.ClientOptions{Scopes: []string{"read"}})
	dir := oauthApp(t, srv)
	data := t.TempDir()

	r := cli(t, nil, clientSecret+"\n", "--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client")
	if r.code != 0 || r.stdout != "added auth client fosite of app fosite, with a secret\n" {
		t.Fatalf("clients add = %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = cli(t, nil, "", "--data", data, "clients", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "fosite  fosite  pb-client  set") {
		t.Errorf("clients list = %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	noSecret(t, r, clientSecret)

	c := startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	authURL := c.authorizeURL(t, srv.AuthorizeURL())
	cb, err := srv.Approve(authURL)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Query().Get("code") == "" || cb.Host == "127.0.0.1" {
		t.Fatalf("redirect = %s, want a code and the port connect listens on", cb)
	}
	forged := *cb
	q := forged.Query()
	q.Set("state", "not-the-state")
	forged.RawQuery = q.Encode()
	if code, body := get(t, forged.String()); code != http.StatusBadRequest || !strings.Contains(body, "its state is wrong or missing") {
		t.Errorf("redirect with a wrong state = %d %q, want 400", code, body)
	}
	if code, body := get(t, cb.String()); code != http.StatusOK || !strings.Contains(body, "Connected. You can close this tab.") {
		t.Errorf("redirect = %d %q, want 200 and Connected", code, body)
	}
	code, out := c.rest()
	if code != 0 || out != "\nconnected fosite (user-1@example.com)\n" {
		t.Fatalf("connect = %d, stdout %q, stderr:\n%s", code, out, c.stderr.String())
	}

	r = cli(t, nil, "", "--data", data, "run", dir, "me", "--connection", "fosite", "--trace")
	var me oauthtest.Me
	if err := json.Unmarshal([]byte(r.stdout), &me); err != nil || r.code != 0 || me.ID != oauthtest.User {
		t.Fatalf("run --connection = %d %q (%v), stderr:\n%s", r.code, r.stdout, err, r.stderr)
	}
	noSecret(t, r, "ory_at_", "ory_rt_", clientSecret)

	r = cli(t, nil, "", "--data", data, "connections", "show", "fosite")
	for _, want := range []string{"credentials set: access_token, refresh_token\n", "token type:      Bearer\n", "token scope:     read\n", "auth client:     fosite\n", "token expires:   20"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("connections show: no %q in\n%s", want, r.stdout)
		}
	}
	noSecret(t, r, "ory_at_", "ory_rt_", clientSecret)
	scanData(t, data, "ory_at_", "ory_rt_", clientSecret)

	before := srv.TokenRequestsTotal()
	r = cli(t, nil, "", "--data", data, "connections", "delete", "fosite", "--app", dir)
	if r.code != 0 || r.stdout != "deleted fosite (app fosite); its token was revoked at the provider\n" {
		t.Errorf("connections delete = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if srv.TokenRequestsTotal() != before {
		t.Errorf("delete made a token request")
	}
}

// TestConnectOAuth2Stopped: Ctrl-C while connect waits for the redirect stores nothing.
func TestConnectOAuth2Stopped(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := oauthApp(t, srv)
	data := t.TempDir()
	if r := cli(t, nil, clientSecret, "--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"); r.code != 0 {
		t.Fatalf("clients add = %d %q", r.code, r.stderr)
	}
	c := startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	authURL := c.authorizeURL(t, srv.AuthorizeURL())
	u, _ := url.Parse(authURL)
	redirect := u.Query().Get("redirect_uri")
	c.cancel()
	code, _ := c.rest()
	if want := "error: stopped waiting for the redirect\nnothing was stored\n"; code != 1 || !strings.HasSuffix(c.stderr.String(), want) {
		t.Errorf("stopped connect = %d, stderr:\n%s\nwant 1 and an end\n%s", code, c.stderr.String(), want)
	}
	if _, err := http.Get(redirect); err == nil {
		t.Errorf("the listener at %s still answers after connect stopped", redirect)
	}
	r := cli(t, nil, "", "--data", data, "connections", "list")
	if r.stdout != "" {
		t.Errorf("connections list = %q, want none", r.stdout)
	}
}

// TestConnectOAuth2NoClient: connecting without an auth client says how to add one.
func TestConnectOAuth2NoClient(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := oauthApp(t, srv)
	r := cli(t, nil, "", "--data", t.TempDir(), "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	want := "error: authorize: app fosite has no auth client \"fosite\": add it with `patchbay clients add fosite --app <app-dir> --client-id <id>`\nnothing was stored\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("connect = %d\n%s\nwant 1\n%s", r.code, r.stderr, want)
	}
}

// connectFosite adds the auth client and connects app dir to srv as "fosite".
func connectFosite(t *testing.T, srv *oauthtest.Server, dir, data string) {
	t.Helper()
	if r := cli(t, nil, clientSecret, "--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"); r.code != 0 {
		t.Fatalf("clients add = %d %q", r.code, r.stderr)
	}
	c := startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	cb, err := srv.Approve(c.authorizeURL(t, srv.AuthorizeURL()))
	if err != nil {
		t.Fatal(err)
	}
	get(t, cb.String())
	if code, out := c.rest(); code != 0 {
		t.Fatalf("connect = %d %q, stderr:\n%s", code, out, c.stderr.String())
	}
}

// TestConnectionDisconnected: when the provider revokes access, the run fails, the connection
// is disconnected, and the next run says why and how to connect again.
func TestConnectionDisconnected(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	srv.AddClient("pb-client", clientSecret, []string{"http://127.0.0.1/callback"}, oauthtest.ClientOptions{Scopes: []string{"read"}})
	dir := oauthApp(t, srv)
	data := t.TempDir()
	connectFosite(t, srv, dir, data)

	srv.RevokeAll()
	r := cli(t, nil, "", "--data", data, "run", dir, "me", "--connection", "fosite")
	if r.code != 1 {
		t.Fatalf("run after the provider revoked access = %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, nil, "", "--data", data, "run", dir, "me", "--connection", "fosite")
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	wantFirst := `error: connection "fosite" is disconnected: `
	wantLast := "to connect it again: patchbay connect " + dir + " --name fosite"
	if r.code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], wantFirst) || !strings.Contains(lines[0], "invalid_grant") || lines[1] != wantLast {
		t.Errorf("run with a disconnected connection = %d, stderr:\n%s\nwant 1, %q... (invalid_grant) and\n%s", r.code, r.stderr, wantFirst, wantLast)
	}
	r = cli(t, nil, "", "--data", data, "connections", "list")
	if !strings.Contains(r.stdout, "fosite  fosite  oauth2  disconnected  user-1@example.com") {
		t.Errorf("connections list =\n%s\nwant fosite disconnected", r.stdout)
	}
	r = cli(t, nil, "", "--data", data, "connections", "test", "fosite", "--app", dir)
	if r.code != 1 || !strings.HasPrefix(r.stderr, wantFirst) || !strings.HasSuffix(r.stderr, wantLast+"\n") {
		t.Errorf("connections test = %d\n%s", r.code, r.stderr)
	}
	// Connecting it again under its name keeps the connection (and its id) and works.
	c := startConnect(t, "--data", data, "connect", dir, "--listen", "127.0.0.1:0", "--no-browser")
	cb, err := srv.Approve(c.authorizeURL(t, srv.AuthorizeURL()))
	if err != nil {
		t.Fatal(err)
	}
	get(t, cb.String())
	if code, out := c.rest(); code != 0 || !strings.HasPrefix(c.stderr.String(), `connecting "fosite" again (it was disconnected: `) {
		t.Fatalf("connect again = %d %q, stderr:\n%s", code, out, c.stderr.String())
	}
	if r := cli(t, nil, "", "--data", data, "run", dir, "me", "--connection", "fosite"); r.code != 0 {
		t.Errorf("run after connecting again = %d, stderr:\n%s", r.code, r.stderr)
	}
	r = cli(t, nil, "", "--data", data, "connections", "list")
	if !strings.Contains(r.stdout, "fosite  fosite  oauth2  connected") || strings.Count(r.stdout, "\n") != 2 {
		t.Errorf("connections list =\n%s\nwant a header and one connected fosite", r.stdout)
	}
}

// TestDeleteRevokeFails: a revoke the provider refuses still deletes the connection, with a
// warning and exit status 0.
func TestDeleteRevokeFails(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	srv.AddClient("pb-client", clientSecret, []string{"http://127.0.0.1/callback"}, oauthtest.ClientOptions{Scopes: []string{"read"}})
	dir := oauthApp(t, srv)
	data := t.TempDir()
	connectFosite(t, srv, dir, data)
	// The client's secret changes here: the revocation endpoint refuses the old one.
	if r := cli(t, nil, "wrong-secret", "--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"); r.code != 0 {
		t.Fatalf("clients add = %d %q", r.code, r.stderr)
	}
	r := cli(t, nil, "", "--data", data, "connections", "delete", "fosite", "--app", dir)
	if r.code != 0 || r.stdout != "deleted fosite (app fosite)\n" ||
		!strings.HasPrefix(r.stderr, "warning: connection deleted, but revoking its token at the provider failed: ") || !strings.Contains(r.stderr, "401") {
		t.Errorf("connections delete = %d %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	noSecret(t, r, "ory_at_", "ory_rt_", "wrong-secret")
	if r := cli(t, nil, "", "--data", data, "connections", "list"); r.stdout != "" {
		t.Errorf("connections list after delete = %q, want none", r.stdout)
	}
}

// TestConnectionsTestFails: connections test reports the test flow's failure, exit status 1.
func TestConnectionsTestFails(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	if r := cli(t, nil, "", "--data", data, "connect", dir, "--field", "api_key="+apiKey); r.code != 0 {
		t.Fatalf("connect = %d %q", r.code, r.stderr)
	}
	src, err := os.ReadFile(filepath.Join(dir, "app.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeApp(t, dir, map[string]string{"app.yaml": strings.Replace(string(src), "path: /me}", "path: /gone}", 1)})
	r := cli(t, nil, "", "--data", data, "connections", "test", "keyed", "--app", dir)
	want := "error: connection test failed: " + filepath.Join(dir, "app.yaml") + `:21:9: step "me" (call_api): GET ` + ts.URL + "/eu/gone: 404 Not Found: 404 page not found\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("connections test = %d\n%s\nwant 1\n%s", r.code, r.stderr, want)
	}
	r = cli(t, nil, "", "--data", data, "connections", "show", "keyed")
	if !regexp.MustCompile(`\nlast test: +failed \d{4}-`).MatchString(r.stdout) || !strings.Contains(r.stdout, "last test message: "+filepath.Join(dir, "app.yaml")+":21:9: ") {
		t.Errorf("connections show after a failed test:\n%s", r.stdout)
	}
	r = cli(t, nil, "", "--data", data, "connections", "test", "keyed")
	if got, _, _ := strings.Cut(r.stderr, "usage:"); r.code != 2 || got != "patchbay connections: connections test needs --app APP: the app's folder holds the test flow\n" {
		t.Errorf("connections test without --app = %d %q", r.code, r.stderr)
	}
}
