package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// vaultApp is an app without a connection whose flow list sends vault.api_key and
// vault.region, and whose flow missing reads a secret the vault has not (line 17).
const vaultApp = `app: vaulted
base_url: BASE
flows:
  list:
    steps:
      - id: items
        call_api:
          method: GET
          path: /items
          headers: {X-Api-Key: "{{ vault.api_key }}", X-Region: "{{ vault.region }}"}
    output: "{{ steps.items.body }}"
  missing:
    steps:
      - id: items
        call_api:
          method: GET
          path: "/items?token={{ vault.api_token }}"
`

// TestRunReadsVaultWithoutConnection: {{ vault.NAME }} was null in a run without --connection,
// which exited 0 having sent an empty key: an app without a connection could never read its
// vault. Every run now has the vault of its workspace, the app's secrets over the
// workspace's, and a secret the vault has not fails the step that reads it, at its position.
func TestRunReadsVaultWithoutConnection(t *testing.T) {
	noMasterKey(t)
	var mu sync.Mutex
	var seen []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("X-Api-Key")+" "+r.Header.Get("X-Region"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"echo":%q}`, r.Header.Get("X-Api-Key")) // a response that holds a secret
	}))
	t.Cleanup(ts.Close)
	dir := writeApp(t, filepath.Join(t.TempDir(), "vaulted"), map[string]string{"app.yaml": strings.Replace(vaultApp, "BASE", ts.URL, 1)})
	data := t.TempDir()
	const wsKey, appKey, region = "ws-key-0123456789", "app-key-0123456789", "eu-central-7"
	for _, set := range []struct{ stdin, name, app string }{
		{wsKey, "api_key", ""}, {region, "region", ""}, {appKey, "api_key", dir},
	} {
		args := []string{"--data", data, "vault", "set", set.name}
		if set.app != "" {
			args = append(args, "--app", set.app)
		}
		if r := cli(t, nil, set.stdin, args...); r.code != 0 {
			t.Fatalf("patchbay %v = %d\n%s", args, r.code, r.stderr)
		}
	}

	r := cli(t, nil, "", "--data", data, "run", dir, "list", "--trace")
	if r.code != 0 || r.stdout != "{\n  \"echo\": \"[redacted]\"\n}\n" {
		t.Errorf("run list = %d\n%s\nstderr:\n%s\nwant 0 and the echoed key redacted", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	if want := appKey + " " + region; len(seen) != 1 || seen[0] != want {
		t.Errorf("the API saw X-Api-Key and X-Region %q, want the app's key and the workspace's region %q", seen, want)
	}
	mu.Unlock()
	noSecret(t, r, wsKey, appKey, region)

	r = cli(t, nil, "", "--data", data, "run", dir, "missing")
	at := filepath.Join(dir, "app.yaml") + ":"
	want := "error: " + at + `14:9: step "items" (call_api): ` + at + `17:40: template {{ vault.api_token }}: the vault has no secret "api_token"` + "\n"
	if r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("run missing = %d\n%s\nstderr:\n%s\nwant 1 and stderr ending in\n%s", r.code, r.stdout, r.stderr, want)
	}
	mu.Lock()
	if len(seen) > 1 {
		t.Errorf("the run of missing sent a request: %q", seen[1:])
	}
	mu.Unlock()
}
