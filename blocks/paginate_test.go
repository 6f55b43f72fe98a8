package blocks_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// numbers are n items {id: "i1"} ... {id: "in"}.
func numbers(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = map[string]any{"id": "i" + strconv.Itoa(i+1)}
	}
	return out
}

// window returns items[from:from+size], cut at the end.
func window(items []any, from, size int) []any {
	if from > len(items) {
		from = len(items)
	}
	return items[from:min(from+size, len(items))]
}

// githubServer answers GET /api/repos?per_page=N&page=P as GitHub does: a page of the list and
// a Link header with next (unless it is the last page) and last.
func githubServer(rec *recorder, all []any) *httptest.Server {
	var ts *httptest.Server
	ts = httptest.NewServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		if per == 0 {
			per = 30
		}
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		last := (len(all) + per - 1) / per
		link := func(p int, rel string) string {
			return fmt.Sprintf(`<%s/api/repos?per_page=%d&page=%d>; rel="%s"`, ts.URL, per, p, rel)
		}
		var links []string
		if page < last {
			links = append(links, link(page+1, "next"))
		}
		links = append(links, link(last, "last"))
		w.Header().Set("Link", strings.Join(links, ", "))
		writeJSON(w, window(all, (page-1)*per, per))
	}))
	return ts
}

func ids(items any) []string {
	var out []string
	list, _ := items.([]any)
	for _, it := range list {
		out = append(out, fmt.Sprint(it.(map[string]any)["id"]))
	}
	return out
}

