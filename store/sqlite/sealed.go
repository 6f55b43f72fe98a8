package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/store/keys"
)

// A sealedRow is one row's sealed value with the columns that name the row and bind the
// value to it (a connection's id; a client's or vault value's workspace, app and name).
type sealedRow struct {
	id, workspace, app, name string
	sealed                   []byte
}

// A sealedTable describes a table with one sealed column: how its values are bound to their
// rows, how its rows are named in errors, and how RotateKey reads and rewrites them.
type sealedTable struct {
	kind   string                   // names a row in errors: "connection"
	what   string                   // names the sealed value in errors: "credentials"
	query  string                   // SELECT of every row, columns in scan's order
	scan   func(r *sealedRow) []any // scan targets of query's columns
	aad    func(r *sealedRow) []byte
	name   func(r *sealedRow) string // the row's name in errors
	update string                    // UPDATE of one row's sealed value: the value first, then where's args
	where  func(r *sealedRow) []any
}

// scanByName and whereByName serve the tables keyed by workspace, app and name.
func scanByName(r *sealedRow) []any  { return []any{&r.workspace, &r.app, &r.name, &r.sealed} }
func whereByName(r *sealedRow) []any { return []any{r.workspace, r.app, r.name} }

var (
	connsSealed = &sealedTable{
		kind: "connection", what: "credentials",
		query:  `SELECT id, workspace, app, name, creds FROM connections ORDER BY id`,
		scan:   func(r *sealedRow) []any { return []any{&r.id, &r.workspace, &r.app, &r.name, &r.sealed} },
		aad:    func(r *sealedRow) []byte { return connAAD(r.id) },
		name:   func(r *sealedRow) string { return connName(r.workspace, r.app, r.name) },
		update: `UPDATE connections SET creds = ? WHERE id = ?`,
		where:  func(r *sealedRow) []any { return []any{r.id} },
	}
	clientsSealed = &sealedTable{
		kind: "client", what: "client secret",
		query:  `SELECT workspace, app, name, secret FROM clients ORDER BY workspace, app, name`,
		scan:   scanByName,
		aad:    func(r *sealedRow) []byte { return clientAAD(r.workspace, r.app, r.name) },
		name:   func(r *sealedRow) string { return clientName(r.workspace, r.app, r.name) },
		update: `UPDATE clients SET secret = ? WHERE workspace = ? AND app = ? AND name = ?`,
		where:  whereByName,
	}
	vaultSealed = &sealedTable{
		kind: "vault", what: "vault value",
		query:  `SELECT workspace, app, name, value FROM vault ORDER BY workspace, app, name`,
		scan:   scanByName,
		aad:    func(r *sealedRow) []byte { return vaultAAD(r.workspace, r.app, r.name) },
		name:   func(r *sealedRow) string { return vaultName(r.workspace, r.app, r.name) },
		update: `UPDATE vault SET value = ? WHERE workspace = ? AND app = ? AND name = ?`,
		where:  whereByName,
	}
)

// open opens r's sealed value with key (any key of its ring); its error says which value
// could not be decrypted, never what it holds.
func (t *sealedTable) open(key keys.Key, r *sealedRow) ([]byte, error) {
	b, err := key.Open(r.sealed, t.aad(r))
	if err != nil {
		return nil, fmt.Errorf("cannot decrypt %s: %w", t.what, err)
	}
	return b, nil
}

// reseal reads every row of t on q, opens its value with opener and appends to todo the
// update that writes it back sealed under newKey. It reads all rows before returning, as
// database/sql cannot write on a transaction while its rows are open.
func (t *sealedTable) reseal(ctx context.Context, q querier, opener, newKey keys.Key, todo []resealed) ([]resealed, error) {
	err := eachRow(ctx, q, func(rows *sql.Rows) error {
		var r sealedRow
		if err := rows.Scan(t.scan(&r)...); err != nil {
			return err
		}
		plain, err := t.open(opener, &r)
		if err != nil {
			return fmt.Errorf("%s %s: %w", t.kind, t.name(&r), err)
		}
		todo = append(todo, resealed{t.update, newKey.Seal(plain, t.aad(&r)), t.where(&r)})
		return nil
	}, t.query)
	return todo, err
}

// eachRow runs query on q and calls fn for each row, stopping at fn's first error, which
// it returns as is. The rows are closed when it returns.
func eachRow(ctx context.Context, q querier, fn func(*sql.Rows) error, query string, args ...any) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := fn(rows); err != nil {
			rows.Close()
			return err
		}
	}
	return closeRows(rows)
}

func closeRows(rows interface {
	Err() error
	Close() error
}) error {
	return errors.Join(rows.Err(), rows.Close())
}
