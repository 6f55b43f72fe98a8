package blocks_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
)

// capiLoad writes src (with BASE replaced by base) as app.yaml in a temporary folder and loads it
// with the core blocks. It returns the program and the load error's text with the folder removed,
// so that positions read app.yaml:line:col.
func capiLoad(t testing.TB, base, src string) (*engine.Program, string) {
	t.Helper()
	return loadYAML(t, strings.ReplaceAll(src, "BASE", base))
}

// loadYAML writes src as app.yaml in a temporary folder and loads it with the core blocks; the
// load error's text comes back with the folder removed.
func loadYAML(t testing.TB, src string) (*engine.Program, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	prog, err := engine.Load(reg, dir)
	if err != nil {
		return prog, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
	}
	return prog, ""
}

// capiApp is an app whose flow main runs one call_api step with body (its line 10), and whose
// base_url is BASE/api.
func capiApp(body string) string {
	return `app: t
base_url: BASE/api
flows:
  main:
    inputs:
      id: {type: string}
      token: {type: string, sensitive: true}
    steps:
      - id: x
        call_api: ` + body + `
`
}

// capiRun loads src and runs main with opts and a trace; errText has the folder removed.
func capiRun(t *testing.T, base, src string, opts engine.Options) (res *engine.Result, errText string) {
	t.Helper()
	prog, lerr := capiLoad(t, base, src)
	if lerr != "" {
		t.Fatalf("load: %s", lerr)
	}
	opts.Trace = true
	res, err := prog.Run(context.Background(), "main", opts)
	return res, capiRel(prog, err)
}

// capiRel returns err's text with the app's folder removed ("" for nil).
func capiRel(prog *engine.Program, err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), prog.App.Dir+string(filepath.Separator), "")
}

// seen is a request as the test server received it.
type seen struct {
	Method, Host, Path, Query, Body string
	Header                          http.Header
}

// recorder is a test server that records requests and answers with respond.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) handler(respond func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{Method: r.Method, Host: r.Host, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
		rec.mu.Unlock()
		r.Body = io.NopCloser(strings.NewReader(string(body))) // for respond to read again
		respond(w, r)
	})
}

func (rec *recorder) requests() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...)
}

func okJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

