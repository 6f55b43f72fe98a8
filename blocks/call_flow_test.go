package blocks_test

import (
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

func TestCallFlow(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - set: {n: 5}
      - id: c
        call_flow:
          flow: double
          input: {x: "{{ vars.n }}", label: "five"}
      - set: {after: "{{ vars.n }}"}
    output: {c: "{{ steps.c }}", n: "{{ vars.n }}"}
  double:
    inputs:
      x: {type: integer, required: true}
      label: {type: string}
      scale: {type: integer, default: 2}
    steps:
      - set: {n: "{{ input.x * input.scale }}"}
      - id: inner
        set: {label: "{{ input.label }}"}
    output: {n: "{{ vars.n }}", label: "{{ vars.label }}"}
`
	a := ctlLoad(t, src)
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	// The called flow's vars are its own: main's n stays 5.
	want := map[string]any{"c": map[string]any{"n": 10, "label": "five"}, "n": 5}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %#v, want %#v", res.Output, want)
	}
	if got, want := ctlTrace(res), []string{"set@5=ok", "c=ok", "c>double.set@18=ok", "c>double.inner=ok", "set@10=ok"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
	if got, want := res.Trace[1].Input, map[string]any{"flow": "double", "input": map[string]any{"x": 5, "label": "five"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace input = %#v, want %#v", got, want)
	}
	if got := res.Trace[2].Depth; got != 1 {
		t.Errorf("depth of a called flow's step = %d, want 1", got)
	}
}

func TestCallFlowRunErrors(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      x: {type: string}
    steps:
      - id: c
        call_flow:
          flow: sub
          input: {n: "{{ input.x }}"}
  sub:
    inputs:
      n: {type: integer}
    steps:
      - id: check
        fail: "n is {{ input.n }}"
`
	a := ctlLoad(t, src)
	tests := []struct {
		x, want string
	}{
		{"abc", `app.yaml:7:9: step "c" (call_flow): flow sub: input n: "abc" is not an integer`},
		{"7", `app.yaml:15:9: step "check" (fail): failed: n is 7`},
	}
	for _, tt := range tests {
		if _, err := a.run("main", engine.Options{Input: map[string]any{"x": tt.x}}); err != tt.want {
			t.Errorf("x=%q: error:\n%s\nwant:\n%s", tt.x, err, tt.want)
		}
	}
}

func TestCallFlowErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown flow", `app: t
flows:
  main:
    steps:
      - call_flow: {flow: dubble}
      - call_flow: {flow: zzz}
  double:
    steps: [{set: {a: 1}}]
`, `app.yaml:5:27: call_flow: the app has no flow "dubble" (did you mean "double"?)
app.yaml:6:27: call_flow: the app has no flow "zzz" (flows: double, main)`},
		{"inputs", `app: t
flows:
  main:
    steps:
      - call_flow:
          flow: sub
          input: {x: 1, other: 2, cont: 3}
      - call_flow: {flow: sub}
      - call_flow: {flow: none, input: {a: 1}}
  sub:
    inputs:
      x: {type: integer, required: true}
      count: {type: integer, required: true}
      d: {type: integer, required: true, default: 1}
    steps: [{set: {a: 1}}]
  none:
    steps: [{set: {a: 1}}]
`, `app.yaml:7:11: call_flow: flow "sub" needs input "count"
app.yaml:7:25: call_flow: flow "sub" has no input "other" (inputs: x, count, d)
app.yaml:7:35: call_flow: flow "sub" has no input "cont" (did you mean "count"?)
app.yaml:8:20: call_flow: flow "sub" needs inputs "x", "count"
app.yaml:9:41: call_flow: flow "none" has no input "a" (it takes none)`},
		{"missing flow", `app: t
flows:
  main:
    steps:
      - call_flow: {input: {}}
`, `app.yaml:5:20: call_flow: flow is missing (flow: name)`},
		{"bad template", `app: t
flows:
  main:
    steps:
      - call_flow: {flow: main, input: {}}
      - call_flow: {flow: sub, input: {x: "{{ steps.nope }}"}}
  sub:
    inputs: {x: {}}
    steps: [{set: {a: 1}}]
`, `app.yaml:6:53: unknown step "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ctlLoadApp(t, tt.src)
			if err != tt.want {
				t.Errorf("load error:\n%s\nwant:\n%s", err, tt.want)
			}
		})
	}
}

// TestCallFlowSensitiveInputInCallerTrace: a value given to an input the called flow declares
// sensitive (a token read from a response) was shown in the call_flow step's trace input, which
// is recorded before the called flow starts and learns it is a secret.
func TestCallFlowSensitiveInputInCallerTrace(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - id: login
        set: {token: "tok-0123456789"}
      - id: c
        call_flow: {flow: use, input: {token: "{{ vars.token }}", page: 2}}
  use:
    inputs:
      token: {type: string, sensitive: true}
      page: {type: integer}
    steps:
      - id: header
        set: {auth: "Bearer {{ input.token }}"}
`
	a := ctlLoad(t, src)
	res, err := a.run("main", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	if got, want := res.Trace[1].Input, map[string]any{"flow": "use", "input": map[string]any{"token": "[redacted]", "page": 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("call_flow's trace input = %#v, want %#v", got, want)
	}
	if got, want := res.Trace[2].Output, map[string]any{"auth": "Bearer [redacted]"}; !reflect.DeepEqual(got, want) {
		t.Errorf("called flow's trace output = %#v, want %#v", got, want)
	}
}
