package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

// sealedCreds is the JSON sealed into connections.creds. connections.Secret marshals as
// "[redacted]", so the values are copied out as plain strings here, never elsewhere. The
// record's origins are sealed with the credentials: not secret, but where the credentials may
// go, which one who can write the file but lacks the key must not be able to change. A row
// sealed before origins were recorded has none. The stand-ins the connection was made through
// go with them.
type sealedCreds struct {
	Fields   map[string]string `json:"fields,omitempty"`
	Token    *sealedToken      `json:"token,omitempty"`
	Origins  []string          `json:"origins,omitempty"`
	StandIns []string          `json:"stand_ins,omitempty"`
}

type sealedToken struct {
	AccessToken  string         `json:"access_token,omitempty"`
	RefreshToken string         `json:"refresh_token,omitempty"`
	TokenSecret  string         `json:"token_secret,omitempty"`
	TokenType    string         `json:"token_type,omitempty"`
	Scope        string         `json:"scope,omitempty"`
	Expiry       time.Time      `json:"expiry,omitzero"`
	ObtainedAt   time.Time      `json:"obtained_at,omitzero"`
	Extra        map[string]any `json:"extra,omitempty"`
}

// sealCreds seals rec's credentials, origins and stand-ins for the row id. Token.Extra goes
// through JSON: numbers come back as float64 and Secrets as plain strings.
func sealCreds(key keys.Key, id string, rec *connections.Record) ([]byte, error) {
	c := rec.Creds
	sc := sealedCreds{Origins: rec.Origins, StandIns: rec.StandIns}
	if len(c.Fields) > 0 {
		sc.Fields = make(map[string]string, len(c.Fields))
		for k, v := range c.Fields {
			sc.Fields[k] = v.Reveal()
		}
	}
	if t := c.Token; t != nil {
		sc.Token = &sealedToken{
			AccessToken: t.AccessToken.Reveal(), RefreshToken: t.RefreshToken.Reveal(), TokenSecret: t.TokenSecret.Reveal(),
			TokenType: t.TokenType, Scope: t.Scope, Expiry: t.Expiry, ObtainedAt: t.ObtainedAt,
		}
		if len(t.Extra) > 0 {
			sc.Token.Extra = reveal(t.Extra).(map[string]any)
		}
	}
	b, err := json.Marshal(sc)
	if err != nil {
		// json's errors name a type, never a value.
		return nil, fmt.Errorf("encode credentials: %w", err)
	}
	return key.Seal(b, connAAD(id)), nil
}

// reveal copies v with every connections.Secret in it replaced by its value.
func reveal(v any) any {
	switch v := v.(type) {
	case connections.Secret:
		return v.Reveal()
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = reveal(e)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = reveal(e)
		}
		return s
	}
	return v
}

// openCreds opens what sealCreds sealed into rec: its credentials, origins and stand-ins.
func openCreds(key keys.Key, id string, sealed []byte, rec *connections.Record) error {
	b, err := connsSealed.open(key, &sealedRow{id: id, sealed: sealed})
	if err != nil {
		return err
	}
	var sc sealedCreds
	if err := json.Unmarshal(b, &sc); err != nil {
		return errors.New("cannot decode credentials: invalid JSON")
	}
	var c connections.Credentials
	if len(sc.Fields) > 0 {
		c.Fields = make(map[string]connections.Secret, len(sc.Fields))
		for k, v := range sc.Fields {
			c.Fields[k] = connections.Secret(v)
		}
	}
	if t := sc.Token; t != nil {
		c.Token = &connections.Token{
			AccessToken: connections.Secret(t.AccessToken), RefreshToken: connections.Secret(t.RefreshToken),
			TokenSecret: connections.Secret(t.TokenSecret), TokenType: t.TokenType, Scope: t.Scope,
			Expiry: t.Expiry, ObtainedAt: t.ObtainedAt, Extra: t.Extra,
		}
	}
	rec.Creds, rec.Origins, rec.StandIns = c, sc.Origins, sc.StandIns
	return nil
}

// connCols are the columns scanRecord reads, in order.
const connCols = `id, workspace, app, name, type, status, reason, label, params, creds, client,
	created_at, updated_at, last_test, last_refresh, refresh_count, last_error`

