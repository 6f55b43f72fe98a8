package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordApp has a flow that obtains a token from its own token endpoint (a secret the run
// learns only from the token response) and calls an API that echoes the token, a sensitive
// input and a vault secret in its response body.
const recordApp = `app: echoer
base_url: BASE
flows:
  echo:
    inputs:
      key: {type: string, sensitive: true}
    steps:
      - id: token
        oauth2_token: {url: "BASE/token", grant_type: client_credentials, client_id: c-1, client_secret: "{{ input.key }}"}
      - id: echo
        call_api:
          method: GET
          path: /echo
          headers: {X-Key: "{{ input.key }}", X-Token: "{{ steps.token.access_token }}", X-Vault: "{{ vault.signing }}"}
    output: "{{ steps.echo.body }}"
`

// TestRunRecordRedacts: run --record wrote response bodies as the API sent them, so a body that
// echoed a key was saved in clear. Recordings are now redacted as traces are, with the run's
// secrets, those obtained during the run included (a token from a token response); and a run
// replayed from them still works.
func TestRunRecordRedacts(t *testing.T) {
	noMasterKey(t)
	const key, token, signing = "key-0123456789abc", "tok-0123456789abc", "sig-0123456789abc"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, token)
		case "/echo":
			w.Header().Set("X-Echo", r.Header.Get("X-Token"))
			fmt.Fprintf(w, `{"key":%q,"token":%q,"vault":%q}`, r.Header.Get("X-Key"), r.Header.Get("X-Token"), r.Header.Get("X-Vault"))
		}
	}))
	t.Cleanup(ts.Close)
	dir := writeApp(t, filepath.Join(t.TempDir(), "echoer"), map[string]string{"app.yaml": strings.ReplaceAll(recordApp, "BASE", ts.URL)})
	data := t.TempDir()
	if r := cli(t, nil, signing, "--data", data, "vault", "set", "signing"); r.code != 0 {
		t.Fatalf("vault set = %d %s", r.code, r.stderr)
	}
	const redacted = "{\n  \"key\": \"[redacted]\",\n  \"token\": \"[redacted]\",\n  \"vault\": \"[redacted]\"\n}\n"
	rec := filepath.Join(t.TempDir(), "rec")
	r := cli(t, nil, "", "--data", data, "run", dir, "echo", "--input", "key="+key, "--record", rec)
	if r.code != 0 || r.stdout != redacted {
		t.Fatalf("run --record = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	entries, err := os.ReadDir(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Errorf("recorded %d files, want the token response and the echo", len(entries))
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(rec, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{key, token, signing} {
			if strings.Contains(string(b), s) {
				t.Errorf("the recording %s holds the secret %q:\n%s", e.Name(), s, b)
			}
		}
		if !strings.Contains(string(b), "[redacted]") {
			t.Errorf("the recording %s redacts nothing:\n%s", e.Name(), b)
		}
	}

	ts.Close() // the replay must not need the network
	r = cli(t, nil, "", "--data", data, "run", dir, "echo", "--input", "key="+key, "--replay", rec)
	if r.code != 0 || r.stdout != redacted {
		t.Errorf("run --replay of the redacted recording = %d\n%s\nstderr:\n%s\nwant 0 and\n%s", r.code, r.stdout, r.stderr, redacted)
	}
}
