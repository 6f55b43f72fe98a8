package connections_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
)

// basicTemplateApp is a basic app against an API written as SRV whose user name and password
// the connection's CONN lines make from its fields: a test flow, an action listing tickets, and
// an action the API fails.
const basicTemplateApp = `app: helpdesk
name: Help desk
base_url: SRV
connection:
  type: basic
CONN  label: "{{ test.output.email }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /agents/me}
    output: {email: "{{ steps.me.body.email }}"}
  tickets:
    steps:
      - id: list
        call_api: {method: GET, path: /tickets}
    output: "{{ steps.list.body.tickets }}"
  fail:
    steps:
      - id: fail
        call_api: {method: GET, path: /fail}
`

// TestConnectBasicTemplates: a basic connection whose username and password are templates over
// the app's own fields (an API key as the user name and a fixed password; an e-mail address
// with "/token" and an API token) sends what they make, when connecting and on every run; the
// user's secret fields never reach an error, a trace, a log or the store's files, even when the
// API echoes the Authorization header.
func TestConnectBasicTemplates(t *testing.T) {
	tests := []struct {
		name          string
		conn          string
		good, bad     map[string]string
		user, pass    string   // what the API accepts
		secrets       []string // besides user:pass
		wantLabel     string
		wantBadSecret []string // of the refused connect
	}{
		{
			name: "API key as the user name, fixed password",
			conn: `  fields:
    - {key: api_key, label: API key, required: true, sensitive: true}
  username: "{{ connection.fields.api_key }}"
  password: X
`,
			good: map[string]string{"api_key": "fd-key-0123456789abc"},
			bad:  map[string]string{"api_key": "wrong-key-0123456789"},
			user: "fd-key-0123456789abc", pass: "X",
			secrets:       []string{"fd-key-0123456789abc"},
			wantBadSecret: []string{"wrong-key-0123456789", "wrong-key-0123456789:X"},
		},
		{
			name: "e-mail address with /token, API token as the password",
			conn: `  fields:
    - {key: email, label: E-mail, required: true}
    - {key: api_token, label: API token, required: true, sensitive: true}
  username: "{{ connection.fields.email }}/token"
  password: "{{ connection.fields.api_token }}"
`,
			good: map[string]string{"email": "agent@example.com", "api_token": "zd-tok-0123456789abc"},
			bad:  map[string]string{"email": "agent@example.com", "api_token": "wrong-tok-0123456789"},
			user: "agent@example.com/token", pass: "zd-tok-0123456789abc",
			secrets:       []string{"zd-tok-0123456789abc"},
			wantBadSecret: []string{"wrong-tok-0123456789", "agent@example.com/token:wrong-tok-0123456789"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(h http.HandlerFunc) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					if u, p, ok := r.BasicAuth(); !ok || u != tt.user || p != tt.pass {
						// A provider that echoes what it was given: the message must not show it.
						writeJSONBody(w, http.StatusUnauthorized, map[string]any{"message": "bad credentials: " + r.Header.Get("Authorization")})
						return
					}
					h(w, r)
				}
			}
			api := newPlainProvider(t, map[string]http.HandlerFunc{
				"/agents/me": check(func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, http.StatusOK, map[string]any{"email": "agent@example.com"})
				}),
				"/tickets": check(func(w http.ResponseWriter, r *http.Request) {
					writeJSONBody(w, http.StatusOK, map[string]any{"tickets": []any{map[string]any{"id": 1}}})
				}),
				"/fail": check(func(w http.ResponseWriter, r *http.Request) {
					http.Error(w, "upstream rejected "+r.Header.Get("Authorization"), http.StatusBadGateway)
				}),
			})
			src := strings.ReplaceAll(strings.Replace(basicTemplateApp, "CONN", tt.conn, 1), "SRV", api.srv.URL)
			prog := loadApp(t, src)
			w := newWatched(t, nil, connections.Config{})
			ctx := t.Context()

			_, badErr := w.m.Connect(ctx, prog, connections.ConnectRequest{Name: "bad", Fields: tt.bad})
			if want := "connection test failed, nothing was stored: " + stepAt(prog.App.File, src, "/agents/me") + ` step "me" (call_api): GET ` + api.srv.URL + `/agents/me: 401 Unauthorized: {"message":"bad credentials: Basic [redacted]"}`; badErr == nil || badErr.Error() != want {
				t.Fatalf("Connect with a wrong credential: err = %v,\nwant %s", badErr, want)
			}
			wantNothingStored(t, w.m)

			rec, err := w.m.Connect(ctx, prog, connections.ConnectRequest{Fields: tt.good})
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			rec = reload(t, w.m, rec)
			if rec.Label != "agent@example.com" {
				t.Errorf("label = %q, want agent@example.com", rec.Label)
			}
			for k, v := range tt.good {
				if rec.Creds.Fields[k].Reveal() != v {
					t.Errorf("stored field %s is not what was entered", k)
				}
			}
			res, err := runFlow(ctx, w.m, prog, rec, "tickets", nil)
			if err != nil {
				t.Fatalf("run tickets: %v", err)
			}
			if got, ok := res.Output.([]any); !ok || len(got) != 1 {
				t.Errorf("tickets output = %v, want one ticket", res.Output)
			}
			trace := traceText(t, res)
			res, err = runFlow(ctx, w.m, prog, rec, "fail", nil)
			if want := stepAt(prog.App.File, src, "/fail") + ` step "fail" (call_api): GET ` + api.srv.URL + "/fail: 502 Bad Gateway: upstream rejected Basic [redacted]"; err == nil || err.Error() != want {
				t.Fatalf("run fail: err = %v,\nwant %s", err, want)
			}
			trace += traceText(t, res)

			reqs := api.at("/agents/me")
			reqs = append(reqs, api.at("/tickets")...)
			if len(reqs) != 3 {
				t.Fatalf("the API got %d requests for /agents/me and /tickets, want 3", len(reqs))
			}
			for i, r := range reqs[1:] {
				if r.User != tt.user || r.Pass != tt.pass {
					t.Errorf("request %d: basic auth %q:%q, want %q:%q", i+2, r.User, r.Pass, tt.user, tt.pass)
				}
			}
			secrets := append([]string{tt.user + ":" + tt.pass}, tt.secrets...)
			noLeak(t, "the refused connect's error", badErr.Error(), tt.wantBadSecret...)
			noLeak(t, "the run's error", err.Error(), secrets...)
			noLeak(t, "the traces", trace, secrets...)
			noLeak(t, "the logs", w.logs.String(), append(secrets, tt.wantBadSecret...)...)
			noLeak(t, "the store's files", w.files(t), append(secrets, tt.wantBadSecret...)...)
		})
	}
}

