package connections_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
)

// TestScaffoldLoads: every app `patchbay app init` writes loads with the core blocks, its
// private flows in place.
func TestScaffoldLoads(t *testing.T) {
	// The private flows each kind's app must have once loaded (built-in or written out).
	private := map[string][]string{
		"oauth2":                    {"authorize", "exchange", "refresh", "revoke", "test"},
		"oauth2-client-credentials": {"exchange", "refresh", "test"},
		"token":                     {"exchange", "test"},
		"fields":                    {"test"},
		"basic":                     {"test"},
		"api_key":                   {"test"},
		"oauth1":                    {"test"},
	}
	for _, kind := range connections.AuthKinds {
		t.Run(kind, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "my-app")
			written, err := connections.Scaffold(dir, kind)
			if err != nil {
				t.Fatalf("Scaffold: %v", err)
			}
			want := []string{filepath.Join(dir, "app.yaml")}
			if strings.HasPrefix(kind, "oauth2") {
				want = append(want, filepath.Join(dir, "auth.yaml"))
			}
			if !reflect.DeepEqual(written, want) {
				t.Errorf("Scaffold wrote %q, want %q", written, want)
			}
			prog, err := connections.LoadApp(newRegistry(t), dir)
			if err != nil {
				t.Fatalf("LoadApp: %v", err)
			}
			if prog.App.Key != "myapp" {
				t.Errorf("app key = %q, want myapp", prog.App.Key)
			}
			for _, name := range private[kind] {
				f := prog.Flow(name)
				if f == nil {
					t.Errorf("the app has no %s flow", name)
					continue
				}
				// oauth2's flows are written out for the author to change, not the built-ins.
				if strings.HasPrefix(kind, "oauth2") && name != "test" && strings.HasPrefix(f.Def.File, "builtin:") {
					t.Errorf("flow %s comes from %s, want the written auth.yaml", name, f.Def.File)
				}
			}
		})
	}
}

// TestScaffoldRefuses: an unknown kind, and a folder that has an app already.
func TestScaffoldRefuses(t *testing.T) {
	dir := t.TempDir()
	_, err := connections.Scaffold(dir, "oauth3")
	if want := `auth: "oauth3" is not one of ` + strings.Join(connections.AuthKinds, ", "); err == nil || err.Error() != want {
		t.Errorf("Scaffold(oauth3): err = %v, want %s", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte("app: mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = connections.Scaffold(dir, "none")
	if want := dir + " already has an app.yaml; not overwriting it"; err == nil || err.Error() != want {
		t.Errorf("Scaffold over an app: err = %v, want %s", err, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "app.yaml")); string(b) != "app: mine\n" {
		t.Errorf("app.yaml was changed to %q", b)
	}
	if !slices.Contains(connections.AuthKinds, "oauth2-client-credentials") {
		t.Errorf("AuthKinds = %q, lacks oauth2-client-credentials", connections.AuthKinds)
	}
}

// TestScaffoldOAuth2Connects: the private flows `app init --auth oauth2` writes out connect an
// account against a real authorization server, refresh it and revoke it, once the app's URLs
// point there.
func TestScaffoldOAuth2Connects(t *testing.T) {
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := filepath.Join(t.TempDir(), "acme")
	if _, err := connections.Scaffold(dir, "oauth2"); err != nil {
		t.Fatalf("Scaffold: %v", err)
	}
	path := filepath.Join(dir, "app.yaml")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	app := strings.NewReplacer(
		"https://example.com/oauth/authorize", srv.AuthorizeURL(),
		"https://example.com/oauth/token", srv.TokenURL(),
		"https://example.com/oauth/revoke", srv.RevokeURL(),
		"https://api.example.com/v1", srv.URL+"/api",
	).Replace(string(src))
	if strings.Contains(app, "example.com") {
		t.Fatalf("the scaffold's URLs changed; app.yaml still names example.com:\n%s", app)
	}
	if err := os.WriteFile(path, []byte(app), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := connections.LoadApp(newRegistry(t), dir)
	if err != nil {
		t.Fatalf("LoadApp: %v", err)
	}

	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	srv.AddClient("scaffolded", testClientSecret, []string{testRedirectURL}, oauthtest.ClientOptions{Scopes: []string{"read", "write"}})
	err = m.Store().PutClient(t.Context(), &connections.Client{Workspace: connections.DefaultWorkspace, App: "acme", Name: "acme", ClientID: "scaffolded", Secret: testClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	p := beginOAuth(t, m, prog, "alice")
	q := mustQuery(t, p.AuthorizeURL)
	if q.Get("access_type") != "offline" || q.Get("prompt") != "consent" || q.Get("code_challenge_method") != "S256" || q.Get("scope") != "read write" {
		t.Errorf("authorize URL %s lacks the scaffold's access_type, prompt, PKCE or scopes", p.AuthorizeURL)
	}
	rec, err := m.FinishOAuth(t.Context(), prog, p, approveQuery(t, srv, p))
	if err != nil {
		t.Fatalf("FinishOAuth: %v", err)
	}
	if rec.Label != oauthtest.UserEmail {
		t.Errorf("label = %q, want %s", rec.Label, oauthtest.UserEmail)
	}
	clock.Advance(2 * time.Hour)
	if err := m.Test(t.Context(), prog, reload(t, m, rec)); err != nil {
		t.Fatalf("Test after expiry: %v", err)
	}
	if n := srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("the server got %d refreshes, want 1", n)
	}
	tok := reload(t, m, rec).Creds.Token
	if err := m.Delete(t.Context(), prog, reload(t, m, rec)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if code := apiStatus(t, srv, tok.AccessToken.Reveal()); code != 401 {
		t.Errorf("the API answers the revoked token %d, want 401", code)
	}
}
