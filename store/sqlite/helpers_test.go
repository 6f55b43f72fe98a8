package sqlite

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

// testKey returns the Key of 32 bytes of b.
func testKey(t testing.TB, b byte) keys.Key {
	t.Helper()
	k, err := keys.FromBytes(bytes.Repeat([]byte{b}, keys.Size))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a store clock that moves one second each time it is read.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// last returns the time the clock gave last.
func (c *clock) last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func dbPath(t testing.TB) string { return filepath.Join(t.TempDir(), "patchbay.db") }

// open opens a store at path, closed when the test ends.
func open(t testing.TB, path string, key keys.Key, opts ...Option) *Store {
	t.Helper()
	s, err := Open(path, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// record returns a connection with credentials of every kind.
func record(app, name string) *connections.Record {
	return &connections.Record{
		Workspace: connections.DefaultWorkspace,
		App:       app,
		Name:      name,
		Type:      "oauth2",
		Status:    connections.StatusConnected,
		Label:     "me@example.com",
		Params:    map[string]string{"server": "eu"},
		Creds: connections.Credentials{
			Fields: map[string]connections.Secret{"api_key": connections.Secret("k-" + name)},
			Token: &connections.Token{
				AccessToken:  connections.Secret("at-" + name),
				RefreshToken: connections.Secret("rt-" + name),
				TokenType:    "Bearer",
				Scope:        "read write",
				Expiry:       time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC),
				ObtainedAt:   time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
				Extra:        map[string]any{"instance_url": "https://eu.example.com", "n": 3.0},
			},
		},
		Client:   "main",
		Origins:  []string{"https://eu.example.com:443"},
		StandIns: []string{"https://eu.example.com:443=http://127.0.0.1:8080"},
	}
}

// dump renders a record with its secrets in clear, for comparing in tests only.
func dump(t testing.TB, rec *connections.Record) string {
	t.Helper()
	type view struct {
		Rec    connections.Record
		Fields map[string]string
		Token  any
	}
	v := view{Rec: *rec}
	v.Rec.Creds = connections.Credentials{}
	if len(rec.Creds.Fields) > 0 {
		v.Fields = map[string]string{}
		for k, s := range rec.Creds.Fields {
			v.Fields[k] = s.Reveal()
		}
	}
	if tok := rec.Creds.Token; tok != nil {
		v.Token = []any{tok.AccessToken.Reveal(), tok.RefreshToken.Reveal(), tok.TokenSecret.Reveal(), *tok, tok.Extra}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
