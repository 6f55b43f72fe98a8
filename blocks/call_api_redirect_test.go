package blocks_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestCallAPIFollowRedirects: follow_redirects decides which redirects a step follows, the
// connection signs every hop at the request's own origin (so a same-origin redirect keeps
// working and a 401 after it still refreshes once) and no hop sends a Referer.
func TestCallAPIFollowRedirects(t *testing.T) {
	var other recorder
	ots := httptest.NewServer(other.handler(okJSON))
	defer ots.Close()
	var api recorder
	ts := httptest.NewServer(api.handler(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/here":
			http.Redirect(w, r, "/api/there", http.StatusFound)
		case "/api/away":
			http.Redirect(w, r, ots.URL+"/x", http.StatusFound)
		case "/api/away307":
			http.Redirect(w, r, ots.URL+"/x", http.StatusTemporaryRedirect)
		case "/api/there":
			if r.Header.Get("Authorization") == "Bearer old" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			okJSON(w, r)
		}
	}))
	defer ts.Close()
	tests := []struct {
		name, step string
		conn       bool
		want       string   // the error, "" for none
		status     int      // the response's status
		paths      []string // what the API server got
		others     int      // requests to the other server
		hops       int      // redirects the trace shows
	}{
		{name: "same origin signed on each hop, refreshed once", step: `{path: /here}`, conn: true, status: 200,
			paths: []string{"/api/here", "/api/there", "/api/here", "/api/there"}, hops: 1},
		{name: "another origin refused by default with a connection", step: `{path: /away}`, conn: true,
			want:  `app.yaml:9:9: step "x" (call_api): GET BASE/api/away: redirect (302) from ORIGIN to another origin, OTHER, not followed (follow_redirects: same_origin)`,
			paths: []string{"/api/away"}},
		{name: "another origin followed without a connection", step: `{path: /away}`, status: 200,
			paths: []string{"/api/away"}, others: 1, hops: 1},
		{name: "another origin refused for a secret in the URL", step: `{path: /away, query: {k: "{{ input.token }}"}}`,
			want:  `app.yaml:9:9: step "x" (call_api): GET BASE/api/away?k=[redacted]: redirect (302) from ORIGIN to another origin, OTHER, not followed (follow_redirects: same_origin)`,
			paths: []string{"/api/away"}},
		{name: "any", step: `{path: /away, follow_redirects: any}`, conn: true, status: 200,
			paths: []string{"/api/away"}, others: 1, hops: 1},
		{name: "any drops the step's secret headers at another origin", step: `{path: /away, headers: {X-Key: "{{ input.token }}", X-Plain: p}, follow_redirects: any}`,
			status: 200, paths: []string{"/api/away"}, others: 1, hops: 1},
		{name: "any refuses to send a secret body to another origin again", step: `{method: POST, path: /away307, json: {k: "{{ input.token }}"}, follow_redirects: any}`,
			want:  `app.yaml:9:9: step "x" (call_api): POST BASE/api/away307: redirect (307) from ORIGIN to another origin, OTHER, not followed: the body it would send again holds a secret`,
			paths: []string{"/api/away307"}},
		{name: "none", step: `{path: /here, follow_redirects: none, accept: 3xx}`, conn: true, status: 302,
			paths: []string{"/api/here"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api.reqs, other.reqs = nil, nil
			opts := engine.Options{Input: map[string]any{"token": "tok-0123456789"}}
			if tc.conn {
				opts.Conn = newFakeConn(true)
			}
			res, errText := capiRun(t, ts.URL, capiApp(tc.step), opts)
			want := strings.NewReplacer("BASE", ts.URL, "ORIGIN", ts.URL, "OTHER", ots.URL).Replace(tc.want)
			if errText != want {
				t.Fatalf("error = %q, want %q", errText, want)
			}
			if want == "" {
				if got := res.Output.(map[string]any)["status"]; got != tc.status {
					t.Errorf("status = %v, want %d", got, tc.status)
				}
			}
			if hops, _ := res.Trace[0].Input.(map[string]any)["redirects"].([]any); len(hops) != tc.hops {
				t.Errorf("the trace shows redirects %v, want %d", hops, tc.hops)
			}
			var paths []string
			for _, r := range api.requests() {
				paths = append(paths, r.Path)
				if ref := r.Header.Get("Referer"); ref != "" {
					t.Errorf("%s got Referer %q", r.Path, ref)
				}
				if tc.conn && r.Header.Get("Authorization") == "" {
					t.Errorf("%s got no Authorization", r.Path)
				}
			}
			if !reflect.DeepEqual(paths, tc.paths) {
				t.Errorf("the API got %v, want %v", paths, tc.paths)
			}
			if got := other.requests(); len(got) != tc.others {
				t.Errorf("the other server got %d requests, want %d", len(got), tc.others)
			} else if len(got) == 1 && (got[0].Header.Get("Authorization") != "" || got[0].Header.Get("Referer") != "" || got[0].Header.Get("X-Key") != "") {
				t.Errorf("the other server got Authorization %q, Referer %q, X-Key %q; want none", got[0].Header.Get("Authorization"), got[0].Header.Get("Referer"), got[0].Header.Get("X-Key"))
			} else if len(got) == 1 && strings.Contains(tc.step, "X-Plain") && got[0].Header.Get("X-Plain") != "p" {
				t.Errorf("the other server got X-Plain %q, want the step's p", got[0].Header.Get("X-Plain"))
			}
		})
	}
}

// TestCallAPIFollowRedirectsLoadError: follow_redirects is one of the three policies.
func TestCallAPIFollowRedirectsLoadError(t *testing.T) {
	_, errText := capiLoad(t, "http://x", capiApp(`{path: /x, follow_redirects: same-origin}`))
	if want := `app.yaml:10:48: call_api: follow_redirects "same-origin" is not one of same_origin, any, none (did you mean "same_origin"?)`; errText != want {
		t.Errorf("load error = %q, want %q", errText, want)
	}
}
