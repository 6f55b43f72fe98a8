package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

func clientName(workspace, app, name string) string { return workspace + "/" + app + "/" + name }

// PutClient stores or replaces an auth client. A replaced client keeps its CreatedAt, which
// is set on c.
func (s *Store) PutClient(ctx context.Context, c *connections.Client) error {
	op := "put client " + clientName(c.Workspace, c.App, c.Name)
	scopes, err := json.Marshal(c.Scopes)
	if err != nil {
		return fmt.Errorf("%s: encode scopes: %w", op, err)
	}
	if c.Scopes == nil {
		scopes = []byte("[]")
	}
	created := c.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	tx, key, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: cannot seal client secret: %w", op, err)
	}
	defer tx.Rollback()
	sealed := key.Seal([]byte(c.Secret.Reveal()), clientAAD(c.Workspace, c.App, c.Name))
	var stored string
	err = tx.QueryRowContext(ctx, `INSERT INTO clients (workspace, app, name, client_id, secret, redirect_url, scopes, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace, app, name) DO UPDATE SET client_id = excluded.client_id, secret = excluded.secret,
			redirect_url = excluded.redirect_url, scopes = excluded.scopes
		RETURNING created_at`,
		c.Workspace, c.App, c.Name, c.ClientID, sealed, c.RedirectURL, string(scopes), formatTime(created)).Scan(&stored)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if c.CreatedAt, err = time.Parse(timeLayout, stored); err != nil {
		return fmt.Errorf("%s: created_at: %w", op, err)
	}
	return nil
}

const clientCols = `workspace, app, name, client_id, secret, redirect_url, scopes, created_at`

func scanClient(key keys.Key, sc interface{ Scan(...any) error }) (*connections.Client, error) {
	var (
		c               connections.Client
		sealed          []byte
		scopes, created string
	)
	if err := sc.Scan(&c.Workspace, &c.App, &c.Name, &c.ClientID, &sealed, &c.RedirectURL, &scopes, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &c.Scopes); err != nil {
		return nil, fmt.Errorf("scopes: %w", err)
	}
	if len(c.Scopes) == 0 {
		c.Scopes = nil
	}
	var err error
	if c.CreatedAt, err = time.Parse(timeLayout, created); err != nil {
		return nil, fmt.Errorf("created_at: %w", err)
	}
	b, err := clientsSealed.open(key, &sealedRow{workspace: c.Workspace, app: c.App, name: c.Name, sealed: sealed})
	if err != nil {
		return nil, err
	}
	c.Secret = connections.Secret(b)
	return &c, nil
}

// Client returns an auth client, or ErrNotFound.
func (s *Store) Client(ctx context.Context, workspace, app, name string) (*connections.Client, error) {
	c, err := scanClient(s.sealKey(), s.r.QueryRowContext(ctx,
		`SELECT `+clientCols+` FROM clients WHERE workspace = ? AND app = ? AND name = ?`, workspace, app, name))
	if errors.Is(err, sql.ErrNoRows) {
		err = connections.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get client %s: %w", clientName(workspace, app, name), err)
	}
	return c, nil
}

// Clients lists the auth clients of a workspace, by app and name.
func (s *Store) Clients(ctx context.Context, workspace string) ([]*connections.Client, error) {
	op := fmt.Sprintf("list clients of workspace %q", workspace)
	key := s.sealKey()
	var cs []*connections.Client
	err := eachRow(ctx, s.r, func(rows *sql.Rows) error {
		c, err := scanClient(key, rows)
		if err != nil {
			return err
		}
		cs = append(cs, c)
		return nil
	}, `SELECT `+clientCols+` FROM clients WHERE workspace = ? ORDER BY app, name`, workspace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return cs, nil
}

// DeleteClient removes an auth client, or fails with ErrNotFound.
func (s *Store) DeleteClient(ctx context.Context, workspace, app, name string) error {
	if err := s.exec(ctx, `DELETE FROM clients WHERE workspace = ? AND app = ? AND name = ?`, workspace, app, name); err != nil {
		return fmt.Errorf("delete client %s: %w", clientName(workspace, app, name), err)
	}
	return nil
}