func TestCallAPIRequest(t *testing.T) {
	rec := &recorder{}
	ts := httptest.NewServer(rec.handler(okJSON))
	defer ts.Close()

	tests := []struct {
		name    string
		body    string
		method  string
		path    string
		query   string
		header  map[string]string // "" means absent
		reqBody string
	}{
		{
			name:   "get with query and headers",
			body:   `{path: "/users/{{ input.id }}", query: {q: "a b", tag: [x, "{{ input.id }}"], skip: null}, headers: {X-Api-Key: "k-{{ input.id }}", Accept: application/json}}`,
			method: "GET", path: "/api/users/42", query: "q=a+b&tag=x&tag=42",
			header: map[string]string{"X-Api-Key": "k-42", "Accept": "application/json", "User-Agent": blocks.UserAgent, "Content-Type": ""},
		},
		{
			name:   "path with a space",
			body:   `{path: "/a b/{{ input.id }}"}`,
			method: "GET", path: "/api/a b/42",
		},
		{
			name:   "path without a leading slash",
			body:   `{path: "users"}`,
			method: "GET", path: "/api/users",
		},
		{
			name:   "absolute url keeps its query and adds query",
			body:   `{url: "BASE/abs/{{ input.id }}?x=1", query: {y: 2}}`,
			method: "GET", path: "/abs/42", query: "x=1&y=2",
		},
		{
			name:   "json body",
			body:   `{method: POST, path: /items, json: {name: "{{ input.id }}", n: 1, tags: [a, "<b>"], none: null}}`,
			method: "POST", path: "/api/items",
			header:  map[string]string{"Content-Type": "application/json"},
			reqBody: `{"n":1,"name":"42","none":null,"tags":["a","<b>"]}`,
		},
		{
			name:   "constant json body",
			body:   `{method: put, path: /items/1, json: [1, 2.5, "x"]}`,
			method: "PUT", path: "/api/items/1",
			header:  map[string]string{"Content-Type": "application/json"},
			reqBody: `[1,2.5,"x"]`,
		},
		{
			name:   "form body",
			body:   `{method: POST, path: /token, form: {grant_type: client_credentials, scope: [a, b], id: "{{ input.id }}", skip: null}}`,
			method: "POST", path: "/api/token",
			header:  map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
			reqBody: "grant_type=client_credentials&id=42&scope=a&scope=b",
		},
		{
			name:   "raw body",
			body:   `{method: PATCH, path: /notes, body: "note {{ input.id }}"}`,
			method: "PATCH", path: "/api/notes",
			header:  map[string]string{"Content-Type": "text/plain; charset=utf-8"},
			reqBody: "note 42",
		},
		{
			name:   "raw body with content_type",
			body:   `{method: POST, path: /csv, body: "a,b\n1,2\n", content_type: text/csv}`,
			method: "POST", path: "/api/csv",
			header:  map[string]string{"Content-Type": "text/csv"},
			reqBody: "a,b\n1,2\n",
		},
		{
			name:   "content-type header wins over the body's",
			body:   `{method: POST, path: /x, json: {a: 1}, headers: {content-type: application/vnd.api+json}}`,
			method: "POST", path: "/api/x",
			header:  map[string]string{"Content-Type": "application/vnd.api+json"},
			reqBody: `{"a":1}`,
		},
		{
			name:   "user agent set by the step",
			body:   `{path: /ua, headers: {User-Agent: mine/1}}`,
			method: "GET", path: "/api/ua",
			header: map[string]string{"User-Agent": "mine/1"},
		},
		{
			name:   "templated method",
			body:   `{method: "{{ 'de' + 'lete' }}", path: /items/1}`,
			method: "DELETE", path: "/api/items/1",
		},
		{
			name:   "query from one template",
			body:   `{path: /q, query: "{{ {'a': 1, 'b': [true, nil]} }}"}`,
			method: "GET", path: "/api/q", query: "a=1&b=true",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.requests())
			res, err := capiRun(t, ts.URL, capiApp(tc.body), engine.Options{Input: map[string]any{"id": "42"}})
			if err != "" {
				t.Fatalf("Run: %s", err)
			}
			reqs := rec.requests()
			if len(reqs) != before+1 {
				t.Fatalf("server got %d requests, want 1", len(reqs)-before)
			}
			got := reqs[before]
			if got.Method != tc.method || got.Path != tc.path || got.Query != tc.query || got.Body != tc.reqBody {
				t.Errorf("server got %s %s ? %q body %q, want %s %s ? %q body %q", got.Method, got.Path, got.Query, got.Body, tc.method, tc.path, tc.query, tc.reqBody)
			}
			for k, want := range tc.header {
				if v := got.Header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			out := res.Output.(map[string]any)
			if out["status"] != 200 || !reflect.DeepEqual(out["body"], map[string]any{"ok": true}) {
				t.Errorf("output = %v", out)
			}
		})
	}
}

func TestCallAPITraceInput(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(okJSON))
	defer ts.Close()
	res, err := capiRun(t, ts.URL, capiApp(`{method: POST, path: "/u/{{ input.id }}", query: {a: "1"}, headers: {X-A: b}, json: {k: v}}`), engine.Options{Input: map[string]any{"id": "7"}})
	if err != "" {
		t.Fatal(err)
	}
	want := map[string]any{
		"method":  "POST",
		"url":     ts.URL + "/api/u/7?a=1",
		"headers": map[string]any{"X-A": "b", "User-Agent": blocks.UserAgent, "Content-Type": "application/json"},
		"query":   map[string]any{"a": "1"},
		"body":    map[string]any{"k": "v"},
	}
	if got := res.Trace[0].Input; !reflect.DeepEqual(got, want) {
		t.Errorf("trace input = %#v\nwant %#v", got, want)
	}
	if got := res.Output.(map[string]any)["url"]; got != ts.URL+"/api/u/7?a=1" {
		t.Errorf("output url = %v", got)
	}
}

const rssSample = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>Example feed</title>
    <link>https://example.com/</link>
    <item>
      <title>First &amp; foremost</title>
      <guid isPermaLink="false">1</guid>
      <dc:creator>Ann</dc:creator>
    </item>
    <item>
      <title><![CDATA[Second <b>post</b>]]></title>
      <guid isPermaLink="false">2</guid>
      <category>a</category>
      <category>b</category>
    </item>
  </channel>
