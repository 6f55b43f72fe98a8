package keys

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// unsetEnv unsets the key variables for the test and restores them after.
func unsetEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{EnvMasterKey, EnvNewMasterKey} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

func b64(b byte, n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, n)) }

func TestLoadEnv(t *testing.T) {
	k1, _ := fixedKey(t, 1)
	k2, _ := fixedKey(t, 2)
	tests := []struct {
		name, master, next string // next "-": unset
		wantIDs            string
		wantErr            string
	}{
		{"key", b64(1, 32), "-", k1.ID(), ""},
		{"with new key", b64(1, 32), b64(2, 32), k1.ID() + " " + k2.ID(), ""},
		{"empty", "", "-", "", "PATCHBAY_MASTER_KEY is set but empty: want the standard base64 of 32 bytes (head -c 32 /dev/urandom | base64)"},
		{"short", b64(1, 31), "-", "", "PATCHBAY_MASTER_KEY: want the standard base64 of 32 bytes, got 31 bytes"},
		{"not base64", "secret-value!", "-", "", "PATCHBAY_MASTER_KEY: want the standard base64 of 32 bytes: illegal base64 data at input byte 6"},
		{"bad new key", b64(1, 32), "no-pe", "", "PATCHBAY_NEW_MASTER_KEY: want the standard base64 of 32 bytes: illegal base64 data at input byte 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetEnv(t)
			t.Setenv(EnvMasterKey, tt.master)
			if tt.next != "-" {
				t.Setenv(EnvNewMasterKey, tt.next)
			}
			dir := filepath.Join(t.TempDir(), "data")
			k, err := Load(dir)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Load error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(k.IDs()); got != "["+tt.wantIDs+"]" {
				t.Errorf("Load ids = %s, want [%s]", got, tt.wantIDs)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("Load with %s touched the data directory (stat: %v)", EnvMasterKey, err)
			}
		})
	}
}

func TestLoadFileCreates(t *testing.T) {
	unsetEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	k, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, FileName): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %04o, want %04o", path, got, want)
		}
	}
	again, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID() != k.ID() {
		t.Errorf("second Load id = %s, want %s", again.ID(), k.ID())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only %s", len(entries), FileName)
	}
}

// TestLoadFileRace has many goroutines load a fresh directory at once: all get one key.
func TestLoadFileRace(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	ids := make([]string, 16)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, err := Load(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent loads returned different keys: %v", ids)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string // %s: the key file's path
	}{
		{"readable by others", b64(1, 32), 0o644, "load master key: key file %s has mode 0644: group and others must have no access (chmod 600 %[1]s)"},
		{"writable by group", b64(1, 32), 0o620, "load master key: key file %s has mode 0620: group and others must have no access (chmod 600 %[1]s)"},
		{"short", b64(1, 8), 0o600, "load master key: key file %s: want the standard base64 of 32 bytes, got 8 bytes"},
		{"garbage", "hello world", 0o600, "load master key: key file %s: want the standard base64 of 32 bytes: illegal base64 data at input byte 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetEnv(t)
			dir := t.TempDir()
			path := filepath.Join(dir, FileName)
			if err := os.WriteFile(path, []byte(tt.content), tt.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			_, err := Load(dir)
			if want := fmt.Sprintf(tt.wantErr, path); err == nil || err.Error() != want {
				t.Errorf("Load error = %v\nwant %s", err, want)
			}
		})
	}
}

// ring is a Rotator keeping one sealed value in memory, re-sealing it on RotateKey.
type ring struct {
	key    Key
	sealed []byte
	fail   error
}

func (r *ring) RotateKey(_ context.Context, nk Key) error {
	if r.fail != nil {
		return r.fail
	}
	plain, err := r.key.With(nk).Open(r.sealed, nil)
	if err != nil {
		return err
	}
	r.sealed, r.key = nk.Seal(plain, nil), nk
	return nil
}

func TestRotateFiles(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	old, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := &ring{key: old, sealed: old.Seal([]byte("v"), nil)}

	// A failed re-encryption leaves master.key.new; the next Rotate reuses it.
	r.fail = fmt.Errorf("disk full")
	if _, err := Rotate(t.Context(), dir, r); err == nil || err.Error() != "rotate master key: disk full" {
		t.Fatalf("Rotate error = %v", err)
	}
	pending, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.IDs()) != 2 || pending.ID() != old.ID() {
		t.Fatalf("Load during a rotation = %v, want [%s, new]", pending.IDs(), old.ID())
	}
	r.fail = nil
	nk, err := Rotate(t.Context(), dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if nk.ID() != pending.IDs()[1] {
		t.Errorf("Rotate made key %s, want the prepared %s", nk.ID(), pending.IDs()[1])
	}
	after, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.IDs()) != 1 || after.ID() != nk.ID() {
		t.Errorf("Load after Rotate = %v, want [%s]", after.IDs(), nk.ID())
	}
	if _, err := after.Open(r.sealed, nil); err != nil {
		t.Errorf("the rotated value does not open under the loaded key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, NewFileName)); !os.IsNotExist(err) {
		t.Errorf("%s left after Rotate (stat: %v)", NewFileName, err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file after Rotate: %v, %v", fi.Mode(), err)
	}
}

func TestPrepareWithoutKey(t *testing.T) {
	dir := t.TempDir()
	_, err := Prepare(dir)
	want := fmt.Sprintf("prepare new master key: the current key: open %s: no such file or directory", filepath.Join(dir, FileName))
	if err == nil || err.Error() != want {
		t.Errorf("Prepare error = %v, want %q", err, want)
	}
}

func TestRotateEnv(t *testing.T) {
	unsetEnv(t)
	t.Setenv(EnvMasterKey, b64(1, 32))
	old, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	r := &ring{key: old, sealed: old.Seal([]byte("v"), nil)}
	dir := t.TempDir()
	if _, err := Rotate(t.Context(), dir, r); err == nil || err.Error() != "rotate master key: PATCHBAY_MASTER_KEY is set, so the new key must come from PATCHBAY_NEW_MASTER_KEY, which is not set" {
		t.Fatalf("Rotate without the new key: %v", err)
	}
	t.Setenv(EnvNewMasterKey, b64(2, 32))
	nk, err := Rotate(t.Context(), dir, r)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := fixedKey(t, 2)
	if nk.ID() != k2.ID() || r.key.ID() != k2.ID() {
		t.Errorf("Rotate moved to %s, want %s", nk.ID(), k2.ID())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Rotate with %s wrote files: %v", EnvMasterKey, entries)
	}
}
