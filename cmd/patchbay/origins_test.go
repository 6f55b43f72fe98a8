package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestRunConnectionBoundToOrigin: a connection made with the app at server A is not used at
// server B by another folder whose app.yaml has the same key: B never sees the key and the run
// fails saying why; run --allow-origin B lets it go there for that run. --base-url pointing
// elsewhere is refused the same way. Before the fix B received the stored key.
func TestRunConnectionBoundToOrigin(t *testing.T) {
	noMasterKey(t)
	a, _ := keyAPI(t)
	var mu sync.Mutex
	var got []http.Header // what B received
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"email":"b@example.com","items":[]}`))
	}))
	t.Cleanup(b.Close)
	data := t.TempDir()
	pb := func(args ...string) result {
		t.Helper()
		return cli(t, nil, "", append([]string{"--data", data}, args...)...)
	}
	if r := pb("connect", keyApp(t, a.URL), "--field", "api_key="+apiKey); r.code != 0 {
		t.Fatalf("connect = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := pb("connections", "show", "keyed"); !strings.Contains(r.stdout, "sent only to:    "+origin(t, a.URL)+"\n") {
		t.Errorf("connections show does not say where the credentials go:\n%s", r.stdout)
	}
	other := keyApp(t, b.URL) // another folder, the same key
	bOrigin := origin(t, b.URL)
	want := `connection "keyed" was connected at ` + origin(t, a.URL) + `, not ` + bOrigin + `: its credentials are not sent there`

	r := pb("run", other, "items", "--connection", "keyed")
	if r.code != exitFailure || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "--allow-origin "+bOrigin) {
		t.Errorf("run with the other app = %d\nstderr:\n%s\nwant it to say: %s", r.code, r.stderr, want)
	}
	r = pb("run", keyApp(t, a.URL), "items", "--connection", "keyed", "--base-url", b.URL+"/eu")
	if r.code != exitFailure || !strings.Contains(r.stderr, want) {
		t.Errorf("run with --base-url B = %d\nstderr:\n%s\nwant it to say: %s", r.code, r.stderr, want)
	}
	mu.Lock()
	if len(got) != 0 {
		t.Errorf("B got %d requests, want none", len(got))
	}
	mu.Unlock()

	r = pb("run", other, "items", "--connection", "keyed", "--allow-origin", b.URL)
	if r.code != 0 {
		t.Fatalf("run with --allow-origin = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	noSecret(t, r, apiKey)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Get("X-Api-Key") != apiKey {
		t.Errorf("B got %d requests (%v), want one with the key", len(got), got)
	}
}

func origin(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Scheme + "://" + u.Host
}

// TestRunAllowOriginFlag: --allow-origin takes an origin, nothing more, and needs --connection.
func TestRunAllowOriginFlag(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": goodApp})
	for _, tc := range []struct{ args, want string }{
		{"--allow-origin https://x.example/path --connection c", `for flag -allow-origin: https://x.example with a user, path or query is not an origin: want scheme://host[:port] alone`},
		{"--allow-origin x.example --connection c", `invalid value "x.example" for flag -allow-origin: "x.example" is not an origin: want scheme://host[:port], such as https://api.example.com`},
		{"--allow-origin https://x.example", `--allow-origin needs --connection`},
	} {
		r := cli(t, nil, "", append([]string{"--data", t.TempDir(), "run", dir, "one"}, strings.Fields(tc.args)...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("run %s = %d\n%s\nwant it to say %s", tc.args, r.code, r.stderr, tc.want)
		}
	}
}

// TestValidateDuplicateKey: two apps with one key under one validate are an error naming both
// app.yaml files (a stored connection follows the key).
func TestValidateDuplicateKey(t *testing.T) {
	root := t.TempDir()
	writeApp(t, filepath.Join(root, "a"), map[string]string{"app.yaml": goodApp})
	writeApp(t, filepath.Join(root, "b"), map[string]string{"app.yaml": "# a copy\n" + goodApp})
	r := cli(t, nil, "", "validate", root)
	first, second := filepath.Join(root, "a", "app.yaml"), filepath.Join(root, "b", "app.yaml")
	want := second + `:2:1: app key "good" is also the key of ` + first + `:1:1: a stored connection follows the app key, so the two apps would share connections and credentials; give one another key` + "\n"
	if r.code != exitFailure || r.stdout != want {
		t.Errorf("validate = %d\n%s\nwant\n%s", r.code, r.stdout, want)
	}
}