</rss>
`

func TestCallAPIResponse(t *testing.T) {
	tests := []struct {
		name   string
		step   string // call_api body; default {path: /r}
		ctype  string
		status int
		body   string
		want   any // steps.x.body
	}{
		{name: "json", ctype: "application/json; charset=utf-8", body: `{"id": 12345678901, "price": 1.5, "whole": 2.0, "big": 1e300, "list": [1, "a", null, true], "nested": {"n": -3}}`,
			want: map[string]any{"id": 12345678901, "price": 1.5, "whole": 2, "big": 1e300, "list": []any{1, "a", nil, true}, "nested": map[string]any{"n": -3}}},
		{name: "json suffix", ctype: "application/problem+json", body: `{"title":"x"}`, want: map[string]any{"title": "x"}},
		{name: "empty json", ctype: "application/json", status: 204, want: nil},
		{name: "text", ctype: "text/plain", body: "hello\n", want: "hello\n"},
		{name: "html", ctype: "text/html; charset=utf-8", body: "<p>hi</p>", want: "<p>hi</p>"},
		{name: "form", ctype: "application/x-www-form-urlencoded", body: "access_token=abc&scope=a&scope=b", want: map[string]any{"access_token": "abc", "scope": []any{"a", "b"}}},
		{name: "rss", ctype: "application/rss+xml", body: rssSample, want: map[string]any{"rss": map[string]any{
			"@version": "2.0", "@xmlns:dc": "http://purl.org/dc/elements/1.1/",
			"channel": map[string]any{
				"title": "Example feed", "link": "https://example.com/",
				"item": []any{
					map[string]any{"title": "First & foremost", "guid": map[string]any{"@isPermaLink": "false", "#text": "1"}, "dc:creator": "Ann"},
					map[string]any{"title": "Second <b>post</b>", "guid": map[string]any{"@isPermaLink": "false", "#text": "2"}, "category": []any{"a", "b"}},
				},
			},
		}}},
		{name: "text/xml", ctype: "text/xml", body: `<a><b/></a>`, want: map[string]any{"a": map[string]any{"b": ""}}},
		{name: "octets as base64", ctype: "application/octet-stream", body: "\xff\x00\x01", want: "/wAB"},
		{name: "octets as text", ctype: "application/octet-stream", body: "plain", want: "plain"},
		{name: "no content type", body: `{"a":1}`, want: `{"a":1}`},
		{name: "parse json", step: `{path: /r, parse: json}`, ctype: "text/plain", body: `{"a":1}`, want: map[string]any{"a": 1}},
		{name: "parse text", step: `{path: /r, parse: text}`, ctype: "application/json", body: `{"a":1}`, want: `{"a":1}`},
		{name: "parse none", step: `{path: /r, parse: none}`, ctype: "application/json", body: `not json`, want: nil},
		{name: "parse xml", step: `{path: /r, parse: xml}`, ctype: "application/octet-stream", body: `<r a="1">t</r>`, want: map[string]any{"r": map[string]any{"@a": "1", "#text": "t"}}},
		{name: "head", step: `{method: HEAD, path: /r}`, ctype: "application/json", body: `{"a":1}`, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.ctype != "" {
					w.Header().Set("Content-Type", tc.ctype)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				w.Header().Add("X-Multi", "1")
				w.Header().Add("X-Multi", "2")
				if tc.status != 0 {
					w.WriteHeader(tc.status)
				}
				io.WriteString(w, tc.body)
			}))
			defer ts.Close()
			step := tc.step
			if step == "" {
				step = `{path: /r}`
			}
			res, err := capiRun(t, ts.URL, capiApp(step), engine.Options{})
			if err != "" {
				t.Fatalf("Run: %s", err)
			}
			out := res.Output.(map[string]any)
			if !reflect.DeepEqual(out["body"], tc.want) {
				t.Errorf("body = %#v\nwant %#v", out["body"], tc.want)
			}
			status := 200
			if tc.status != 0 {
				status = tc.status
			}
			if out["status"] != status {
				t.Errorf("status = %v, want %d", out["status"], status)
			}
			h := out["headers"].(map[string]any)
			if !reflect.DeepEqual(h["x-multi"], []any{"1", "2"}) || (tc.ctype != "" && h["content-type"] != tc.ctype) {
				t.Errorf("headers = %v", h)
			}
		})
	}
}

// TestCallAPIRSSTemplate reads an RSS feed the way an app's output template would.
func TestCallAPIRSSTemplate(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, rssSample)
	}))
	defer ts.Close()
	src := capiApp(`{path: /feed}`) + `    output: {first: "{{ steps.x.body.rss.channel.item[0].title }}", n: "{{ len(steps.x.body.rss.channel.item) }}"}
