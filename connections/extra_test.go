package connections_test

import (
	"net/http"
	"testing"
	"time"
)

// TestRefreshKeepsExtra: a refresh whose answer lacks values the exchange gave (a realm id)
// keeps them, takes the values it does give (a new team id), and the run that refreshed sees
// the new values at once, in its next step and its output. The refresh replaced
// connection.extra with its answer: /v3/company/{{ connection.extra.realm }}/query became
// /v3/company/query, the output said "realm": null, and the run succeeded.
func TestRefreshKeepsExtra(t *testing.T) {
	p := newPlainProvider(t, map[string]http.HandlerFunc{
		"/token": func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			if r.PostForm.Get("grant_type") == "refresh_token" {
				writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 3600, "team": "t-2"})
				return
			}
			writeJSONBody(w, http.StatusOK, map[string]any{"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "realm": "r-42", "team": "t-1"})
		},
		"/api/me":                    bearerAPI("at-1", "at-2"),
		"/api/v3/company/r-42/query": bearerAPI("at-2"),
		"/api/teams/t-2":             bearerAPI("at-2"),
	})
	const flows = `  query:
    steps:
      - id: q
        call_api: {method: GET, path: "/v3/company/{{ connection.extra.realm }}/query"}
      - id: team
        call_api: {method: GET, path: "/teams/{{ connection.extra.team }}"}
    output: {realm: "{{ connection.extra.realm }}", team: "{{ connection.extra.team }}"}
`
	clock := newFakeClock(time.Now())
	m := newManager(t, clock)
	prog := loadApp(t, plainApp(p, "", flows))
	putPlainClient(t, m, "plain")
	_, rec, err := connectPlain(t, m, prog, "a")
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	clock.Advance(59 * time.Minute) // due: the first request of the run refreshes
	res, err := runFlow(t.Context(), m, prog, reload(t, m, rec), "query", nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if want := map[string]any{"realm": "r-42", "team": "t-2"}; !equalJSON(res.Output, want) {
		t.Errorf("output = %v, want %v", res.Output, want)
	}
	if n := len(p.at("/token")); n != 2 {
		t.Errorf("the token endpoint got %d requests, want 2 (exchange, refresh)", n)
	}
	for _, path := range []string{"/api/v3/company/r-42/query", "/api/teams/t-2"} {
		if n := len(p.at(path)); n != 1 {
			t.Errorf("%s got %d requests, want 1", path, n)
		}
	}
	got := reload(t, m, rec).Creds.Token
	if want := map[string]any{"realm": "r-42", "team": "t-2"}; got.AccessToken != "at-2" || !equalJSON(got.Extra, want) {
		t.Errorf("stored token %s with extra %v, want at-2 with %v", got.AccessToken.Reveal(), got.Extra, want)
	}
}
