package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
)

// TestAppInit writes an app of every --auth kind and checks that validate accepts it.
func TestAppInit(t *testing.T) {
	for _, auth := range connections.AuthKinds {
		t.Run(auth, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "my-app")
			r := cli(t, nil, "", "app", "init", dir, "--auth", auth)
			want := "wrote " + filepath.Join(dir, "app.yaml") + "\n"
			if strings.HasPrefix(auth, "oauth2") {
				want += "wrote " + filepath.Join(dir, "auth.yaml") + "\n"
			}
			want += "\nNext, edit " + filepath.Join(dir, "app.yaml") + " (base_url, the endpoints, the test flow), then:\n\n  patchbay validate " + dir + "\n"
			switch auth {
			case "none":
				want += "  patchbay run " + dir + " FLOW\n"
			case "oauth2", "oauth2-client-credentials", "oauth1":
				want += "  patchbay clients add myapp --app " + dir + " --client-id ID    (the secret is asked for)\n"
				fallthrough
			default:
				want += "  patchbay connect " + dir + "\n  patchbay run " + dir + " FLOW --connection myapp\n"
			}
			if r.code != 0 || r.stdout != want || r.stderr != "" {
				t.Fatalf("app init = %d\n%s\nstderr:\n%s\nwant 0\n%s", r.code, r.stdout, r.stderr, want)
			}
			if r := cli(t, nil, "", "validate", dir); r.code != 0 || !strings.HasPrefix(r.stdout, "ok: 1 app, ") {
				t.Errorf("validate = %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			r = cli(t, nil, "", "app", "init", dir, "--auth", auth)
			if want := "error: " + dir + " already has an app.yaml; not overwriting it\n"; r.code != 1 || r.stderr != want || r.stdout != "" {
				t.Errorf("second app init = %d %q %q, want 1 %q", r.code, r.stdout, r.stderr, want)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"app", "init", "x"}, "patchbay app: app init needs --auth, one of " + strings.Join(connections.AuthKinds, ", ") + "\n"},
		{[]string{"app", "init", "x", "--auth", "oauth3"}, "patchbay app: --auth \"oauth3\" is not one of " + strings.Join(connections.AuthKinds, ", ") + "\n"},
		{[]string{"app", "init", "--auth", "none"}, "patchbay app: app init wants DIR, found 0 arguments\n"},
		{[]string{"app", "new", "x"}, "patchbay app: unknown subcommand \"new\"\n"},
	} {
		r := cli(t, nil, "", tt.args...)
		if got, _, _ := strings.Cut(r.stderr, "usage:"); r.code != 2 || got != tt.want {
			t.Errorf("patchbay %v = %d %q, want 2 %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
