package sqlite

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

// readAll reads every secret of the store, failing the test on an error.
func readAll(t *testing.T, s *Store, id string) string {
	t.Helper()
	ctx := t.Context()
	rec, err := s.ConnectionByID(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Client(ctx, "default", "asana", "main")
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Vault(ctx, "default", "asana")
	if err != nil {
		t.Fatal(err)
	}
	return rec.Creds.Fields["password"].Reveal() + " " + rec.Creds.Token.RefreshToken.Reveal() + " " +
		c.Secret.Reveal() + " " + v["api"].Reveal()
}

var allSecrets = secrets["field"] + " " + secrets["refresh token"] + " " + secrets["client secret"] + " " + secrets["vault value"]

func TestRotateKey(t *testing.T) {
	ctx := t.Context()
	path := dbPath(t)
	oldKey, newKey := testKey(t, 1), testKey(t, 2)
	s, err := Open(path, oldKey)
	if err != nil {
		t.Fatal(err)
	}
	rec := writeSecrets(t, s)
	var before []byte
	if err := s.r.QueryRow(`SELECT creds FROM connections WHERE id = ?`, rec.ID).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := s.RotateKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, s, rec.ID); got != allSecrets {
		t.Errorf("after RotateKey the store reads %q, want %q", got, allSecrets)
	}
	// Writes go on under the new key.
	if err := s.SetVault(ctx, "default", "", "later", "v"); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The old ciphertext is gone from the files, so a leaked old key opens nothing.
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err == nil && bytes.Contains(b, before) {
			t.Errorf("%s still holds the ciphertext sealed under the old key", filepath.Base(path+suffix))
		}
	}

	n := open(t, path, newKey)
	if got := readAll(t, n, rec.ID); got != allSecrets {
		t.Errorf("reopened with the new key: %q, want %q", got, allSecrets)
	}
	o := open(t, path, oldKey)
	_, err = o.ConnectionByID(ctx, rec.ID)
	want := fmt.Sprintf("get connection %s: default/asana/work: cannot decrypt credentials: the master key does not match the one they were sealed with (key id %s, have %s)",
		rec.ID, newKey.ID(), oldKey.ID())
	if err == nil || err.Error() != want {
		t.Errorf("old key after rotation: %v\nwant %s", err, want)
	}
}

// TestRotateAllOrNothing: one value that does not open stops the rotation before it changes
// anything.
func TestRotateAllOrNothing(t *testing.T) {
	ctx := t.Context()
	oldKey, newKey := testKey(t, 1), testKey(t, 2)
	s := open(t, dbPath(t), oldKey)
	rec := writeSecrets(t, s)
	if err := s.SetVault(ctx, "w", "", "broken", "x"); err != nil {
		t.Fatal(err)
	}
	// A value sealed for another row: it does not open where it is.
	if _, err := s.w.ExecContext(ctx, `UPDATE vault SET value = ? WHERE name = 'broken'`, oldKey.Seal([]byte("x"), []byte("elsewhere"))); err != nil {
		t.Fatal(err)
	}
	err := s.RotateKey(ctx, newKey)
	if want := "rotate key: vault w/broken: cannot decrypt vault value: the sealed value is corrupt or belongs to another record"; err == nil || err.Error() != want {
		t.Fatalf("RotateKey = %v, want %q", err, want)
	}
	if got := readAll(t, s, rec.ID); got != allSecrets {
		t.Errorf("after a failed rotation: %q", got)
	}
	if id, err := dbKeyID(ctx, s.r); err != nil || id != oldKey.ID() {
		t.Errorf("key id after a failed rotation = %s, %v; want %s", id, err, oldKey.ID())
	}
	var creds []byte
	if err := s.r.QueryRow(`SELECT creds FROM connections WHERE id = ?`, rec.ID).Scan(&creds); err != nil {
		t.Fatal(err)
	}
	if by, _ := keys.SealedBy(creds); by != oldKey.ID() {
		t.Errorf("credentials sealed by %s after a failed rotation, want %s", by, oldKey.ID())
	}
}

// TestRotateStaleProcess: a second store that kept the old key is refused writes and cannot
// read the re-encrypted values, rather than mixing keys.
func TestRotateStaleProcess(t *testing.T) {
	ctx := t.Context()
	path := dbPath(t)
	oldKey, newKey := testKey(t, 1), testKey(t, 2)
	a, b := open(t, path, oldKey), open(t, path, oldKey)
	rec := writeSecrets(t, a)
	if err := a.RotateKey(ctx, newKey); err != nil {
		t.Fatal(err)
	}
	mismatch := fmt.Sprintf("the master key does not match the one they were sealed with (key id %s, have %s)", newKey.ID(), oldKey.ID())
	err := b.SetVault(ctx, "default", "", "x", "v")
	if want := "set vault default/x: cannot seal vault value: " + mismatch; err == nil || err.Error() != want {
		t.Errorf("stale store write: %v\nwant %s", err, want)
	}
	_, err = b.Locked(ctx, rec.ID, increment)
	if want := "lock connection " + rec.ID + ": cannot seal credentials: " + mismatch; err == nil || err.Error() != want {
		t.Errorf("stale store Locked: %v\nwant %s", err, want)
	}
	if got := readAll(t, a, rec.ID); got != allSecrets {
		t.Errorf("rotating store reads %q", got)
	}
}

