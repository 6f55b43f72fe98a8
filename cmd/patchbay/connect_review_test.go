package main

// Tests of defects found in a review of the connection commands, each named after its defect.

import (
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/connections/oauthtest"
)

// TestConnectListensOnLoopbackOnly: connect listened for the OAuth redirect on whatever
// address --listen or the auth client's redirect URL named, all interfaces included, so
// another machine could reach the callback. An address that is not loopback is refused
// before the provider is asked anything.
func TestConnectListensOnLoopbackOnly(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := oauthApp(t, srv)
	tests := []struct {
		name    string
		listen  string
		client  []string // clients add flags
		wantErr string
	}{
		{
			name: "--listen on every interface", listen: ":0",
			wantErr: `error: listen for the OAuth redirect: :0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
		{
			name: "--listen on 0.0.0.0", listen: "0.0.0.0:0",
			wantErr: `error: listen for the OAuth redirect: 0.0.0.0:0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
		{
			name: "the client's redirect URL", listen: "127.0.0.1:0", client: []string{"--redirect-url", "http://0.0.0.0:0/cb"},
			wantErr: `error: listen for the OAuth redirect: 0.0.0.0:0 is not a loopback address; use 127.0.0.1 or [::1]` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			args := append([]string{"--data", data, "clients", "add", "fosite", "--app", dir, "--client-id", "pb-client"}, tt.client...)
			if r := cli(t, nil, clientSecret, args...); r.code != 0 {
				t.Fatalf("clients add = %d %q", r.code, r.stderr)
			}
			c := startConnect(t, "--data", data, "connect", dir, "--listen", tt.listen, "--no-browser")
			var stdout strings.Builder
			for l := range c.lines {
				stdout.WriteString(l + "\n")
				if strings.HasPrefix(l, "Open this address") {
					c.cancel() // it listens: stop it rather than wait for the redirect
				}
			}
			code := <-c.code
			if code != 1 || !strings.HasPrefix(c.stderr.String(), tt.wantErr) || stdout.Len() != 0 {
				t.Errorf("connect = %d, stdout %q, stderr:\n%s\nwant 1, nothing printed and\n%s", code, stdout.String(), c.stderr.String(), tt.wantErr)
			}
			if n := srv.TokenRequestsTotal(); n != 0 {
				t.Errorf("%d token requests, want none", n)
			}
		})
	}
}

// sessApp writes a token app whose login endpoint issues session tokens already expired, so
// that every run refreshes first, and connects it as "sess" in a new data folder. It returns
// the app's folder, the data folder and the count of token requests.
func sessApp(t *testing.T) (dir, data string, logins *atomic.Int64) {
	t.Helper()
	noMasterKey(t)
	logins = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		n := logins.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// Issued already expired, so the run refreshes it at once.
		fmt.Fprintf(w, `{"token": "sess-%d-5ecret0123", "refresh": "never-shown-%d", "expires_at": "2001-01-01T00:00:00Z"}`, n, n)
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `["a", "b"]`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	dir = writeApp(t, "", map[string]string{"app.yaml": `app: sess
base_url: ` + srv.URL + `
connection:
  type: token
  fields:
    - {key: password, label: Password, required: true, sensitive: true}
  inject: {in: header, name: Authorization, value: "Session {{ token }}"}
flows:
  exchange:
    steps:
      - id: login
        call_api: {method: POST, path: /login, json: {password: "{{ connection.fields.password }}"}}
    output:
      access_token: "{{ steps.login.body.token }}"
      expires_at: "{{ steps.login.body.expires_at }}"
      refresh_hint: "{{ steps.login.body.refresh }}"
  items:
    steps:
      - id: items
        call_api: {path: /items}
    output: "{{ steps.items.body }}"
`})
	data = t.TempDir()
	if r := cli(t, nil, "", "--data", data, "connect", dir, "--field", "password=pw-0123456789"); r.code != 0 {
		t.Fatalf("connect = %d %q", r.code, r.stderr)
	}
	return dir, data, logins
}

