package connections_test

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// keyApp is an api_key app (key in X-Api-Key) whose base URL is base, with egressFlows.
func keyApp(t *testing.T, base string) *engine.Program {
	t.Helper()
	return loadApp(t, "app: egress\nname: Egress\nbase_url: "+base+`
connection:
  type: api_key
  inject: {in: header, name: X-Api-Key, value: "{{ token }}"}
`+egressFlows)
}

// okAPI answers /me with 200 {"ok": true} and records every request.
func okAPI(t *testing.T) *plainProvider {
	return newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"ok": true})
		},
	})
}

// TestConnectionBoundToOrigins: a connection made with the app at server A is bound to A's
// origin; the same app key loaded from another folder whose base_url is server B gets an
// *OriginError, and B never sees the key; AllowOrigins (run --allow-origin) lets it go there.
// Before the fix, B received the stored key.
func TestConnectionBoundToOrigins(t *testing.T) {
	a, b := okAPI(t), okAPI(t)
	m := newManager(t, nil)
	rec, err := m.Connect(t.Context(), keyApp(t, a.srv.URL), connections.ConnectRequest{Name: "c", Fields: map[string]string{"api_key": egressKey}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	originA, originB := engine.Origin(mustURL(t, a.srv.URL)), engine.Origin(mustURL(t, b.srv.URL))
	if got := reload(t, m, rec).Origins; !slices.Equal(got, []string{originA}) {
		t.Errorf("stored origins = %v, want [%s]", got, originA)
	}
	other := keyApp(t, b.srv.URL)
	_, err = runFlow(t.Context(), m, other, rec, "test", nil)
	var oe *connections.OriginError
	if !errors.As(err, &oe) || oe.Origin != originB || !slices.Equal(oe.Bound, []string{originA}) {
		t.Fatalf("run against B: error %v, want an *OriginError for %s", err, originB)
	}
	if !strings.Contains(err.Error(), "--allow-origin "+originB) {
		t.Errorf("error %q does not say how to allow the origin", err)
	}
	if n := b.count(); n != 0 {
		t.Errorf("B got %d requests, want none:\n%s", n, b.dump())
	}

	allowing := newManagerConfig(t, nil, connections.Config{Store: m.Store(), AllowOrigins: []string{originB}})
	if _, err := runFlow(t.Context(), allowing, other, rec, "test", nil); err != nil {
		t.Fatalf("run against B with B allowed: %v", err)
	}
	if got := b.at("/me"); len(got) != 1 || got[0].Header.Get("X-Api-Key") != egressKey {
		t.Errorf("B got %v, want one request with the key", got)
	}
}

// TestPrivateFlowsBoundToOrigins: an oauth2 connection's refresh and revoke, run with an app of
// the same key whose token and revoke URLs are at another server, send nothing there: neither
// the refresh token nor the client secret.
func TestPrivateFlowsBoundToOrigins(t *testing.T) {
	a := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, http.StatusOK, map[string]any{}) },
		"/token": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": egressToken})
		},
	})
	b := evilServer(t)
	m, prog := egressOAuth2(t, a, "  revoke_url: API/revoke\n")
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	_, evilProg := egressOAuth2(t, b, "  revoke_url: API/revoke\n")
	var oe *connections.OriginError
	if err := m.Test(t.Context(), evilProg, rec); !errors.As(err, &oe) {
		t.Errorf("Test with the other app: error %v, want an *OriginError", err)
	}
	if err := m.Delete(t.Context(), evilProg, rec); !errors.As(err, &oe) {
		t.Errorf("Delete with the other app: error %v, want a revoke refused with an *OriginError", err)
	}
	if n := b.count(); n != 0 {
		t.Errorf("the other server got %d requests, want none:\n%s", n, b.dump())
	}
}

