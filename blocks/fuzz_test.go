package blocks_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// fuzzSeeds are small apps that use every core block, for FuzzApp to start from besides the
// examples and the apps of flows/testdata.
var fuzzSeeds = []string{
	`app: f
base_url: https://api.example.com
flows:
  main:
    inputs:
      n: {type: integer, default: 3}
      s: {type: string, sensitive: true}
    steps:
      - id: list
        call_api: {method: GET, path: "/items", query: {n: "{{ input.n }}"}, headers: {X-Key: "{{ input.s }}", X-Vault: "{{ vault.key }}"}}
      - id: each
        foreach:
          items: "{{ steps.list.body.items ?? [] }}"
          concurrency: 2
          steps:
            - id: one
              on_error: continue
              call_api: {method: POST, path: "/items/{{ item.id }}", json: {name: "{{ item.name }}"}}
      - id: pick
        switch:
          value: "{{ steps.list.status }}"
          cases:
            - equals: 200
              steps: [{set: {r: ok}}]
      - id: check
        if:
          condition: "{{ len(steps.each) > 1 }}"
          then: [{log: "many"}]
          else: [{return: "{{ steps.each }}"}]
      - call_flow: {flow: sub, input: {x: "{{ vars.r }}"}}
    output: "{{ steps.each }}"
  sub:
    inputs:
      x: {type: string}
    steps:
      - wait: 0.001
      - id: f
        fail: "x is {{ input.x }}"
`,
	`app: o
base_url: https://api.example.com
connection:
  type: oauth2
  authorize_url: https://p.example.com/authorize
  token_url: https://p.example.com/token
flows:
  tok:
    steps:
      - id: url
        oauth2_authorize_url: {url: "https://p.example.com/authorize", client_id: c, redirect_uri: "https://cb.example/cb", state: state-0123456789}
      - id: token
        oauth2_token: {url: "https://p.example.com/token", grant_type: client_credentials, client_id: c, client_secret: s}
    output: {url: "{{ steps.url }}", token: "{{ steps.token.access_token }}"}
`,
}

// cannedTransport answers every request without the network, with a response chosen by the
// request's path: a JSON object, a JSON list, a token, XML, a 404, a 401 or a 500. Nothing real
// may be dialled by a fuzzer.
type cannedTransport struct{}

var cannedBodies = []struct {
	status int
	ctype  string
	body   string
}{
	{200, "application/json", `{"id":1,"items":[{"id":1,"name":"a"},{"id":2,"name":"b"}],"data":{"email":"a@example.com"},"next":null}`},
	{200, "application/json", `[{"id":1,"title":"one","score":3},{"id":2,"title":"two","score":5}]`},
	{200, "application/json", `{"access_token":"at-0123456789","refresh_token":"rt-0123456789","token_type":"Bearer","expires_in":3600}`},
	{200, "text/xml", `<rss><channel><item><title>a</title><link>https://e.example/a</link></item></channel></rss>`},
	{404, "application/json", `{"message":"not found"}`},
	{401, "application/json", `{"error":"invalid_token"}`},
	{500, "text/plain", `boom`},
}

func (cannedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	h := fnv.New32a()
	io.WriteString(h, req.URL.Path)
	c := cannedBodies[int(h.Sum32()%uint32(len(cannedBodies)))]
	return &http.Response{
		Status: fmt.Sprintf("%d %s", c.status, http.StatusText(c.status)), StatusCode: c.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {c.ctype}},
		Body:          io.NopCloser(strings.NewReader(c.body)),
		ContentLength: int64(len(c.body)),
		Request:       req,
	}, nil
}

// fuzzInputs gives every input of f a value of its type, so that more flows run than those
// whose inputs are all optional.
func fuzzInputs(f *flows.Flow) map[string]any {
	in := map[string]any{}
	for _, d := range f.Inputs {
		switch d.Type {
		case "integer", "number":
			in[d.Name] = 2
		case "boolean":
			in[d.Name] = true
		case "object":
			in[d.Name] = map[string]any{"id": 1, "name": "a"}
		case "array":
			in[d.Name] = []any{1, "a"}
		default:
			in[d.Name] = "https://feed.example.com/rss"
		}
	}
	return in
}

// FuzzApp parses, compiles and runs whole apps: every flow of an app that loads runs against
// canned responses under a short deadline and small limits. It fails on a panic (a block's
// panic is recovered into "internal error"), a load error without a position, and a step's
// failure without one; expected failures (inputs, limits, deadlines) are fine. Seeds: the
// examples, flows/testdata and fuzzSeeds; crashers stay in testdata/fuzz/FuzzApp.
func FuzzApp(f *testing.F) {
	files, _ := filepath.Glob("../examples/*/app.yaml")
	more, _ := filepath.Glob("../flows/testdata/*.yaml")
	for _, file := range append(files, more...) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		f.Fatal(err)
	}
	client := &http.Client{Transport: cannedTransport{}}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 16<<10 {
			t.Skip("larger than 16 KB")
		}
		app, err := flows.Parse("fuzz.yaml", src)
		if err != nil {
			checkPositions(t, "Parse", err)
			return
		}
		prog, err := engine.Compile(reg, app)
		if err != nil {
			checkPositions(t, "Compile", err)
			return
		}
		for _, def := range app.Flows {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			_, err := prog.Run(ctx, def.Name, engine.Options{
				Input:      fuzzInputs(def),
				Vault:      map[string]any{"key": "vault-key-0123", "api_key": "vault-api-key-0123"},
				HTTPClient: client,
				Limits: engine.Limits{
					Timeout: 200 * time.Millisecond, MaxSteps: 500, MaxIterations: 100, MaxDepth: 4,
					MaxResponseBytes: 64 << 10, MaxOutputBytes: 1 << 20,
				},
			})
			cancel()
			checkRunError(t, def.Name, err)
		}
	})
}

// checkPositions fails t unless err is a list of errors that each have a position.
func checkPositions(t *testing.T, what string, err error) {
	t.Helper()
	var list flows.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("%s error %T is not a list of positioned errors: %v", what, err, err)
	}
	for _, e := range list {
		if e.Pos.Line < 1 || e.Pos.Col < 1 {
			t.Fatalf("%s error without a position: %v", what, e)
		}
	}
}

// checkRunError fails t when a run failed with a panic, or without saying where.
func checkRunError(t *testing.T, flow string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "internal error") {
		t.Fatalf("flow %s panicked: %v", flow, err)
	}
	var inputs flows.InputErrors
	var limit *engine.LimitError
	var step *engine.StepError
	var ferr *flows.Error
	switch {
	case errors.As(err, &inputs), errors.As(err, &limit):
		// a value the fuzzer gave, or a run-wide limit: no position is promised
	case errors.As(err, &step):
		if step.Pos.Line < 1 || step.Pos.Col < 1 {
			t.Fatalf("flow %s: a step's error without a position: %v", flow, err)
		}
	case errors.As(err, &ferr):
		if ferr.Pos.Line < 1 || ferr.Pos.Col < 1 {
			t.Fatalf("flow %s: a template's error without a position: %v", flow, err)
		}
	default:
		t.Fatalf("flow %s failed without a position: %T %v", flow, err, err)
	}
}
