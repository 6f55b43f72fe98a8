package flows

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/schematest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// testBlocks stand for the registry's blocks, which flows cannot import: blocks' schema tests
// check the generated schema with every real block.
var testBlocks = []BlockDoc{
	{Kind: "log", Summary: "writes a line to the run's log", Body: map[string]any{"type": "string"}},
	{Kind: "set", Summary: "assigns variables", Body: map[string]any{"type": "object"}},
}

// compileSchema compiles the generated schema with a draft 2020-12 validator.
func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	src, err := SchemaJSON(testBlocks)
	if err != nil {
		t.Fatal(err)
	}
	return schematest.Compile(t, SchemaID, src)
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
			serr := s.Validate(schematest.FromYAML(t, []byte(src)))
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
	walk("#", Schema(testBlocks))
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("properties without a description:\n%s", strings.Join(missing, "\n"))
	}
}

// TestSchemaFollowsParser: the schema's keys are the parser's lists, and its enums the model's.
func TestSchemaFollowsParser(t *testing.T) {
	sch := Schema(testBlocks)
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
	for _, b := range testBlocks {
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
