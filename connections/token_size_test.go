package connections_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// TestRefreshTokenResponseTooLarge: a token response larger than the 1 MiB read of it said
// "unexpected end of JSON input", as if the endpoint had sent half a token. The built-in
// refresh now says the response is too large and how large the limit is, and the connection
// is kept: the endpoint answered 200, it did not refuse the grant.
func TestRefreshTokenResponseTooLarge(t *testing.T) {
	token := func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") == "refresh_token" {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"at-2","token_type":"Bearer","pad":"` + strings.Repeat("x", 1<<20) + `"}`))
			return
		}
		writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600})
	}
	p := newPlainProvider(t, map[string]http.HandlerFunc{"/token": token, "/api/me": bearerAPI("at-1", "at-2")})
	clock := newFakeClock(tkT0)
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "", ""))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "big")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	clock.Advance(2 * time.Hour) // expired: the run must refresh first

	_, err = runFlow(t.Context(), m, prog, rec, "test", nil)
	want := `authorize: refresh token: builtin:oauth2.yaml:`
	if err == nil || !strings.Contains(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), `step "token" (oauth2_token): token request: 200 OK: limit exceeded: the token response is larger than 1 MiB (at most 1048576 response_bytes)`) {
		t.Fatalf("run with a token response over 1 MiB: %v\nwant the refresh's step to say the response is larger than 1 MiB", err)
	}
	if got := reload(t, m, rec); got.Status == connections.StatusDisconnected {
		t.Errorf("stored connection status = %s (%s), want it kept", got.Status, got.Reason)
	}
}
