package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// runCols are the columns scanRun reads, in its order; listCols the same without the large
// ones (steps, output), which a listing leaves empty.
const (
	runHead = `id, automation_id, workspace, automation, trigger, kind, slot, item, serial, status, attempt, retry_of,
	not_before, node, lease_expires, queued_at, started_at, ended_at, error, failed_step, `
	runCols  = runHead + `steps, output`
	listCols = runHead + `NULL, NULL`
)

// scanRun reads runCols (or listCols).
func scanRun(sc scanner) (*automations.Run, error) {
	var r automations.Run
	var slot, notBefore, lease, started, ended sql.NullString
	var queued string
	var item, steps, output []byte
	if err := sc.Scan(&r.ID, &r.AutomationID, &r.Workspace, &r.Automation, &r.Trigger, &r.Kind, &slot, &item, &r.Serial,
		&r.Status, &r.Attempt, &r.RetryOf, &notBefore, &r.Node, &lease, &queued, &started, &ended, &r.Error,
		&r.FailedStep, &steps, &output); err != nil {
		return nil, err
	}
	r.Item, r.Steps, r.Output = rawJSON(item), rawJSON(steps), rawJSON(output)
	times := []struct {
		name string
		from sql.NullString
		to   *time.Time
	}{
		{"slot", slot, &r.Slot}, {"not_before", notBefore, &r.NotBefore}, {"lease_expires", lease, &r.LeaseExpires},
		{"queued_at", sql.NullString{String: queued, Valid: true}, &r.QueuedAt},
		{"started_at", started, &r.StartedAt}, {"ended_at", ended, &r.EndedAt},
	}
	for _, t := range times {
		var err error
		if *t.to, err = parseTime(t.from); err != nil {
			return nil, fmt.Errorf("run %s: %s: %w", r.ID, t.name, err)
		}
	}
	return &r, nil
}

func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return b
}

