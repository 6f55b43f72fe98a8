package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/store/keys"
)

// apiKey is the key the test API accepts; wrongKey one it refuses.
const (
	apiKey   = "pk-test-51HqLyjWDarjtT1zdp7dc"
	wrongKey = "pk-test-nope-0000000000"
)

// noMasterKey unsets the master key variables for the test, so the store's key comes from a
// key file in the data directory (store/keys reads the process environment).
func noMasterKey(t *testing.T) {
	t.Helper()
	for _, k := range []string{keys.EnvMasterKey, keys.EnvNewMasterKey} {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)
	}
}

// keyAPI is an API that takes an API key in the X-Api-Key header, under /eu: GET /eu/me answers
// who the key belongs to, GET /eu/items lists items and echoes the key (a response that holds a
// secret); a wrong or missing key, or a request without the connection's Accept header, gets
// 401 with a message.
func keyAPI(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Content-Type", "application/json")
			if r.Header.Get("Accept") != "application/json" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"message":"send Accept: application/json"}`)
				return
			}
			if r.Header.Get("X-Api-Key") != apiKey {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"message":"invalid api key"}`)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /eu/me", auth(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"email":"ann@example.com"}`)
	}))
	mux.HandleFunc("GET /eu/items", auth(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"items":["a","b"],"key":%q}`, r.Header.Get("X-Api-Key"))
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts, &calls
}

// keyApp writes an api_key app for keyAPI: a region parameter in its base_url, the key in a
// header, a request default, a label from the test flow, and a flow that reads the vault.
func keyApp(t *testing.T, baseURL string) string {
	t.Helper()
	return writeApp(t, filepath.Join(t.TempDir(), "keyed"), map[string]string{"app.yaml": `app: keyed
base_url: "` + baseURL + `/{{ connection.params.region }}"
connection:
  type: api_key
  params:
    - {key: region, label: Region, default: eu}
  fields:
    - key: api_key
      label: API key
      required: true
      sensitive: true
      help: Create one under Settings → API keys
      docs_url: https://docs.example.com/keys
  inject: {in: header, name: X-Api-Key, value: "{{ token }}"}
  request:
    headers: {Accept: application/json}
  label: "{{ test.output.email }}"
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, path: /me}
    output: {email: "{{ steps.me.body.email }}"}
  items:
    steps:
      - id: list
        call_api: {method: GET, path: /items}
    output: "{{ steps.list.body }}"
  extra:
    output: "{{ vault.extra }}"
