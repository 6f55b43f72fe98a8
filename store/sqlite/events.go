package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// AddEvent records an event; a zero At is stamped with the store's clock.
func (s *Store) AddEvent(ctx context.Context, e connections.Event) error {
	if e.At.IsZero() {
		e.At = s.now()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add event %s of connection %s: %w", e.Kind, e.ConnectionID, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO events (connection_id, kind, workspace, app, name, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ConnectionID, e.Kind, e.Workspace, e.App, e.Name, e.Reason, formatTime(e.At)); err != nil {
		return fmt.Errorf("add event %s of connection %s: %w", e.Kind, e.ConnectionID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add event %s of connection %s: %w", e.Kind, e.ConnectionID, err)
	}
	return nil
}

// Events lists the events of a connection, oldest first.
func (s *Store) Events(ctx context.Context, connectionID string) ([]connections.Event, error) {
	op := "list events of connection " + connectionID
	var evs []connections.Event
	err := eachRow(ctx, s.r, func(rows *sql.Rows) error {
		var (
			e   connections.Event
			at  string
			err error
		)
		if err := rows.Scan(&e.ConnectionID, &e.Kind, &e.Workspace, &e.App, &e.Name, &e.Reason, &at); err != nil {
			return err
		}
		if e.At, err = time.Parse(timeLayout, at); err != nil {
			return fmt.Errorf("at: %w", err)
		}
		evs = append(evs, e)
		return nil
	}, `SELECT connection_id, kind, workspace, app, name, reason, at FROM events
		WHERE connection_id = ? ORDER BY id`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return evs, nil
}
