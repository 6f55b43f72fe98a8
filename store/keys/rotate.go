package keys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A Rotator re-encrypts every value it keeps under a new key, all or nothing, and records the
// new key's id so that a later open picks it (store/sqlite's Store is one).
type Rotator interface {
	RotateKey(ctx context.Context, newKey Key) error
}

// Rotate moves the store r (opened with the key Load returned) to a new master key and
// returns it.
//
// With the key in files: Prepare writes a new key to NewFileName (or reuses the one an
// interrupted rotation left there), r re-encrypts under it in one transaction, and Commit
// renames NewFileName over FileName. A crash at any point loses nothing: until the rename,
// Load returns both keys and the store seals with the one whose id it recorded; running
// Rotate again finishes the job with the same new key.
//
// With EnvMasterKey set: the new key comes from EnvNewMasterKey and no file is written. After
// Rotate returns, set EnvMasterKey to the new key and unset EnvNewMasterKey; while both are
// set, Load returns both keys, so a restart in between still opens everything.
func Rotate(ctx context.Context, dataDir string, r Rotator) (Key, error) {
	if _, ok := os.LookupEnv(EnvMasterKey); ok {
		v, ok := os.LookupEnv(EnvNewMasterKey)
		if !ok {
			return Key{}, fmt.Errorf("rotate master key: %s is set, so the new key must come from %s, which is not set", EnvMasterKey, EnvNewMasterKey)
		}
		nk, err := parseEnv(EnvNewMasterKey, v)
		if err != nil {
			return Key{}, fmt.Errorf("rotate master key: %w", err)
		}
		if err := r.RotateKey(ctx, nk); err != nil {
			return Key{}, fmt.Errorf("rotate master key: %w", err)
		}
		return nk, nil
	}
	nk, err := Prepare(dataDir)
	if err != nil {
		return Key{}, err
	}
	if err := r.RotateKey(ctx, nk); err != nil {
		return Key{}, fmt.Errorf("rotate master key: %w", err)
	}
	if err := Commit(dataDir); err != nil {
		return Key{}, err
	}
	return nk, nil
}

// Prepare is the first step of Rotate with key files: it returns the key in NewFileName,
// creating the file (mode 0600) with a new random key when there is none. It removes the
// temporary files a key file is written to that a killed process left behind, as Load does.
func Prepare(dataDir string) (Key, error) {
	if err := removeLeftovers(dataDir); err != nil {
		return Key{}, fmt.Errorf("prepare new master key: %w", err)
	}
	path := filepath.Join(dataDir, NewFileName)
	k, err := readFile(path)
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, fmt.Errorf("prepare new master key: %w", err)
	}
	if _, err := readFile(filepath.Join(dataDir, FileName)); err != nil {
		return Key{}, fmt.Errorf("prepare new master key: the current key: %w", err)
	}
	if k, err = create(path); err != nil {
		return Key{}, fmt.Errorf("prepare new master key: %w", err)
	}
	return k, nil
}

// Commit is the last step of Rotate with key files: it renames NewFileName over FileName.
// Call it only after the store has re-encrypted everything under the new key.
func Commit(dataDir string) error {
	if err := os.Rename(filepath.Join(dataDir, NewFileName), filepath.Join(dataDir, FileName)); err != nil {
		return fmt.Errorf("commit new master key: %w", err)
	}
	if err := syncDir(dataDir); err != nil {
		return fmt.Errorf("commit new master key: %w", err)
	}
	return nil
}
