package sqlite

import (
	"context"
	"fmt"

	"github.com/patchbay/patchbay/connections"
)

func vaultName(workspace, app, name string) string {
	if app == "" {
		return workspace + "/" + name
	}
	return workspace + "/" + app + "/" + name
}

// SetVault stores or replaces a named secret of an app in a workspace (app "": the workspace's).
func (s *Store) SetVault(ctx context.Context, workspace, app, name string, value connections.Secret) error {
	op := "set vault " + vaultName(workspace, app, name)
	tx, key, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: cannot seal vault value: %w", op, err)
	}
	defer tx.Rollback()
	sealed := key.Seal([]byte(value.Reveal()), vaultAAD(workspace, app, name))
	if _, err := tx.ExecContext(ctx, `INSERT INTO vault (workspace, app, name, value, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (workspace, app, name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		workspace, app, name, sealed, formatTime(s.now())); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// Vault returns the secrets visible to app in workspace: the workspace's, overridden by the
// app's of the same name. app "" returns the workspace's alone.
func (s *Store) Vault(ctx context.Context, workspace, app string) (map[string]connections.Secret, error) {
	op := fmt.Sprintf("read vault of workspace %q", workspace)
	if app != "" {
		op += fmt.Sprintf(" for app %q", app)
	}
	// app '' sorts first, so the app's values overwrite the workspace's.
	rows, err := s.r.QueryContext(ctx, `SELECT app, name, value FROM vault WHERE workspace = ? AND app IN ('', ?) ORDER BY app, name`, workspace, app)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	key := s.sealKey()
	out := map[string]connections.Secret{}
	for rows.Next() {
		var (
			rowApp, name string
			sealed       []byte
		)
		if err := rows.Scan(&rowApp, &name, &sealed); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		b, err := key.Open(sealed, vaultAAD(workspace, rowApp, name))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: cannot decrypt vault value: %w", op, vaultName(workspace, rowApp, name), err)
		}
		out[name] = connections.Secret(b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// DeleteVault removes a named secret, or fails with ErrNotFound.
func (s *Store) DeleteVault(ctx context.Context, workspace, app, name string) error {
	if err := s.exec(ctx, `DELETE FROM vault WHERE workspace = ? AND app = ? AND name = ?`, workspace, app, name); err != nil {
		return fmt.Errorf("delete vault %s: %w", vaultName(workspace, app, name), err)
	}
	return nil
}
