package flows

import (
	"embed"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"sync"
)

// SchemaID is the $id of the JSON Schema of app.yaml, where the repository serves it.
const SchemaID = "https://raw.githubusercontent.com/patchbay/patchbay/main/schema/app.schema.json"

// BlockDoc describes a block kind to the JSON Schema and the reference: its key, its one-line
// summary, the schema of its body (nil: any value) and its fields. flows does not know block
// kinds; the engine's registry does, and makes these from each block's spec
// (engine.Registry.Docs).
type BlockDoc struct {
	Kind     string
	Summary  string
	Body     map[string]any
	Doc      string     // what the body is beyond its fields: its short form, its keys
	Fields   []FieldDoc // the keys of a mapping body, in order
	Examples []string   // steps that use the block, YAML
}

// FieldDoc is one key of a block's body, for the reference.
type FieldDoc struct {
	Key      string
	Type     string // "string", "list of strings", ...; markdown
	Required bool
	Default  string
	Doc      string
}

// The model's doc comments are the user docs (STYLE.md section 10): the schema's descriptions
// are read from the source of model.go and connection.go, so there is one text to keep right.
//
//go:embed model.go connection.go
var modelSource embed.FS

// modelDocs holds the doc comments of the model's types ("Flow") and fields ("Flow.Kind"), each
// on one line.
var modelDocs = sync.OnceValue(func() map[string]string {
	docs := map[string]string{}
	fset := token.NewFileSet()
	files, _ := fs.Glob(modelSource, "*.go")
	for _, name := range files {
		src, err := modelSource.ReadFile(name)
		if err != nil {
			panic(err) // embedded: cannot happen
		}
		f, err := parser.ParseFile(fset, name, src, parser.ParseComments)
		if err != nil {
			panic(fmt.Sprintf("flows: parse embedded %s: %v", name, err))
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, spec := range g.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				docs[ts.Name.Name] = oneLine(g.Doc.Text())
				for _, fld := range st.Fields.List {
					for _, n := range fld.Names {
						if fld.Doc != nil {
							docs[ts.Name.Name+"."+n.Name] = oneLine(fld.Doc.Text())
						}
					}
				}
			}
		}
	}
	return docs
})

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// fieldDoc returns the doc comment of a model field ("Flow.Kind") as a description of the YAML
// key: the Go name that starts it is replaced by the key, `kind` ... It panics when the field
// has no comment, so that a field without docs fails the schema's test.
func fieldDoc(field, key string) string {
	doc := modelDocs()[field]
	if doc == "" {
		panic(fmt.Sprintf("flows: schema: %s has no doc comment", field))
	}
	goName := field[strings.IndexByte(field, '.')+1:]
	if rest, ok := strings.CutPrefix(doc, goName+" "); ok {
		return "`" + key + "` " + rest
	}
	return doc
}

// prop is one key of a YAML mapping in the schema: the model field whose comment describes it,
// and its schema.
type prop struct {
	key    string
	field  string
	schema map[string]any
}

// object builds the schema of a mapping whose keys are exactly the parser's list keys, in which
// every key has a prop. A key without a prop, or a prop the parser does not accept, panics: the
// schema follows the parser's lists and cannot drift from them.
func object(desc string, keys []string, props []prop, required ...string) map[string]any {
	byKey := map[string]prop{}
	for _, p := range props {
		byKey[p.key] = p
	}
	properties := map[string]any{}
	for _, k := range keys {
		p, ok := byKey[k]
		if !ok {
			panic(fmt.Sprintf("flows: schema: no description of key %q", k))
		}
		s := map[string]any{}
		if r, ok := p.schema["$ref"]; ok {
			// Draft-07 tools (the YAML language server) ignore the siblings of $ref, the
			// description among them: wrap the reference.
			s["allOf"] = []any{map[string]any{"$ref": r}}
		} else {
			for k, v := range p.schema {
				s[k] = v
			}
		}
		s["description"] = fieldDoc(p.field, k)
		properties[k] = s
		delete(byKey, k)
	}
	for k := range byKey {
		panic(fmt.Sprintf("flows: schema: key %q is not one the parser accepts", k))
	}
	o := map[string]any{
		"type":                 "object",
		"description":          desc,
		"properties":           properties,
		"additionalProperties": false,
	}
	if len(required) > 0 {
		o["required"] = anyList(required)
	}
	return o
}

