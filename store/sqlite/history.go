package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// maxListRuns caps RunFilter.Limit.
const maxListRuns = 1000

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
	var where []string
	var args []any
	add := func(cond string, a ...any) { where, args = append(where, cond), append(args, a...) }
	add("workspace = ?", f.Workspace)
	if f.AutomationID != "" {
		add("automation_id = ?", f.AutomationID)
	}
	if f.Status != "" {
		add("status = ?", f.Status)
	}
	if f.Before != "" {
		var queued string
		err := s.r.QueryRowContext(ctx, `SELECT queued_at FROM runs WHERE id = ?`, f.Before).Scan(&queued)
		if err != nil {
			return nil, fmt.Errorf("list runs before %s: %w", f.Before, notFound(err))
		}
		add("(queued_at, id) < (?, ?)", queued, f.Before)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+listCols+` FROM runs WHERE `+strings.Join(where, " AND ")+`
		ORDER BY queued_at DESC, id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	list, err := scanAll(rows, scanRun)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return list, nil
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
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM runs WHERE status IN ('queued', 'running') AND status = 'queued'`).
		Scan(&n); err != nil {
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
	rows, err := s.r.QueryContext(ctx, `SELECT id FROM (
			SELECT id, status, queued_at,
				row_number() OVER (PARTITION BY automation_id ORDER BY queued_at DESC, id DESC) AS n
			FROM runs)
		WHERE status NOT IN ('queued', 'running') AND ((? > 0 AND n > ?) OR queued_at < ?)
		LIMIT ?`, rank, rank, nullTime(before), batch)
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