// scanRecord reads one row of connCols; the credentials stay sealed until openRecord.
func scanRecord(sc interface{ Scan(...any) error }) (*connections.Record, []byte, error) {
	var (
		rec                           connections.Record
		params                        string
		sealed                        []byte
		created, updated              string
		lastTest, lastRefresh         sql.NullString
		createdAt, updatedAt, refresh time.Time
		err                           error
	)
	if err := sc.Scan(&rec.ID, &rec.Workspace, &rec.App, &rec.Name, &rec.Type, &rec.Status, &rec.Reason, &rec.Label,
		&params, &sealed, &rec.Client, &created, &updated, &lastTest, &lastRefresh, &rec.RefreshCount, &rec.LastError); err != nil {
		return nil, nil, err
	}
	if err := json.Unmarshal([]byte(params), &rec.Params); err != nil {
		return nil, nil, fmt.Errorf("params: %w", err)
	}
	if len(rec.Params) == 0 {
		rec.Params = nil
	}
	if lastTest.Valid {
		rec.LastTest = new(connections.TestResult)
		if err := json.Unmarshal([]byte(lastTest.String), rec.LastTest); err != nil {
			return nil, nil, fmt.Errorf("last_test: %w", err)
		}
	}
	if createdAt, err = time.Parse(timeLayout, created); err != nil {
		return nil, nil, fmt.Errorf("created_at: %w", err)
	}
	if updatedAt, err = time.Parse(timeLayout, updated); err != nil {
		return nil, nil, fmt.Errorf("updated_at: %w", err)
	}
	if refresh, err = parseTime(lastRefresh); err != nil {
		return nil, nil, fmt.Errorf("last_refresh: %w", err)
	}
	rec.CreatedAt, rec.UpdatedAt, rec.LastRefresh = createdAt, updatedAt, refresh
	return &rec, sealed, nil
}

// connValues are the values of a record's columns other than id, created_at and updated_at.
func connValues(key keys.Key, id string, rec *connections.Record) ([]any, error) {
	params, err := json.Marshal(rec.Params)
	if err != nil {
		return nil, fmt.Errorf("encode params: %w", err)
	}
	if rec.Params == nil {
		params = []byte("{}")
	}
	var lastTest sql.NullString
	if rec.LastTest != nil {
		b, err := json.Marshal(rec.LastTest)
		if err != nil {
			return nil, fmt.Errorf("encode last test: %w", err)
		}
		lastTest = sql.NullString{String: string(b), Valid: true}
	}
	sealed, err := sealCreds(key, id, rec)
	if err != nil {
		return nil, err
	}
	var expiry sql.NullString
	if rec.Creds.Token != nil {
		expiry = nullTime(rec.Creds.Token.Expiry)
	}
	return []any{rec.Workspace, rec.App, rec.Name, rec.Type, rec.Status, rec.Reason, rec.Label, string(params), sealed,
		rec.Client, lastTest, nullTime(rec.LastRefresh), rec.RefreshCount, rec.LastError, expiry}, nil
}

func connName(workspace, app, name string) string { return workspace + "/" + app + "/" + name }