`
	res, err := capiRun(t, ts.URL, src, engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	want := map[string]any{"first": "First & foremost", "n": 2}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %v, want %v", res.Output, want)
	}
}

func TestCallAPIErrors(t *testing.T) {
	done := make(chan struct{})
	defer close(done) // before ts.Close, which waits for the slow handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"no such user"}`+"\n")
		case "/api/fail":
			w.WriteHeader(500)
			io.WriteString(w, strings.Repeat("é", 400)) // 800 bytes: cut at a rune boundary
		case "/api/bad":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "not json")
		case "/api/truncated":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a": [1, 2`)
		case "/api/badxml":
			w.Header().Set("Content-Type", "application/xml")
			io.WriteString(w, `<a><b></a>`)
		case "/api/big":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.Repeat("x", 101))
		case "/api/limit":
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.Repeat("x", 100))
		case "/api/slow":
			select {
			case <-done:
			case <-r.Context().Done():
			}
		default:
			okJSON(w, r)
		}
	}))
	defer ts.Close()

	tests := []struct {
		name   string
		step   string
		prefix string // the step's line 9 and its retry/timeout fields
		err    string // BASE is the server's URL; "" for none
		class  string
		status any // steps.x.status on success
	}{
		{name: "404 not accepted", step: `{path: /missing}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/missing: 404 Not Found: {"error":"no such user"}`, class: "http"},
		{name: "404 accepted", step: `{path: /missing, accept: [200, 2xx, 404]}`, status: 404},
		{name: "class accepted", step: `{path: /missing, accept: 4xx}`, status: 404},
		{name: "templated accept", step: `{path: /missing, accept: "{{ [404] }}"}`, status: 404},
		{name: "200 not accepted", step: `{path: /ok, accept: [201]}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/ok: 200 OK: {"ok":true}`, class: "http"},
		{name: "500 excerpt", step: `{path: /fail, accept: [404]}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/fail: 500 Internal Server Error: ` + strings.Repeat("é", 256), class: "http"},
		{name: "invalid json", step: `{path: /bad}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/bad: 200 OK: invalid JSON body: invalid character 'o' in literal null (expecting 'u') at offset 1: not json`, class: "error"},
		{name: "truncated json", step: `{path: /truncated}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/truncated: 200 OK: invalid JSON body: unexpected end of JSON input: {"a": [1, 2`, class: "error"},
		{name: "invalid xml", step: `{path: /badxml}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/badxml: 200 OK: invalid XML body: unexpected </a> at offset 10: <a><b></a>`, class: "error"},
		{name: "response over the limit", step: `{path: /big}`,
			err: `app.yaml:9:9: step "x" (call_api): limit exceeded: the response body of GET BASE/api/big is larger (at most 100 response_bytes)`, class: "error"},
		{name: "response at the limit", step: `{path: /limit}`, status: 200},
		{name: "step timeout", prefix: "        timeout: 50ms\n", step: `{path: /slow}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/slow: step timed out`, class: "timeout"},
		{name: "request timeout", step: `{path: /slow, timeout: 50ms}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/slow: timed out after 50ms: context deadline exceeded`, class: "timeout"},
		{name: "templated timeout", step: `{path: /slow, timeout: "{{ '50ms' }}"}`,
			err: `app.yaml:9:9: step "x" (call_api): GET BASE/api/slow: timed out after 50ms: context deadline exceeded`, class: "timeout"},
		{name: "connection refused", step: `{url: "http://127.0.0.1:1/x"}`,
			err: `app.yaml:9:9: step "x" (call_api): GET http://127.0.0.1:1/x: dial tcp 127.0.0.1:1: connect: connection refused`, class: "network"},
		{name: "not a URL", step: `{url: "{{ 'ftp://x/y' }}"}`,
			err: `app.yaml:9:9: step "x" (call_api): URL "ftp://x/y" is not an absolute http or https URL`, class: "error"},
		{name: "templated method not allowed", step: `{path: /ok, method: "{{ 'TRACE' }}"}`,
			err: `app.yaml:9:9: step "x" (call_api): method "TRACE" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`, class: "error"},
		{name: "query not a mapping", step: `{path: /ok, query: "{{ [1] }}"}`,
			err: `app.yaml:9:9: step "x" (call_api): query must be a mapping, found a list`, class: "error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := capiApp(tc.step)
			if tc.prefix != "" {
				src = strings.Replace(src, "      - id: x\n", "      - id: x\n"+tc.prefix, 1)
			}
			opts := engine.Options{Limits: engine.Limits{MaxResponseBytes: 100}, Trace: true}
			prog, lerr := capiLoad(t, ts.URL, src)
			if lerr != "" {
				t.Fatalf("load: %s", lerr)
			}
			res, err := prog.Run(context.Background(), "main", opts)
			want := strings.ReplaceAll(tc.err, "BASE", ts.URL)
			if tc.err == "" {
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
				if got := res.Output.(map[string]any)["status"]; got != tc.status {
					t.Errorf("status = %v, want %v", got, tc.status)
				}
				return
			}
			if err == nil {
				t.Fatalf("Run succeeded with %v, want error %s", res.Output, want)
			}
			if got := capiRel(prog, err); got != want {
				t.Errorf("error =\n%s\nwant\n%s", got, want)
			}
			if got := engine.ErrorClass(err); got != tc.class {
				t.Errorf("ErrorClass = %q, want %q", got, tc.class)
			}
			var he *engine.HTTPError
			if errors.As(err, &he) && len(he.Body) > engine.BodyExcerpt {
				t.Errorf("HTTPError.Body has %d bytes, more than %d", len(he.Body), engine.BodyExcerpt)
			}
		})
	}
}

