package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// schemaFile is the committed schema, rewritten by go test ./flows -update.
const schemaFile = "../schema/app.schema.json"

// stepsBody is the schema hint for a block field that holds nested steps.
var stepsBody = map[string]any{"$ref": "#/$defs/steps"}

// coreBlocks are the kinds of blocks.Types() with their summaries, for the committed schema.
// flows cannot import blocks (blocks imports engine, which imports flows), so the list is kept
// here and blocks/schema_test.go checks that the committed schema names exactly the registered
// kinds with their summaries. Bodies: a mapping for blocks that take only one; nested steps are
// hinted for if, switch and foreach; return, fail, log and wait also take a scalar.
var coreBlocks = []BlockDoc{
	{Kind: "call_api", Summary: "sends an HTTP request with the connection's credentials and outputs the response (status, headers, body, url); with paginate, the items of all its pages", Body: callAPIBody},
	{Kind: "call_flow", Summary: "runs another flow of the app with inputs and outputs its output", Body: map[string]any{"type": "object"}},
	{Kind: "fail", Summary: "fails the run with a message and an optional code"},
	{Kind: "foreach", Summary: "runs steps once per item of a list, one at a time or several at once; outputs the list of results", Body: map[string]any{"type": "object", "properties": map[string]any{"steps": stepsBody}}},
	{Kind: "if", Summary: "runs the steps of then or else, by a condition", Body: map[string]any{"type": "object", "properties": map[string]any{"then": stepsBody, "else": stepsBody}}},
	{Kind: "log", Summary: "writes a message with fields to the run's log, secrets redacted"},
	{Kind: "oauth2_authorize_url", Summary: "builds an OAuth 2.0 authorization URL (scopes, state, PKCE S256, extra parameters)", Body: map[string]any{"type": "object"}},
	{Kind: "oauth2_token", Summary: "requests tokens from an OAuth 2.0 token endpoint (authorization_code, refresh_token, client_credentials)", Body: map[string]any{"type": "object"}},
	{Kind: "return", Summary: "ends the flow with a value as its output"},
	{Kind: "set", Summary: "assigns variables (vars.<name>) from values and templates", Body: map[string]any{"type": "object"}},
	{Kind: "switch", Summary: "runs the steps of the first case whose equals or when matches, else default", Body: map[string]any{"type": "object", "properties": map[string]any{
		"cases":   map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"steps": stepsBody}}},
		"default": stepsBody,
	}}},
	{Kind: "wait", Summary: "pauses the run for a duration or until a time"},
}

// TestSchemaFile regenerates the schema and compares it with the committed file.
func TestSchemaFile(t *testing.T) {
	got, err := SchemaJSON(coreBlocks)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run go test ./flows -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what Schema generates: run go test ./flows -update", schemaFile)
	}
}

// compileSchema compiles the generated schema with a draft 2020-12 validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	src, err := SchemaJSON(coreBlocks)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

// yamlToJSON converts a YAML document into the values encoding/json would give for it.
func yamlToJSON(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestSchemaAccepts validates every example app and every valid testdata file.
func TestSchemaAccepts(t *testing.T) {
	s := compileSchema(t)
	files, _ := filepath.Glob("testdata/valid_*.yaml")
	for _, dir := range exampleDirs(t) {
		files = append(files, filepath.Join(dir, "app.yaml"))
	}
	if len(files) == 0 {
		t.Fatal("nothing to validate")
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(yamlToJSON(t, src)); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		})
	}
}

