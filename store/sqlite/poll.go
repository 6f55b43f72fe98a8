package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// FinishPoll ends a poll run and records its new keys (and, once primed, their runs) in one
// immediate transaction; see automations.Store. The poll's EndedAt (the store's clock when
// zero) is when its keys were seen: a key a poll returns again is seen again then, so a
// provider that keeps listing an item keeps its key however old it is. Only a poll that
// succeeded primes its automation: one that failed found nothing, and the next would start a
// run for every item that exists.
func (s *Store) FinishPoll(ctx context.Context, node string, poll *automations.Run, items []automations.PollItem, limits automations.SeenLimits) ([]*automations.Run, error) {
	op := fmt.Sprintf("finish poll %s", poll.ID)
	var runs []*automations.Run
	var lost bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		finish, err := tx.PrepareContext(ctx, finishSQL)
		if err != nil {
			return err
		}
		defer finish.Close()
		saved, gone, err := finishRun(ctx, tx, finish, node, poll)
		if lost = gone; err != nil || !saved {
			return err
		}
		var primed bool
		err = tx.QueryRowContext(ctx, `SELECT primed FROM automations WHERE id = ?`, poll.AutomationID).Scan(&primed)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		now := poll.EndedAt
		if now.IsZero() {
			now = s.now()
		}
		added, err := recordKeys(ctx, tx, poll.AutomationID, items, now)
		if err != nil {
			return err
		}
		if primed && len(added) > 0 {
			insert, err := tx.PrepareContext(ctx, insertRunSQL)
			if err != nil {
				return err
			}
			defer insert.Close()
			for _, it := range added {
				if _, err := insertRun(ctx, insert, it.Run, now); err != nil {
					return fmt.Errorf("item %q: %w", it.Key, err)
				}
				runs = append(runs, it.Run)
			}
		}
		if !primed && poll.Status == automations.StatusSucceeded {
			if _, err := tx.ExecContext(ctx, `UPDATE automations SET primed = 1 WHERE id = ?`, poll.AutomationID); err != nil {
				return err
			}
		}
		return trimKeys(ctx, tx, poll.AutomationID, len(added) > 0, limits, now)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if lost {
		return nil, fmt.Errorf("%s: %w", op, leaseLost(node, []string{poll.ID}))
	}
	return runs, nil
}

// recordKeys marks the keys of items seen at now for the automation and returns the items whose
// key was new, each key once, in the order of items.
func recordKeys(ctx context.Context, tx *sql.Tx, automationID string, items []automations.PollItem, now time.Time) ([]automations.PollItem, error) {
	if len(items) == 0 {
		return nil, nil
	}
	seen, err := tx.PrepareContext(ctx, `UPDATE seen_keys SET seen_at = ? WHERE automation_id = ? AND key = ?`)
	if err != nil {
		return nil, err
	}
	defer seen.Close()
	add, err := tx.PrepareContext(ctx, `INSERT INTO seen_keys (automation_id, key, seen_at) VALUES (?, ?, ?)`)
	if err != nil {
		return nil, err
	}
	defer add.Close()
	at := formatTime(now)
	var added []automations.PollItem
	for _, it := range items {
		res, err := seen.ExecContext(ctx, at, automationID, it.Key)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			if err != nil {
				return nil, err
			}
			continue // seen before, or earlier in items
		}
		if _, err := add.ExecContext(ctx, automationID, it.Key, at); err != nil {
			return nil, fmt.Errorf("item %q: %w", it.Key, err)
		}
		added = append(added, it)
	}
	return added, nil
}

// trimKeys deletes the automation's keys past limits: older than MaxAge before now, and all
// but the newest Keep. The count can only have grown when keys were added.
func trimKeys(ctx context.Context, tx *sql.Tx, automationID string, added bool, limits automations.SeenLimits, now time.Time) error {
	if limits.MaxAge > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM seen_keys WHERE automation_id = ? AND seen_at < ?`,
			automationID, formatTime(now.Add(-limits.MaxAge))); err != nil {
			return fmt.Errorf("delete old keys: %w", err)
		}
	}
	if limits.Keep > 0 && added {
		if _, err := tx.ExecContext(ctx, `DELETE FROM seen_keys WHERE rowid IN (
				SELECT rowid FROM seen_keys WHERE automation_id = ? ORDER BY seen_at DESC, rowid DESC LIMIT -1 OFFSET ?)`,
			automationID, limits.Keep); err != nil {
			return fmt.Errorf("delete keys past the newest %d: %w", limits.Keep, err)
		}
	}
	return nil
}