// TestPaginate walks APIs shaped like real ones, one strategy each, and gathers their items.
func TestPaginate(t *testing.T) {
	all := numbers(5)
	stripe := func(w http.ResponseWriter, r *http.Request) { // GET /api/customers?limit=2&starting_after=ID
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		from := 0
		if after := q.Get("starting_after"); after != "" {
			from, _ = strconv.Atoi(strings.TrimPrefix(after, "i"))
		}
		page := window(all, from, limit)
		writeJSON(w, map[string]any{"object": "list", "data": page, "has_more": from+len(page) < len(all)})
	}
	offset := func(w http.ResponseWriter, r *http.Request) { // GET /api/items?offset=O&limit=L
		o, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		l, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		writeJSON(w, map[string]any{"items": window(all, o, l)})
	}
	numbered := func(w http.ResponseWriter, r *http.Request) { // GET /api/list?page=P, 2 a page
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		writeJSON(w, map[string]any{"results": window(all, (p-1)*2, 2), "page": p, "total_pages": 3})
	}
	notion := func(w http.ResponseWriter, r *http.Request) { // POST /api/query {"page_size": 2, "start_cursor": C}
		var q struct {
			PageSize    int    `json:"page_size"`
			StartCursor string `json:"start_cursor"`
		}
		json.NewDecoder(r.Body).Decode(&q)
		from, _ := strconv.Atoi(q.StartCursor)
		page := window(all, from, q.PageSize)
		more := from+len(page) < len(all)
		var next any
		if more {
			next = strconv.Itoa(from + len(page))
		}
		writeJSON(w, map[string]any{"results": page, "has_more": more, "next_cursor": next})
	}
	gitlab := func(w http.ResponseWriter, r *http.Request) { // GET /api/projects?page=P&per_page=2
		p, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("X-Total-Pages", "3")
		writeJSON(w, window(all, (p-1)*2, 2))
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc // nil: githubServer
		step    string
		all     []any
		pages   int
		queries []string // of the requests, in order, each followed by its body if it has one
	}{
		{name: "link header", step: `{path: /repos, query: {per_page: 2}, paginate: {items: "{{ response.body }}", link: next}}`,
			pages: 3, queries: []string{"per_page=2", "per_page=2&page=2", "per_page=2&page=3"}},
		{name: "cursor", handler: stripe,
			step:  `{path: /customers, query: {limit: 2}, paginate: {items: "{{ response.body.data }}", cursor: {value: "{{ response.body.data[-1].id }}", param: starting_after}, stop_when: "{{ !response.body.has_more }}"}}`,
			pages: 3, queries: []string{"limit=2", "limit=2&starting_after=i2", "limit=2&starting_after=i4"}},
		{name: "cursor in the JSON body", handler: notion,
			step:  `{method: POST, path: /query, json: {page_size: 2, filter: {big: 9007199254740993}}, paginate: {items: "{{ response.body.results }}", cursor: {value: "{{ response.body.next_cursor }}", field: start_cursor}}}`,
			pages: 3, queries: []string{` {"filter":{"big":9007199254740993},"page_size":2}`, ` {"filter":{"big":9007199254740993},"page_size":2,"start_cursor":"2"}`, ` {"filter":{"big":9007199254740993},"page_size":2,"start_cursor":"4"}`}},
		{name: "offset and limit", handler: offset,
			step:  `{path: /items, paginate: {items: "{{ response.body.items }}", offset: {param: offset, limit: 2, limit_param: limit}}}`,
			pages: 3, queries: []string{"limit=2&offset=0", "limit=2&offset=2", "limit=2&offset=4"}},
		{name: "offset, the last page full", handler: offset, all: numbers(4),
			step:  `{path: /items, paginate: {items: "{{ response.body.items[:4] }}", offset: {param: offset, limit: 4, limit_param: limit}}}`,
			pages: 2, queries: []string{"limit=4&offset=0", "limit=4&offset=4"}},
		{name: "page number with total pages", handler: numbered,
			step:  `{path: /list, paginate: {items: "{{ response.body.results }}", page_number: {param: page, total_pages: "{{ response.body.total_pages }}"}}}`,
			pages: 3, queries: []string{"page=1", "page=2", "page=3"}},
		{name: "page number with total pages in a header", handler: gitlab,
			step:  `{path: /projects, query: {per_page: 2}, paginate: {items: "{{ response.body }}", page_number: {param: page, total_pages: "{{ response.headers['x-total-pages'] }}"}}}`,
			pages: 3, queries: []string{"page=1&per_page=2", "page=2&per_page=2", "page=3&per_page=2"}},
		{name: "page number up to an empty page", handler: gitlab,
			step:  `{path: /projects, query: {per_page: 2}, paginate: {items: "{{ response.body }}", page_number: {param: page}}}`,
			pages: 4, queries: []string{"page=1&per_page=2", "page=2&per_page=2", "page=3&per_page=2", "page=4&per_page=2"}},
		{name: "no items", step: `{path: /repos, query: {per_page: 2}, paginate: {items: "{{ response.body }}", link: next}}`,
			all: []any{}, pages: 1, queries: []string{"per_page=2"}},
		{name: "stop_when after the first page", step: `{path: /repos, query: {per_page: 2}, paginate: {items: "{{ response.body }}", link: next, stop_when: "{{ pages == 1 }}"}}`,
			all: numbers(2), pages: 1, queries: []string{"per_page=2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := all
			if tc.all != nil {
				want = tc.all
				if tc.handler != nil { // the offset server's items
					all = tc.all
					defer func() { all = numbers(5) }()
				}
			}
			rec := &recorder{}
			var ts *httptest.Server
			if tc.handler == nil {
				ts = githubServer(rec, want)
			} else {
				ts = httptest.NewServer(rec.handler(tc.handler))
			}
			defer ts.Close()
			conn := newFakeConn(false)
			res, errText := capiRun(t, ts.URL, capiApp(tc.step), engine.Options{Conn: conn})
			if errText != "" {
				t.Fatalf("Run: %s", errText)
			}
			out := res.Output.(map[string]any)
			if list, ok := out["items"].([]any); !ok || list == nil {
				t.Errorf("items = %#v, want a list", out["items"])
			}
			if got, w := ids(out["items"]), ids(want); !reflect.DeepEqual(got, w) {
				t.Errorf("items %v, want %v", got, w)
			}
			if out["pages"] != tc.pages {
				t.Errorf("pages = %v, want %d", out["pages"], tc.pages)
			}
			var queries []string
			for _, r := range rec.requests() {
				if r.Body != "" {
					r.Query += " " + r.Body
				}
				queries = append(queries, r.Query)
				if got := r.Header.Values("Authorization"); len(got) != 1 || got[0] != "Bearer old" {
					t.Errorf("request %s?%s: Authorization %q, want the connection's", r.Path, r.Query, got)
				}
			}
			if !reflect.DeepEqual(queries, tc.queries) {
				t.Errorf("queries\n%q\nwant\n%q", queries, tc.queries)
			}
		})
	}
}

