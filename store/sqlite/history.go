package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/automations"
)

// maxListRuns caps RunFilter.Limit.
const maxListRuns = 1000

// Queries of the history; TestQueryPlans holds them to their indexes.
const (
	queueDepthSQL = `SELECT count(*) FROM runs WHERE status IN ('queued', 'running') AND status = 'queued'`
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
