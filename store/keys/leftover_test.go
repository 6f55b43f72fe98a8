package keys

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// killedRotation leaves in dir what a keys rotate killed with -9 while writing master.key.new
// leaves: the temporary file of the new key, complete and already linked into place when the
// kill came after the link (it holds the key that becomes master.key, and a retired key after
// the next rotation), an empty one when it came right after the file was made, and one of a
// first start's master.key. It returns the names it made.
func killedRotation(t *testing.T, dir string) []string {
	t.Helper()
	key, err := os.ReadFile(filepath.Join(dir, NewFileName))
	if err != nil {
		t.Fatal(err)
	}
	left := map[string][]byte{
		NewFileName + ".1804289383.tmp": key,
		NewFileName + ".846930886.tmp":  nil,
		FileName + ".1681692777.tmp":    nil,
	}
	var names []string
	for name, content := range left {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// leftovers lists the files in dir that are neither key file.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); n != FileName && n != NewFileName {
			names = append(names, n)
		}
	}
	return names
}

// TestKilledRotationLeftovers: a rotation killed while writing master.key.new left its
// temporary files, one holding what later becomes a retired master key, and no later start or
// rotation removed them. The next start removes them, and so does the next rotation.
func TestKilledRotationLeftovers(t *testing.T) {
	for _, next := range []string{"start", "rotation"} {
		t.Run("next "+next, func(t *testing.T) {
			unsetEnv(t)
			dir := t.TempDir()
			old, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Prepare(dir); err != nil {
				t.Fatal(err)
			}
			left := killedRotation(t, dir)
			switch next {
			case "start":
				k, err := Load(dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(k.IDs()) != 2 || k.ID() != old.ID() {
					t.Errorf("Load after the kill = %v, want the old key and the prepared one", k.IDs())
				}
			case "rotation":
				r := &ring{key: old, sealed: old.Seal([]byte("v"), nil)}
				if _, err := Rotate(t.Context(), dir, r); err != nil {
					t.Fatal(err)
				}
			}
			if got := leftovers(t, dir); len(got) != 0 {
				t.Errorf("after the next %s the data directory holds %v, want none of %v", next, got, left)
			}
		})
	}
}

// TestPrepareWhileAnotherStarts: a start that removes leftovers while a rotation writes
// master.key.new removes the rotation's temporary file before it is linked; the rotation
// writes it again rather than fail.
func TestPrepareWhileAnotherStarts(t *testing.T) {
	unsetEnv(t)
	dir := t.TempDir()
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
				if _, err := Load(dir); err != nil {
					t.Error(err)
					return
				}
			}
		}
	})
	for range 50 {
		if _, err := Prepare(dir); err != nil {
			t.Errorf("Prepare while another process starts: %v", err)
			break
		}
		if err := os.Remove(filepath.Join(dir, NewFileName)); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	wg.Wait()
}
