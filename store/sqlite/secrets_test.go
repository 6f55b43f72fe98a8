package sqlite

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/keys"
)

// Known secrets that must never reach the disk in clear.
var secrets = map[string]string{
	"field":         "field-secret-Xq7Lw2",
	"access token":  "access-token-Jd93kf",
	"refresh token": "refresh-token-Pq0zzT",
	"token secret":  "oauth1-secret-Rw8Nn3",
	"extra":         "extra-secret-Vb5Ty6",
	"client secret": "client-secret-Hh2Gg1",
	"vault value":   "vault-secret-Mm4Kk8",
}

// encodings are the forms a secret might take on disk.
func encodings(s string) map[string]string {
	return map[string]string{
		"clear":      s,
		"base64":     base64.StdEncoding.EncodeToString([]byte(s)),
		"base64 raw": base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64 url": base64.RawURLEncoding.EncodeToString([]byte(s)),
		"hex":        hex.EncodeToString([]byte(s)),
	}
}

// writeSecrets stores a connection, a client and a vault value holding every secret.
func writeSecrets(t *testing.T, s *Store) *connections.Record {
	t.Helper()
	ctx := t.Context()
	rec := record("asana", "work")
	rec.Creds = connections.Credentials{
		Fields: map[string]connections.Secret{"password": connections.Secret(secrets["field"])},
		Token: &connections.Token{
			AccessToken:  connections.Secret(secrets["access token"]),
			RefreshToken: connections.Secret(secrets["refresh token"]),
			TokenSecret:  connections.Secret(secrets["token secret"]),
			Extra:        map[string]any{"api_secret": connections.Secret(secrets["extra"])},
		},
	}
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.PutClient(ctx, &connections.Client{Workspace: "default", App: "asana", Name: "main", ClientID: "cid",
		Secret: connections.Secret(secrets["client secret"])}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVault(ctx, "default", "asana", "api", connections.Secret(secrets["vault value"])); err != nil {
		t.Fatal(err)
	}
	return rec
}

// scanFiles fails the test if any secret, in any encoding, is in the database's files.
func scanFiles(t *testing.T, path string) (scanned []string) {
	t.Helper()
	for _, suffix := range []string{"", "-wal", "-journal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		scanned = append(scanned, fmt.Sprintf("%s (%d bytes)", "patchbay.db"+suffix, len(b)))
		for what, secret := range secrets {
			for enc, form := range encodings(secret) {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("%s holds the %s (%s)", path+suffix, what, enc)
				}
			}
		}
	}
	return scanned
}

