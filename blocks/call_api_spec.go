package blocks

import "github.com/patchbay/patchbay/engine"

// callAPISpec is call_api's body: the compiler checks it, the JSON Schema and the reference are
// generated from it (see engine.Spec).
var callAPISpec = engine.Spec{
	Doc: "The output is {status, headers, body, url}: headers with names in lower case " +
		"(a repeated header is a list), the body parsed by its Content-Type or by parse, url the final one after redirects, and redirects " +
		"([{status, url}]) when there were some. A status that accept does not list fails the step. After a response the connection " +
		"asks a retry for (a 401: its token went stale), the request is sent once more, freshly signed.",
	Fields: []engine.Field{
		{Name: "method", Type: engine.EnumFold(Methods...), Default: "GET", Doc: "The HTTP method, in any case."},
		{Name: "path", Type: engine.String, Doc: "The path, joined to the app's base_url (not with url)."},
		{Name: "url", Type: engine.String, Doc: "An absolute http or https URL, used as it is (not with path)."},
		{Name: "query", Type: engine.Mapping, Doc: "Query parameters: values are strings, numbers or lists of them."},
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
    timeout: 10s`},
}