func TestCallAPIRedaction(t *testing.T) {
	const secret = "s3cr3t/t0ken+&="
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(403)
		fmt.Fprintf(w, "bad key %s in %s", r.Header.Get("X-Key"), r.URL.RawQuery)
	}))
	defer ts.Close()
	src := capiApp(`{path: /me, headers: {X-Key: "{{ input.token }}", X-Auth: "Bearer {{ input.token }}"}, query: {key: "{{ input.token }}", user: "{{ input.id }}"}}`)
	res, errText := capiRun(t, ts.URL, src, engine.Options{Input: map[string]any{"id": "ann", "token": secret}})
	if errText == "" {
		t.Fatal("Run succeeded, want a 403")
	}
	escaped := url.QueryEscape(secret)
	if strings.Contains(errText, secret) || strings.Contains(errText, escaped) {
		t.Errorf("error shows the secret: %s", errText)
	}
	want := `GET ` + ts.URL + `/api/me?key=[redacted]&user=ann: 403 Forbidden: bad key [redacted] in key=[redacted]&user=ann`
	if !strings.HasSuffix(errText, want) {
		t.Errorf("error = %s\nwant suffix %s", errText, want)
	}
	in := res.Trace[0].Input.(map[string]any)
	wantIn := map[string]any{
		"method":  "GET",
		"url":     ts.URL + "/api/me?key=[redacted]&user=ann",
		"headers": map[string]any{"X-Key": "[redacted]", "X-Auth": "Bearer [redacted]", "User-Agent": blocks.UserAgent},
		"query":   map[string]any{"key": "[redacted]", "user": "ann"},
		"body":    nil,
	}
	if !reflect.DeepEqual(in, wantIn) {
		t.Errorf("trace input = %#v\nwant %#v", in, wantIn)
	}
	if tr := res.Trace[0].Error; strings.Contains(tr, secret) || strings.Contains(tr, escaped) {
		t.Errorf("trace error shows the secret: %s", tr)
	}

	// Accepted, the output's url holds the escaped secret; the trace shows it redacted.
	res, errText = capiRun(t, ts.URL, strings.Replace(src, "{path: /me,", "{path: /me, accept: 403,", 1), engine.Options{Input: map[string]any{"id": "ann", "token": secret}})
	if errText != "" {
		t.Fatal(errText)
	}
	out := res.Trace[0].Output.(map[string]any)
	if want := ts.URL + "/api/me?key=[redacted]&user=ann"; out["url"] != want {
		t.Errorf("trace output url = %v, want %s", out["url"], want)
	}
	if want := "bad key [redacted] in key=[redacted]&user=ann"; out["body"] != want {
		t.Errorf("trace output body = %v, want %s", out["body"], want)
	}
}