// TestPaginateMaxPages: a walk with more pages than max_pages fails, unless on_max_pages: stop
// keeps the pages read.
func TestPaginateMaxPages(t *testing.T) {
	rec := &recorder{}
	ts := githubServer(rec, numbers(10))
	defer ts.Close()
	step := `{path: /repos, query: {per_page: 2}, paginate: {items: "{{ response.body }}", link: next, max_pages: 2%s}}`

	_, errText := capiRun(t, ts.URL, capiApp(fmt.Sprintf(step, "")), engine.Options{})
	want := `app.yaml:9:9: step "x" (call_api): limit exceeded: paginate has more pages than max_pages (raise it, or write on_max_pages: stop to keep the first 2) (at most 2 pages)`
	if errText != want {
		t.Errorf("error =\n%s\nwant\n%s", errText, want)
	}
	if n := len(rec.requests()); n != 2 {
		t.Errorf("server got %d requests, want 2", n)
	}

	res, errText := capiRun(t, ts.URL, capiApp(fmt.Sprintf(step, ", on_max_pages: stop")), engine.Options{})
	if errText != "" {
		t.Fatalf("Run: %s", errText)
	}
	out := res.Output.(map[string]any)
	if got := ids(out["items"]); !reflect.DeepEqual(got, []string{"i1", "i2", "i3", "i4"}) || out["pages"] != 2 {
		t.Errorf("output items %v, pages %v; want i1..i4 and 2", got, out["pages"])
	}
}

// TestPaginateLinkToAnotherOrigin: a next link to another origin gets neither the connection's
// credentials nor the step's header that holds a secret; the first origin gets both, also for
// the page after, which that origin's link names.
func TestPaginateLinkToAnotherOrigin(t *testing.T) {
	rec, other := &recorder{}, &recorder{}
	var ts *httptest.Server
	ots := httptest.NewServer(other.handler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+ts.URL+`/api/repos?page=3>; rel="next"`)
		writeJSON(w, []any{map[string]any{"id": "elsewhere"}})
	}))
	defer ots.Close()
	ts = httptest.NewServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "" {
			w.Header().Set("Link", `<`+ots.URL+`/steal?page=2>; rel="next"`)
		}
		writeJSON(w, []any{map[string]any{"id": "home"}})
	}))
	defer ts.Close()
	step := `{path: /repos, headers: {X-Api-Key: "{{ input.token }}", Accept: application/json}, paginate: {items: "{{ response.body }}", link: next}}`
	res, errText := capiRun(t, ts.URL, capiApp(step), engine.Options{Conn: newFakeConn(false), Input: map[string]any{"token": "s3cret-key-value"}})
	if errText != "" {
		t.Fatalf("Run: %s", errText)
	}
	if got := ids(res.Output.(map[string]any)["items"]); !reflect.DeepEqual(got, []string{"home", "elsewhere", "home"}) {
		t.Errorf("items %v, want [home elsewhere home]", got)
	}
	home, away := rec.requests(), other.requests()
	if len(home) != 2 || len(away) != 1 {
		t.Fatalf("requests: %d at home, %d at the other origin; want 2 and 1", len(home), len(away))
	}
	for _, r := range home {
		if r.Header.Get("Authorization") != "Bearer old" || r.Header.Get("X-Api-Key") != "s3cret-key-value" {
			t.Errorf("page at home ?%s: Authorization %q, X-Api-Key %q; want both", r.Query, r.Header.Get("Authorization"), r.Header.Get("X-Api-Key"))
		}
	}
	h := away[0].Header
	if h.Get("Authorization") != "" || h.Get("X-Api-Key") != "" || h.Get("Accept") != "application/json" {
		t.Errorf("page at the other origin: Authorization %q, X-Api-Key %q, Accept %q; want no credentials, the Accept header", h.Get("Authorization"), h.Get("X-Api-Key"), h.Get("Accept"))
	}
	if away[0].Path != "/steal" || away[0].Query != "page=2" {
		t.Errorf("page at the other origin: %s?%s, want the link as given", away[0].Path, away[0].Query)
	}

	// A body that holds a secret is not sent to the other origin at all.
	step = `{method: POST, path: /search, json: {key: "{{ input.token }}"}, paginate: {items: "{{ response.body }}", link: next}}`
	_, errText = capiRun(t, ts.URL, capiApp(step), engine.Options{Input: map[string]any{"token": "s3cret-key-value"}})
	want := `app.yaml:9:9: step "x" (call_api): page 1: the next page is at another origin, ` + engine.Origin(mustParse(t, ots.URL)) + `, than the first, ` + engine.Origin(mustParse(t, ts.URL)) + `: not asked for, as the body it would send there holds a secret`
	if errText != want {
		t.Errorf("error =\n%s\nwant\n%s", errText, want)
	}
	if n := len(other.requests()); n != 1 {
		t.Errorf("the other origin got %d requests, want the 1 before", n)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestPaginateRefreshMidWalk: a 401 on the second page makes the connection refresh once and
// that page is sent again; the walk goes on with the new token.
func TestPaginateRefreshMidWalk(t *testing.T) {
	rec := &recorder{}
	var ts *httptest.Server
	ts = httptest.NewServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if page > 1 && r.Header.Get("Authorization") != "Bearer new" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, "token expired")
			return
		}
		if page < 3 {
			w.Header().Set("Link", fmt.Sprintf(`<%s/api/repos?page=%d>; rel="next"`, ts.URL, max(page, 1)+1))
		}
		writeJSON(w, []any{map[string]any{"id": strconv.Itoa(max(page, 1))}})
	}))
	defer ts.Close()
	conn := newFakeConn(true)
	res, errText := capiRun(t, ts.URL, capiApp(`{path: /repos, paginate: {items: "{{ response.body }}", link: next}}`), engine.Options{Conn: conn})
	if errText != "" {
		t.Fatalf("Run: %s", errText)
	}
	if got := ids(res.Output.(map[string]any)["items"]); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Errorf("items %v, want [1 2 3]", got)
	}
	var sent []string
	for _, r := range rec.requests() {
		sent = append(sent, r.Query+" "+r.Header.Get("Authorization"))
	}
	want := []string{" Bearer old", "page=2 Bearer old", "page=2 Bearer new", "page=3 Bearer new"}
	if !reflect.DeepEqual(sent, want) {
		t.Errorf("requests\n%q\nwant\n%q", sent, want)
	}
	if n := conn.observed.Load(); n != 1 {
		t.Errorf("Retry shown a retry's response %d times, want 1", n)
	}
}

