package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/patchbay/patchbay/store/keys"
)

func TestOpenTwiceIsIdempotent(t *testing.T) {
	path := dbPath(t)
	key := testKey(t, 1)
	for range 3 {
		s, err := Open(path, key)
		if err != nil {
			t.Fatal(err)
		}
		var n, max int
		if err := s.r.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations(migrationFS)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || max != len(ms) {
			t.Errorf("schema_migrations has %d rows up to version %d, want %d", n, max, len(ms))
		}
		var mode string
		if err := s.r.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		var fk int
		if err := s.w.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
		}
		if id, err := dbKeyID(t.Context(), s.r); err != nil || id != key.ID() {
			t.Errorf("recorded key id = %q, %v; want %s", id, err, key.ID())
		}
		s.Close()
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := dbPath(t)
	s, err := Open(path, testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '0999_future', '')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ms, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, testKey(t, 1))
	want := fmt.Sprintf("open store %s: migrate: the database has schema version 999, newer than this patchbay knows (%d): use a newer patchbay", path, len(ms))
	if err == nil || err.Error() != want {
		t.Errorf("Open of a newer schema = %v\nwant %s", err, want)
	}
}

func TestLoadMigrations(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    int
		wantErr string
	}{
		{"in order", fstest.MapFS{"migrations/0002_b.sql": sql, "migrations/0001_a.sql": sql}, 2, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0003_c.sql": sql}, 0, "migration 0003_c: want version 2"},
		{"repeat", fstest.MapFS{"migrations/0001_a.sql": sql, "migrations/0001_b.sql": sql}, 0, "migration 0001_b: want version 2"},
		{"bad name", fstest.MapFS{"migrations/init.sql": sql}, 0, "migration init.sql: name must be NNNN_what.sql"},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": sql}, 0, "migration 0000_a.sql: name must be NNNN_what.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := loadMigrations(tt.files)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("loadMigrations = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(ms) != tt.want || ms[0].name != "0001_a" {
				t.Errorf("loadMigrations = %v, %v", ms, err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name, path string
		key        keys.Key
		wantErr    string
	}{
		{"no key", "x.db", keys.Key{}, "open store: no master key"},
		{"no path", "", testKey(t, 1), "open store: no database path"},
	}
	for _, tt := range tests {
		if _, err := Open(tt.path, tt.key); err == nil || err.Error() != tt.wantErr {
			t.Errorf("%s: Open = %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestOpenOddPath opens a database in a directory whose name holds the characters a DSN or
// a URI treats specially.
func TestOpenOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a?b c%20#d&e")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "patchbay.db")
	s := open(t, path, testKey(t, 1))
	if err := s.SetVault(t.Context(), "w", "", "n", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where asked: %v", err)
	}
}

// TestOpenRing: a store opened with a ring seals with the key the database records.
func TestOpenRing(t *testing.T) {
	path := dbPath(t)
	k1, k2 := testKey(t, 1), testKey(t, 2)
	s := open(t, path, k2)
	s.Close()
	r := open(t, path, k1.With(k2))
	if got := r.sealKey().ID(); got != k2.ID() {
		t.Errorf("store opened with [%s %s] on a database under %s seals with %s", k1.ID(), k2.ID(), k2.ID(), got)
	}
}