// TestSecretsAtRest writes every kind of secret and scans the raw files of the database for
// them, while it is open (the WAL holds the writes) and after it is closed.
func TestSecretsAtRest(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	rec := writeSecrets(t, s)
	// The secrets are there, under the key.
	got, err := s.ConnectionByID(t.Context(), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Creds.Token.Extra["api_secret"] != secrets["extra"] || got.Creds.Fields["password"].Reveal() != secrets["field"] {
		t.Fatalf("secrets did not round-trip: %s", dump(t, got))
	}
	open := scanFiles(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	closed := scanFiles(t, path)
	t.Logf("scanned while open: %v; after close: %v", open, closed)
	if len(open) < 2 || len(closed) < 1 {
		t.Errorf("scanned too little: %v, %v", open, closed)
	}
}

// TestSwappedCiphertexts copies each sealed value into another row: it must not open there.
func TestSwappedCiphertexts(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	a, b := record("asana", "a"), record("asana", "b")
	for _, r := range []*connections.Record{a, b} {
		if err := s.CreateConnection(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{"c1", "c2"} {
		if err := s.PutClient(ctx, &connections.Client{Workspace: "w", App: "asana", Name: c, Secret: connections.Secret("s-" + c)}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetVault(ctx, "w", "", c, connections.Secret("v-"+c)); err != nil {
			t.Fatal(err)
		}
	}
	copies := []string{
		`UPDATE connections SET creds = (SELECT creds FROM connections WHERE name = 'a') WHERE name = 'b'`,
		`UPDATE clients SET secret = (SELECT secret FROM clients WHERE name = 'c1') WHERE name = 'c2'`,
		`UPDATE vault SET value = (SELECT value FROM vault WHERE name = 'c1') WHERE name = 'c2'`,
	}
	for _, q := range copies {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"connection", func() error { _, err := s.ConnectionByID(ctx, b.ID); return err }(),
			"get connection " + b.ID + ": default/asana/b: cannot decrypt credentials: the sealed value is corrupt or belongs to another record"},
		{"client", func() error { _, err := s.Client(ctx, "w", "asana", "c2"); return err }(),
			"get client w/asana/c2: cannot decrypt client secret: the sealed value is corrupt or belongs to another record"},
		{"vault", func() error { _, err := s.Vault(ctx, "w", ""); return err }(),
			`read vault of workspace "w": w/c2: cannot decrypt vault value: the sealed value is corrupt or belongs to another record`},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, keys.ErrCorrupt) || tt.err.Error() != tt.wantErr {
			t.Errorf("%s: %v\nwant %s", tt.name, tt.err, tt.wantErr)
		}
	}
	// The originals still open.
	if got, err := s.ConnectionByID(ctx, a.ID); err != nil || got.Creds.Fields["api_key"].Reveal() != "k-a" {
		t.Errorf("the copied-from row: %v", err)
	}
}

// TestWrongKey opens a database with another key: every read of a secret fails naming both
// key ids, every write of one is refused, and no error holds a secret.
func TestWrongKey(t *testing.T) {
	ctx := t.Context()
	path := dbPath(t)
	right, wrong := testKey(t, 1), testKey(t, 2)
	s, err := Open(path, right)
	if err != nil {
		t.Fatal(err)
	}
	rec := writeSecrets(t, s)
	s.Close()

	w := open(t, path, wrong)
	mismatch := fmt.Sprintf("the master key does not match the one they were sealed with (key id %s, have %s)", right.ID(), wrong.ID())
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"Connection", func() error { _, err := w.Connection(ctx, "default", "work"); return err }(),
			`get connection "work" in workspace "default": cannot decrypt credentials: ` + mismatch},
		{"ConnectionByID", func() error { _, err := w.ConnectionByID(ctx, rec.ID); return err }(),
			"get connection " + rec.ID + ": default/asana/work: cannot decrypt credentials: " + mismatch},
		{"Connections", func() error { _, err := w.Connections(ctx, "default"); return err }(),
			`list connections of workspace "default": default/asana/work: cannot decrypt credentials: ` + mismatch},
		{"Client", func() error { _, err := w.Client(ctx, "default", "asana", "main"); return err }(),
			"get client default/asana/main: cannot decrypt client secret: " + mismatch},
		{"Vault", func() error { _, err := w.Vault(ctx, "default", "asana"); return err }(),
			`read vault of workspace "default" for app "asana": default/asana/api: cannot decrypt vault value: ` + mismatch},
		{"Locked", func() error {
			_, err := w.Locked(ctx, rec.ID, func(*connections.Record) (*connections.Record, error) { return nil, nil })
			return err
		}(), "lock connection " + rec.ID + ": cannot seal credentials: " + mismatch},
		{"TakeLease", func() error { _, err := w.TakeLease(ctx, rec.ID, "h", time.Minute); return err }(),
			"take lease of connection " + rec.ID + ": cannot seal credentials: " + mismatch},
		{"ReleaseLease", func() error { _, err := w.ReleaseLease(ctx, rec.ID, "h", nil); return err }(),
			"release lease of connection " + rec.ID + ": cannot seal credentials: " + mismatch},
		{"CreateConnection", w.CreateConnection(ctx, record("asana", "new")),
			"create connection default/asana/new: cannot seal credentials: " + mismatch},
		{"UpdateConnection", w.UpdateConnection(ctx, rec),
			"update connection " + rec.ID + ": cannot seal credentials: " + mismatch},
		{"PutClient", w.PutClient(ctx, &connections.Client{Workspace: "default", App: "asana", Name: "x", Secret: "s"}),
			"put client default/asana/x: cannot seal client secret: " + mismatch},
		{"SetVault", w.SetVault(ctx, "default", "", "x", "s"),
			"set vault default/x: cannot seal vault value: " + mismatch},
	}
	for _, tt := range tests {
		var me *keys.MismatchError
		if !errors.As(tt.err, &me) || tt.err.Error() != tt.wantErr {
			t.Errorf("%s: %v\nwant %s", tt.name, tt.err, tt.wantErr)
		}
		for _, secret := range secrets {
			if tt.err != nil && strings.Contains(tt.err.Error(), secret) {
				t.Errorf("%s: the error holds a secret", tt.name)
			}
		}
	}
	// Nothing the wrong key wrote is there.
	r := open(t, path, right)
	if list, err := r.Connections(ctx, "default"); err != nil || len(list) != 1 {
		t.Errorf("with the right key again: %d connections, %v", len(list), err)
	}
}
