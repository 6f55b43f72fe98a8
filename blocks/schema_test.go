package blocks_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/internal/schematest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var update = flag.Bool("update", false, "rewrite schema/app.schema.json and docs/app-reference.md")

// The files generated from the blocks' specs (and flows' model), rewritten by
// go test ./blocks -update.
const (
	schemaFile    = "../schema/app.schema.json"
	referenceFile = "../docs/app-reference.md"
)

func registry(t testing.TB) *engine.Registry {
	t.Helper()
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// checkGenerated compares a generated file with the committed one, or rewrites it with -update.
func checkGenerated(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./blocks -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the blocks' specs generate: run go test ./blocks -update", file)
	}
}

// TestSchemaFile: schema/app.schema.json is the schema generated with every registered block.
func TestSchemaFile(t *testing.T) {
	got, err := flows.SchemaJSON(registry(t).Docs())
	if err != nil {
		t.Fatal(err)
	}
	checkGenerated(t, schemaFile, got)
}

// TestReference: docs/app-reference.md is the reference generated with every registered block.
func TestReference(t *testing.T) {
	checkGenerated(t, referenceFile, []byte(flows.Reference(registry(t).Docs())))
}

// compileSchema compiles the schema of reg's blocks with a draft 2020-12 validator.
func compileSchema(t *testing.T, reg *engine.Registry) *jsonschema.Schema {
	t.Helper()
	src, err := flows.SchemaJSON(reg.Docs())
	if err != nil {
		t.Fatal(err)
	}
	return schematest.Compile(t, flows.SchemaID, src)
}

// exampleApp wraps a block's example steps in an app: a base_url for call_api's path and a flow
// get_task, with the input task, for call_flow.
func exampleApp(steps string) string {
	var b strings.Builder
	b.WriteString("app: example\nbase_url: https://api.example.com\nflows:\n" +
		"  get_task:\n    inputs: {task: {type: string, required: true}}\n    output: \"{{ input.task }}\"\n" +
		"  example:\n    steps:\n")
	for _, line := range strings.Split(strings.TrimRight(steps, "\n"), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// TestBlockExamples: every block has an example in its spec, and every example compiles.
func TestBlockExamples(t *testing.T) {
	reg := registry(t)
	for _, bt := range reg.Types() {
		if len(bt.Spec.Examples) == 0 {
			t.Errorf("block %q has no example in its spec", bt.Kind)
		}
		for i, ex := range bt.Spec.Examples {
			t.Run(fmt.Sprintf("%s/%d", bt.Kind, i), func(t *testing.T) {
				if !strings.Contains(ex, bt.Kind+":") {
					t.Errorf("example does not use the block:\n%s", ex)
				}
				app, err := flows.Parse("app.yaml", []byte(exampleApp(ex)))
				if err == nil {
					_, err = engine.Compile(reg, app)
				}
				if err != nil {
					t.Errorf("example does not compile: %v\n%s", err, ex)
				}
			})
		}
	}
}

// TestSchemaAccepts validates every example app, every valid testdata file of flows and every
// block's examples against the generated schema.
func TestSchemaAccepts(t *testing.T) {
	reg := registry(t)
	s := compileSchema(t, reg)
	files, _ := filepath.Glob("../flows/testdata/valid_*.yaml")
	examples, _ := filepath.Glob("../examples/*/app.yaml")
	files = append(files, examples...)
	if len(examples) == 0 || len(files) == len(examples) {
		t.Fatal("nothing to validate")
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(schematest.FromYAML(t, src)); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		})
	}
	for _, bt := range reg.Types() {
		for i, ex := range bt.Spec.Examples {
			t.Run(fmt.Sprintf("%s/%d", bt.Kind, i), func(t *testing.T) {
				if err := s.Validate(schematest.FromYAML(t, []byte(exampleApp(ex)))); err != nil {
					t.Errorf("%v\n%s", err, ex)
				}
			})
		}
	}
}