func anyList[T any](l []T) []any {
	out := make([]any, len(l))
	for i, x := range l {
		out[i] = x
	}
	return out
}

func ref(def string) map[string]any { return map[string]any{"$ref": "#/$defs/" + def} }

var (
	str      = map[string]any{"type": "string"}
	boolean  = map[string]any{"type": "boolean"}
	anyValue = map[string]any{}
	identPat = identRE.String()
)

func enum(values ...string) map[string]any {
	return map[string]any{"type": "string", "enum": anyList(values)}
}

func mapOf(item map[string]any) map[string]any {
	return map[string]any{"type": "object", "propertyNames": map[string]any{"pattern": identPat}, "additionalProperties": item}
}

// durationPattern matches what time.ParseDuration accepts, without a sign.
const durationPattern = `^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// typeDoc returns the doc comment of a model type, its Go name replaced by what.
func typeDoc(typ, what string) string {
	doc := modelDocs()[typ]
	if rest, ok := strings.CutPrefix(doc, typ+" "); ok {
		return what + " " + rest
	}
	return doc
}

// Schema returns the JSON Schema (draft 2020-12) of app.yaml with the given block kinds. Every
// key the parser accepts is in it, described by its model field's doc comment, and nothing
// else: additional keys are errors, as they are to the parser.
func Schema(blocks []BlockDoc) map[string]any {
	defs := map[string]any{}

	defs["duration"] = map[string]any{
		"description": "A duration such as 30s, 5m or 1h30m (Go's syntax); a bare integer is seconds.",
		"anyOf": []any{
			map[string]any{"type": "string", "pattern": durationPattern},
			map[string]any{"type": "integer", "minimum": 0},
		},
	}
	defs["strings"] = map[string]any{
		"description": "A list of strings; a single string is a list of one.",
		"anyOf":       []any{str, map[string]any{"type": "array", "items": str}},
	}

	paramProps := []prop{
		{"key", "Param.Key", map[string]any{"type": "string", "pattern": identPat}},
		{"label", "Param.Label", str},
		{"required", "Param.Required", boolean},
		{"sensitive", "Param.Sensitive", boolean},
		{"default", "Param.Default", str},
		{"help", "Param.Help", str},
		{"docs_url", "Param.DocsURL", str},
	}
	var noSensitive []string
	for _, k := range paramFields {
		if k != "sensitive" {
			noSensitive = append(noSensitive, k)
		}
	}
	var paramOnly []prop
	for _, p := range paramProps {
		if p.key != "sensitive" {
			paramOnly = append(paramOnly, p)
		}
	}
	defs["param"] = object("An integration parameter the user fills in when connecting; never secret.", noSensitive, paramOnly, "key")
	defs["field"] = object("A credential the user enters when connecting; sensitive ones are prompted without echo, encrypted at rest and redacted.", paramFields, paramProps, "key")

	defs["inject"] = object(typeDoc("Inject", "`inject`"), []string{"in", "name", "value"}, []prop{
		{"in", "Inject.In", enum("header", "query")},
		{"name", "Inject.Name", str},
		{"value", "Inject.Value", str},
	})
	defs["request"] = object(typeDoc("RequestDefaults", "`request` defaults"), requestFields, []prop{
		{"headers", "RequestDefaults.Headers", map[string]any{"type": "object"}},
		{"query", "RequestDefaults.Query", map[string]any{"type": "object"}},
		{"token_requests", "RequestDefaults.TokenRequests", boolean},
	})
	defs["refresh"] = object(typeDoc("Refresh", "`refresh`"), []string{"before_expiry", "min_interval", "on_status", "assume_lifetime"}, []prop{
		{"before_expiry", "Refresh.BeforeExpiry", ref("duration")},
		{"min_interval", "Refresh.MinInterval", ref("duration")},
		{"on_status", "Refresh.OnStatus", map[string]any{"type": "array", "items": map[string]any{"type": "integer", "minimum": 400, "maximum": 599}}},
		{"assume_lifetime", "Refresh.AssumeLifetime", ref("duration")},
	})

	conn := object(typeDoc("Connection", "`connection`"), connFields, []prop{
		{"type", "Connection.Type", enum(ConnectionTypes...)},
		{"grant", "Connection.Grant", enum("authorization_code", "client_credentials")},
		{"authorize_url", "Connection.AuthorizeURL", str},
		{"token_url", "Connection.TokenURL", str},
		{"revoke_url", "Connection.RevokeURL", str},
		{"request_token_url", "Connection.RequestTokenURL", str},
		{"access_token_url", "Connection.AccessTokenURL", str},
		{"scopes", "Connection.Scopes", ref("strings")},
		{"scope_separator", "Connection.ScopeSeparator", str},
		{"pkce", "Connection.PKCE", boolean},
		{"client_auth", "Connection.ClientAuth", enum(ClientAuths...)},
		{"token_method", "Connection.TokenMethod", enum("POST", "GET", "post", "get")},
		{"authorize_params", "Connection.AuthorizeParams", map[string]any{"type": "object"}},
		{"token_params", "Connection.TokenParams", map[string]any{"type": "object"}},
		{"refresh_params", "Connection.RefreshParams", map[string]any{"type": "object"}},
		{"token_body", "Connection.TokenBody", enum(TokenBodies...)},
		{"token_headers", "Connection.TokenHeaders", map[string]any{"type": "object"}},
		{"refresh_url", "Connection.RefreshURL", str},
		{"refresh_method", "Connection.RefreshMethod", enum("POST", "GET", "post", "get")},
		{"token_in", "Connection.TokenIn", str},
		{"token_keep", "Connection.TokenKeep", map[string]any{"type": "object", "additionalProperties": str}},
		{"token_error_in", "Connection.TokenErrorIn", str},
		{"client_id_param", "Connection.ClientIDParam", str},
		{"code_param", "Connection.CodeParam", str},
		{"client", "Connection.Client", str},
		{"params", "Connection.Params", map[string]any{"type": "array", "items": ref("param")}},
		{"fields", "Connection.Fields", map[string]any{"type": "array", "items": ref("field")}},
		{"inject", "Connection.Inject", ref("inject")},
		{"request", "Connection.Request", ref("request")},
		{"refresh", "Connection.Refresh", ref("refresh")},
		{"label", "Connection.Label", str},
		{"username", "Connection.Username", str},
		{"password", "Connection.Password", str},
		{"scope_in", "Connection.ScopeIn", enum(ScopeInAuthorizeURL, ScopeInRequestTokenURL)},
	}, "type")
	// What each type needs and which keys it cannot use: the parser's own tables.
	var rules []any
	for _, n := range connNeeds {
		cond := map[string]any{"type": map[string]any{"const": n.Type}}
		if n.Grant != "" {
			cond["grant"] = map[string]any{"const": n.Grant}
		}
		rules = append(rules, map[string]any{
			"if":   map[string]any{"properties": cond, "required": []any{"type"}},
			"then": map[string]any{"required": []any{n.Key}},
		})
	}
	rules = append(rules, map[string]any{ // parseConnection: grant is for oauth2 connections
		"if":   map[string]any{"required": []any{"grant"}},
		"then": map[string]any{"properties": map[string]any{"type": map[string]any{"const": ConnOAuth2}}},
	})
	for _, k := range connKeyTypes {
		rules = append(rules, map[string]any{
			"if":   map[string]any{"required": []any{k.Key}},
			"then": map[string]any{"properties": map[string]any{"type": enum(k.Types...)}},
		})
	}
	for _, key := range basicDefaults { // parseBasic: a basic credential's source
		rules = append(rules, map[string]any{
			"if": map[string]any{
				"properties": map[string]any{"type": map[string]any{"const": ConnBasic}},
				"required":   []any{"type", "fields"},
				"not":        map[string]any{"required": []any{key}},
			},
			"then": map[string]any{"properties": map[string]any{"fields": map[string]any{
				"contains": map[string]any{"properties": map[string]any{"key": map[string]any{"const": key}}, "required": []any{"key"}},
			}}},
		})
	}
	rules = append(rules, map[string]any{ // parseBasic: inject replaces basic auth
		"if": map[string]any{
			"properties": map[string]any{"type": map[string]any{"const": ConnBasic}},
			"required":   []any{"type", "inject"},
		},
		"then": map[string]any{"not": map[string]any{"anyOf": []any{
			map[string]any{"required": []any{"username"}}, map[string]any{"required": []any{"password"}},
		}}},
	})
	conn["allOf"] = rules
	defs["connection"] = conn

	defs["input"] = object(typeDoc("Input", "An input"), inputFields, []prop{
		{"type", "Input.Type", enum(InputTypes...)},
		{"required", "Input.Required", boolean},
		{"default", "Input.Default", anyValue},
		{"description", "Input.Description", str},
		{"sensitive", "Input.Sensitive", boolean},
		{"label", "Input.Label", str},
	})

	retryOn := map[string]any{"anyOf": []any{
		map[string]any{"type": "integer", "minimum": 100, "maximum": 599},
		map[string]any{"type": "string", "pattern": `^([1-5][0-9][0-9]|[1-5]xx|timeout|network|any)$`},
	}}
	defs["retry"] = object(typeDoc("Retry", "`retry`"), retryFields, []prop{
		{"max_attempts", "Retry.MaxAttempts", map[string]any{"type": "integer", "minimum": 1, "maximum": MaxRetryAttempts}},
		{"backoff", "Retry.Backoff", ref("duration")},
		{"max_backoff", "Retry.MaxBackoff", ref("duration")},
		{"jitter", "Retry.Jitter", boolean},
		{"on", "Retry.On", map[string]any{"anyOf": []any{retryOn, map[string]any{"type": "array", "items": retryOn}}}},
	})

	step := object("One step of a flow: the step fields and exactly one block key (call_api, set, if ...).", stepFields, []prop{
		{"id", "Step.ID", map[string]any{"type": "string", "pattern": identPat}},
		{"description", "Step.Description", str},
		{"when", "Step.When", anyValue},
		{"retry", "Step.Retry", ref("retry")},
		{"timeout", "Step.Timeout", ref("duration")},
		{"on_error", "Step.OnError", enum("fail", "continue")},
	})
	props := step["properties"].(map[string]any)
	var oneOf []any
	for _, b := range blocks {
		body := map[string]any{}
		for k, v := range b.Body {
			body[k] = v
		}
		body["description"] = "`" + b.Kind + "` " + b.Summary + "."
		props[b.Kind] = body
		oneOf = append(oneOf, map[string]any{"required": []any{b.Kind}})
	}
	if len(oneOf) > 0 {
		step["oneOf"] = oneOf
	}
	defs["step"] = step
	defs["steps"] = map[string]any{
		"description": "Steps run in order; each has the step fields and one block.",
		"type":        "array",
		"items":       ref("step"),
	}

	flow := object(typeDoc("Flow", "A flow"), flowFields, []prop{
		{"kind", "Flow.Kind", enum(KindAction, KindTrigger, KindPrivate)},
		{"description", "Flow.Description", str},
		{"inputs", "Flow.Inputs", mapOf(ref("input"))},
		{"steps", "Flow.Steps", ref("steps")},
		{"output", "Flow.Output", anyValue},
		{"dedupe", "Flow.Dedupe", str},
	})
	flow["anyOf"] = []any{
		map[string]any{"required": []any{"steps"}},
		map[string]any{"required": []any{"output"}},
	}
	flow["if"] = map[string]any{"required": []any{"dedupe"}}
	flow["then"] = map[string]any{"required": []any{"kind"}, "properties": map[string]any{"kind": map[string]any{"const": KindTrigger}}}
	defs["flow"] = flow

	root := object("A patchbay app: an integration as its author writes it. More flows may sit in other *.yaml files beside app.yaml, under a top-level flows: key.", appFields, []prop{
		{"app", "App.Key", map[string]any{"type": "string", "pattern": appKeyRE.String()}},
		{"name", "App.Name", str},
		{"version", "App.Version", map[string]any{"type": "integer", "minimum": 1}},
		{"description", "App.Description", str},
		{"docs_url", "App.DocsURL", str},
		{"base_url", "App.BaseURL", str},
		{"connection", "App.Connection", ref("connection")},
		{"flows", "App.Flows", mapOf(ref("flow"))},
	}, "app")
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "patchbay app.yaml"
	root["$defs"] = defs
	return root
}

// SchemaJSON returns Schema(blocks) as indented JSON with a final newline, as the repository
// keeps it in schema/app.schema.json.
func SchemaJSON(blocks []BlockDoc) ([]byte, error) {
	b, err := json.MarshalIndent(Schema(blocks), "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
