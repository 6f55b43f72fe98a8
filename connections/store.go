package connections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Connection statuses.
const (
	StatusConnected    = "connected"
	StatusDisconnected = "disconnected"
	StatusError        = "error"
)

// DefaultWorkspace is the workspace of connections made from the command line.
const DefaultWorkspace = "default"

// Secret is a string that redacts itself wherever it is printed, logged or encoded, so %v,
// slog and encoding/json cannot leak it. Reveal returns the value.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

func (s Secret) String() string   { return redacted(s) }
func (s Secret) GoString() string { return redacted(s) }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted(s)) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(redacted(s)) }

func redacted(s Secret) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Token is what a token endpoint gave a connection.
type Token struct {
	AccessToken  Secret         `json:"-"`
	RefreshToken Secret         `json:"-"`
	TokenSecret  Secret         `json:"-"` // oauth1's token secret
	TokenType    string         `json:"token_type,omitempty"`
	Scope        string         `json:"scope,omitempty"`
	Expiry       time.Time      `json:"expiry,omitzero"` // zero: the provider stated none
	ObtainedAt   time.Time      `json:"obtained_at,omitzero"`
	Extra        map[string]any `json:"-"` // more fields the exchange flow output (instance_url); may hold secrets
}

// Credentials are a connection's secrets: the fields the user entered and the token. The store
// keeps them encrypted; they never appear in a listing, a log line or an error.
type Credentials struct {
	Fields map[string]Secret
	Token  *Token
}

// TestResult is the outcome of a connection's last test.
type TestResult struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Message string    `json:"message,omitempty"` // redacted
}

// Record is a stored connection.
type Record struct {
	ID        string
	Workspace string
	App       string // the app's key
	Name      string // unique per workspace and app
	Type      string // the app's connection type when it was made
	Status    string // connected, disconnected, error
	Reason    string // why it is disconnected or in error, without secrets
	Label     string
	Params    map[string]string // integration parameters: not secret
	Creds     Credentials       // encrypted at rest
	// Client names the auth client the connection was made with ("" for none).
	Client string
	// Origins are where the credentials may be sent: the origins (scheme://host:port) of the
	// app's base URL and connection URLs when it was connected, and of the requests its test
	// sent the credentials to then. Nil for a connection stored
	// before patchbay recorded them, until its first use binds it. Stores keep them sealed
	// with Creds, so that one who can write the database but lacks the key cannot move them.
	Origins []string
	// StandIns are the origin mappings (FROM=TO, patchbay --map-origin) the connection was
	// made through: its credentials are a test server's standing in for the app's provider.
	// Stores keep them sealed with Origins.
	StandIns     []string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastTest     *TestResult
	LastRefresh  time.Time // when its token was last refreshed
	RefreshCount int
	LastError    string // the last refresh or test failure, without secrets
}

// Client is an OAuth client registered at a provider, kept once and used by many connections.
type Client struct {
	Workspace   string
	App         string
	Name        string
	ClientID    string
	Secret      Secret // encrypted at rest
	RedirectURL string
	Scopes      []string
	CreatedAt   time.Time
}

// Event is something that happened to a connection that others must hear of: the scheduler
// turns off the automations of a disconnected connection.
type Event struct {
	// Kind is "created", "reconnected", "deleted" or "disconnected" (stored and told), or
	// "refreshed" or "refresh_failed" (told only: a refused refresh is told as both
	// "refresh_failed" and "disconnected").
	Kind         string
	ConnectionID string
	Workspace    string
	App          string
	Name         string
	Reason       string
	At           time.Time
}

// Storage errors.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrLeaseLost is ReleaseLease's error when the lease is no longer the holder's: it
	// expired and another holder took it.
	ErrLeaseLost = errors.New("refresh lease lost")
)

// LeaseHeldError is TakeLease's refusal: another holder's lease on the connection has not
// expired.
type LeaseHeldError struct {
	Holder  string    // who holds it (Manager: host, pid and a random part)
	Expires time.Time // when it expires, on the store's clock
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("refresh lease held by %s until %s", e.Holder, e.Expires.UTC().Format(time.RFC3339Nano))
}

