package blocks_test

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestCallAPIEmptyURLPart: a template that gives null or "" in a URL's host or path fails the
// step, naming the template at its position, instead of asking for another URL
// (/v3/company/{{ connection.extra.realm }}/query asked for /v3/company/query and the run
// passed); optional(...) leaves such a segment out on purpose.
func TestCallAPIEmptyURLPart(t *testing.T) {
	rec := &recorder{}
	ts := httptest.NewServer(rec.handler(okJSON))
	defer ts.Close()
	tests := []struct {
		name    string
		step    string
		base    string // base_url in place of BASE/api
		opts    engine.Options
		want    string // the path and query asked for
		host    string // the Host asked for; "" for the server's
		wantErr string // BASE is the server's URL
	}{
		{name: "null path segment", step: `{path: "/v3/company/{{ connection.extra.realm }}/query"}`,
			opts:    engine.Options{Connection: map[string]any{"extra": map[string]any{}}},
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: path: template {{ connection.extra.realm }} is null in the URL's path (write optional(...) around it when it may be left out)`},
		{name: "empty path segment", step: `{path: "/users/{{ input.id }}"}`,
			opts:    engine.Options{Input: map[string]any{"id": ""}},
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: path: template {{ input.id }} is empty in the URL's path (write optional(...) around it when it may be left out)`},
		{name: "whole path empty", step: `{path: "{{ input.id }}"}`,
			opts:    engine.Options{Input: map[string]any{"id": ""}},
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: path: template {{ input.id }} is empty in the URL's path (write optional(...) around it when it may be left out)`},
		{name: "empty host", step: `{url: "http://{{ input.id }}/x"}`,
			opts:    engine.Options{Input: map[string]any{"id": ""}},
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: url: template {{ input.id }} is empty in the URL's host (write optional(...) around it when it may be left out)`},
		{name: "null in a url's path", step: `{url: "BASE/api/{{ input.id }}/x"}`,
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: url: template {{ input.id }} is null in the URL's path (write optional(...) around it when it may be left out)`},
		{name: "null in base_url", step: `{path: /me}`, base: "BASE/{{ connection.params.tenant }}/api",
			wantErr: `app.yaml:9:9: step "x" (call_api): app.yaml:POS: base_url: template {{ connection.params.tenant }} is null in the URL's path (write optional(...) around it when it may be left out)`},
		{name: "base_url replaced by the run's option", step: `{path: /me}`, base: "BASE/{{ connection.params.tenant }}/api",
			opts: engine.Options{BaseURL: "BASE/sandbox"}, want: "/sandbox/me"},
		{name: "optional segment left out", step: `{path: "/v3/company/{{ optional(connection.extra.realm) }}/query"}`,
			want: "/api/v3/company/query"},
		{name: "optional segment given", step: `{path: "/v3/company/{{ optional(connection.extra.realm) }}/query"}`,
			opts: engine.Options{Connection: map[string]any{"extra": map[string]any{"realm": 123}}}, want: "/api/v3/company/123/query"},
		{name: "optional last segment left out", step: `{path: "/items/{{ optional(input.id) }}?all=1"}`,
			want: "/api/items?all=1"},
		{name: "optional host label left out", step: `{url: "http://{{ optional(input.id) }}.example.test/x"}`,
			host: "example.test", want: "/x"},
		{name: "optional host label given", step: `{url: "http://{{ optional(input.id) }}.example.test/x"}`,
			opts: engine.Options{Input: map[string]any{"id": "eu"}}, host: "eu.example.test", want: "/x"},
		{name: "optional inner host label left out", step: `{url: "http://api.{{ optional(input.id) }}.example.test/y"}`,
			host: "api.example.test", want: "/y"},
		{name: "empty query value is not the path", step: `{path: "/search?q={{ input.id }}"}`,
			opts: engine.Options{Input: map[string]any{"id": ""}}, want: "/api/search?q="},
		{name: "template after the query", step: `{url: "BASE/api/search?{{ 'q=' }}{{ input.id }}"}`,
			want: "/api/search?q="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			src := capiApp(tc.step)
			if tc.base != "" {
				src = strings.Replace(src, "base_url: BASE/api", "base_url: "+tc.base, 1)
			}
			if tc.opts.Connection == nil {
				tc.opts.Connection = map[string]any{"params": map[string]any{}, "extra": map[string]any{}}
			}
			// Every host is the test server, which sees the Host asked for.
			tc.opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, ts.Listener.Addr().String())
			}}}
			tc.opts.BaseURL = strings.ReplaceAll(tc.opts.BaseURL, "BASE", ts.URL)
			_, errText := capiRun(t, ts.URL, src, tc.opts)
			reqs := rec.requests()[before:]
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "BASE", ts.URL)
				want = strings.Replace(want, "POS", templatePos(strings.ReplaceAll(src, "BASE", ts.URL)), 1)
				if errText != want {
					t.Errorf("error =\n%s\nwant\n%s", errText, want)
				}
				if len(reqs) != 0 {
					t.Errorf("server got %d requests, want none", len(reqs))
				}
				return
			}
			if errText != "" {
				t.Fatalf("Run: %s", errText)
			}
			if len(reqs) != 1 {
				t.Fatalf("server got %d requests, want 1", len(reqs))
			}
			got := reqs[0].Path
			if reqs[0].Query != "" || strings.HasSuffix(tc.want, "=") {
				got += "?" + reqs[0].Query
			}
			if got != tc.want {
				t.Errorf("asked for %s, want %s", got, tc.want)
			}
			if want := cmp.Or(tc.host, strings.TrimPrefix(ts.URL, "http://")); reqs[0].Host != want {
				t.Errorf("asked host %s, want %s", reqs[0].Host, want)
			}
		})
	}
}

// templatePos is the line:col of the expression of the first template in src (just after "{{").
func templatePos(src string) string {
	i := strings.Index(src, "{{") + 2
	line := strings.Count(src[:i], "\n") + 1
	return fmt.Sprintf("%d:%d", line, i-strings.LastIndex(src[:i], "\n"))
}
