package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// maxListRuns caps RunFilter.Limit.
const maxListRuns = 1000

// Queries of the history; TestQueryPlans holds them to their indexes.
const (
	queueDepthSQL = `SELECT count(*) FROM runs WHERE status IN ('queued', 'running') AND status = 'queued'`
	// pruneSQL finds ended runs past the newest keep of their automation (rank; -1: none is)
	// or queued before a time, ranking along runs_by_automation with no sort.
	pruneSQL = `SELECT id FROM (
			SELECT id, status, queued_at,
				row_number() OVER (PARTITION BY automation_id ORDER BY queued_at DESC, id DESC) AS n
			FROM runs)
		WHERE status NOT IN ('queued', 'running') AND ((? > 0 AND n > ?) OR queued_at < ?)
		LIMIT ?`
)

// Run returns the run with id, with its steps and output.
func (s *Store) Run(ctx context.Context, id string) (*automations.Run, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, notFound(err))
	}
	return r, nil
}

// Runs lists runs newest first; see automations.Store. A Before that names no run is
// ErrNotFound.
func (s *Store) Runs(ctx context.Context, f automations.RunFilter) ([]*automations.Run, error) {
	if f.Workspace == "" {
		return nil, errors.New("list runs: no workspace")
	}
	limit := f.Limit
	if limit <= 0 || limit > maxListRuns {
		limit = maxListRuns
	}
	var before []any
	if f.Before != "" {
		var queued string
		err := s.r.QueryRowContext(ctx, `SELECT queued_at FROM runs WHERE id = ?`, f.Before).Scan(&queued)
		if err != nil {
			return nil, fmt.Errorf("list runs before %s: %w", f.Before, notFound(err))
		}
		before = []any{queued, f.Before}
	}
	query, args := runsSQL(f, before, limit)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	list, err := scanAll(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return list, nil
}

// runsSQL is the query of Runs, and its arguments; before is the cursor's (queued_at, id) or
// nil. With an automation, the workspace is a mere filter (+workspace: SQLite uses no index for
// it), so the automation's runs are read along runs_by_automation, not the workspace's all.
func runsSQL(f automations.RunFilter, before []any, limit int) (string, []any) {
	where, args := "workspace = ?", []any{f.Workspace}
	if f.AutomationID != "" {
		where, args = "+workspace = ? AND automation_id = ?", append(args, f.AutomationID)
	}
	if f.Status != "" {
		where, args = where+" AND status = ?", append(args, f.Status)
	}
	if before != nil {
		where, args = where+" AND (queued_at, id) < (?, ?)", append(args, before...)
	}
	return `SELECT ` + listCols + ` FROM runs WHERE ` + where + ` ORDER BY queued_at DESC, id DESC LIMIT ?`, append(args, limit)
}

// LastRun returns the newest run of the automation.
func (s *Store) LastRun(ctx context.Context, automationID string) (*automations.Run, error) {
	r, err := scanRun(s.r.QueryRowContext(ctx, `SELECT `+runCols+` FROM runs WHERE automation_id = ?
		ORDER BY queued_at DESC, id DESC LIMIT 1`, automationID))
	if err != nil {
		return nil, fmt.Errorf("last run of automation %s: %w", automationID, notFound(err))
	}
	return r, nil
}

// QueueDepth counts the queued runs (from the runs_open index).
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, queueDepthSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	return n, nil
}

// PruneRuns deletes up to batch ended runs past the limits; see automations.Store. keep <= 0
// keeps any number and a zero before any age. It finds them in a read transaction, which
// holds no lock under WAL, ranking each automation's runs newest first along
// runs_by_automation, and deletes them by id in a short immediate one. Ended runs do not
// change, and a run found deletable stays so (runs added later are newer), so nothing is lost
// between the two.
func (s *Store) PruneRuns(ctx context.Context, keep int, before time.Time, batch int) (int, error) {
	if batch <= 0 || (keep <= 0 && before.IsZero()) {
		return 0, nil
	}
	rank := keep
	if rank <= 0 {
		rank = -1 // no rank is past it
	}
	rows, err := s.r.QueryContext(ctx, pruneSQL, rank, rank, nullTime(before), batch)
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("prune runs: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	var n int64
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM runs WHERE id IN (SELECT value FROM json_each(?))
			AND status NOT IN ('queued', 'running')`, string(list))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune runs: %w", err)
	}
	return int(n), nil
}