// unsetKeyEnv runs the test with the key variables unset.
func unsetKeyEnv(t *testing.T) {
	for _, name := range []string{keys.EnvMasterKey, keys.EnvNewMasterKey} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

// TestRotateCrashPoints runs keys.Rotate's steps one by one and, after each, does what a
// restarted process would: Load the key, Open the store, read everything, write. Then it runs
// Rotate again, which must finish the job with the same new key.
func TestRotateCrashPoints(t *testing.T) {
	steps := []string{"prepared", "re-encrypted", "committed"}
	for crash := range steps {
		t.Run("after "+steps[crash], func(t *testing.T) {
			unsetKeyEnv(t)
			ctx := t.Context()
			dir := t.TempDir()
			path := filepath.Join(dir, "patchbay.db")
			oldKey, err := keys.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, oldKey)
			if err != nil {
				t.Fatal(err)
			}
			rec := writeSecrets(t, s)

			newKey, err := keys.Prepare(dir)
			if err != nil {
				t.Fatal(err)
			}
			if crash >= 1 {
				if err := s.RotateKey(ctx, newKey); err != nil {
					t.Fatal(err)
				}
			}
			if crash >= 2 {
				if err := keys.Commit(dir); err != nil {
					t.Fatal(err)
				}
			}
			s.Close() // the crash

			restart := func(want keys.Key) *Store {
				t.Helper()
				k, err := keys.Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				r := open(t, path, k)
				if r.sealKey().ID() != want.ID() {
					t.Errorf("restarted store seals with %s, want %s", r.sealKey().ID(), want.ID())
				}
				if got := readAll(t, r, rec.ID); got != allSecrets {
					t.Errorf("after a restart: %q, want %q", got, allSecrets)
				}
				return r
			}
			sealing := oldKey
			if crash >= 1 {
				sealing = newKey
			}
			r := restart(sealing)
			if _, err := r.Locked(ctx, rec.ID, func(cur *connections.Record) (*connections.Record, error) {
				cur.Creds.Token.RefreshToken = connections.Secret(secrets["refresh token"]) // rewritten under the sealing key
				return cur, nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := r.SetVault(ctx, "default", "", "after-crash", "v"); err != nil {
				t.Fatal(err)
			}

			// Rotate again: it finishes an unfinished rotation with the prepared key.
			again, err := keys.Rotate(ctx, dir, r)
			if err != nil {
				t.Fatal(err)
			}
			if crash < 2 && again.ID() != newKey.ID() {
				t.Errorf("Rotate after a crash made key %s, want the prepared %s", again.ID(), newKey.ID())
			}
			r.Close()
			if _, err := os.Stat(filepath.Join(dir, keys.NewFileName)); !os.IsNotExist(err) {
				t.Errorf("%s left after Rotate (stat: %v)", keys.NewFileName, err)
			}
			final := restart(again)
			if v, err := final.Vault(ctx, "default", ""); err != nil || v["after-crash"].Reveal() != "v" {
				t.Errorf("value written after the crash: %v, %v", v, err)
			}
		})
	}
}

func TestRotateEnv(t *testing.T) {
	unsetKeyEnv(t)
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "patchbay.db")
	oldRaw, newRaw := bytes.Repeat([]byte{1}, keys.Size), bytes.Repeat([]byte{2}, keys.Size)
	t.Setenv(keys.EnvMasterKey, base64.StdEncoding.EncodeToString(oldRaw))
	k, err := keys.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path, k)
	rec := writeSecrets(t, s)
	t.Setenv(keys.EnvNewMasterKey, base64.StdEncoding.EncodeToString(newRaw))
	nk, err := keys.Rotate(ctx, dir, s)
	if err != nil {
		t.Fatal(err)
	}
	if nk.ID() != testKey(t, 2).ID() {
		t.Errorf("Rotate moved to %s, want %s", nk.ID(), testKey(t, 2).ID())
	}
	s.Close()
	// Restarted with both variables still set, then with the new key alone.
	for _, env := range []func(){
		func() {},
		func() {
			t.Setenv(keys.EnvMasterKey, base64.StdEncoding.EncodeToString(newRaw))
			os.Unsetenv(keys.EnvNewMasterKey)
		},
	} {
		env()
		k, err := keys.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Open(path, k)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, r, rec.ID); got != allSecrets {
			t.Errorf("after an env rotation: %q", got)
		}
		if r.sealKey().ID() != nk.ID() {
			t.Errorf("seals with %s, want %s", r.sealKey().ID(), nk.ID())
		}
		r.Close()
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data dir after an env rotation holds %v, want only the database", names)
	}
}

func TestRotateZeroKey(t *testing.T) {
	s := open(t, dbPath(t), testKey(t, 1))
	if err := s.RotateKey(t.Context(), keys.Key{}); err == nil || err.Error() != "rotate key: no new key" {
		t.Errorf("RotateKey(zero) = %v", err)
	}
}

// TestDeletedLeavesNoCiphertext: a deleted connection's sealed credentials are zeroed in the
// file (secure_delete), so a key that leaks after a rotation opens nothing left behind.
func TestDeletedLeavesNoCiphertext(t *testing.T) {
	ctx := t.Context()
	path := dbPath(t)
	s, err := Open(path, testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	keep, gone := record("asana", "keep"), record("asana", "gone")
	for _, r := range []*connections.Record{keep, gone} {
		if err := s.CreateConnection(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var sealed []byte
	if err := s.r.QueryRow(`SELECT creds FROM connections WHERE id = ?`, gone.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, sealed) {
		t.Errorf("the database file still holds the deleted connection's sealed credentials")
	}
}