// TestSchemaRejects: invalid documents fail validation where the parser fails them too.
func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	tests := []struct {
		name, src string
		engine    bool // rejected by the engine when it compiles the blocks, not by the parser
	}{
		{"no app key", "name: x\n", false},
		{"bad app key", "app: my-app\n", false},
		{"unknown app field", "app: x\nnmae: y\n", false},
		{"version 0", "app: x\nversion: 0\n", false},
		{"bad flow name", "app: x\nflows:\n  new-tasks: {output: 1}\n", false},
		{"unknown flow field", "app: x\nflows:\n  f: {output: 1, stpes: []}\n", false},
		{"bad kind", "app: x\nflows:\n  f: {kind: trigerr, output: 1}\n", false},
		{"dedupe on an action", "app: x\nflows:\n  f: {dedupe: id, output: 1}\n", false},
		{"flow without steps or output", "app: x\nflows:\n  f: {description: x}\n", false},
		{"unknown input type", "app: x\nflows:\n  f:\n    inputs: {a: {type: strng}}\n    output: 1\n", false},
		{"bad input name", "app: x\nflows:\n  f:\n    inputs: {my input: {type: string}}\n    output: 1\n", false},
		{"step without block", "app: x\nflows:\n  f:\n    steps:\n      - id: a\n", false},
		{"step with two blocks", "app: x\nflows:\n  f:\n    steps:\n      - {set: {a: 1}, log: hi}\n", true},
		{"unknown block", "app: x\nflows:\n  f:\n    steps:\n      - {call_apii: {}}\n", true},
		{"bad step id", "app: x\nflows:\n  f:\n    steps:\n      - {id: 1st, set: {a: 1}}\n", false},
		{"bad on_error", "app: x\nflows:\n  f:\n    steps:\n      - {on_error: ignore, set: {a: 1}}\n", false},
		{"max_attempts too high", "app: x\nflows:\n  f:\n    steps:\n      - {retry: {max_attempts: 21}, set: {a: 1}}\n", false},
		{"bad retry on", "app: x\nflows:\n  f:\n    steps:\n      - {retry: {on: [teapot]}, set: {a: 1}}\n", false},
		{"retry on 600", "app: x\nflows:\n  f:\n    steps:\n      - {retry: {on: 600}, set: {a: 1}}\n", false},
		{"bad timeout", "app: x\nflows:\n  f:\n    steps:\n      - {timeout: forever, set: {a: 1}}\n", false},
		{"negative timeout", "app: x\nflows:\n  f:\n    steps:\n      - {timeout: -1, set: {a: 1}}\n", false},
		{"set body not a mapping", "app: x\nflows:\n  f:\n    steps:\n      - {set: 1}\n", true},
		{"nested step without block", "app: x\nflows:\n  f:\n    steps:\n      - if: {condition: true, then: [{id: a}]}\n", true},
		{"connection without type", "app: x\nconnection: {client: x}\n", false},
		{"unknown connection type", "app: x\nconnection: {type: oauth}\n", false},
		{"oauth2 without token_url", "app: x\nconnection: {type: oauth2, authorize_url: u}\n", false},
		{"oauth2 code grant without authorize_url", "app: x\nconnection: {type: oauth2, token_url: u}\n", false},
		{"oauth1 without access_token_url", "app: x\nconnection: {type: oauth1, request_token_url: u, authorize_url: u}\n", false},
		{"api_key without inject", "app: x\nconnection: {type: api_key}\n", false},
		{"token without inject", "app: x\nconnection: {type: token}\n", false},
		{"grant on basic", "app: x\nconnection: {type: basic, grant: client_credentials}\n", false},
		{"token_url on basic", "app: x\nconnection: {type: basic, token_url: u}\n", false},
		{"fields on oauth2", "app: x\nconnection: {type: oauth2, grant: client_credentials, token_url: u, fields: [{key: a}]}\n", false},
		{"inject on none", "app: x\nconnection: {type: none, inject: {name: X}}\n", false},
		{"sensitive param", "app: x\nconnection: {type: basic, params: [{key: a, sensitive: true}]}\n", false},
		{"param without key", "app: x\nconnection: {type: basic, params: [{label: a}]}\n", false},
		{"bad inject in", "app: x\nconnection: {type: api_key, inject: {in: body}}\n", false},
		{"bad on_status", "app: x\nconnection: {type: token, inject: {}, refresh: {on_status: [200]}}\n", false},
		{"bad grant", "app: x\nconnection: {type: oauth2, grant: implicit, token_url: u}\n", false},
		{"bad client_auth", "app: x\nconnection: {type: oauth2, grant: client_credentials, token_url: u, client_auth: header}\n", false},
		{"basic fields without username", "app: x\nconnection: {type: basic, fields: [{key: api_key}], password: X}\n", false},
		{"basic username with inject", "app: x\nconnection: {type: basic, inject: {name: X}, username: u}\n", false},
		{"bad scope_in", "app: x\nconnection: {type: oauth1, request_token_url: u, authorize_url: u, access_token_url: u, scope_in: url}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse("t.yaml", []byte(tt.src)); err == nil && !tt.engine {
				t.Fatalf("the parser accepts %q: not a case for the schema", tt.src)
			}
			if err := s.Validate(yamlToJSON(t, []byte(tt.src))); err == nil {
				t.Errorf("schema accepts %q", tt.src)
			}
		})
	}
}

