package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Statements the runs' hot paths run in their transactions, besides the queries of
// scheduler.go and runs.go.
const (
	moveSlotSQL  = `UPDATE automations SET next_slot = ? WHERE id = ?`
	interruptSQL = `UPDATE runs SET status = ?, ended_at = ?, error = ?, lease_expires = NULL WHERE id = ?`
	seenAgainSQL = `UPDATE seen_keys SET seen_at = ? WHERE automation_id = ? AND key = ?`
	seenAddSQL   = `INSERT INTO seen_keys (automation_id, key, seen_at) VALUES (?, ?, ?)`
)

// hotQueries are prepared once per connection of the write pool and kept (Store.stmt), not
// parsed again in every transaction: parsing ClaimRuns' query takes longer than running it on a
// short queue, ClaimDue's query about 24 µs.
var hotQueries = []string{
	insertRunSQL, insertRunSQL + onConflictIgnore, finishSQL, claimableSQL, claimSQL, claimDueSQL, expiredSQL,
	moveSlotSQL, interruptSQL, seenAgainSQL, seenAddSQL,
}

// prepareHot prepares hotQueries on the write pool. Open calls it once the schema is there,
// before any transaction: a statement prepared on the pool inside a transaction could wait for
// a connection that transaction's peers hold.
func (s *Store) prepareHot(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt, len(hotQueries))
	for _, q := range hotQueries {
		st, err := s.w.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare statements: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// stmt returns the hot query for tx. database/sql prepares it on the transaction's connection
// the first time that connection runs it, and reuses it from then on.
func (s *Store) stmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	st, ok := s.stmts[query]
	if !ok {
		panic("sqlite: statement not in hotQueries: " + query)
	}
	return tx.StmtContext(ctx, st)
}

// closeStmts closes the prepared hot queries.
func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}
