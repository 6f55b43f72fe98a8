package sqlite

import (
	"context"
	"database/sql"
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
	key := s.sealKey()
	out := map[string]connections.Secret{}
	// app '' sorts first, so the app's values overwrite the workspace's.
	err := eachRow(ctx, s.r, func(rows *sql.Rows) error {
		r := sealedRow{workspace: workspace}
		if err := rows.Scan(&r.app, &r.name, &r.sealed); err != nil {
			return err
		}
		b, err := vaultSealed.open(key, &r)
		if err != nil {
			return fmt.Errorf("%s: %w", vaultSealed.name(&r), err)
		}
		out[r.name] = connections.Secret(b)
		return nil
	}, `SELECT app, name, value FROM vault WHERE workspace = ? AND app IN ('', ?) ORDER BY app, name`, workspace, app)
	if err != nil {
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

// SecretsVersion returns the number migration 0004's triggers move on every change to a vault
// entry or an auth client, in the transaction of the change.
func (s *Store) SecretsVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.r.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'secrets_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read secrets version: %w", err)
	}
	return v, nil
}
