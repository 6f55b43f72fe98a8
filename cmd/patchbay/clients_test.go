package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/oauthtest"
	"github.com/patchbay/patchbay/store/keys"
)

func TestClients(t *testing.T) {
	noMasterKey(t)
	srv := oauthtest.New(t, oauthtest.Options{})
	dir := oauthApp(t, srv)
	data := t.TempDir()
	pb := func(stdin string, args ...string) result {
		t.Helper()
		return cli(t, nil, stdin, append([]string{"--data", data}, args...)...)
	}
	steps := []struct {
		name           string
		stdin          string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"add", clientSecret + "\n", []string{"clients", "add", "fosite", "--app", dir, "--client-id", "id-1", "--scope", "read", "--scope", "write"},
			0, "added auth client fosite of app fosite, with a secret\n", ""},
		{"add another name", "", []string{"clients", "add", "public", "--app", dir, "--client-id", "id-2", "--redirect-url", "http://127.0.0.1:9999/cb"},
			0, "added auth client public of app fosite, without a secret (a public client)\n",
			"note: app fosite's connections use client \"fosite\" unless patchbay connect is given --client public\n"},
		{"list", "", []string{"clients", "list"}, 0,
			"NAME    APP     CLIENT ID  SECRET  REDIRECT URL              SCOPES\n" +
				"fosite  fosite  id-1       set     -                         read write\n" +
				"public  fosite  id-2       none    http://127.0.0.1:9999/cb  -\n", ""},
		{"delete", "", []string{"clients", "delete", "public", "--app", dir}, 0, "deleted auth client public of app fosite\n", ""},
		{"delete again", "", []string{"clients", "delete", "public", "--app", dir}, 1, "", "error: app fosite has no auth client \"public\"\n"},
		{"delete without app", "", []string{"clients", "delete", "public"}, 2, "", "patchbay clients: clients delete needs --app APP\n"},
		{"add without client id", "", []string{"clients", "add", "x", "--app", dir}, 2, "", "patchbay clients: clients add needs --client-id ID\n"},
		{"bad redirect url", "", []string{"clients", "add", "x", "--app", dir, "--client-id", "i", "--redirect-url", "/cb"}, 2, "",
			"patchbay clients: --redirect-url \"/cb\" is not an absolute URL\n"},
		{"flag of another subcommand", "", []string{"clients", "list", "--client-id", "x"}, 2, "",
			"patchbay clients: clients list does not take --client-id\n"},
		{"unknown subcommand", "", []string{"clients", "lsit"}, 2, "", "patchbay clients: unknown subcommand \"lsit\" (did you mean \"list\"?)\n"},
		{"no subcommand", "", []string{"clients"}, 2, "", "patchbay clients: want a subcommand: add, list, delete\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := pb(s.stdin, s.args...)
			stderr := r.stderr
			if s.code == 2 { // then the usage line
				stderr, _, _ = strings.Cut(stderr, "usage:")
			}
			if r.code != s.code || r.stdout != s.stdout || stderr != s.stderr {
				t.Errorf("patchbay %v = %d\n%s\nstderr:\n%s\nwant %d\n%s\nstderr:\n%s", s.args, r.code, r.stdout, r.stderr, s.code, s.stdout, s.stderr)
			}
			noSecret(t, r, clientSecret)
		})
	}
	t.Run("not an oauth app", func(t *testing.T) {
		ts, _ := keyAPI(t)
		r := pb("x", "clients", "add", "k", "--app", keyApp(t, ts.URL), "--client-id", "i")
		if want := "error: app keyed connects with api_key: auth clients are for oauth2 and oauth1 connections\n"; r.code != 1 || r.stderr != want {
			t.Errorf("clients add = %d %q, want 1 %q", r.code, r.stderr, want)
		}
	})
	scanData(t, data, clientSecret)
}