// TestPaginateRunErrors: what stops a walk with an error says on which page and why.
func TestPaginateRunErrors(t *testing.T) {
	rec := &recorder{}
	ts := httptest.NewServer(rec.handler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("c") == "x" && r.URL.Path == "/api/fail" {
			w.WriteHeader(500)
			return
		}
		writeJSON(w, map[string]any{"data": []any{1, 2, 3}, "next": "x", "obj": map[string]any{}})
	}))
	defer ts.Close()
	tests := []struct {
		name, step string
		limits     engine.Limits
		want       string
	}{
		{name: "same cursor twice", step: `{path: /a, paginate: {items: "{{ response.body.data }}", cursor: {value: "{{ response.body.next }}", param: c}}}`,
			want: `app.yaml:9:9: step "x" (call_api): page 2: app.yaml:10:95: paginate cursor: the page gave the cursor it was asked with, "x", again`},
		{name: "items not a list", step: `{path: /a, paginate: {items: "{{ response.body.obj }}", link: next}}`,
			want: `app.yaml:9:9: step "x" (call_api): page 1: app.yaml:10:51: paginate items: want a list, found a mapping`},
		{name: "second page fails", step: `{path: /fail, paginate: {items: "{{ response.body.data }}", cursor: {value: "{{ response.body.next }}", param: c}}}`,
			want: `app.yaml:9:9: step "x" (call_api): page 2: GET BASE/api/fail?c=x: 500 Internal Server Error`},
		{name: "items over the iteration limit", step: `{path: /a, paginate: {items: "{{ response.body.data }}", cursor: {value: "{{ response.body.next + string(pages) }}", param: c}}}`,
			limits: engine.Limits{MaxIterations: 7},
			want:   `app.yaml:9:9: step "x" (call_api): limit exceeded: a loop over 9 items (at most 7 iterations)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, errText := capiRun(t, ts.URL, capiApp(tc.step), engine.Options{Limits: tc.limits})
			if want := strings.ReplaceAll(tc.want, "BASE", ts.URL); errText != want {
				t.Errorf("error =\n%s\nwant\n%s", errText, want)
			}
		})
	}
}

func TestPaginateLoadErrors(t *testing.T) {
	tests := []struct{ name, step, want string }{
		{"no items", `{path: /a, paginate: {link: next}}`, `app.yaml:10:40: call_api: paginate: items is missing (items: "{{ response.body }}")`},
		{"no strategy", `{path: /a, paginate: {items: "{{ response.body }}"}}`, `app.yaml:10:40: call_api: paginate: link or cursor or offset or page_number is missing (link: next)`},
		{"two strategies", `{path: /a, paginate: {items: "{{ response.body }}", link: next, cursor: {value: x, param: c}}}`, `app.yaml:10:83: call_api: paginate: link and cursor are both set: a walk follows one strategy`},
		{"unknown key", `{path: /a, paginate: {items: "{{ response.body }}", link: next, max_page: 3}}`, `app.yaml:10:83: call_api: paginate: unknown field "max_page" (did you mean "max_pages"?)`},
		{"max_pages over the cap", `{path: /a, paginate: {items: "{{ response.body }}", link: next, max_pages: 5000}}`, `app.yaml:10:94: call_api: paginate: max_pages must be between 1 and 1000, found 5000`},
		{"on_max_pages", `{path: /a, paginate: {items: "{{ response.body }}", link: next, on_max_pages: stpo}}`, `app.yaml:10:97: call_api: paginate: on_max_pages "stpo" is not one of fail, stop (did you mean "stop"?)`},
		{"cursor without param", `{path: /a, paginate: {items: "{{ response.body }}", cursor: {value: "{{ response.body.next }}"}}}`, `app.yaml:10:79: call_api: paginate: cursor: param or field is missing (param: NAME)`},
		{"offset without limit", `{path: /a, paginate: {items: "{{ response.body }}", offset: {param: o}}}`, `app.yaml:10:79: call_api: paginate: offset: limit is missing (limit: 100)`},
		{"field without a JSON body", `{path: /a, paginate: {items: "{{ response.body }}", cursor: {value: x, field: c}}}`, `app.yaml:10:90: cursor: field puts the value in the JSON body, and the request has no json:`},
		{"param and field", `{path: /a, json: {}, paginate: {items: "{{ response.body }}", page_number: {param: p, field: p}}}`, `app.yaml:10:105: call_api: paginate: page_number: param and field are both set: the value goes in a query parameter or in a field of the JSON body`},
		{"limit_param with field", `{path: /a, json: {}, paginate: {items: "{{ response.body }}", offset: {field: o, limit: 5, limit_param: l}}}`, `app.yaml:10:110: offset: limit_param goes with field: the offset and the page size go in the same place`},
		{"unknown name", `{path: /a, paginate: {items: "{{ respons.body }}", link: next}}`, `app.yaml:10:52: template: unknown name respons`},
		{"parse none", `{path: /a, parse: none, paginate: {items: "{{ response.body }}", link: next}}`, `app.yaml:10:43: call_api: paginate reads the items of each page from its body, which parse: none leaves unread`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := capiLoad(t, "http://x", capiApp(tc.step))
			if !strings.Contains(got, tc.want) {
				t.Errorf("load error =\n%s\nwant it to hold\n%s", got, tc.want)
			}
		})
	}
}

// TestPaginateDocExamples loads each example of the Pagination section of app-reference.md as a
// step of an app, so that the reference shows only what loads.
func TestPaginateDocExamples(t *testing.T) {
	src, err := os.ReadFile("../docs/app-reference.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src)
	start := strings.Index(doc, "### Pagination\n")
	if start < 0 {
		t.Fatal("app-reference.md has no Pagination section")
	}
	section := doc[start+1:]
	if end := strings.Index(section, "\n#"); end >= 0 {
		section = section[:end]
	}
	blocks := strings.Split(section, "```yaml\n")[1:]
	if len(blocks) != 5 {
		t.Fatalf("the Pagination section has %d examples, want one for each strategy and the JSON body (5)", len(blocks))
	}
	for i, b := range blocks {
		step, _, _ := strings.Cut(b, "```")
		app := "app: t\nbase_url: https://api.example.com\nflows:\n  main:\n    inputs: {database: {type: string}}\n    steps:\n" +
			"      " + strings.ReplaceAll(strings.TrimSuffix(step, "\n"), "\n", "\n      ") + "\n"
		if _, errText := loadYAML(t, app); errText != "" {
			t.Errorf("example %d does not load: %s\n%s", i+1, errText, app)
		}
	}
}
