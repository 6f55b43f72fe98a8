package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/store/keys"
)

var _ keys.Rotator = (*Store)(nil)

// resealed is one sealed value and where it goes back.
type resealed struct {
	query string // UPDATE with the value first, then args
	value []byte
	args  []any
}

// RotateKey re-encrypts every sealed value (credentials, client secrets, vault values) under
// newKey and records newKey's id, in one immediate transaction: all or nothing. Values open
// with the store's keys or newKey's, so a rotation interrupted after its commit can be run
// again with the same key. Afterwards the store seals with newKey. Use keys.Rotate,
// which also moves the key file.
//
// Re-encrypting leaves no old ciphertext behind in the file: deleted content is zeroed
// (secure_delete) and the WAL is truncated afterwards, so the old key, if it leaked, opens
// nothing that remains.
func (s *Store) RotateKey(ctx context.Context, newKey keys.Key) error {
	if newKey.IsZero() {
		return errors.New("rotate key: no new key")
	}
	// The write lock first, the key after: writers of this process read the key only while
	// they hold the write lock, so none seals under the old key once the new one is recorded.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	defer tx.Rollback()
	old := s.sealKey()
	opener := old.With(newKey)

	var todo []resealed
	for _, t := range []*sealedTable{connsSealed, clientsSealed, vaultSealed} {
		if todo, err = t.reseal(ctx, tx, opener, newKey, todo); err != nil {
			return fmt.Errorf("rotate key: %w", err)
		}
	}
	for _, r := range todo {
		if _, err := tx.ExecContext(ctx, r.query, append([]any{r.value}, r.args...)...); err != nil {
			return fmt.Errorf("rotate key: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('key_id', ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, newKey.ID()); err != nil {
		return fmt.Errorf("rotate key: record key id: %w", err)
	}
	s.mu.Lock()
	err = tx.Commit()
	if err == nil {
		// The old keys stay in the ring to open with: a read whose snapshot predates the
		// commit still holds values sealed under them.
		s.key = newKey.With(old)
	}
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("rotate key: %w", err)
	}
	s.log.Info("master key rotated", "from_key_id", old.ID(), "to_key_id", newKey.ID(), "values", len(todo))
	// Copy the pages into the database file and empty the WAL, so old ciphertexts do not
	// linger in it. Best effort: a reader in another process may hold the WAL.
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		s.log.Warn("checkpoint after key rotation", "err", err)
	}
	return nil
}
