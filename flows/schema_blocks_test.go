package flows

// descOnly is a schema property with only a description (the block checks the value, which may be a
// template).
func descOnly(desc string) map[string]any { return map[string]any{"description": desc} }

// callAPIBody is call_api's body in the committed schema: its keys with what they do, for an
// editor's completion, and no other key (the block refuses others as well). blocks checks that
// the keys are the block's (TestSchemaCallAPIFields).
var callAPIBody = map[string]any{
	"type":                 "object",
	"additionalProperties": false,
	"properties": map[string]any{
		"method":           descOnly("The HTTP method: GET (the default), HEAD, POST, PUT, PATCH, DELETE or OPTIONS."),
		"path":             descOnly("The path, joined to the app's base_url. A template that gives null or \"\" in it fails the step; optional(...) marks a segment that may be left out."),
		"url":              descOnly("An absolute http or https URL, used as it is (in place of path). A template that gives null or \"\" in its host or path fails the step."),
		"query":            descOnly("Query parameters: a mapping of name to a value or a list of values; a null value is left out."),
		"headers":          descOnly("Request headers: a mapping of name to a value or a list of values."),
		"json":             descOnly("A JSON body: any value."),
		"form":             descOnly("A form body (application/x-www-form-urlencoded): a mapping."),
		"body":             descOnly("A body as text."),
		"content_type":     descOnly("The body's Content-Type, in place of the one its kind gives."),
		"timeout":          descOnly("How long the request may take: a duration."),
		"accept":           descOnly("The statuses that do not fail the step: codes (404) or classes (2xx); 2xx by default."),
		"parse":            map[string]any{"description": "How the body is read: auto (by its Content-Type, the default), json, text, xml, form or none.", "enum": []any{"auto", "json", "text", "xml", "form", "none"}},
		"follow_redirects": map[string]any{"description": "Which redirects are followed: same_origin, any or none.", "enum": []any{"same_origin", "any", "none"}},
		"paginate":         paginateBody,
	},
}

// pageParams are the keys that say where a pagination value goes.
var pageParams = map[string]any{
	"param": descOnly("The query parameter that carries the value."),
	"field": descOnly("The top-level field of the json body that carries the value (in place of param)."),
}

func withPageParams(props map[string]any) map[string]any {
	for k, v := range pageParams {
		props[k] = v
	}
	return props
}

var paginateBody = map[string]any{
	"description":          "Sends the request again for each next page and outputs {items, pages}: the items of all pages as one list.",
	"type":                 "object",
	"additionalProperties": false,
	"required":             []any{"items"},
	"properties": map[string]any{
		"items": descOnly("A template that gives the list of items of a page, from response (status, headers, body, url). An empty list ends the walk."),
		"link":  map[string]any{"description": "Follow the Link header's link of this relation, usually next.", "type": "string"},
		"cursor": map[string]any{"description": "The next cursor from each page, sent in param (or field).", "type": "object", "additionalProperties": false,
			"required": []any{"value"}, "properties": withPageParams(map[string]any{"value": descOnly("A template that gives the next cursor from response; null or \"\" ends the walk.")})},
		"offset": map[string]any{"description": "An offset grown by each page's items, sent in param (or field).", "type": "object", "additionalProperties": false,
			"required": []any{"limit"}, "properties": withPageParams(map[string]any{
				"limit":       map[string]any{"description": "The page size; a shorter page is the last.", "type": "integer", "minimum": 1},
				"limit_param": descOnly("The query parameter of the page size."),
				"limit_field": descOnly("The json body's field of the page size."),
				"start":       map[string]any{"description": "The first offset (0).", "type": "integer", "minimum": 0},
			})},
		"page_number": map[string]any{"description": "A page number, sent in param (or field).", "type": "object", "additionalProperties": false,
			"properties": withPageParams(map[string]any{
				"start":       map[string]any{"description": "The first page's number (1).", "type": "integer", "minimum": 0},
				"total_pages": descOnly("A template that gives the number of pages from response."),
			})},
		"stop_when":    descOnly("A template: the walk ends after a page when it is true (sees response and pages)."),
		"max_pages":    map[string]any{"description": "The most pages read (100 by default).", "type": "integer", "minimum": 1, "maximum": 1000},
		"on_max_pages": map[string]any{"description": "What reaching max_pages with more pages does: fail (the default) or stop.", "enum": []any{"fail", "stop"}},
	},
}