func TestVault(t *testing.T) {
	noMasterKey(t)
	ts, _ := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	const pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQEFAASCAT\n-----END KEY-----"
	steps := []struct {
		name           string
		stdin          string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"empty", "", []string{"vault", "list"}, 0, "", "the vault of the workspace is empty\n"},
		{"set workspace", "ws-secret-1\n", []string{"vault", "set", "shared"}, 0, "stored shared in the vault of the workspace\n", ""},
		{"set multi-line", pem + "\n", []string{"vault", "set", "signing_key", "--app", dir}, 0, "stored signing_key in the vault of app keyed\n", ""},
		{"set app", "app-secret-2", []string{"vault", "set", "extra", "--app", dir}, 0, "stored extra in the vault of app keyed\n", ""},
		{"list workspace", "", []string{"vault", "list"}, 0, "shared\n", ""},
		{"list app", "", []string{"vault", "list", "--app", dir}, 0, "extra\nshared\nsigning_key\n", ""},
		{"empty value", "", []string{"vault", "set", "nothing"}, 1, "", "error: the value is empty; nothing was stored\n"},
		{"bad name", "v", []string{"vault", "set", "a-b"}, 2, "", "patchbay vault: vault name \"a-b\" must be letters, digits and underscores, as in {{ vault.a-b }}\n"},
		{"delete", "", []string{"vault", "delete", "shared"}, 0, "deleted shared from the vault of the workspace\n", ""},
		{"delete missing", "", []string{"vault", "delete", "shared"}, 1, "", "error: the vault of the workspace has no secret \"shared\"\n"},
		{"list app after delete", "", []string{"vault", "list", "--app", dir}, 0, "extra\nsigning_key\n", ""},
		{"set without name", "", []string{"vault", "set"}, 2, "", "patchbay vault: vault set wants NAME, found 0 arguments\n"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := cli(t, nil, s.stdin, append([]string{"--data", data}, s.args...)...)
			stderr := r.stderr
			if s.code == 2 {
				stderr, _, _ = strings.Cut(stderr, "usage:")
			}
			if r.code != s.code || r.stdout != s.stdout || stderr != s.stderr {
				t.Errorf("patchbay %v = %d\n%s\nstderr:\n%s\nwant %d\n%s\nstderr:\n%s", s.args, r.code, r.stdout, r.stderr, s.code, s.stdout, s.stderr)
			}
			noSecret(t, r, "ws-secret-1", "app-secret-2", "MIIBVwIBADAN")
		})
	}
	// The multi-line value is kept whole, as piped.
	e := &env{getenv: func(string) string { return "" }, data: data, logLevel: "info", stderr: os.Stderr}
	e.log, _ = newLogger(os.Stderr, "warn")
	st, err := e.openStore()
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v, err := st.Vault(t.Context(), connections.DefaultWorkspace, "keyed")
	if err != nil || v["signing_key"].Reveal() != pem || v["extra"].Reveal() != "app-secret-2" {
		t.Errorf("vault of keyed = %v, %v; want the values as piped", v, err)
	}
	scanData(t, data, "ws-secret-1", "app-secret-2", "MIIBVwIBADAN")
}

func TestKeysRotateEnv(t *testing.T) {
	noMasterKey(t)
	data := t.TempDir()
	t.Setenv(keys.EnvMasterKey, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	r := cli(t, nil, "", "--data", data, "keys", "rotate")
	want := "error: PATCHBAY_MASTER_KEY is set, so the new key must come from PATCHBAY_NEW_MASTER_KEY: set it to a new key (head -c 32 /dev/urandom | base64) and run keys rotate again\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("keys rotate = %d %q, want 1 %q", r.code, r.stderr, want)
	}
	t.Setenv(keys.EnvNewMasterKey, "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")
	r = cli(t, nil, "", "--data", data, "keys", "rotate")
	nk, _ := keys.Parse("ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=")
	if r.code != 0 || r.stdout != "rotated the master key: every secret is now under key "+nk.ID()+"\n" ||
		r.stderr != "now set PATCHBAY_MASTER_KEY to the value of PATCHBAY_NEW_MASTER_KEY and unset PATCHBAY_NEW_MASTER_KEY\n" {
		t.Errorf("keys rotate = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, keys.FileName)); !os.IsNotExist(err) {
		t.Errorf("a key file was written with the key in the environment: %v", err)
	}
}