// Store keeps connections, auth clients and vault secrets. Implementations encrypt Creds,
// Client.Secret and vault values at rest. All methods are safe for concurrent use, also from
// several processes sharing the store.
type Store interface {
	// CreateConnection stores a new connection; a second one with the same workspace, app and
	// name fails with ErrExists and changes nothing. It sets ID, CreatedAt and UpdatedAt.
	CreateConnection(ctx context.Context, rec *Record) error
	// Connection returns the connection of workspace called name (of any app), or ErrNotFound.
	Connection(ctx context.Context, workspace, name string) (*Record, error)
	// ConnectionByID returns the connection with id, or ErrNotFound.
	ConnectionByID(ctx context.Context, id string) (*Record, error)
	// Connections lists the connections of a workspace, by app and name.
	Connections(ctx context.Context, workspace string) ([]*Record, error)
	// UpdateConnection saves rec over the stored connection with its ID.
	UpdateConnection(ctx context.Context, rec *Record) error
	// DeleteConnection removes a connection and its credentials.
	DeleteConnection(ctx context.Context, id string) error
	// Locked runs fn with the connection's current record inside one short write transaction,
	// which excludes every other Locked call on that connection in this and any other process
	// sharing the store. If fn returns a record, it is saved in that transaction, even when fn
	// also returns an error. Locked returns the record as saved (or as read when fn saved none)
	// and fn's error. fn must not wait for anything (no network call): other writes may wait
	// for it. A refresh, which asks the provider, takes the lease instead.
	Locked(ctx context.Context, id string, fn func(cur *Record) (*Record, error)) (*Record, error)

	// TakeLease gives holder the connection's refresh lease for d, in one short transaction,
	// and returns the connection's record as read in that transaction. The lease is free when
	// no one holds it or its expiry has passed (its holder died); holder may take its own
	// again. While another holder's lease has not expired, TakeLease changes nothing and
	// returns a *LeaseHeldError; it never waits. Expiry is on the store's clock: SQLite's
	// process clock, PostgreSQL's now() (UPDATE ... SET lease_holder = $1, lease_expires =
	// now() + $2 WHERE id = $3 AND (lease_holder IN ('', $1) OR lease_expires <= now())). It
	// fails with ErrNotFound for a missing connection, and when the store cannot seal records
	// (a wrong master key): a token obtained under the lease could not be saved.
	TakeLease(ctx context.Context, id, holder string, d time.Duration) (*Record, error)
	// ReleaseLease ends holder's lease, in one short transaction that first checks holder
	// still holds it: the lease records holder, expired or not (a lease no one took since is
	// still held; no one else can have refreshed). fn (may be nil) is then called with the
	// connection's current record, and the record fn returns is saved in that transaction,
	// even when fn also returns an error, and the lease released with it, also when fn saves
	// nothing. When the lease is another's or free, nothing changes, fn is not called, and
	// ReleaseLease returns ErrLeaseLost. When the save fails, nothing changes (the lease
	// stays). It returns the record as saved (or as read when fn saved none) and fn's error.
	// Once fn has returned, its record is saved even when ctx is done.
	ReleaseLease(ctx context.Context, id, holder string, fn func(cur *Record) (*Record, error)) (*Record, error)

	// PutClient stores or replaces an auth client.
	PutClient(ctx context.Context, c *Client) error
	// Client returns an auth client, or ErrNotFound.
	Client(ctx context.Context, workspace, app, name string) (*Client, error)
	// Clients lists the auth clients of a workspace.
	Clients(ctx context.Context, workspace string) ([]*Client, error)
	// DeleteClient removes an auth client.
	DeleteClient(ctx context.Context, workspace, app, name string) error

	// SetVault stores a named secret of an app in a workspace (app "" : the whole workspace).
	SetVault(ctx context.Context, workspace, app, name string, value Secret) error
	// Vault returns the secrets visible to app in workspace: the workspace's, overridden by the app's.
	Vault(ctx context.Context, workspace, app string) (map[string]Secret, error)
	// DeleteVault removes a named secret.
	DeleteVault(ctx context.Context, workspace, app, name string) error

	// SecretsVersion returns a number that changes, in the transaction of the change, whenever
	// a vault entry or an auth client is set or deleted, by this process or another sharing the
	// store. The Manager keeps the vault and clients it read while the number stays.
	SecretsVersion(ctx context.Context) (int64, error)

	// AddEvent records an event.
	AddEvent(ctx context.Context, e Event) error
	// Events lists the events of a connection, oldest first.
	Events(ctx context.Context, connectionID string) ([]Event, error)
}