// TestLegacyConnectionBoundAtFirstUse: a connection stored before origins were recorded keeps
// working, and its first use binds it to the origins of the app it is used with (and saves
// them): another app of the same key at another server is refused from then on.
func TestLegacyConnectionBoundAtFirstUse(t *testing.T) {
	a, b := okAPI(t), okAPI(t)
	m := newManager(t, nil)
	rec := &connections.Record{
		Workspace: connections.DefaultWorkspace, App: "egress", Name: "old", Type: "api_key", Status: connections.StatusConnected,
		Creds: connections.Credentials{Fields: map[string]connections.Secret{"api_key": egressKey}},
	}
	if err := m.Store().CreateConnection(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if _, err := runFlow(t.Context(), m, keyApp(t, a.srv.URL), rec, "test", nil); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if got, want := reload(t, m, rec).Origins, []string{engine.Origin(mustURL(t, a.srv.URL))}; !slices.Equal(got, want) {
		t.Errorf("origins after the first use = %v, want %v", got, want)
	}
	_, err := runFlow(t.Context(), m, keyApp(t, b.srv.URL), reload(t, m, rec), "test", nil)
	var oe *connections.OriginError
	if !errors.As(err, &oe) {
		t.Errorf("use with another server: error %v, want an *OriginError", err)
	}
	if n := b.count(); n != 0 {
		t.Errorf("B got %d requests, want none", n)
	}
}

// TestReconnectRebinds: connecting a disconnected connection again under its name binds it to
// the origins of the app it is connected with now.
func TestReconnectRebinds(t *testing.T) {
	a, b := okAPI(t), okAPI(t)
	m := newManager(t, nil)
	req := connections.ConnectRequest{Name: "c", Fields: map[string]string{"api_key": egressKey}}
	rec, err := m.Connect(t.Context(), keyApp(t, a.srv.URL), req)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	_, err = m.Store().Locked(t.Context(), rec.ID, func(cur *connections.Record) (*connections.Record, error) {
		cur.Status, cur.Creds = connections.StatusDisconnected, connections.Credentials{}
		return cur, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Connect(t.Context(), keyApp(t, b.srv.URL), req)
	if err != nil {
		t.Fatalf("Connect again: %v", err)
	}
	if got, want := reload(t, m, again).Origins, []string{engine.Origin(mustURL(t, b.srv.URL))}; again.ID != rec.ID || !slices.Equal(got, want) {
		t.Errorf("connected again: id %s (want %s), origins %v (want %v)", again.ID, rec.ID, got, want)
	}
}

// TestBoundToTestOrigins: an app without base_url whose test flow calls an absolute URL is
// bound to where the test sent the credentials.
func TestBoundToTestOrigins(t *testing.T) {
	a := okAPI(t)
	prog := loadApp(t, `app: egress
name: Egress
connection:
  type: api_key
  inject: {in: header, name: X-Api-Key, value: "{{ token }}"}
flows:
  test:
    steps:
      - id: me
        call_api: {method: GET, url: "`+a.srv.URL+`/me"}
`)
	m := newManager(t, nil)
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c", Fields: map[string]string{"api_key": egressKey}})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got, want := reload(t, m, rec).Origins, []string{engine.Origin(mustURL(t, a.srv.URL))}; !slices.Equal(got, want) {
		t.Errorf("origins = %v, want %v", got, want)
	}
}

// TestRefreshBoundToOrigins: an app of the same key whose token_url is at another server (its
// base_url still the API's) gets no refresh from the connection there: neither the client secret
// nor anything else is sent to it, and the run fails saying why.
func TestRefreshBoundToOrigins(t *testing.T) {
	a := newPlainProvider(t, map[string]http.HandlerFunc{
		"/me": func(w http.ResponseWriter, r *http.Request) { writeJSONBody(w, http.StatusOK, map[string]any{}) },
		"/token": func(w http.ResponseWriter, r *http.Request) {
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": egressToken, "expires_in": 3600})
		},
	})
	b := evilServer(t)
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	putPlainClient(t, m, "egress")
	prog := loadApp(t, ccApp(a.srv.URL, a.srv.URL+"/token", ""))
	rec, err := m.Connect(t.Context(), prog, connections.ConnectRequest{Name: "c"})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	clock.Advance(2 * time.Hour)
	evilProg := loadApp(t, ccApp(a.srv.URL, b.srv.URL+"/token", ""))
	_, err = runFlow(t.Context(), m, evilProg, rec, "test", nil)
	var oe *connections.OriginError
	if !errors.As(err, &oe) {
		t.Errorf("run with the other token_url: error %v, want an *OriginError", err)
	}
	if n := b.count(); n != 0 {
		t.Errorf("the other server got %d requests, want none:\n%s", n, b.dump())
	}
}