// CreateConnection stores a new connection; see connections.Store. rec is changed (ID,
// CreatedAt, UpdatedAt) only when it was stored.
func (s *Store) CreateConnection(ctx context.Context, rec *connections.Record) error {
	op := "create connection " + connName(rec.Workspace, rec.App, rec.Name)
	tx, key, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: cannot seal credentials: %w", op, err)
	}
	defer tx.Rollback()
	id, now := newID(), s.now().UTC()
	vals, err := connValues(key, id, rec)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	args := append([]any{id}, vals...)
	args = append(args, formatTime(now), formatTime(now))
	_, err = tx.ExecContext(ctx, `INSERT INTO connections (id, workspace, app, name, type, status, reason, label, params,
		creds, client, last_test, last_refresh, refresh_count, last_error, token_expiry, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if isUnique(err) {
		return fmt.Errorf("%s: %w", op, connections.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	rec.ID, rec.CreatedAt, rec.UpdatedAt = id, now, now
	return nil
}

// Connection returns the connection of workspace called name, of any app. Names are meant to
// be unique in a workspace; when two apps have one of that name, the error names the apps.
func (s *Store) Connection(ctx context.Context, workspace, name string) (*connections.Record, error) {
	op := fmt.Sprintf("get connection %q in workspace %q", name, workspace)
	var (
		recs   []*connections.Record
		sealed []byte
	)
	err := eachRow(ctx, s.r, func(rows *sql.Rows) error {
		rec, b, err := scanRecord(rows)
		if err != nil {
			return err
		}
		recs, sealed = append(recs, rec), b
		return nil
	}, `SELECT `+connCols+` FROM connections WHERE workspace = ? AND name = ? ORDER BY app`, workspace, name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	switch len(recs) {
	case 0:
		return nil, fmt.Errorf("%s: %w", op, connections.ErrNotFound)
	case 1:
	default:
		apps := make([]string, len(recs))
		for i, r := range recs {
			apps[i] = r.App
		}
		return nil, fmt.Errorf("%s: ambiguous: apps %s each have a connection of that name", op, strings.Join(apps, ", "))
	}
	if err := s.openRecord(recs[0], sealed); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return recs[0], nil
}

func (s *Store) openRecord(rec *connections.Record, sealed []byte) error {
	return openCreds(s.sealKey(), rec.ID, sealed, rec)
}

// ConnectionByID returns the connection with id, or ErrNotFound.
func (s *Store) ConnectionByID(ctx context.Context, id string) (*connections.Record, error) {
	rec, err := s.byID(ctx, s.r, id)
	if err != nil {
		return nil, fmt.Errorf("get connection %s: %w", id, err)
	}
	return rec, nil
}

func (s *Store) byID(ctx context.Context, q querier, id string) (*connections.Record, error) {
	rec, sealed, err := scanRecord(q.QueryRowContext(ctx, `SELECT `+connCols+` FROM connections WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, connections.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := s.openRecord(rec, sealed); err != nil {
		return nil, fmt.Errorf("%s: %w", connName(rec.Workspace, rec.App, rec.Name), err)
	}
	return rec, nil
}

// Connections lists the connections of a workspace, by app and name.
func (s *Store) Connections(ctx context.Context, workspace string) ([]*connections.Record, error) {
	op := fmt.Sprintf("list connections of workspace %q", workspace)
	var recs []*connections.Record
	err := eachRow(ctx, s.r, func(rows *sql.Rows) error {
		rec, sealed, err := scanRecord(rows)
		if err != nil {
			return err
		}
		if err := s.openRecord(rec, sealed); err != nil {
			return fmt.Errorf("%s: %w", connName(rec.Workspace, rec.App, rec.Name), err)
		}
		recs = append(recs, rec)
		return nil
	}, `SELECT `+connCols+` FROM connections WHERE workspace = ? ORDER BY app, name`, workspace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return recs, nil
}

// UpdateConnection saves rec over the stored connection with its ID and sets rec.UpdatedAt.
// The stored CreatedAt is kept. Renaming onto another connection's name fails with ErrExists.
func (s *Store) UpdateConnection(ctx context.Context, rec *connections.Record) error {
	op := "update connection " + rec.ID
	tx, key, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: cannot seal credentials: %w", op, err)
	}
	defer tx.Rollback()
	now := s.now().UTC()
	if err := s.update(ctx, tx, key, rec.ID, rec, now); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	rec.UpdatedAt = now
	return nil
}

// update writes rec to the row id inside a write transaction.
func (s *Store) update(ctx context.Context, q querier, key keys.Key, id string, rec *connections.Record, now time.Time) error {
	vals, err := connValues(key, id, rec)
	if err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, `UPDATE connections SET workspace = ?, app = ?, name = ?, type = ?, status = ?,
		reason = ?, label = ?, params = ?, creds = ?, client = ?, last_test = ?, last_refresh = ?, refresh_count = ?,
		last_error = ?, token_expiry = ?, updated_at = ? WHERE id = ?`, append(vals, formatTime(now), id)...)
	if isUnique(err) {
		return fmt.Errorf("%s: %w", connName(rec.Workspace, rec.App, rec.Name), connections.ErrExists)
	}
	if err != nil {
		return err
	}
	return changedRow(res)
}

// DeleteConnection removes a connection and its credentials, or fails with ErrNotFound.
// Its events stay.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	if err := s.exec(ctx, `DELETE FROM connections WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}
