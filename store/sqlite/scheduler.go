package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// Queries of the scheduler; TestQueryPlans holds them to their indexes.
const (
	nextDueSQL = `SELECT min(next_slot) FROM automations WHERE enabled = 1 AND next_slot IS NOT NULL`
	// claimDueSQL reads the due automations, earliest first, each with whether it has a slot
	// or serial run queued or running.
	claimDueSQL = `SELECT ` + automationCols + `, EXISTS (
			SELECT 1 FROM runs r WHERE r.automation_id = a.id AND r.status IN ('queued', 'running')
				AND (r.serial = 1 OR r.slot IS NOT NULL))
		FROM automations a WHERE enabled = 1 AND next_slot IS NOT NULL AND next_slot <= ?
		ORDER BY next_slot LIMIT ?`
)

// NextDue returns the earliest next slot of the enabled automations: the first entry of the
// automations_due index.
func (s *Store) NextDue(ctx context.Context) (time.Time, error) {
	var next sql.NullString
	if err := s.r.QueryRowContext(ctx, nextDueSQL).Scan(&next); err != nil {
		return time.Time{}, fmt.Errorf("next due slot: %w", err)
	}
	t, err := parseTime(next)
	if err != nil {
		return time.Time{}, fmt.Errorf("next due slot: %w", err)
	}
	return t, nil
}

// ClaimDue claims up to limit due automations in one immediate transaction; see
// automations.Store. The write lock SQLite takes at BEGIN IMMEDIATE stands in for the row
// locks of FOR UPDATE SKIP LOCKED (doc.go): another process's ClaimDue waits for this one and
// then sees the slots it moved on. It reads the due automations with whether each is active,
// calls plan for each, then records the runs and moves the slots with two prepared statements.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, plan func(a *automations.Automation, active bool) automations.Claim) ([]*automations.Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	var runs []*automations.Run
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, claimDueSQL, formatTime(now), limit)
		if err != nil {
			return err
		}
		type due struct {
			a      *automations.Automation
			active bool
		}
		list, err := scanAll(rows, func(sc scanner) (d due, err error) {
			d.a, err = scanAutomationWith(sc, &d.active)
			return d, err
		})
		if err != nil || len(list) == 0 {
			return err
		}
		insert, err := tx.PrepareContext(ctx, insertRunSQL+onConflictIgnore)
		if err != nil {
			return err
		}
		defer insert.Close()
		move, err := tx.PrepareContext(ctx, `UPDATE automations SET next_slot = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer move.Close()
		for _, d := range list {
			c := plan(d.a, d.active)
			if c.Run != nil {
				added, err := insertRun(ctx, insert, c.Run, now)
				if err != nil {
					return fmt.Errorf("automation %s: %w", d.a.ID, err)
				}
				if added {
					runs = append(runs, c.Run)
				}
			}
			if _, err := move.ExecContext(ctx, nullTime(c.Next), d.a.ID); err != nil {
				return fmt.Errorf("automation %s: %w", d.a.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due automations: %w", err)
	}
	return runs, nil
}