// TestConnectBasicUsernameColon: a username template that makes a user name with a colon, which
// basic auth cannot send (RFC 7617), fails the request before it is sent, without showing it.
func TestConnectBasicUsernameColon(t *testing.T) {
	api := newPlainProvider(t, nil)
	src := strings.ReplaceAll(strings.Replace(basicTemplateApp, "CONN", `  fields:
    - {key: account, required: true}
    - {key: api_key, required: true, sensitive: true}
  username: "{{ connection.fields.account }}:{{ connection.fields.api_key }}"
  password: ""
`, 1), "SRV", api.srv.URL)
	prog := loadApp(t, src)
	w := newWatched(t, nil, connections.Config{})
	const key = "colon-key-0123456789"
	_, err := w.m.Connect(t.Context(), prog, connections.ConnectRequest{Fields: map[string]string{"account": "acme", "api_key": key}})
	if want := "connection test failed, nothing was stored: " + stepAt(prog.App.File, src, "/agents/me") + ` step "me" (call_api): GET ` + api.srv.URL + `/agents/me: authorize: connection username: it contains a colon, which HTTP basic auth cannot send in a user name (RFC 7617)`; err == nil || err.Error() != want {
		t.Fatalf("Connect: err = %v,\nwant %s", err, want)
	}
	if n := len(api.at("/agents/me")); n != 0 {
		t.Errorf("the API got %d requests, want none", n)
	}
	noLeak(t, "the logs", w.logs.String(), key)
}

// stepAt is the position "file:line:9:" errors give the step of src whose call_api requests
// path: its "- id:" line, the one before the call_api.
func stepAt(file, src, path string) string {
	line := strings.Count(src[:strings.Index(src, "path: "+path+"}")], "\n")
	return fmt.Sprintf("%s:%d:9:", file, line)
}