// byQueue orders runs oldest first, as the queue does.
func byQueue(a, b *automations.Run) int {
	if c := a.QueuedAt.Compare(b.QueuedAt); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// nullBytes stores an empty slice as NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// insertRunSQL records a run; onConflictIgnore is appended where a slot's second run is
// dropped rather than an error.
const insertRunSQL = `INSERT INTO runs (` + runCols + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

const onConflictIgnore = ` ON CONFLICT DO NOTHING`

// insertRun records r with stmt (insertRunSQL, prepared in the transaction), filling its ID and
// QueuedAt (with now) when empty, and reports whether a row was inserted.
func insertRun(ctx context.Context, stmt *sql.Stmt, r *automations.Run, now time.Time) (bool, error) {
	if r.ID == "" {
		r.ID = newID()
	}
	if r.QueuedAt.IsZero() {
		r.QueuedAt = now
	}
	res, err := stmt.ExecContext(ctx, r.ID, r.AutomationID, r.Workspace, r.Automation, r.Trigger, r.Kind, nullTime(r.Slot),
		nullBytes(r.Item), r.Serial, r.Status, r.Attempt, r.RetryOf, nullTime(r.NotBefore), r.Node, nullTime(r.LeaseExpires),
		formatTime(r.QueuedAt), nullTime(r.StartedAt), nullTime(r.EndedAt), r.Error, r.FailedStep, nullBytes(r.Steps),
		nullBytes(r.Output))
	if err != nil {
		if isUnique(err) && !r.Slot.IsZero() {
			return false, fmt.Errorf("run %s: automation %s has a run for slot %s already: %w", r.ID, r.AutomationID,
				formatTime(r.Slot), err)
		}
		return false, fmt.Errorf("run %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// EnqueueRuns records runs in one immediate transaction with one prepared statement; see
// automations.Store. QueuedAt, when empty, is the store's clock.
func (s *Store) EnqueueRuns(ctx context.Context, runs []*automations.Run) error {
	if len(runs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, insertRunSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		now := s.now()
		for _, r := range runs {
			if _, err := insertRun(ctx, stmt, r, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %d runs: %w", len(runs), err)
	}
	return nil
}

// claimRunsSQL marks running the oldest claimable queued runs and returns them. The terms
// "status IN ('queued', 'running')" let SQLite use the partial indexes on open runs.
const claimRunsSQL = `UPDATE runs SET status = 'running', node = ?, lease_expires = ?, started_at = ?
	WHERE id IN (
		SELECT r.id FROM runs r
		WHERE r.status IN ('queued', 'running') AND r.status = 'queued'
			AND (r.not_before IS NULL OR r.not_before <= ?)
			AND (r.serial = 0 OR NOT EXISTS (
				SELECT 1 FROM runs o
				WHERE o.automation_id = r.automation_id AND o.status IN ('queued', 'running') AND o.serial = 1
					AND o.id <> r.id AND (o.status = 'running' OR (o.queued_at, o.id) < (r.queued_at, r.id))))
		ORDER BY r.queued_at, r.id LIMIT ?)
	RETURNING ` + runCols

// ClaimRuns moves up to limit claimable queued runs to running in one UPDATE; see
// automations.Store. The serial rule is a NOT EXISTS on the automation's open runs
// (runs_active): a serial run waits while one of its automation's serial runs runs or an older
// one is queued.
func (s *Store) ClaimRuns(ctx context.Context, node string, now time.Time, lease time.Duration, limit int) ([]*automations.Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	var runs []*automations.Run
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimRunsSQL, node, formatTime(now.Add(lease)), formatTime(now), formatTime(now), limit)
		if err != nil {
			return err
		}
		runs, err = scanAll(rows, scanRun)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim runs for %s: %w", node, err)
	}
	slices.SortFunc(runs, byQueue)
	return runs, nil
}

// ExtendLeases moves the lease of node's running runs ids to until, in one statement.
func (s *Store) ExtendLeases(ctx context.Context, node string, ids []string, until time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("extend leases of %s: %w", node, err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET lease_expires = ?
			WHERE id IN (SELECT value FROM json_each(?)) AND status = 'running' AND node = ?`,
			formatTime(until), string(list), node)
		return err
	})
	if err != nil {
		return fmt.Errorf("extend leases of %s: %w", node, err)
	}
	return nil
}

// finishSQL saves a run's end when node still runs it.
const finishSQL = `UPDATE runs SET status = ?, started_at = coalesce(?, started_at), ended_at = ?, error = ?,
	failed_step = ?, steps = ?, output = ?, lease_expires = NULL
	WHERE id = ? AND status = 'running' AND node = ?`

// finishRun saves r's end with stmt (finishSQL). It reports whether r was still node's; a run
// that is not (its lease was lost) is left as it is and returned in lost. A run that is gone
// (its automation was deleted) is neither: it finishes without a record.
func finishRun(ctx context.Context, tx *sql.Tx, stmt *sql.Stmt, node string, r *automations.Run) (saved, lost bool, err error) {
	res, err := stmt.ExecContext(ctx, r.Status, nullTime(r.StartedAt), nullTime(r.EndedAt), r.Error, r.FailedStep,
		nullBytes(r.Steps), nullBytes(r.Output), r.ID, node)
	if err != nil {
		return false, false, fmt.Errorf("run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, false, err
	}
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM runs WHERE id = ?`, r.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	return false, err == nil, err
}

// leaseLost is FinishRuns' error for the runs in ids.
func leaseLost(node string, ids []string) error {
	return fmt.Errorf("run %s no longer running for %s: %w", strings.Join(ids, ", "), node, automations.ErrLeaseLost)
}

// FinishRuns saves the end of runs and records their retries in one immediate transaction,
// with one prepared statement for each; see automations.Store. A run that is gone (its
// automation was deleted) finishes without a record and without an error.
func (s *Store) FinishRuns(ctx context.Context, node string, runs []*automations.Run, retries []*automations.Run) error {
	if retries != nil && len(retries) != len(runs) {
		return fmt.Errorf("finish runs: %d retries for %d runs", len(retries), len(runs))
	}
	if len(runs) == 0 {
		return nil
	}
	var lost []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		finish, err := tx.PrepareContext(ctx, finishSQL)
		if err != nil {
			return err
		}
		defer finish.Close()
		var insert *sql.Stmt
		now := s.now()
		for i, r := range runs {
			saved, gone, err := finishRun(ctx, tx, finish, node, r)
			if err != nil {
				return err
			}
			if gone {
				lost = append(lost, r.ID)
			}
			if !saved || retries == nil || retries[i] == nil {
				continue
			}
			if insert == nil {
				if insert, err = tx.PrepareContext(ctx, insertRunSQL); err != nil {
					return err
				}
				defer insert.Close()
			}
			if _, err := insertRun(ctx, insert, retries[i], now); err != nil {
				return fmt.Errorf("retry of %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("finish %d runs of %s: %w", len(runs), node, err)
	}
	if len(lost) > 0 {
		return fmt.Errorf("finish runs: %w", leaseLost(node, lost))
	}
	return nil
}

// expiredSQL reads the running runs whose lease expired.
const expiredSQL = `SELECT ` + runCols + ` FROM runs
	WHERE status IN ('queued', 'running') AND status = 'running' AND lease_expires <= ?
	ORDER BY queued_at, id LIMIT ?`

// interruptBatch is how many expired runs InterruptExpired marks per transaction.
const interruptBatch = 256

// InterruptExpired marks interrupted the running runs whose lease expired at now (lease_expires
// at or before now), interruptBatch per immediate transaction; see automations.Store.
func (s *Store) InterruptExpired(ctx context.Context, now time.Time, retry func(r *automations.Run) *automations.Run) ([]*automations.Run, error) {
	var all []*automations.Run
	for {
		var batch []*automations.Run
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			rows, err := tx.QueryContext(ctx, expiredSQL, formatTime(now), interruptBatch)
			if err != nil {
				return err
			}
			if batch, err = scanAll(rows, scanRun); err != nil || len(batch) == 0 {
				return err
			}
			mark, err := tx.PrepareContext(ctx, `UPDATE runs SET status = ?, ended_at = ?, error = ?, lease_expires = NULL
				WHERE id = ?`)
			if err != nil {
				return err
			}
			defer mark.Close()
			var insert *sql.Stmt
			for _, r := range batch {
				r.Error = fmt.Sprintf("interrupted: the lease of node %s expired at %s: its process stopped or died while the run ran",
					r.Node, r.LeaseExpires.UTC().Format(time.RFC3339Nano))
				r.Status, r.EndedAt, r.LeaseExpires = automations.StatusInterrupted, now, time.Time{}
				if _, err := mark.ExecContext(ctx, r.Status, formatTime(now), r.Error, r.ID); err != nil {
					return fmt.Errorf("run %s: %w", r.ID, err)
				}
				if retry == nil {
					continue
				}
				next := retry(r)
				if next == nil {
					continue
				}
				if insert == nil {
					if insert, err = tx.PrepareContext(ctx, insertRunSQL); err != nil {
						return err
					}
					defer insert.Close()
				}
				if _, err := insertRun(ctx, insert, next, now); err != nil {
					return fmt.Errorf("retry of %s: %w", r.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return all, fmt.Errorf("interrupt expired runs: %w", err)
		}
		all = append(all, batch...)
		if len(batch) < interruptBatch {
			return all, nil
		}
	}
}
