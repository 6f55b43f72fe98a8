package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestConnectBasicAPIKey: `patchbay connect` asks for the fields of a basic app whose user
// name is its API key and whose password is fixed, and `patchbay run` sends them as HTTP basic
// auth; the key is never printed, not even inside an Authorization header the API echoes, and
// is not in clear in the database.
func TestConnectBasicAPIKey(t *testing.T) {
	noMasterKey(t)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":X"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v2/agents/me", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != auth {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"invalid credentials"}`)
			return
		}
		fmt.Fprint(w, `{"email":"ann@example.com"}`)
	})
	mux.HandleFunc("GET /api/v2/tickets", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"tickets":[1,2],"auth":%q}`, r.Header.Get("Authorization"))
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	dir := writeApp(t, filepath.Join(t.TempDir(), "helpdesk"), map[string]string{"app.yaml": `app: helpdesk
base_url: "` + ts.URL + `/api/v2"
connection:
  type: basic
  fields:
    - {key: api_key, label: API key, required: true, sensitive: true}
  username: "{{ connection.fields.api_key }}"
  password: X
  label: "{{ test.output.email }}"
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
    output: "{{ steps.list.body }}"
`})
	data := t.TempDir()

	r := cli(t, nil, apiKey+"\n", "--data", data, "connect", dir)
	if r.code != 0 || r.stdout != "connected helpdesk (ann@example.com)\n" || r.stderr != "API key (required)\n> \n" {
		t.Fatalf("connect = %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	noSecret(t, r, apiKey)

	r = cli(t, nil, "", "--data", data, "run", dir, "tickets", "--connection", "helpdesk", "--trace")
	if r.code != 0 {
		t.Fatalf("run = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Tickets []int
		Auth    string
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Tickets) != 2 || out.Auth != "Basic [redacted]" {
		t.Errorf("run output = %s (%v), want two tickets and the echoed header redacted", r.stdout, err)
	}
	noSecret(t, r, apiKey, auth[len("Basic "):])
	scanData(t, data, apiKey)
}
