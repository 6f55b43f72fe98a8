package blocks

import (
	"strconv"

	"github.com/patchbay/patchbay/engine"
)

// callAPISpec is call_api's body: the compiler checks it, the JSON Schema and the reference are
// generated from it (see engine.Spec).
var callAPISpec = engine.Spec{
	Doc: "The output is {status, headers, body, url}: headers with names in lower case " +
		"(a repeated header is a list), the body parsed by its Content-Type or by parse, url the final one after redirects, and redirects " +
		"([{status, url}]) when there were some. A status that accept does not list fails the step. After a response the connection " +
		"asks a retry for (a 401: its token went stale), the request is sent once more, freshly signed.",
	Fields: []engine.Field{
		{Name: "method", Type: engine.EnumFold(Methods...), Default: "GET", Doc: "The HTTP method, in any case."},
		{Name: "path", Type: engine.String, Doc: "The path, joined to the app's base_url (not with url). A template that gives null or \"\" in it fails the step; optional(...) marks a segment that may be left out (see [call_api URLs](#call_api-urls))."},
		{Name: "url", Type: engine.String, Doc: "An absolute http or https URL, used as it is (not with path). A template that gives null or \"\" in its host or path fails the step."},
		{Name: "query", Type: engine.Mapping, Doc: "Query parameters: values are strings, numbers or lists of them; a null value is left out."},
		{Name: "headers", Type: engine.Mapping, Doc: "Request headers: values are strings, numbers or lists of them."},
		{Name: "json", Type: engine.Template, Doc: "A body sent as JSON: any value."},
		{Name: "form", Type: engine.Mapping, Doc: "A body sent as application/x-www-form-urlencoded."},
		{Name: "body", Type: engine.String, Hint: "for a JSON body use json:", Doc: "A body sent as it is, text."},
		{Name: "content_type", Type: engine.String, Doc: "The body's Content-Type, instead of the one json, form or body implies."},
		{Name: "timeout", Type: engine.Duration, Doc: "A timeout for this request, within the step's."},
		{Name: "accept", Type: engine.OneOf(engine.List(engine.String), engine.String), Default: "2xx", Hint: "a status code such as 404 or a class such as 2xx",
			Doc: "The statuses that do not fail the step: a code (404), a class (2xx), or a list of them."},
		{Name: "parse", Type: engine.Enum(parseModes...), Default: parseAuto, Doc: "How the body is read: auto (by Content-Type), json, text, xml, form, or none (not read)."},
		{Name: "follow_redirects", Type: engine.Enum(engine.FollowPolicies...), Const: true,
			Doc: "Which redirects are followed: same_origin, any, or none (the 3xx response is the response). Default: same_origin for a request that carries credentials, any otherwise."},
		{Name: "paginate", Type: paginateType,
			Doc: "Walks the pages of a list (see [Pagination](#pagination)): the request is sent again for each next page and the step outputs {items, pages}."},
	},
	Groups: []engine.Group{
		{Keys: []string{"path", "url"}, Exclusive: true, Need: true, Missing: "path: /tasks",
			Why: "path is joined to the app's base_url, url is used as it is"},
		{Keys: []string{"json", "form", "body"}, Exclusive: true, Why: "a request has one body (json, form or body)"},
	},
	Examples: []string{`- id: list
  call_api:
    method: GET
    path: /tasks
    query: {limit: 10}
    accept: [2xx, 404]`, `- id: create
  call_api:
    method: post
    url: https://api.example.com/tasks
    json: {name: "{{ app.name }}"}
    timeout: 10s`, `- id: repos
  call_api:
    path: /user/repos
    query: {per_page: 100}
    paginate: {items: "{{ response.body }}", link: next, max_pages: 50}`},
}

// paginateType is call_api's paginate: the items of a page, exactly one strategy, and when the
// walk stops (paginate_compile.go reads it).
var paginateType = engine.Object("paginate",
	engine.Field{Name: "items", Type: engine.Template, Required: true, Missing: `items: "{{ response.body }}"`,
		Doc: "The list of items of a page, from response (the page's status, headers, body, url): \"{{ response.body.data }}\". An empty list ends the walk."},
	engine.Field{Name: "link", Type: engine.String, Const: true,
		Doc: "Follow the Link header's link of this relation (RFC 8288), usually next. The URL is taken as it is given (resolved against the page's URL when relative); no such link ends the walk."},
	engine.Field{Name: "cursor", Type: engine.Object("cursor",
		engine.Field{Name: "value", Type: engine.Template, Required: true, Missing: `value: "{{ response.body.next }}"`,
			Doc: "The next cursor, from response: null or empty ends the walk; the same cursor twice fails it."},
		paramField("cursor"), fieldField("cursor"),
	).With(paramGroup),
		Doc: "A cursor the response gives for the next page."},
	engine.Field{Name: "offset", Type: engine.Object("offset",
		paramField("offset"), fieldField("offset"),
		engine.Field{Name: "limit", Type: atLeast(1), Const: true, Required: true, Missing: "limit: 100",
			Doc: "The page size; a shorter page is the last."},
		engine.Field{Name: "limit_param", Type: engine.String, Const: true, Doc: "The query parameter of the page size (with param)."},
		engine.Field{Name: "limit_field", Type: engine.String, Const: true, Doc: "The field of the JSON body of the page size (with field)."},
		engine.Field{Name: "start", Type: atLeast(0), Const: true, Default: "0", Doc: "The first offset; each page's items add to it."},
	).With(paramGroup, engine.Group{Keys: []string{"limit_param", "limit_field"}, Exclusive: true, Why: "the page size goes in one place"}),
		Doc: "An offset grown by each page's items, and a page size."},
	engine.Field{Name: "page_number", Type: engine.Object("page_number",
		paramField("page number"), fieldField("page number"),
		engine.Field{Name: "start", Type: atLeast(0), Const: true, Default: "1", Doc: "The first page's number."},
		engine.Field{Name: "total_pages", Type: engine.Template,
			Doc: "The number of pages, from response; without it the walk ends at an empty page."},
	).With(paramGroup),
		Doc: "A page number, one more for each page."},
	engine.Field{Name: "stop_when", Type: engine.Template,
		Doc: "Ends the walk after a page when it is true; sees response and pages (the pages read so far)."},
	engine.Field{Name: "max_pages", Type: engine.IntRange(1, MaxPages), Const: true, Default: strconv.Itoa(DefaultMaxPages),
		Doc: "The most pages read. A walk with more fails the step, unless on_max_pages: stop."},
	engine.Field{Name: "on_max_pages", Type: engine.Enum("fail", "stop"), Const: true, Default: "fail",
		Doc: "What reaching max_pages with more pages to read does: fail the step or end the walk with the pages read."},
).With(engine.Group{Keys: paginateStrategies, Exclusive: true, Need: true, Missing: "link: next",
	Why: "a walk follows one strategy"})

// paramGroup: a strategy's value goes in a query parameter or in a field of the JSON body.
var paramGroup = engine.Group{Keys: []string{"param", "field"}, Exclusive: true, Need: true, Missing: "param: NAME",
	Why: "the value goes in a query parameter or in a field of the JSON body"}

func paramField(what string) engine.Field {
	return engine.Field{Name: "param", Type: engine.String, Const: true, Doc: "The query parameter that carries the " + what + "."}
}

func fieldField(what string) engine.Field {
	return engine.Field{Name: "field", Type: engine.String, Const: true, Doc: "The top-level field of the json: body that carries the " + what + "."}
}

// atLeast is an integer of at least lo.
func atLeast(lo int) engine.Type { return engine.Type{Kind: engine.KindInt, Min: &lo} }