func TestCallAPIRedactsUserInfo(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer ts.Close()
	u, _ := url.Parse(ts.URL)
	src := capiApp(`{url: "http://ann:pa55word@` + u.Host + `/x"}`)
	_, errText := capiRun(t, ts.URL, src, engine.Options{})
	if want := `app.yaml:9:9: step "x" (call_api): GET http://ann:xxxxx@` + u.Host + `/x: 500 Internal Server Error`; errText != want {
		t.Errorf("error = %s\nwant %s", errText, want)
	}
}

// fakeConn is a connection whose token goes stale: it signs with "old" until Retry refreshes it
// to "new". The real connections live in another package; this one counts the calls.
type fakeConn struct {
	retry     bool // what Retry answers to a 401
	token     atomic.Value
	authorize atomic.Int32
	retries   atomic.Int32 // Retry calls on a first response
	observed  atomic.Int32 // Retry calls on the retry's response (engine.IsRetry)
}

func newFakeConn(retry bool) *fakeConn {
	c := &fakeConn{retry: retry}
	c.token.Store("old")
	return c
}

var _ engine.Conn = (*fakeConn)(nil)

func (c *fakeConn) Authorize(ctx context.Context, req *http.Request) error {
	c.authorize.Add(1)
	req.Header.Add("Authorization", "Bearer "+c.token.Load().(string))
	return nil
}

func (c *fakeConn) Retry(ctx context.Context, resp *http.Response) (bool, error) {
	if engine.IsRetry(ctx) {
		c.observed.Add(1)
		return false, nil
	}
	c.retries.Add(1)
	if resp.StatusCode != http.StatusUnauthorized || !c.retry {
		return false, nil
	}
	c.token.Store("new")
	return true, nil
}

func TestCallAPIConnRetry(t *testing.T) {
	tests := []struct {
		name       string
		step       string
		goodToken  string // the token the server accepts
		retry      bool   // what the connection answers to a 401
		wantStatus int    // of the last response; 0: the step fails with a 401
		wantSent   int
		wantBody   string
		wantCT     string
	}{
		{name: "json body re-sent after 401", step: `{method: POST, path: /items, json: {name: "{{ input.id }}", n: [1, 2]}}`,
			goodToken: "new", retry: true, wantStatus: 200, wantSent: 2, wantBody: `{"n":[1,2],"name":"42"}`, wantCT: "application/json"},
		{name: "form body re-sent after 401", step: `{method: PUT, path: /items, form: {name: "{{ input.id }}", tag: [a, b]}}`,
			goodToken: "new", retry: true, wantStatus: 200, wantSent: 2, wantBody: "name=42&tag=a&tag=b", wantCT: "application/x-www-form-urlencoded"},
		{name: "constant raw body re-sent after 401", step: `{method: POST, path: /items, body: hello}`,
			goodToken: "new", retry: true, wantStatus: 200, wantSent: 2, wantBody: "hello", wantCT: "text/plain; charset=utf-8"},
		{name: "valid token: no retry", step: `{method: POST, path: /items, json: {a: 1}}`,
			goodToken: "old", retry: true, wantStatus: 200, wantSent: 1, wantBody: `{"a":1}`, wantCT: "application/json"},
		{name: "still 401 after the retry: sent twice, not three times", step: `{method: POST, path: /items, json: {a: 1}}`,
			goodToken: "never", retry: true, wantSent: 2, wantBody: `{"a":1}`, wantCT: "application/json"},
		{name: "connection declines", step: `{method: POST, path: /items, json: {a: 1}}`,
			goodToken: "new", retry: false, wantSent: 1, wantBody: `{"a":1}`, wantCT: "application/json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			ts := httptest.NewServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+tc.goodToken {
					w.WriteHeader(http.StatusUnauthorized)
					io.WriteString(w, "token expired")
					return
				}
				okJSON(w, r)
			}))
			defer ts.Close()
			conn := newFakeConn(tc.retry)
			res, errText := capiRun(t, ts.URL, capiApp(tc.step), engine.Options{Conn: conn, Input: map[string]any{"id": "42"}})
			if tc.wantStatus != 0 {
				if errText != "" {
					t.Fatalf("Run: %s", errText)
				}
				if got := res.Output.(map[string]any)["status"]; got != tc.wantStatus {
					t.Errorf("status = %v, want %d", got, tc.wantStatus)
				}
			} else if want := `: POST ` + ts.URL + `/api/items: 401 Unauthorized: token expired`; !strings.HasSuffix(errText, want) {
				t.Errorf("error = %q, want suffix %q", errText, want)
			}
			reqs := rec.requests()
			if len(reqs) != tc.wantSent {
				t.Fatalf("server got %d requests, want %d", len(reqs), tc.wantSent)
			}
			for i, r := range reqs {
				if r.Body != tc.wantBody || r.Header.Get("Content-Type") != tc.wantCT {
					t.Errorf("request %d: body %q, Content-Type %q; want %q, %q", i, r.Body, r.Header.Get("Content-Type"), tc.wantBody, tc.wantCT)
				}
				if got := r.Header.Values("Authorization"); len(got) != 1 {
					t.Errorf("request %d: Authorization %q, want one value", i, got)
				}
			}
			if n := conn.retries.Load(); n != 1 {
				t.Errorf("Retry called %d times on a first response, want 1", n)
			}
			if n := conn.observed.Load(); n != int32(tc.wantSent-1) {
				t.Errorf("Retry shown the retry's response %d times, want %d", n, tc.wantSent-1)
			}
			if n := conn.authorize.Load(); n != int32(tc.wantSent) {
				t.Errorf("Authorize called %d times, want %d", n, tc.wantSent)
			}
		})
	}
}