// TestRunRecordKeepsNoToken: run --record wrote every response of the run to the recording
// folder, the token endpoint's as well: a token refreshed during the run was written there in
// clear (a folder meant for testdata, and for git). The connection's token requests are not
// recorded.
func TestRunRecordKeepsNoToken(t *testing.T) {
	dir, data, logins := sessApp(t)
	rec := t.TempDir()
	r := cli(t, nil, "", "--data", data, "run", dir, "items", "--connection", "sess", "--record", rec)
	if r.code != 0 {
		t.Fatalf("run --record = %d %q", r.code, r.stderr)
	}
	if n := logins.Load(); n != 2 {
		t.Fatalf("%d token requests, want 2 (connect, and the run's refresh)", n)
	}
	entries, err := os.ReadDir(rec)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range entries {
		names = append(names, de.Name())
		b, err := os.ReadFile(filepath.Join(rec, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"sess-2-5ecret0123", "never-shown-2", "pw-0123456789"} {
			if strings.Contains(string(b), s) {
				t.Errorf("the recording %s holds the secret %q:\n%s", de.Name(), s, b)
			}
		}
	}
	if len(names) != 1 || !strings.HasPrefix(names[0], "GET_items_") {
		t.Errorf("recordings %q, want the API's response alone", names)
	}
}

// TestRunReplayRefreshesNothing: run --replay with a connection whose token was due refreshed
// it through the player: from a recorded token response, which it then saved over the live
// connection's tokens (a retired refresh token, for a provider that rotates them: the next
// live refresh disconnects), or, with none recorded, failed the run. A replayed run answers
// every request from the recording, credentials do not matter, and the stored connection is
// left as it is.
func TestRunReplayRefreshesNothing(t *testing.T) {
	dir, data, logins := sessApp(t)
	recDir := writeApp(t, "", map[string]string{
		"GET_items_de0b5d91.json": `{"method": "GET", "url": "/items", "status": 200, "header": {"Content-Type": ["application/json"]}, "body": "[\"recorded\"]"}`,
		// A token response recorded by an older patchbay, or written by hand.
		"POST_login_e0f437bd.json": `{"method": "POST", "url": "/login", "status": 200, "header": {"Content-Type": ["application/json"]}, "body": "{\"token\": \"recorded-token-0123\", \"expires_at\": \"2001-01-01T00:00:00Z\"}"}`,
	})
	before := cli(t, nil, "", "--data", data, "connections", "show", "sess", "--json")
	r := cli(t, nil, "", "--data", data, "run", dir, "items", "--connection", "sess", "--replay", recDir)
	if r.code != 0 || !strings.Contains(r.stdout, "recorded") {
		t.Fatalf("run --replay = %d %q %q, want the recorded items", r.code, r.stdout, r.stderr)
	}
	if n := logins.Load(); n != 1 {
		t.Errorf("%d token requests, want 1 (connect's)", n)
	}
	if after := cli(t, nil, "", "--data", data, "connections", "show", "sess", "--json"); after.stdout != before.stdout {
		t.Errorf("the stored connection changed:\n%s\nwant\n%s", after.stdout, before.stdout)
	}
}

// TestCorruptConnectionSparesOthers: commands found a connection by listing, and so
// decrypting, every connection of the workspace: one record whose credentials could not be
// decrypted (a damaged database page, a row edited by hand) stopped runs of every other
// connection. A connection is looked up by its name, and only its own record is read.
func TestCorruptConnectionSparesOthers(t *testing.T) {
	noMasterKey(t)
	srv, _ := keyAPI(t)
	dir := keyApp(t, srv.URL)
	data := t.TempDir()
	for _, name := range []string{"good", "broken"} {
		if r := cli(t, nil, "", "--data", data, "connect", dir, "--name", name, "--field", "api_key="+apiKey, "--param", "region=eu"); r.code != 0 {
			t.Fatalf("connect %s = %d %q", name, r.code, r.stderr)
		}
	}
	db, err := sql.Open("sqlite3", filepath.Join(data, "patchbay.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE connections SET creds = x'00' WHERE name = 'broken'`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	if r := cli(t, nil, "", "--data", data, "connections", "test", "good", "--app", dir); r.code != 0 {
		t.Errorf("connections test good = %d %q, want 0", r.code, r.stderr)
	}
	r := cli(t, nil, "", "--data", data, "connections", "test", "broken", "--app", dir)
	if want := "cannot decrypt credentials"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("connections test broken = %d %q, want 1 and %q", r.code, r.stderr, want)
	}
}
