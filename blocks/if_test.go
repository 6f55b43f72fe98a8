package blocks_test

import (
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

func TestIf(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      v: {type: string}
    steps:
      - id: check
        if:
          condition: "{{ input.v }}"
          then:
            - set: {branch: then}
            - id: last
              set: {n: 1}
          else:
            - set: {branch: else}
    output: {branch: "{{ vars.branch }}", check: "{{ steps.check }}"}
  no_else:
    inputs:
      v: {type: string}
    steps:
      - id: check
        if:
          condition: "{{ input.v }}"
          then:
            - set: {branch: then}
`
	a := ctlLoad(t, src)
	tests := []struct {
		flow, v string
		want    any
		trace   []string
	}{
		{"main", "yes", map[string]any{"branch": "then", "check": map[string]any{"n": 1}},
			[]string{"check=ok", "check.set@11=ok", "check.last=ok"}},
		{"main", "false", map[string]any{"branch": "else", "check": map[string]any{"branch": "else"}},
			[]string{"check=ok", "check.set@15=ok"}},
		{"main", "", map[string]any{"branch": "else", "check": map[string]any{"branch": "else"}},
			[]string{"check=ok", "check.set@15=ok"}},
		{"no_else", "x", map[string]any{"branch": "then"}, []string{"check=ok", "check.set@25=ok"}},
		{"no_else", "", nil, []string{"check=ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.flow+"/"+tt.v, func(t *testing.T) {
			res, err := a.run(tt.flow, engine.Options{Input: map[string]any{"v": tt.v}})
			if err != "" {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Output, tt.want) {
				t.Errorf("output = %#v, want %#v", res.Output, tt.want)
			}
			if got := ctlTrace(res); !reflect.DeepEqual(got, tt.trace) {
				t.Errorf("trace = %q, want %q", got, tt.trace)
			}
		})
	}
}

func TestIfTruthy(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      v: {type: object}
    steps:
      - if:
          condition: "{{ input.v.x }}"
          then: [{set: {r: true}}]
          else: [{set: {r: false}}]
    output: "{{ vars.r }}"
`
	a := ctlLoad(t, src)
	for _, tt := range []struct {
		x    any
		want bool
	}{
		{nil, false}, {false, false}, {0, false}, {0.0, false}, {"", false}, {"false", false},
		{[]any{}, false}, {map[string]any{}, false},
		{true, true}, {1, true}, {"no", true}, {[]any{0}, true}, {map[string]any{"a": nil}, true},
	} {
		res, err := a.run("main", engine.Options{Input: map[string]any{"v": map[string]any{"x": tt.x}}})
		if err != "" {
			t.Fatal(err)
		}
		if res.Output != tt.want {
			t.Errorf("condition %#v: took %v, want %v", tt.x, res.Output, tt.want)
		}
	}
}

func TestIfErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"missing condition and then", `app: t
flows:
  main:
    steps:
      - if: {else: []}
`, "app.yaml:5:13: if: condition is missing (condition: \"{{ ... }}\")\napp.yaml:5:13: if: then is missing (then: [steps])"},
		{"not a mapping", `app: t
flows:
  main:
    steps:
      - if: "{{ true }}"
`, `app.yaml:5:13: if must be a mapping, found the string "{{ true }}"`},
		{"unknown field", `app: t
flows:
  main:
    steps:
      - if:
          condition: "{{ true }}"
          then: []
          els: []
`, `app.yaml:8:11: if: unknown field "els" (did you mean "else"?)`},
		{"bad template", `app: t
flows:
  main:
    steps:
      - if:
          condition: "{{ inptu.x }}"
          then: []
`, `app.yaml:6:26: template: unknown name inptu`},
		{"bad nested step", `app: t
flows:
  main:
    steps:
      - if:
          condition: "{{ true }}"
          then:
            - sett: {a: 1}
`, `app.yaml:8:15: unknown block "sett" (did you mean "set"?)`},
		{"steps must be a list", `app: t
flows:
  main:
    steps:
      - if:
          condition: "{{ true }}"
          then: {set: {a: 1}}
`, `app.yaml:7:17: steps must be a list, found a mapping`},
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

func TestIfRunError(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      v: {type: object}
    steps:
      - id: check
        if:
          condition: "{{ input.v.x.y }}"
          then: []
      - id: nested
        if:
          condition: true
          then:
            - id: boom
              fail: "inner {{ 1 + 1 }}"
`
	a := ctlLoad(t, src)
	_, err := a.run("main", engine.Options{Input: map[string]any{"v": map[string]any{"x": 1}}})
	want := `app.yaml:7:9: step "check" (if): condition: app.yaml:9:36: template {{ input.v.x.y }}: cannot fetch y from int`
	if err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	res, err := a.run("main", engine.Options{Input: map[string]any{"v": map[string]any{"x": map[string]any{}}}})
	want = `app.yaml:15:15: step "boom" (fail): failed: inner 2`
	if err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if got, want := ctlTrace(res), []string{"check=ok", "nested=failed", "nested.boom=failed"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
}
