package sqlite

import (
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

func TestCreateAndGet(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	s := open(t, dbPath(t), testKey(t, 1), WithClock(clk.now))
	rec := record("asana", "work")
	rec.LastTest = &connections.TestResult{At: time.Date(2025, 3, 1, 12, 0, 5, 0, time.UTC), OK: true, Message: "hi"}
	rec.LastRefresh = time.Date(2025, 3, 1, 12, 0, 6, 0, time.UTC)
	rec.RefreshCount = 2
	rec.LastError = "boom"
	rec.Reason = "why"
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.ID) != 32 {
		t.Errorf("ID = %q, want 32 hex digits", rec.ID)
	}
	want := clk.last()
	if !rec.CreatedAt.Equal(want) || !rec.UpdatedAt.Equal(want) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v", rec.CreatedAt, rec.UpdatedAt, want)
	}
	byName, err := s.Connection(ctx, connections.DefaultWorkspace, "work")
	if err != nil {
		t.Fatal(err)
	}
	byID, err := s.ConnectionByID(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	for how, got := range map[string]*connections.Record{"Connection": byName, "ConnectionByID": byID} {
		if g, w := dump(t, got), dump(t, rec); g != w {
			t.Errorf("%s = %s\nwant %s", how, g, w)
		}
	}
	// The token's expiry is kept in clear for a refresh scheduler.
	var expiry string
	if err := s.r.QueryRow(`SELECT token_expiry FROM connections WHERE id = ?`, rec.ID).Scan(&expiry); err != nil {
		t.Fatal(err)
	}
	if want := "2025-03-01T13:00:00.000000000Z"; expiry != want {
		t.Errorf("token_expiry = %q, want %q", expiry, want)
	}
}