// TestSchemaRejects: invalid documents fail validation where the parser or the engine (a
// block's spec) fails them too.
func TestSchemaRejects(t *testing.T) {
	reg := registry(t)
	s := compileSchema(t, reg)
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
		{"unknown call_api key", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, heders: {}}\n", true},
		{"unknown paginate key", "app: x\nbase_url: https://x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, paginate: {items: \"{{ response.body }}\", link: next, max_page: 3}}\n", true},
		{"unknown cursor key", "app: x\nbase_url: https://x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, paginate: {items: \"{{ response.body }}\", cursor: {value: x, parm: c}}}\n", true},
		{"paginate without a strategy", "app: x\nbase_url: https://x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, paginate: {items: \"{{ response.body }}\"}}\n", true},
		{"paginate with two strategies", "app: x\nbase_url: https://x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, paginate: {items: \"{{ response.body }}\", link: next, page_number: {param: p}}}\n", true},
		{"max_pages over the cap", "app: x\nbase_url: https://x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, paginate: {items: \"{{ response.body }}\", link: next, max_pages: 5000}}\n", true},
		{"oauth2_token body xml", "app: x\nflows:\n  f:\n    steps:\n      - oauth2_token: {url: u, grant_type: client_credentials, body: xml}\n", true},
		{"call_api method not an HTTP method", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, method: FETCH}\n", true},
		{"call_api timeout not a duration", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, timeout: [1]}\n", true},
		{"call_api query a list", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, query: [a]}\n", true},
		{"fail without message", "app: x\nflows:\n  f:\n    steps:\n      - fail: {code: x}\n", true},
		{"fail body a list", "app: x\nflows:\n  f:\n    steps:\n      - fail: [x]\n", true},
		{"return mapping without value", "app: x\nflows:\n  f:\n    steps:\n      - return: {found: false}\n", true},
		{"foreach concurrency 0", "app: x\nflows:\n  f:\n    steps:\n      - foreach: {items: [], concurrency: 0, steps: []}\n", true},
		{"foreach as a template", "app: x\nflows:\n  f:\n    steps:\n      - foreach: {items: [], as: \"{{ x }}\", steps: []}\n", true},
		{"if without then", "app: x\nflows:\n  f:\n    steps:\n      - if: {condition: true}\n", true},
		{"switch case with an unknown key", "app: x\nflows:\n  f:\n    steps:\n      - switch: {cases: [{when: true, step: []}]}\n", true},
		{"log level unknown", "app: x\nflows:\n  f:\n    steps:\n      - log: {message: x, level: loud}\n", true},
		{"set name not a name", "app: x\nflows:\n  f:\n    steps:\n      - set: {my var: 1}\n", true},
		{"oauth2_token without grant_type", "app: x\nflows:\n  f:\n    steps:\n      - oauth2_token: {url: u}\n", true},
		{"call_api path and url", "app: x\nbase_url: https://a.example\nflows:\n  f:\n    steps:\n      - call_api: {path: /x, url: https://b.example}\n", true},
		{"call_api without path or url", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {method: GET}\n", true},
		{"call_api json and form", "app: x\nflows:\n  f:\n    steps:\n      - call_api: {url: https://a.example, json: {}, form: {}}\n", true},
		{"wait duration and until", "app: x\nflows:\n  f:\n    steps:\n      - wait: {duration: 1s, until: x}\n", true},
		{"foreach without steps or output", "app: x\nflows:\n  f:\n    steps:\n      - foreach: {items: []}\n", true},
		{"switch case equals and when", "app: x\nflows:\n  f:\n    steps:\n      - switch: {value: 1, cases: [{equals: 1, when: true, steps: []}]}\n", true},
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, err := flows.Parse("t.yaml", []byte(tt.src))
			if err == nil && !tt.engine {
				t.Fatalf("the parser accepts %q: not a case for the schema", tt.src)
			}
			if err == nil {
				if _, err := engine.Compile(reg, app); err == nil {
					t.Fatalf("the engine accepts %q: not a case for the schema", tt.src)
				}
			}
			if err := s.Validate(schematest.FromYAML(t, []byte(tt.src))); err == nil {
				t.Errorf("schema accepts %q", tt.src)
			}
		})
	}
}