// errConn fails to authorize or to refresh.
type errConn struct{ authErr, retryErr error }

func (c errConn) Authorize(context.Context, *http.Request) error { return c.authErr }
func (c errConn) Retry(context.Context, *http.Response) (bool, error) {
	return false, c.retryErr
}

func TestCallAPIConnErrors(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
	}))
	defer ts.Close()
	tests := []struct {
		name string
		conn engine.Conn
		want string
	}{
		{"authorize", errConn{authErr: errors.New("no token")}, `app.yaml:9:9: step "x" (call_api): GET BASE/api/me: authorize: no token`},
		{"retry", errConn{retryErr: errors.New("refresh: invalid_grant")}, `app.yaml:9:9: step "x" (call_api): GET BASE/api/me: 401 Unauthorized: refresh: invalid_grant`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errText := capiRun(t, ts.URL, capiApp(`{path: /me}`), engine.Options{Conn: tc.conn})
			want := strings.ReplaceAll(tc.want, "BASE", ts.URL)
			if !strings.HasSuffix(errText, want) {
				t.Errorf("error = %s\nwant suffix %s", errText, want)
			}
		})
	}
}

func TestCallAPILoadErrors(t *testing.T) {
	tests := []struct {
		name string
		body string // the call_api body, at line 10 column 19
		app  string // replaces the whole app when set
		want string
	}{
		{name: "unknown field", body: `{path: /x, heders: {a: b}}`,
			want: `app.yaml:10:30: call_api: unknown field "heders" (did you mean "headers"?)`},
		{name: "path and url", body: `{path: /x, url: "https://example.com/x"}`,
			want: `app.yaml:10:30: call_api: path and url are both set: path is joined to the app's base_url, url is used as it is`},
		{name: "neither path nor url", body: `{method: GET}`,
			want: `app.yaml:10:19: call_api: path or url is missing (path: /tasks)`},
		{name: "bad method", body: `{method: FETCH, path: /x}`,
			want: `app.yaml:10:28: call_api: method "FETCH" is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (did you mean "PATCH"?)`},
		{name: "method not a string", body: `{method: [GET], path: /x}`,
			want: `app.yaml:10:28: call_api: method must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, found a list`},
		{name: "absolute path", body: `{path: "https://example.com/x"}`,
			want: `app.yaml:10:26: path "https://example.com/x" is an absolute URL: use url: instead`},
		{name: "relative url", body: `{url: /x}`,
			want: `app.yaml:10:25: url "/x" is not an absolute http or https URL (for a path under the app's base_url use path:)`},
		{name: "two bodies", body: `{method: POST, path: /x, json: {a: 1}, form: {a: 1}}`,
			want: `app.yaml:10:58: call_api: json and form are both set: a request has one body (json, form or body)`},
		{name: "content_type without body", body: `{path: /x, content_type: text/csv}`,
			want: `app.yaml:10:30: call_api: content_type needs a body (json, form or body)`},
		{name: "bad accept", body: `{path: /x, accept: [200, 2xy, {a: 1}]}`,
			want: "app.yaml:10:44: accept \"2xy\": want a status code (404) or a class (2xx)\n" +
				"app.yaml:10:49: call_api: accept item must be a string, found a mapping (a status code such as 404 or a class such as 2xx)"},
		{name: "bad parse", body: `{path: /x, parse: jsn}`,
			want: `app.yaml:10:37: call_api: parse "jsn" is not one of auto, json, text, xml, form, none (did you mean "json"?)`},
		{name: "bad timeout", body: `{path: /x, timeout: soon}`,
			want: `app.yaml:10:39: timeout must be a duration such as 30s or 5m, found the string "soon"`},
		{name: "query not a mapping", body: `{path: /x, query: [a]}`,
			want: `app.yaml:10:37: call_api: query must be a mapping, found a list`},
		{name: "nested query value", body: `{path: /x, query: {a: {b: 1}}}`,
			want: `app.yaml:10:41: query a: want a string, a number or a list, found a mapping`},
		{name: "bad header name", body: `{path: /x, headers: {"a b": c}}`,
			want: `app.yaml:10:40: headers: "a b" is not a valid header name`},
		{name: "body not text", body: `{method: POST, path: /x, body: {a: 1}}`,
			want: `app.yaml:10:50: call_api: body must be a string, found a mapping (for a JSON body use json:)`},
		{name: "template error", body: `{path: "/x/{{ input.idd }}"}`,
			want: `app.yaml:10:39: unknown input "idd" (did you mean "id"?)`},
		{name: "not a mapping", body: `/x`,
			want: `app.yaml:10:19: call_api must be a mapping, found the string "/x"`},
		{name: "path without base_url", app: "app: t\nflows:\n  main:\n    steps:\n      - call_api: {path: /x}\n",
			want: `app.yaml:5:26: path needs the app's base_url (or use url: for an absolute URL)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.app
			if src == "" {
				src = capiApp(tc.body)
			}
			_, err := capiLoad(t, "http://example.com", src)
			if err != tc.want {
				t.Errorf("load error =\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

// TestCallAPIConcurrentRuns runs one program many times at once: the block keeps no run state.
func TestCallAPIConcurrentRuns(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": %q}`, r.URL.Query().Get("id"))
	}))
	defer ts.Close()
	prog, lerr := capiLoad(t, ts.URL, capiApp(`{path: /x, query: {id: "{{ input.id }}"}, json: {id: "{{ input.id }}"}}`))
	if lerr != "" {
		t.Fatal(lerr)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			id := fmt.Sprint(i)
			res, err := prog.Run(context.Background(), "main", engine.Options{Input: map[string]any{"id": id}})
			if err != nil {
				t.Error(err)
				return
			}
			if got := res.Output.(map[string]any)["body"].(map[string]any)["id"]; got != id {
				t.Errorf("run %s got id %v", id, got)
			}
		})
	}
	wg.Wait()
}

// TestCallAPITimeoutHugeSecondsOverflow: a timeout in seconds beyond what a time.Duration holds
// wrapped around (18446744074 seconds timed the request out after 0.29s) instead of failing.
func TestCallAPITimeoutHugeSecondsOverflow(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(okJSON))
	defer ts.Close()
	for _, tc := range []struct{ name, body, err string }{
		{"seconds", `{path: /x, timeout: "{{ 18446744074 }}"}`, `app.yaml:9:9: step "x" (call_api): timeout: want a duration such as 30s, found "18446744074"`},
		{"float seconds", `{path: /x, timeout: "{{ 1e10 }}"}`, `app.yaml:9:9: step "x" (call_api): timeout: want a duration such as 30s, found "10000000000"`},
		{"largest", `{path: /x, timeout: "{{ 9223372036 }}"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := capiRun(t, ts.URL, capiApp(tc.body), engine.Options{})
			if err != tc.err {
				t.Errorf("error:\n%s\nwant:\n%s", err, tc.err)
			}
		})
	}
	if _, err := capiLoad(t, ts.URL, capiApp(`{path: /x, timeout: 18446744074}`)); err != `app.yaml:10:39: timeout 18446744074 is out of range` {
		t.Errorf("load error = %s", err)
	}
}
