package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
)

var _ automations.Store = (*Store)(nil)

// automationCols are the columns scanAutomation reads, in its order.
const automationCols = `id, workspace, name, file, source, version, trigger, overlap, enabled, reason, next_slot,
	hook_hash, connections, primed, created_at, updated_at`

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// scanAutomation reads automationCols.
func scanAutomation(sc scanner) (*automations.Automation, error) { return scanAutomationWith(sc) }

// scanAutomationWith reads automationCols, followed by extra.
func scanAutomationWith(sc scanner, extra ...any) (*automations.Automation, error) {
	var a automations.Automation
	var next, hook sql.NullString
	var conns, created, updated string
	dest := append([]any{&a.ID, &a.Workspace, &a.Name, &a.File, &a.Source, &a.Version, &a.Trigger, &a.Overlap,
		&a.Enabled, &a.Reason, &next, &hook, &conns, &a.Primed, &created, &updated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	a.HookHash = hook.String
	if err := json.Unmarshal([]byte(conns), &a.Connections); err != nil {
		return nil, fmt.Errorf("automation %s: connections: %w", a.ID, err)
	}
	if len(a.Connections) == 0 {
		a.Connections = nil
	}
	var err error
	if a.NextSlot, err = parseTime(next); err != nil {
		return nil, fmt.Errorf("automation %s: next_slot: %w", a.ID, err)
	}
	if a.CreatedAt, err = time.Parse(timeLayout, created); err != nil {
		return nil, fmt.Errorf("automation %s: created_at: %w", a.ID, err)
	}
	if a.UpdatedAt, err = time.Parse(timeLayout, updated); err != nil {
		return nil, fmt.Errorf("automation %s: updated_at: %w", a.ID, err)
	}
	return &a, nil
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// ApplyAutomation creates or updates the automation (workspace, name) in one immediate
// transaction; see automations.Store. CreatedAt and UpdatedAt are on the store's clock.
func (s *Store) ApplyAutomation(ctx context.Context, a *automations.Automation) (bool, error) {
	op := fmt.Sprintf("apply automation %s/%s", a.Workspace, a.Name)
	conns, err := json.Marshal(a.Connections)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if a.Connections == nil {
		conns = []byte("[]")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	var id, created string
	var version int
	var source []byte
	var hook sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT id, version, source, hook_hash, created_at FROM automations WHERE workspace = ? AND name = ?`,
		a.Workspace, a.Name).Scan(&id, &version, &source, &hook, &created)
	create := errors.Is(err, sql.ErrNoRows)
	switch {
	case create:
		id, version, created = newID(), 1, formatTime(now)
	case err != nil:
		return false, fmt.Errorf("%s: %w", op, err)
	default:
		if !bytes.Equal(source, a.Source) {
			version++
		}
	}
	hookHash := a.HookHash
	if hookHash == "" {
		hookHash = hook.String
	}
	args := []any{a.Workspace, a.Name, a.File, nonNilBytes(a.Source), version, a.Trigger, a.Overlap, a.Enabled, a.Reason,
		nullTime(a.NextSlot), nullString(hookHash), string(conns), a.Primed, created, formatTime(now), id}
	if create {
		_, err = tx.ExecContext(ctx, `INSERT INTO automations (workspace, name, file, source, version, trigger, overlap,
			enabled, reason, next_slot, hook_hash, connections, primed, created_at, updated_at, id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE automations SET workspace = ?, name = ?, file = ?, source = ?, version = ?,
			trigger = ?, overlap = ?, enabled = ?, reason = ?, next_slot = ?, hook_hash = ?, connections = ?, primed = ?,
			created_at = ?, updated_at = ? WHERE id = ?`, args...)
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	a.ID, a.Version, a.HookHash, a.UpdatedAt = id, version, hookHash, now
	a.CreatedAt, _ = time.Parse(timeLayout, created)
	return create, nil
}

// nonNilBytes stores a nil slice as an empty blob, for NOT NULL columns.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Automation returns the automation of workspace called name.
func (s *Store) Automation(ctx context.Context, workspace, name string) (*automations.Automation, error) {
	a, err := scanAutomation(s.r.QueryRowContext(ctx, `SELECT `+automationCols+` FROM automations WHERE workspace = ? AND name = ?`,
		workspace, name))
	if err != nil {
		return nil, fmt.Errorf("automation %s/%s: %w", workspace, name, notFound(err))
	}
	return a, nil
}

// AutomationByID returns the automation with id.
func (s *Store) AutomationByID(ctx context.Context, id string) (*automations.Automation, error) {
	a, err := scanAutomation(s.r.QueryRowContext(ctx, `SELECT `+automationCols+` FROM automations WHERE id = ?`, id))
	if err != nil {
		return nil, fmt.Errorf("automation %s: %w", id, notFound(err))
	}
	return a, nil
}

// AutomationByHook returns the automation whose hook_hash is hash.
func (s *Store) AutomationByHook(ctx context.Context, hash string) (*automations.Automation, error) {
	if hash == "" {
		return nil, fmt.Errorf("automation by hook: %w", automations.ErrNotFound)
	}
	a, err := scanAutomation(s.r.QueryRowContext(ctx, `SELECT `+automationCols+` FROM automations WHERE hook_hash = ?`, hash))
	if err != nil {
		// The hash is not logged or returned: it stands for the secret.
		return nil, fmt.Errorf("automation by hook: %w", notFound(err))
	}
	return a, nil
}

// notFound turns sql.ErrNoRows into automations.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return automations.ErrNotFound
	}
	return err
}

// Automations lists the automations of workspace by name.
func (s *Store) Automations(ctx context.Context, workspace string) ([]*automations.Automation, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+automationCols+` FROM automations WHERE workspace = ? ORDER BY name`, workspace)
	if err != nil {
		return nil, fmt.Errorf("list automations of %s: %w", workspace, err)
	}
	list, err := scanAll(rows, scanAutomation)
	if err != nil {
		return nil, fmt.Errorf("list automations of %s: %w", workspace, err)
	}
	return list, nil
}

// scanAll reads and closes rows with scan.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var list []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, v)
	}
	return list, rows.Err()
}

// DeleteAutomation deletes the automation id; its runs and dedupe keys go with it (ON DELETE
// CASCADE).
func (s *Store) DeleteAutomation(ctx context.Context, id string) error {
	if err := s.exec(ctx, `DELETE FROM automations WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete automation %s: %w", id, notFoundConn(err))
	}
	return nil
}

// notFoundConn turns exec's connections.ErrNotFound into automations.ErrNotFound.
func notFoundConn(err error) error {
	if errors.Is(err, connections.ErrNotFound) {
		return automations.ErrNotFound
	}
	return err
}

// SetEnabled turns the automation id on or off; see automations.Store.
func (s *Store) SetEnabled(ctx context.Context, id string, enabled bool, reason string, next time.Time) error {
	op := "disable automation " + id
	if enabled {
		op = "enable automation " + id
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if enabled {
			res, err = tx.ExecContext(ctx, `UPDATE automations SET enabled = 1, reason = '', next_slot = ?, primed = 0,
				updated_at = ? WHERE id = ?`, nullTime(next), formatTime(s.now()), id)
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE automations SET enabled = 0, reason = ?, next_slot = NULL,
				updated_at = ? WHERE id = ?`, reason, formatTime(s.now()), id)
		}
		if err != nil {
			return err
		}
		if err := changedRow(res); err != nil {
			return notFoundConn(err)
		}
		if enabled {
			_, err = tx.ExecContext(ctx, `DELETE FROM seen_keys WHERE automation_id = ?`, id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// DisableUsing turns off the enabled automations of workspace whose connections include
// connection, in one statement.
func (s *Store) DisableUsing(ctx context.Context, workspace, connection, reason string) ([]*automations.Automation, error) {
	op := fmt.Sprintf("disable automations using connection %s/%s", workspace, connection)
	var list []*automations.Automation
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE automations SET enabled = 0, reason = ?, next_slot = NULL, updated_at = ?
			WHERE workspace = ? AND enabled = 1 AND EXISTS (SELECT 1 FROM json_each(connections) WHERE value = ?)
			RETURNING `+automationCols, reason, formatTime(s.now()), workspace, connection)
		if err != nil {
			return err
		}
		list, err = scanAll(rows, scanAutomation)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	slices.SortFunc(list, func(a, b *automations.Automation) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

// inTx runs fn in an immediate transaction and commits when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
