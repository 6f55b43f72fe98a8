package connections_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/sqlite"
)

// TestSecretsCacheSeesOtherProcess: the Manager keeps the vault it decrypted between runs, and
// a change made through another store on the same file (another process: patchbay vault set
// while patchbay serve runs) is seen by the next run, a deletion included.
func TestSecretsCacheSeesOtherProcess(t *testing.T) {
	ctx := context.Background()
	key, _ := newMasterKey(t)
	path := filepath.Join(t.TempDir(), "patchbay.db")
	open := func() *sqlite.Store {
		st, err := sqlite.Open(path, key)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	m := connections.NewManager(connections.Config{Store: open()})
	other := open()
	prog := loadApp(t, `app: greeter
flows:
  hello:
    output: "{{ vault?.greeting ?? 'none' }}"
`)
	hello := func() string {
		t.Helper()
		opts, err := m.WorkspaceOptions(ctx, connections.DefaultWorkspace, prog)
		if err != nil {
			t.Fatal(err)
		}
		res, err := prog.Run(ctx, "hello", opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Output.(string)
	}
	if got := hello(); got != "none" {
		t.Fatalf("before any vault entry: %q", got)
	}
	for _, want := range []string{"one", "two"} {
		if err := other.SetVault(ctx, connections.DefaultWorkspace, "", "greeting", connections.Secret(want)); err != nil {
			t.Fatal(err)
		}
		if got := hello(); got != want {
			t.Fatalf("after the other process set %q: the run saw %q", want, got)
		}
		if got := hello(); got != want {
			t.Fatalf("second run after %q: %q", want, got)
		}
	}
	if err := other.SetVault(ctx, connections.DefaultWorkspace, "greeter", "greeting", "app's own"); err != nil {
		t.Fatal(err)
	}
	if got := hello(); got != "app's own" {
		t.Fatalf("after the app's own entry: %q", got)
	}
	for _, app := range []string{"greeter", ""} {
		if err := other.DeleteVault(ctx, connections.DefaultWorkspace, app, "greeting"); err != nil {
			t.Fatal(err)
		}
	}
	if got := hello(); got != "none" {
		t.Fatalf("after the other process deleted the entries: %q", got)
	}
}

// TestSecretsVersionMoves: every change to a vault entry or an auth client moves the store's
// secrets version, a failed one does not.
func TestSecretsVersionMoves(t *testing.T) {
	ctx := context.Background()
	st, _ := openStore(t)
	last, err := st.SecretsVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	step := func(what string, err error, moves bool) {
		t.Helper()
		if err != nil && moves {
			t.Fatalf("%s: %v", what, err)
		}
		v, verr := st.SecretsVersion(ctx)
		if verr != nil {
			t.Fatal(verr)
		}
		if (v != last) != moves {
			t.Fatalf("%s: version %d -> %d, want moved=%v", what, last, v, moves)
		}
		last = v
	}
	ws := connections.DefaultWorkspace
	step("set vault", st.SetVault(ctx, ws, "", "a", "1"), true)
	step("set it again", st.SetVault(ctx, ws, "", "a", "2"), true)
	step("delete vault", st.DeleteVault(ctx, ws, "", "a"), true)
	step("delete a missing vault entry", st.DeleteVault(ctx, ws, "", "a"), false)
	cl := &connections.Client{Workspace: ws, App: "acme", Name: "acme", ClientID: "id", Secret: "s"}
	step("put client", st.PutClient(ctx, cl), true)
	cl.Secret = "s2"
	step("replace client", st.PutClient(ctx, cl), true)
	step("delete client", st.DeleteClient(ctx, ws, "acme", "acme"), true)
	if !strings.Contains(st.DeleteClient(ctx, ws, "acme", "acme").Error(), "not found") {
		t.Fatal("deleting a missing client did not fail")
	}
	step("after the failed delete", nil, false)
}