`})
}

// noSecret fails the test when r printed any of secrets.
func noSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a secret was printed:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		}
	}
}

func TestConnectAPIKey(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	pb := func(stdin string, args ...string) result {
		t.Helper()
		return cli(t, nil, stdin, append([]string{"--data", data}, args...)...)
	}

	t.Run("prompts from stdin", func(t *testing.T) {
		r := pb("\n"+apiKey+"\n", "connect", dir) // region: the default; then the key
		if r.code != 0 || r.stdout != "connected keyed (ann@example.com)\n" {
			t.Fatalf("connect = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		want := "Region (default eu)\n> \nAPI key (required)\n  Create one under Settings → API keys\n  where to find it: https://docs.example.com/keys\n> \n"
		if r.stderr != want {
			t.Errorf("prompts =\n%q\nwant\n%q", r.stderr, want)
		}
		noSecret(t, r, apiKey)
		for _, f := range []string{keys.FileName, dbFile} {
			st, err := os.Stat(filepath.Join(data, f))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, mode %v; want mode 0600", f, err, st.Mode())
			}
		}
	})
	t.Run("fields from flags", func(t *testing.T) {
		r := pb("", "connect", dir, "--name", "second", "--param", "region=eu", "--field", "api_key="+apiKey)
		if r.code != 0 || r.stdout != "connected second (ann@example.com)\n" || r.stderr != "" {
			t.Fatalf("connect = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("field from the environment", func(t *testing.T) {
		r := cli(t, map[string]string{"PATCHBAY_FIELD_API_KEY": apiKey}, "", "--data", data, "connect", dir, "--name", "third")
		if r.code != 0 || r.stdout != "connected third (ann@example.com)\n" {
			t.Fatalf("connect = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		noSecret(t, r, apiKey)
	})
	t.Run("name taken", func(t *testing.T) {
		r := pb("", "connect", dir, "--field", "api_key="+apiKey)
		want := "error: app keyed already has a connection named \"keyed\": give another --name, or delete it first (patchbay connections delete keyed)\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("connect = %d %q, want 1 %q", r.code, r.stderr, want)
		}
	})
	t.Run("run with the connection", func(t *testing.T) {
		for _, flags := range [][]string{{"--trace"}, {"--json-trace"}} {
			r := pb("", append([]string{"run", dir, "items", "--connection", "keyed"}, flags...)...)
			if r.code != 0 {
				t.Fatalf("run = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			var out struct {
				Items []string
				Key   string
			}
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Items) != 2 || out.Key != "[redacted]" {
				t.Errorf("run output = %s (%v), want two items and the key redacted", r.stdout, err)
			}
			noSecret(t, r, apiKey)
		}
	})
	t.Run("run reads the vault", func(t *testing.T) {
		const value = "vault-value-7f3a9c"
		if r := pb(value+"\n", "vault", "set", "extra", "--app", dir); r.code != 0 || r.stdout != "stored extra in the vault of app keyed\n" {
			t.Fatalf("vault set = %d %q %q", r.code, r.stdout, r.stderr)
		}
		r := pb("", "run", dir, "extra", "--connection", "keyed")
		if r.code != 0 || r.stdout != "\"[redacted]\"\n" {
			t.Errorf("run extra = %d %q %q, want the vault value, redacted", r.code, r.stdout, r.stderr)
		}
		noSecret(t, r, value)
	})
	t.Run("list", func(t *testing.T) {
		r := pb("", "connections", "list")
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		row := regexp.MustCompile(`^(keyed|second|third) +keyed +api_key +connected +ann@example\.com +- +ok \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
		if r.code != 0 || len(lines) != 4 || !regexp.MustCompile(`^NAME +APP +TYPE +STATUS +LABEL +EXPIRES +LAST TEST$`).MatchString(lines[0]) {
			t.Fatalf("connections list = %d\n%s\nstderr %s", r.code, r.stdout, r.stderr)
		}
		for _, l := range lines[1:] {
			if !row.MatchString(l) {
				t.Errorf("row %q does not match %s", l, row)
			}
		}
		r = pb("", "connections", "list", "--json")
		var views []connView
		if err := json.Unmarshal([]byte(r.stdout), &views); err != nil || len(views) != 3 {
			t.Errorf("connections list --json = %s (%v), want 3 connections", r.stdout, err)
		}
	})
	t.Run("show", func(t *testing.T) {
		r := pb("", "connections", "show", "keyed")
		for _, want := range []string{"name:            keyed\n", "type:            api_key\n", "label:           ann@example.com\n",
			"param region:    eu\n", "credentials set: api_key\n", "refreshes:       0\n", "last test:       ok "} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("connections show: no %q in\n%s", want, r.stdout)
			}
		}
		noSecret(t, r, apiKey)
		r = pb("", "connections", "show", "keyed", "--json")
		var v connView
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || v.Name != "keyed" || strings.Join(v.Credentials, ",") != "api_key" || v.Params["region"] != "eu" {
			t.Errorf("connections show --json = %s (%v)", r.stdout, err)
		}
		noSecret(t, r, apiKey)
	})
	t.Run("test", func(t *testing.T) {
		r := pb("", "connections", "test", "keyed", "--app", dir)
		if r.code != 0 || r.stdout != "ok: keyed (ann@example.com) passed the test of app keyed\n" {
			t.Errorf("connections test = %d %q %q", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("secrets are not in the database file", func(t *testing.T) {
		scanData(t, data, apiKey, "vault-value-7f3a9c")
	})
	t.Run("rotate the key, then run", func(t *testing.T) {
		before, err := os.ReadFile(filepath.Join(data, keys.FileName))
		if err != nil {
			t.Fatal(err)
		}
		r := pb("", "keys", "rotate")
		m := regexp.MustCompile(`^rotated the master key: every secret is now under key ([0-9a-f]{8})\n$`).FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("keys rotate = %d %q %q", r.code, r.stdout, r.stderr)
		}
		after, err := os.ReadFile(filepath.Join(data, keys.FileName))
		if err != nil || bytes.Equal(before, after) {
			t.Fatalf("the key file did not change (%v)", err)
		}
		if strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(after))) {
			t.Errorf("keys rotate printed the key")
		}
		if st, err := os.Stat(filepath.Join(data, keys.FileName)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("key file after rotation: %v, mode %v; want 0600", err, st.Mode())
		}
		if _, err := os.Stat(filepath.Join(data, keys.NewFileName)); !os.IsNotExist(err) {
			t.Errorf("%s is left behind: %v", keys.NewFileName, err)
		}
		r = pb("", "run", dir, "items", "--connection", "second")
		if r.code != 0 || !strings.Contains(r.stdout, `"key": "[redacted]"`) {
			t.Errorf("run after rotation = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		scanData(t, data, apiKey, "vault-value-7f3a9c")
	})
	t.Run("delete", func(t *testing.T) {
		r := pb("", "connections", "delete", "keyed")
		if r.code != 0 || r.stdout != "deleted keyed (app keyed)\n" || r.stderr != "" {
			t.Errorf("connections delete = %d %q %q", r.code, r.stdout, r.stderr)
		}
		r = pb("", "connections", "show", "keyed")
		want := "error: no connection named \"keyed\" (patchbay connections list shows them)\n"
		if r.code != 1 || r.stderr != want {
			t.Errorf("show after delete = %d %q, want 1 %q", r.code, r.stderr, want)
		}
		r = pb("", "run", dir, "items", "--connection", "keyed")
		if r.code != 1 || r.stderr != want {
			t.Errorf("run after delete = %d %q, want 1 %q", r.code, r.stderr, want)
		}
	})
}

// scanData fails the test when a file of the data directory holds one of secrets in clear.
func scanData(t *testing.T, data string, secrets ...string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(data, "patchbay.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files in %s (%v)", data, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in clear", filepath.Base(f))
			}
		}
	}
}

