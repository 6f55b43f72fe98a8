package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

var _ connections.Store = (*Store)(nil)

// DefaultBusyTimeout is how long a write waits for another's write lock before failing with
// "database is locked". No write transaction spans a network call (a refresh holds a lease on
// the connection's row, not a transaction: see doc.go), so the wait is for other short
// transactions, milliseconds each; the largest, RotateKey's, re-encrypts every secret. 5 s,
// the go-sqlite3 README's value, leaves ample room and still fails fast on a stuck writer.
const DefaultBusyTimeout = 5 * time.Second

// writeConns bounds the write pool. Writes are serialized by SQLite's write lock anyway; more
// than one connection lets a write issued from inside a Locked fn fail after the busy timeout
// (a clear "database is locked") instead of waiting forever for the pool.
const writeConns = 4

// stmtCacheSize is how many prepared statements each connection of the pool keeps (go-sqlite3's
// _stmt_cache_size): a statement the store runs again is not compiled again. Preparing was
// most of a point read's cost (the secrets version a run reads: 26 µs of which 16 preparing).
const stmtCacheSize = 64

// Store is a connections.Store in one SQLite file. Its methods are safe for concurrent use,
// also by several processes opening the same file.
type Store struct {
	r   *sql.DB // reads: deferred transactions, query_only
	w   *sql.DB // writes: every transaction begins IMMEDIATE
	log *slog.Logger
	now func() time.Time

	mu  sync.RWMutex
	key keys.Key // seals with key.ID(); opens values sealed under any key of its ring

	stmts map[string]*sql.Stmt // hotQueries, prepared on the write pool; read-only after Open

	pruneMu   sync.Mutex
	pruneFrom string // the automation where PruneRuns goes on; "" for the first
}

type config struct {
	busy time.Duration
	log  *slog.Logger
	now  func() time.Time
}

// An Option configures Open.
type Option func(*config)

// WithBusyTimeout sets how long a write waits for another process's write lock
// (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busy = d } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.log = l } }

// WithClock sets the clock that stamps records (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Open opens (creating if needed) the SQLite database at path, applies pending migrations,
// and seals secrets with key. When key is a ring (keys.Load returns one while a rotation is
// unfinished), the store seals with the key whose id the database records; a key that
// matches none still opens the database, but reads of secrets fail with a key mismatch
// naming both key ids, and writes of secrets are refused.
func Open(path string, key keys.Key, opts ...Option) (*Store, error) {
	cfg := config{busy: DefaultBusyTimeout, log: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if key.IsZero() {
		return nil, errors.New("open store: no master key")
	}
	if path == "" {
		return nil, errors.New("open store: no database path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	w, err := sql.Open("sqlite3", dsn(abs, cfg.busy, "immediate", false))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	w.SetMaxOpenConns(writeConns)
	w.SetMaxIdleConns(writeConns)
	r, err := sql.Open("sqlite3", dsn(abs, cfg.busy, "deferred", true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	r.SetMaxIdleConns(4)
	s := &Store{r: r, w: w, log: cfg.log, now: cfg.now}
	ctx := context.Background()
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if err := s.pickKey(ctx, key); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	if err := s.prepareHot(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", abs, err)
	}
	return s, nil
}

// dsn is the go-sqlite3 data source of path; doc.go says why each option is there.
func dsn(path string, busy time.Duration, txlock string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "on")
	q.Set("_secure_delete", "on")
	q.Set("_busy_timeout", fmt.Sprint(busy.Milliseconds()))
	q.Set("_txlock", txlock)
	q.Set("_stmt_cache_size", fmt.Sprint(stmtCacheSize))
	if readOnly {
		q.Set("_query_only", "on")
	}
	// A file: URI with the path escaped, so a '?' or '%' in a directory name stays in the name.
	return "file:" + (&url.URL{Path: filepath.ToSlash(path)}).EscapedPath() + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.closeStmts(), s.r.Close(), s.w.Close())
}

// pickKey records key's id in a new database, or picks from key's ring the key the database
// records.
func (s *Store) pickKey(ctx context.Context, key keys.Key) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	id, err := dbKeyID(ctx, tx)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (name, value) VALUES ('key_id', ?)`, key.ID()); err != nil {
			return fmt.Errorf("record key id: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("record key id: %w", err)
		}
	case err != nil:
		return fmt.Errorf("read key id: %w", err)
	default:
		if sel, ok := key.Select(id); ok {
			key = sel
		} else {
			s.log.Warn("master key does not match the database", "database_key_id", id, "key_id", key.ID())
		}
	}
	s.key = key
	return nil
}

// querier is what *sql.Tx, *sql.Conn and *sql.DB have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func dbKeyID(ctx context.Context, q querier) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'key_id'`).Scan(&id)
	return id, err
}

// sealKey returns the key that seals and opens; RotateKey changes it.
func (s *Store) sealKey() keys.Key {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.key
}

// begin starts a write transaction that seals: it holds the write lock, so the key it returns
// is the one the database records until it ends (checkKey).
func (s *Store) begin(ctx context.Context) (*sql.Tx, keys.Key, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, keys.Key{}, err
	}
	key := s.sealKey()
	if err := checkKey(ctx, tx, key); err != nil {
		tx.Rollback()
		return nil, keys.Key{}, err
	}
	return tx, key, nil
}

// checkKey refuses to seal under key when the database's values are under another key: the
// key is wrong, or another process rotated it. Sealing anyway would leave values no single
// key opens. Call it inside the write transaction.
func checkKey(ctx context.Context, q querier, key keys.Key) error {
	id, err := dbKeyID(ctx, q)
	if err != nil {
		return fmt.Errorf("read key id: %w", err)
	}
	if id != key.ID() {
		return &keys.MismatchError{Sealed: id, Have: key.ID()}
	}
	return nil
}

// AADs bind each sealed value to its row, so a value copied into another row fails to open.
func connAAD(id string) []byte { return []byte("connection:" + id + ":creds") }

func clientAAD(workspace, app, name string) []byte {
	return []byte(fmt.Sprintf("client:%q/%q/%q:secret", workspace, app, name))
}

func vaultAAD(workspace, app, name string) []byte {
	return []byte(fmt.Sprintf("vault:%q/%q/%q:value", workspace, app, name))
}

// timeLayout has one width, so stored times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) sql.NullString {
	if t.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: formatTime(t), Valid: true}
}

func parseTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s.String)
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// isUnique reports a UNIQUE or PRIMARY KEY constraint failure.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// exec runs one statement that changes one row in an immediate transaction (a plain
// autocommit statement would start as a reader and could fail to upgrade under WAL). No row
// changed is ErrNotFound.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if err := changedRow(res); err != nil {
		return err
	}
	return tx.Commit()
}

// changedRow returns ErrNotFound when the statement of res changed no row.
func changedRow(res sql.Result) error {
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return connections.ErrNotFound
	}
	return nil
}
