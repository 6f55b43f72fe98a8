package connections_test

import (
	"errors"
	"testing"

	"github.com/patchbay/patchbay/connections"
)

// TestReconnectKeepsID: a connection the provider disconnected is connected again under its
// name; it keeps its id (what refers to it still does), works again, and the events say so.
// A connected connection's name stays refused.
func TestReconnectKeepsID(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{})
	e.srv.RevokeAll()
	e.expire(t)
	if err := e.me(t.Context(), e.rec); !errors.Is(err, connections.ErrDisconnected) {
		t.Fatalf("call after the grant was revoked = %v, want ErrDisconnected", err)
	}
	again := connectOAuth2(t, e.m, e.prog, e.srv, "alice")
	if again.ID != e.rec.ID {
		t.Errorf("connected again with id %q, want the old id %q", again.ID, e.rec.ID)
	}
	got := reload(t, e.m, again)
	if got.Status != connections.StatusConnected || got.Reason != "" || got.Creds.Token == nil {
		t.Errorf("after connecting again: status %q, reason %q, token %v; want connected with a token", got.Status, got.Reason, got.Creds.Token != nil)
	}
	if !got.CreatedAt.Equal(e.rec.CreatedAt) {
		t.Errorf("created at %v, want the first connect's %v", got.CreatedAt, e.rec.CreatedAt)
	}
	if err := e.me(t.Context(), got); err != nil {
		t.Errorf("call after connecting again: %v", err)
	}
	events, err := e.m.Store().Events(t.Context(), e.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{"created", "disconnected", "reconnected"}; !slicesEqual(kinds, want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}
	_, err = e.m.StartOAuth(t.Context(), e.prog, connections.ConnectRequest{Name: "alice"}, testRedirectURL)
	var fe *connections.FieldError
	if !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("StartOAuth with the name of a connected connection = %v, want a name error", err)
	}
}