func TestConnectFails(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		stderr string // its last lines
	}{
		{"wrong key", "", []string{"--field", "api_key=" + wrongKey},
			"error: connection test failed, nothing was stored: " + filepath.Join(dir, "app.yaml") + `:21:9: step "me" (call_api): GET ` + ts.URL + `/eu/me: 401 Unauthorized: {"message":"invalid api key"}` + "\n"},
		{"missing field", "", nil,
			"error: api_key: required field is missing\nnothing was stored\n"},
		{"unknown field and param", "", []string{"--field", "apikey=x", "--param", "regoin=us"},
			"error: regoin: unknown param (did you mean \"region\"?)\nerror: apikey: unknown field (did you mean \"api_key\"?)\nerror: api_key: required field is missing\nnothing was stored\n"},
		{"bad name", "", []string{"--name", "a b", "--field", "api_key=" + apiKey},
			"error: name: \"a b\" must be letters, digits, - and _\nnothing was stored\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			r := cli(t, nil, tt.stdin, append([]string{"--data", data, "connect", dir}, tt.args...)...)
			if r.code != 1 || !strings.HasSuffix(r.stderr, tt.stderr) || r.stdout != "" {
				t.Errorf("connect = %d, stdout %q, stderr:\n%s\nwant 1 and stderr ending\n%s", r.code, r.stdout, r.stderr, tt.stderr)
			}
			noSecret(t, r, wrongKey, apiKey)
			r = cli(t, nil, "", "--data", data, "connections", "list")
			if r.code != 0 || r.stdout != "" || r.stderr != "no connections: add one with patchbay connect APP\n" {
				t.Errorf("connections list after a failed connect = %d %q %q, want none", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestRunWithoutConnection: an app that needs a connection runs without one, after a warning.
func TestRunWithoutConnection(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	r := cli(t, nil, "", "--data", t.TempDir(), "run", dir, "items")
	want := "warning: app keyed connects with api_key, but no --connection was given: its requests go without credentials\n"
	if r.code != 1 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("run = %d, stderr:\n%s\nwant 1 (the API refuses) and a first line\n%s", r.code, r.stderr, want)
	}
}

// TestConnectionOfAnotherApp: run --connection refuses a connection made for another app.
func TestConnectionOfAnotherApp(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	if r := cli(t, nil, "", "--data", data, "connect", dir, "--field", "api_key="+apiKey); r.code != 0 {
		t.Fatalf("connect = %d %q", r.code, r.stderr)
	}
	other := writeApp(t, "", map[string]string{"app.yaml": "app: other\nflows:\n  f:\n    output: 1\n"})
	r := cli(t, nil, "", "--data", data, "run", other, "f", "--connection", "keyed")
	if want := "error: connection \"keyed\" belongs to app keyed, not other\n"; r.code != 1 || r.stderr != want {
		t.Errorf("run = %d %q, want 1 %q", r.code, r.stderr, want)
	}
}