func TestCreateMinimal(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	rec := &connections.Record{Workspace: "w", App: "rss", Name: "feed", Type: "none", Status: connections.StatusConnected}
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConnectionByID(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := dump(t, got), dump(t, rec); g != w {
		t.Errorf("ConnectionByID = %s\nwant %s", g, w)
	}
	var expiry sql.NullString
	if err := s.r.QueryRow(`SELECT token_expiry FROM connections WHERE id = ?`, rec.ID).Scan(&expiry); err != nil || expiry.Valid {
		t.Errorf("token_expiry of a connection without a token = %v, %v; want NULL", expiry, err)
	}
}

func TestCreateDuplicate(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	first := record("asana", "work")
	if err := s.CreateConnection(ctx, first); err != nil {
		t.Fatal(err)
	}
	dup := record("asana", "work")
	dup.Creds.Fields["api_key"] = "other"
	err := s.CreateConnection(ctx, dup)
	if !errors.Is(err, connections.ErrExists) || err.Error() != "create connection default/asana/work: already exists" {
		t.Fatalf("CreateConnection of a duplicate = %v, want ErrExists", err)
	}
	if dup.ID != "" || !dup.CreatedAt.IsZero() {
		t.Errorf("a failed create changed the record: ID %q, CreatedAt %v", dup.ID, dup.CreatedAt)
	}
	list, err := s.Connections(ctx, connections.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || dump(t, list[0]) != dump(t, first) {
		t.Errorf("after a duplicate create, Connections = %d records, want the first unchanged", len(list))
	}
}

func TestConnectionLookup(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	for _, r := range []*connections.Record{
		record("asana", "work"), record("github", "work"), record("github", "home"), record("asana", "solo"),
	} {
		if err := s.CreateConnection(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	other := record("asana", "work")
	other.Workspace = "other"
	if err := s.CreateConnection(ctx, other); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		workspace, name string
		wantApp         string
		wantErr         string
		is              error
	}{
		{"default", "solo", "asana", "", nil},
		{"default", "home", "github", "", nil},
		{"other", "work", "asana", "", nil},
		{"default", "work", "", `get connection "work" in workspace "default": ambiguous: apps asana, github each have a connection of that name`, nil},
		{"default", "nope", "", `get connection "nope" in workspace "default": not found`, connections.ErrNotFound},
		{"nowhere", "solo", "", `get connection "solo" in workspace "nowhere": not found`, connections.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.workspace+"/"+tt.name, func(t *testing.T) {
			got, err := s.Connection(ctx, tt.workspace, tt.name)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Connection error = %v, want %q", err, tt.wantErr)
				}
				if tt.is != nil && !errors.Is(err, tt.is) {
					t.Errorf("Connection error %v is not %v", err, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.App != tt.wantApp || got.Workspace != tt.workspace || got.Creds.Fields["api_key"].Reveal() != "k-"+tt.name {
				t.Errorf("Connection = %s/%s/%s, want app %s", got.Workspace, got.App, got.Name, tt.wantApp)
			}
		})
	}

	list, err := s.Connections(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range list {
		names = append(names, r.App+"/"+r.Name)
	}
	if got, want := names, []string{"asana/solo", "asana/work", "github/home", "github/work"}; !equal(got, want) {
		t.Errorf("Connections = %v, want %v", got, want)
	}
	if list, err := s.Connections(ctx, "empty"); err != nil || len(list) != 0 {
		t.Errorf("Connections of an empty workspace = %v, %v", list, err)
	}
	if _, err := s.ConnectionByID(ctx, "0123"); !errors.Is(err, connections.ErrNotFound) || err.Error() != "get connection 0123: not found" {
		t.Errorf("ConnectionByID of a missing id = %v", err)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestUpdateConnection(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	s := open(t, dbPath(t), testKey(t, 1), WithClock(clk.now))
	rec, other := record("asana", "work"), record("asana", "home")
	for _, r := range []*connections.Record{rec, other} {
		if err := s.CreateConnection(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	created := rec.CreatedAt
	rec.Status, rec.Reason = connections.StatusDisconnected, "invalid_grant"
	rec.Creds = connections.Credentials{Fields: map[string]connections.Secret{"user": "u"}}
	rec.Params = nil
	rec.CreatedAt = time.Time{} // ignored: the stored one is kept
	if err := s.UpdateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.ConnectionByID(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(created) || !got.UpdatedAt.Equal(rec.UpdatedAt) || !got.UpdatedAt.After(created) {
		t.Errorf("after update: CreatedAt %v, UpdatedAt %v; want %v and later", got.CreatedAt, got.UpdatedAt, created)
	}
	rec.CreatedAt = created
	if g, w := dump(t, got), dump(t, rec); g != w {
		t.Errorf("after update = %s\nwant %s", g, w)
	}

	tests := []struct {
		name    string
		rec     func() *connections.Record
		wantErr string
		is      error
	}{
		{"missing", func() *connections.Record { r := record("asana", "x"); r.ID = "feed"; return r },
			"update connection feed: not found", connections.ErrNotFound},
		{"rename onto another", func() *connections.Record { r := *rec; r.Name = "home"; return &r },
			"update connection " + rec.ID + ": default/asana/home: already exists", connections.ErrExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.UpdateConnection(ctx, tt.rec())
			if !errors.Is(err, tt.is) || err.Error() != tt.wantErr {
				t.Errorf("UpdateConnection = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if got, _ := s.ConnectionByID(ctx, rec.ID); got.Name != "work" {
		t.Errorf("a failed rename changed the name to %q", got.Name)
	}
}

func TestDeleteConnection(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	rec := record("asana", "work")
	if err := s.CreateConnection(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEvent(ctx, connections.Event{Kind: "created", ConnectionID: rec.ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConnectionByID(ctx, rec.ID); !errors.Is(err, connections.ErrNotFound) {
		t.Errorf("ConnectionByID after delete = %v, want ErrNotFound", err)
	}
	err := s.DeleteConnection(ctx, rec.ID)
	if want := "delete connection " + rec.ID + ": not found"; !errors.Is(err, connections.ErrNotFound) || err.Error() != want {
		t.Errorf("second delete = %v, want %q", err, want)
	}
	if evs, err := s.Events(ctx, rec.ID); err != nil || len(evs) != 1 {
		t.Errorf("events after delete = %v, %v; want the one event kept", evs, err)
	}
	// The name is free again.
	if err := s.CreateConnection(ctx, record("asana", "work")); err != nil {
		t.Errorf("create after delete: %v", err)
	}
}