// TestSchemaConnectionRules: for every connection type and key, the schema accepts a minimal
// connection exactly when the parser does.
func TestSchemaConnectionRules(t *testing.T) {
	s := compileSchema(t)
	values := map[string]string{
		"grant": "client_credentials", "authorize_url": "u", "token_url": "u", "revoke_url": "u",
		"request_token_url": "u", "access_token_url": "u", "scopes": "[a]", "scope_separator": "','",
		"pkce": "true", "client_auth": "post", "token_method": "GET", "authorize_params": "{a: b}",
		"client": "c", "params": "[{key: a}]", "fields": "[{key: b, sensitive: true}]",
		"inject": "{name: X}", "request": "{headers: {A: b}}", "refresh": "{min_interval: 1m}", "label": "l",
		"token_params": "{audience: a}", "refresh_params": "{audience: a}", "token_body": "json", "token_headers": "{Accept: a}",
		"refresh_url": "u", "refresh_method": "GET", "token_in": "authed_user", "token_keep": "{team: team.id}",
		"token_error_in": "error", "client_id_param": "app_id", "code_param": "auth_code",
		"username": "u", "password": "p", "scope_in": "request_token_url",
	}
	for _, typ := range ConnectionTypes {
		for _, key := range connFields {
			if key == "type" {
				continue
			}
			src := fmt.Sprintf("app: x\nconnection:\n  type: %s\n  %s: %s\n", typ, key, values[key])
			// What the type needs, besides key.
			grant := ""
			if key == "grant" {
				grant = values["grant"]
			} else if typ == ConnOAuth2 {
				grant = "authorization_code"
			}
			for _, n := range connNeeds {
				if n.Type == typ && (n.Grant == "" || n.Grant == grant) && n.Key != key {
					src += fmt.Sprintf("  %s: %s\n", n.Key, values[n.Key])
				}
			}
			_, perr := Parse("t.yaml", []byte(src))
			serr := s.Validate(yamlToJSON(t, []byte(src)))
			if (perr == nil) != (serr == nil) {
				t.Errorf("type %s with %s: parser error %v, schema error %v\n%s", typ, key, perr, serr, src)
			}
		}
	}
}

// TestSchemaDescriptions: every property of the schema has a description.
func TestSchemaDescriptions(t *testing.T) {
	var missing []string
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			// Properties of conditions (if, then, allOf) repeat keys described elsewhere.
			cond := strings.Contains(path+"/", "/if/") || strings.Contains(path+"/", "/then/") || strings.Contains(path, "/allOf/")
			if props, ok := x["properties"].(map[string]any); ok && !cond {
				for k, p := range props {
					pm, _ := p.(map[string]any)
					if d, _ := pm["description"].(string); d == "" && !strings.Contains(path, "/properties/") {
						missing = append(missing, path+"/properties/"+k)
					}
				}
			}
			for k, c := range x {
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(fmt.Sprintf("%s/%d", path, i), c)
			}
		}
	}
	walk("#", Schema(coreBlocks))
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("properties without a description:\n%s", strings.Join(missing, "\n"))
	}
}

// TestSchemaFollowsParser: the schema's keys are the parser's lists, and its enums the model's.
func TestSchemaFollowsParser(t *testing.T) {
	sch := Schema(coreBlocks)
	defs := sch["$defs"].(map[string]any)
	keys := func(o map[string]any) []string {
		var out []string
		for k := range o["properties"].(map[string]any) {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	sorted := func(l []string) []string {
		l = slices.Clone(l)
		sort.Strings(l)
		return l
	}
	var stepKeys []string
	stepKeys = append(stepKeys, stepFields...)
	for _, b := range coreBlocks {
		stepKeys = append(stepKeys, b.Kind)
	}
	for _, tt := range []struct {
		name string
		o    map[string]any
		want []string
	}{
		{"app", sch, appFields},
		{"flow", defs["flow"].(map[string]any), flowFields},
		{"input", defs["input"].(map[string]any), inputFields},
		{"step", defs["step"].(map[string]any), stepKeys},
		{"retry", defs["retry"].(map[string]any), retryFields},
		{"connection", defs["connection"].(map[string]any), connFields},
		{"field", defs["field"].(map[string]any), paramFields},
	} {
		if got, want := keys(tt.o), sorted(tt.want); !slices.Equal(got, want) {
			t.Errorf("%s keys = %v, want %v", tt.name, got, want)
		}
	}
	// Descriptions come from the model's comments.
	app := sch["properties"].(map[string]any)
	if got, want := app["base_url"].(map[string]any)["description"], "`base_url` is prepended to every call_api path; it may use connection.params."; got != want {
		t.Errorf("base_url description = %q, want %q", got, want)
	}
}
