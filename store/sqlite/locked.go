package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// saveTimeout bounds saving fn's record once fn has returned. The save runs without the
// caller's cancellation: a refresh token the provider just rotated must not be lost because
// the caller gave up.
const saveTimeout = 30 * time.Second

// Locked runs fn with the connection's current record inside an immediate transaction on one
// dedicated connection, saves the record fn returns in that transaction, and commits; see
// connections.Store.
//
// BEGIN IMMEDIATE takes SQLite's write lock, so Locked excludes every other Locked call and
// every other write to the database, in this process and in any other, until it commits;
// waiters wait up to the busy timeout. Keep fn short (one token request), and do not call
// the Store's write methods from fn: they wait for the lock fn holds, and fail with
// "database is locked" after the busy timeout. Reads from fn are fine.
//
// The caller's ctx bounds the wait for the lock and the read. Once fn has returned, its
// record is saved even if ctx is done. If the save fails (a rename onto another connection's
// name: ErrExists), nothing is saved and Locked returns a nil record and an error joining the
// save's error and fn's. If fn panics, the transaction is rolled back and the panic goes on.
// fn is not called when the row is missing (ErrNotFound) or when the store's key is not the
// one the database records: a token fn obtained could not be saved.
func (s *Store) Locked(ctx context.Context, id string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
	op := "lock connection " + id
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			// The transaction may still be open: drop the connection rather than pool it.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	key := s.sealKey()
	if err := checkKey(ctx, conn, key); err != nil {
		return nil, fmt.Errorf("%s: cannot seal credentials: %w", op, err)
	}
	cur, err := s.byID(ctx, conn, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rec, fnErr := fn(cur)
	if rec == nil {
		return cur, fnErr // the deferred ROLLBACK ends a transaction that wrote nothing
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	now := s.now().UTC()
	rec.ID = id
	if err := s.update(sctx, conn, key, id, rec, now); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: save: %w", op, err), fnErr)
	}
	if _, err := conn.ExecContext(sctx, "COMMIT"); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: commit: %w", op, err), fnErr)
	}
	done = true
	rec.CreatedAt, rec.UpdatedAt = cur.CreatedAt, now
	return rec, fnErr
}
