package connections_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// afterConnectFlow is an after_connect flow that looks up the account's cloud id with the new
// token, and a flow that uses it.
const afterConnectFlow = `  after_connect:
    steps:
      - id: sites
        call_api: {method: GET, path: /accessible-resources}
    output: {cloud_id: "{{ steps.sites.body[0].id }}"}
  issues:
    steps:
      - id: list
        call_api: {method: GET, path: "/ex/{{ connection.extra.cloud_id }}/issues"}
    output: "{{ steps.list.body }}"
`

// TestAfterConnect: the after_connect flow runs once after the exchange, with the new token,
// before test; its output is kept in connection.extra beside the token answer's values, and
// a refresh keeps it. A failing after_connect stores nothing.
func TestAfterConnect(t *testing.T) {
	cloud := "c-1"
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			at := "at-1"
			if r.PostForm.Get("grant_type") == "refresh_token" {
				at = "at-2"
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": at, "refresh_token": "rt", "expires_in": 3600, "account": "A1"})
		},
		"/api/accessible-resources": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer at-1" {
				writeJSONBody(w, http.StatusUnauthorized, map[string]any{})
				return
			}
			if cloud == "" {
				writeJSONBody(w, http.StatusOK, []any{}) // no site: body[0] fails
				return
			}
			writeJSONBody(w, http.StatusOK, []any{map[string]any{"id": cloud}})
		},
		"/api/me":            bearerAPI("at-1", "at-2"),
		"/api/ex/c-1/issues": bearerAPI("at-2"),
	})
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "", afterConnectFlow))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	if n := len(p.at("/api/accessible-resources")); n != 1 {
		t.Errorf("after_connect ran %d times, want 1", n)
	}
	if got, want := reload(t, m, rec).Creds.Token.Extra, map[string]any{"account": "A1", "cloud_id": "c-1"}; !equalJSON(got, want) {
		t.Errorf("extra = %v, want %v", got, want)
	}
	clock.Advance(59 * time.Minute)
	if _, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "issues", nil); err != nil {
		t.Fatalf("run issues after the refresh: %v", err)
	}
	if n := len(p.at("/api/accessible-resources")); n != 1 {
		t.Errorf("after_connect ran %d times after a refresh, want 1 (once after connecting)", n)
	}

	cloud = "" // the lookup finds nothing
	_, _, err = connectPlain(t, m, prog, "b")
	if err == nil || !strings.Contains(err.Error(), "after_connect") {
		t.Fatalf("connect with a failing after_connect: %v, want its error", err)
	}
	if got := listConnections(t, m); len(got) != 1 {
		t.Errorf("%d connections stored, want 1 (the failed connect stores nothing)", len(got))
	}
}

// TestAfterConnectLoadErrors: an after_connect flow of a connection type that gets no token is
// refused at load, at the flow.
func TestAfterConnectLoadErrors(t *testing.T) {
	src := `app: keyed
connection:
  type: api_key
  inject: {name: X-Key}
flows:
  after_connect:
    steps:
      - id: x
        set: {a: 1}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := connections.LoadApp(newRegistry(t), dir)
	want := filepath.Join(dir, "app.yaml") + ":6:3: flow after_connect runs after a connection gets its token, and connection type api_key gets none (oauth2, oauth1 and token do)"
	if err == nil || err.Error() != want {
		t.Errorf("LoadApp error =\n%v\nwant\n%s", err, want)
	}
}
