package sqlite

import (
	"context"
	"database/sql"
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
// BEGIN IMMEDIATE takes SQLite's write lock, so Locked excludes every other write to the
// database, in this process and in any other, until it commits; waiters wait up to the busy
// timeout. fn must be quick and must not wait for anything: no network call (a refresh
// takes the lease, TakeLease), and none of the Store's write methods (they would wait for
// the lock fn holds, and fail with "database is locked" after the busy timeout). Reads from
// fn are fine.
//
// The caller's ctx bounds the wait for the lock and the read. Once fn has returned, its
// record is saved even if ctx is done. If the save fails (a rename onto another connection's
// name: ErrExists), nothing is saved and Locked returns a nil record and an error joining the
// save's error and fn's. If fn panics, the transaction is rolled back and the panic goes on.
// fn is not called when the row is missing (ErrNotFound) or when the store's key is not the
// one the database records: a record fn changed could not be saved.
func (s *Store) Locked(ctx context.Context, id string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
	return s.modify(ctx, "lock connection "+id, id, "", fn)
}

// TakeLease gives holder the connection's refresh lease until d from now on the store's
// clock, in one short immediate transaction; see connections.Store. It reads the record in
// that transaction, so what the holder decides on is what any save before the lease was taken
// left. It never waits for the lease: a caller that finds it held polls again.
func (s *Store) TakeLease(ctx context.Context, id, holder string, d time.Duration) (*connections.Record, error) {
	op := "take lease of connection " + id
	if holder == "" || d <= 0 {
		return nil, fmt.Errorf("%s: a lease needs a holder and a positive duration (holder %q, %v)", op, holder, d)
	}
	tx, _, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot seal credentials: %w", op, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	cur, expires, err := leaseOf(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if cur != "" && cur != holder && expires.After(now) {
		return nil, fmt.Errorf("%s: %w", op, &connections.LeaseHeldError{Holder: cur, Expires: expires})
	}
	if _, err := tx.ExecContext(ctx, `UPDATE connections SET lease_holder = ?, lease_expires = ? WHERE id = ?`,
		holder, formatTime(now.Add(d)), id); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rec, err := s.byID(ctx, tx, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return rec, nil
}

// ReleaseLease checks that holder still holds the connection's lease, runs fn with the
// current record, saves the record fn returns and releases the lease, in one short immediate
// transaction, as Locked does; see connections.Store. A nil fn only releases the lease.
func (s *Store) ReleaseLease(ctx context.Context, id, holder string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
	if holder == "" {
		return nil, fmt.Errorf("release lease of connection %s: no holder", id)
	}
	if fn == nil {
		fn = func(*connections.Record) (*connections.Record, error) { return nil, nil }
	}
	return s.modify(ctx, "release lease of connection "+id, id, holder, fn)
}

// leaseOf reads the lease of the connection id: its holder ("" for none) and expiry.
func leaseOf(ctx context.Context, q querier, id string) (string, time.Time, error) {
	var holder string
	var expires sql.NullString
	err := q.QueryRowContext(ctx, `SELECT lease_holder, lease_expires FROM connections WHERE id = ?`, id).Scan(&holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, connections.ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, err
	}
	exp, err := parseTime(expires)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("lease_expires: %w", err)
	}
	return holder, exp, nil
}

// modify is Locked, and ReleaseLease when holder is not "": then the lease must be holder's,
// and is released in the transaction that saves fn's record.
func (s *Store) modify(ctx context.Context, op, id, holder string, fn func(cur *connections.Record) (*connections.Record, error)) (*connections.Record, error) {
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
	if holder != "" {
		cur, _, err := leaseOf(ctx, conn, id)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		if cur != holder {
			return nil, fmt.Errorf("%s: %w", op, connections.ErrLeaseLost)
		}
	}
	cur, err := s.byID(ctx, conn, id)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	rec, fnErr := fn(cur)
	if rec == nil && holder == "" {
		return cur, fnErr // the deferred ROLLBACK ends a transaction that wrote nothing
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	now := s.now().UTC()
	if rec != nil {
		rec.ID = id
		if err := s.update(sctx, conn, key, id, rec, now); err != nil {
			return nil, errors.Join(fmt.Errorf("%s: save: %w", op, err), fnErr)
		}
	}
	if holder != "" {
		if _, err := conn.ExecContext(sctx, `UPDATE connections SET lease_holder = '', lease_expires = NULL WHERE id = ?`, id); err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", op, err), fnErr)
		}
	}
	if _, err := conn.ExecContext(sctx, "COMMIT"); err != nil {
		return nil, errors.Join(fmt.Errorf("%s: commit: %w", op, err), fnErr)
	}
	done = true
	if rec == nil {
		return cur, fnErr
	}
	rec.CreatedAt, rec.UpdatedAt = cur.CreatedAt, now
	return rec, fnErr
}
