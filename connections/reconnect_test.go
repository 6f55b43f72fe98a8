package connections_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
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

// TestRetryRefusedOldTokenKeepsConnection: a retried request refused with 401 disconnects only
// when the refused token is still the stored one. Here another run refreshed meanwhile (as
// another process would): the connection must stay connected.
func TestRetryRefusedOldTokenKeepsConnection(t *testing.T) {
	e := newLifecycle(t, "", connections.Config{})
	old, err := e.m.RunOptions(t.Context(), e.prog, e.rec) // holds the first token
	if err != nil {
		t.Fatal(err)
	}
	e.expire(t)
	if err := e.me(t.Context(), e.rec); err != nil { // another run refreshes
		t.Fatalf("call that refreshes: %v", err)
	}
	if reload(t, e.m, e.rec).Creds.Token.AccessToken == e.rec.Creds.Token.AccessToken {
		t.Fatal("the token was not refreshed")
	}
	req := httptest.NewRequest(http.MethodGet, e.srv.APIURL(), nil)
	req.Header.Set("Authorization", "Bearer "+e.rec.Creds.Token.AccessToken.Reveal())
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Request: req}
	again, err := old.Conn.Retry(engine.RetryContext(t.Context()), resp)
	if again || err != nil {
		t.Errorf("Retry on the retry's 401 with an old token = %v, %v; want false, nil", again, err)
	}
	if got := reload(t, e.m, e.rec); got.Status != connections.StatusConnected || got.Creds.Token == nil {
		t.Errorf("status %q, token %v; want connected with its token", got.Status, got.Creds.Token != nil)
	}
}
