package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProviderTextCannotDriveTheTerminal: an error body with terminal escape sequences (set the
// window title, clear the screen, a carriage return that overwrites the line, a C1 CSI) is shown
// with the control characters escaped, on stderr and in JSON output alike.
func TestProviderTextCannotDriveTheTerminal(t *testing.T) {
	const evil = "\x1b]0;pwned\x07\x1b[2J\rfake ok\u009b31m"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]string{"name": evil})
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(evil))
	}))
	defer ts.Close()
	dir := writeApp(t, "", map[string]string{"app.yaml": `app: evil
base_url: ` + ts.URL + `
flows:
  bad:
    steps:
      - id: get
        call_api: {path: /missing}
  good:
    steps:
      - id: get
        call_api: {path: /ok}
    output: "{{ steps.get.body.name }}"
`})
	r := cli(t, nil, "", "run", dir, "bad")
	if r.code != 1 || strings.ContainsAny(r.stderr, "\x1b\x07\r\u009b") {
		t.Errorf("run bad = %d, stderr holds control characters: %q", r.code, r.stderr)
	}
	if want := `404 Not Found: \u001b]0;pwned\u0007\u001b[2J\u000dfake ok\u009b31m`; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr = %q, want it to show %q", r.stderr, want)
	}
	r = cli(t, nil, "", "run", dir, "good")
	var out string
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out != evil {
		t.Errorf("run good: stdout %q decodes to %q (%v), want the provider's text unchanged", r.stdout, out, err)
	}
	if strings.ContainsAny(r.stdout, "\x1b\x07\r\u009b") {
		t.Errorf("stdout holds control characters: %q", r.stdout)
	}
}
