package sqlite

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

func TestClients(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	s := open(t, dbPath(t), testKey(t, 1), WithClock(clk.now))
	c := &connections.Client{Workspace: "w", App: "asana", Name: "main", ClientID: "id1", Secret: "s3cret",
		RedirectURL: "https://x/cb", Scopes: []string{"default", "email"}}
	if err := s.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	created := c.CreatedAt
	if want := clk.last(); !created.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", created, want)
	}
	got, err := s.Client(ctx, "w", "asana", "main")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) || got.Secret.Reveal() != "s3cret" {
		t.Errorf("Client = %+v, want %+v", got, c)
	}

	// Replacing keeps CreatedAt.
	repl := &connections.Client{Workspace: "w", App: "asana", Name: "main", ClientID: "id2", Secret: "n3w"}
	if err := s.PutClient(ctx, repl); err != nil {
		t.Fatal(err)
	}
	if !repl.CreatedAt.Equal(created) {
		t.Errorf("replaced client CreatedAt = %v, want %v", repl.CreatedAt, created)
	}
	for _, o := range []*connections.Client{
		{Workspace: "w", App: "github", Name: "gh", ClientID: "g", Secret: "x"},
		{Workspace: "w", App: "asana", Name: "alt", ClientID: "a", Secret: "y"},
		{Workspace: "v", App: "asana", Name: "main", ClientID: "v", Secret: "z"},
	} {
		if err := s.PutClient(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Clients(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.App+"/"+c.Name+"="+c.ClientID+":"+c.Secret.Reveal())
	}
	if want := []string{"asana/alt=a:y", "asana/main=id2:n3w", "github/gh=g:x"}; !equal(names, want) {
		t.Errorf("Clients = %v, want %v", names, want)
	}

	if err := s.DeleteClient(ctx, "w", "asana", "main"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"get deleted", func() error { _, err := s.Client(ctx, "w", "asana", "main"); return err }(), "get client w/asana/main: not found"},
		{"delete again", s.DeleteClient(ctx, "w", "asana", "main"), "delete client w/asana/main: not found"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, connections.ErrNotFound) || tt.err.Error() != tt.wantErr {
			t.Errorf("%s: %v, want %q", tt.name, tt.err, tt.wantErr)
		}
	}
}

func TestVault(t *testing.T) {
	ctx := t.Context()
	s := open(t, dbPath(t), testKey(t, 1))
	for _, v := range []struct{ ws, app, name, value string }{
		{"w", "", "region", "eu"},
		{"w", "", "token", "workspace-token"},
		{"w", "asana", "token", "asana-token"},
		{"w", "github", "only", "gh"},
		{"v", "", "region", "us"},
		{"w", "", "region", "eu-2"}, // replaces
	} {
		if err := s.SetVault(ctx, v.ws, v.app, v.name, connections.Secret(v.value)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		ws, app string
		want    map[string]string
	}{
		{"w", "", map[string]string{"region": "eu-2", "token": "workspace-token"}},
		{"w", "asana", map[string]string{"region": "eu-2", "token": "asana-token"}},
		{"w", "github", map[string]string{"region": "eu-2", "token": "workspace-token", "only": "gh"}},
		{"v", "asana", map[string]string{"region": "us"}},
		{"x", "asana", map[string]string{}},
	}
	for _, tt := range tests {
		got, err := s.Vault(ctx, tt.ws, tt.app)
		if err != nil {
			t.Fatal(err)
		}
		plain := map[string]string{}
		for k, v := range got {
			plain[k] = v.Reveal()
		}
		if !reflect.DeepEqual(plain, tt.want) {
			t.Errorf("Vault(%q, %q) = %v, want %v", tt.ws, tt.app, plain, tt.want)
		}
	}
	if err := s.DeleteVault(ctx, "w", "asana", "token"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Vault(ctx, "w", "asana"); got["token"].Reveal() != "workspace-token" {
		t.Errorf("after deleting the app's token, Vault gives %q, want the workspace's", got["token"].Reveal())
	}
	err := s.DeleteVault(ctx, "w", "asana", "token")
	if !errors.Is(err, connections.ErrNotFound) || err.Error() != "delete vault w/asana/token: not found" {
		t.Errorf("second DeleteVault = %v", err)
	}
}

func TestEvents(t *testing.T) {
	ctx := t.Context()
	clk := newClock()
	s := open(t, dbPath(t), testKey(t, 1), WithClock(clk.now))
	at := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	in := []connections.Event{
		{Kind: "created", ConnectionID: "c1", Workspace: "w", App: "asana", Name: "work", At: at},
		{Kind: "created", ConnectionID: "c2", Workspace: "w", App: "asana", Name: "home", At: at},
		{Kind: "refreshed", ConnectionID: "c1", Workspace: "w", App: "asana", Name: "work"},
		{Kind: "disconnected", ConnectionID: "c1", Workspace: "w", App: "asana", Name: "work", Reason: "invalid_grant", At: at},
	}
	for _, e := range in {
		if err := s.AddEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Events(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := []connections.Event{in[0], in[2], in[3]}
	want[1].At = clk.last() // the one event without a time was the last to read the clock
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Events(c1) = %+v\nwant %+v", got, want)
	}
	if got, err := s.Events(ctx, "none"); err != nil || len(got) != 0 {
		t.Errorf("Events(none) = %v, %v", got, err)
	}
}
