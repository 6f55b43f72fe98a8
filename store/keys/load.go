package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables and file names of the master key.
const (
	// EnvMasterKey holds the master key as the standard base64 of 32 bytes. When it is set,
	// no key file is read or written.
	EnvMasterKey = "PATCHBAY_MASTER_KEY"
	// EnvNewMasterKey holds the key a rotation moves to when EnvMasterKey is set.
	EnvNewMasterKey = "PATCHBAY_NEW_MASTER_KEY"
	// FileName is the key file in the data directory.
	FileName = "master.key"
	// NewFileName is the key a rotation is moving to, until the rotation is committed.
	NewFileName = "master.key.new"
)

// maxFileSize bounds what is read of a key file: its base64 is 44 bytes and a newline.
const maxFileSize = 1024

// Load returns the master key. From EnvMasterKey when it is set (with EnvNewMasterKey added to
// the ring when that is set too); else from the key file FileName in dataDir, created on first
// use with mode 0600 (dataDir with 0700) from crypto/rand. A key file that group or others may
// read or write is refused. When a rotation left NewFileName behind, that key joins the ring,
// so values sealed by an interrupted rotation still open; the store picks the sealing key by
// the id it records (see Key.Select).
func Load(dataDir string) (Key, error) {
	if v, ok := os.LookupEnv(EnvMasterKey); ok {
		k, err := parseEnv(EnvMasterKey, v)
		if err != nil {
			return Key{}, err
		}
		if nv, ok := os.LookupEnv(EnvNewMasterKey); ok {
			nk, err := parseEnv(EnvNewMasterKey, nv)
			if err != nil {
				return Key{}, err
			}
			k = k.With(nk)
		}
		return k, nil
	}
	if dataDir == "" {
		return Key{}, errors.New("load master key: no data directory and " + EnvMasterKey + " is not set")
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Key{}, fmt.Errorf("load master key: %w", err)
	}
	path := filepath.Join(dataDir, FileName)
	newPath := filepath.Join(dataDir, NewFileName)
	k, err := readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		// master.key.new alone: master.key was removed by hand after a rotation re-encrypted
		// the database but before it renamed the new key into place. It is the only key left.
		if nk, nerr := readFile(newPath); nerr == nil {
			return nk, nil
		} else if !errors.Is(nerr, fs.ErrNotExist) {
			return Key{}, fmt.Errorf("load master key: %w", nerr)
		}
		if k, err = create(path); err != nil {
			return Key{}, fmt.Errorf("load master key: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return Key{}, fmt.Errorf("load master key: %w", err)
	}
	// Only once the key file is there: processes starting at once on a new data directory
	// each write a temporary file, and the one linked first is the key of all.
	if err := removeLeftovers(dataDir); err != nil {
		return Key{}, fmt.Errorf("load master key: %w", err)
	}
	nk, err := readFile(newPath)
	switch {
	case err == nil:
		k = k.With(nk)
	case !errors.Is(err, fs.ErrNotExist):
		return Key{}, fmt.Errorf("load master key: %w", err)
	}
	return k, nil
}

// parseEnv parses the value of an environment variable; errors name the variable, never the value.
func parseEnv(name, v string) (Key, error) {
	if v == "" {
		return Key{}, fmt.Errorf("%s is set but empty: want the standard base64 of %d bytes (head -c %d /dev/urandom | base64)", name, Size, Size)
	}
	k, err := Parse(v)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// readFile reads a key file, refusing one that group or others may access.
func readFile(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Key{}, err
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return Key{}, fmt.Errorf("key file %s has mode %04o: group and others must have no access (chmod 600 %s)", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize))
	if err != nil {
		return Key{}, err
	}
	k, err := Parse(string(b))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// create makes a new key file at path. Two processes starting at once must end with one key:
// the key is written to a temporary file and linked into place, which fails when path
// exists; the loser reads the winner's key.
func create(path string) (Key, error) {
	k, err := Generate()
	if err != nil {
		return Key{}, err
	}
	if err := writeNew(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readFile(path)
		}
		return Key{}, err
	}
	return k, nil
}

// tmpPattern is the name of the temporary file a key file is written to first, for
// os.CreateTemp: master.key.123.tmp, master.key.new.456.tmp.
const tmpPattern = ".*.tmp"

// removeLeftovers removes the temporary key files in dir that a process killed while writing a
// key file left behind: one may hold a key, which becomes a retired key after a rotation. A
// writer holds a lock on its temporary file until it is done, and the system releases the lock
// of a killed process, so a file whose lock is free is a leftover.
func removeLeftovers(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, FileName+".") || !strings.HasSuffix(name, ".tmp") {
			continue
		}
		if err := removeUnlocked(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("remove what a killed process left of a key file: %w", err)
		}
	}
	return nil
}

// removeUnlocked removes the file at path unless another process (or another file of this one)
// holds its lock.
func removeUnlocked(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if !tryLock(f) {
		return nil // being written
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// sameFile reports whether fi is the file f is open on.
func sameFile(f *os.File, fi fs.FileInfo) bool {
	cur, err := f.Stat()
	return err == nil && os.SameFile(cur, fi)
}

// errTmpGone is a temporary key file that another process's removeLeftovers removed before its
// writer locked it.
var errTmpGone = errors.New("temporary key file removed before it was linked")

// writeNew writes k to path with mode 0600, failing with fs.ErrExist when path exists. The
// file is complete and synced before it appears under its name.
func writeNew(path string, k Key) error {
	for range 20 {
		if err := writeTmp(path, k); !errors.Is(err, errTmpGone) {
			return err
		}
	}
	return fmt.Errorf("write key file %s: %w", path, errTmpGone)
}

// writeTmp is one attempt of writeNew. The temporary file stays open and locked until it is
// linked into place and removed, so that removeLeftovers leaves it alone.
func writeTmp(path string, k Key) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+tmpPattern) // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		os.Remove(tmp.Name())
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
	}()
	// A start removing leftovers may have locked the file in the instant between the create and
	// this lock: wait for it, then make sure the file was not removed meanwhile.
	if err := lock(tmp); err != nil {
		return err
	}
	if cur, err := os.Lstat(tmp.Name()); err != nil || !sameFile(tmp, cur) {
		return errTmpGone
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := io.WriteString(tmp, k.encode()+"\n"); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return fmt.Errorf("write key file %s: %w", path, fs.ErrExist)
		}
		if _, serr := os.Lstat(tmp.Name()); errors.Is(serr, fs.ErrNotExist) {
			return errTmpGone
		}
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
