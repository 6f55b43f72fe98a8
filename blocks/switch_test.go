package blocks_test

import (
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

func TestSwitch(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      v: {type: object}
    steps:
      - id: pick
        switch:
          value: "{{ input.v.x }}"
          cases:
            - equals: open
              steps: [{set: {r: open}}]
            - equals: 1
              steps: [{set: {r: one}}]
            - equals: true
              steps: [{set: {r: yes}}]
            - equals: null
              steps: [{set: {r: null_}}]
            - equals: [1, 2]
              steps: [{set: {r: list}}]
            - equals: "{{ input.v.y }}"
              steps: [{set: {r: same_as_y}}]
            - when: "{{ len(string(input.v.x)) > 5 }}"
              steps: [{set: {r: long}}]
            - equals: never
              steps: []
          default:
            - set: {r: default}
    output: "{{ vars.r }}"
`
	a := ctlLoad(t, src)
	tests := []struct {
		x, y any
		want string
	}{
		{"open", nil, "open"},
		{1, nil, "one"},
		{1.0, nil, "one"},    // numbers compare by value
		{"1", nil, "one"},    // a string compares as text
		{true, nil, "yes"},   // an equals: true matches true ...
		{"true", nil, "yes"}, // ... and "true"
		{nil, nil, "null_"},
		{[]any{1, 2}, nil, "list"},
		{[]any{1.0, 2.0}, nil, "default"}, // lists compare deeply, by Go type
		{"b", "b", "same_as_y"},
		{"longer", "x", "long"},
		{"", nil, "default"}, // "" is not null
		{2, nil, "default"},
	}
	for _, tt := range tests {
		res, err := a.run("main", engine.Options{Input: map[string]any{"v": map[string]any{"x": tt.x, "y": tt.y}}})
		if err != "" {
			t.Fatal(err)
		}
		if res.Output != tt.want {
			t.Errorf("switch on %#v: took %v, want %v", tt.x, res.Output, tt.want)
		}
	}
}

func TestSwitchOutput(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      v: {type: string}
    steps:
      - id: pick
        switch:
          cases:
            - when: "{{ input.v == 'a' }}"
              steps:
                - id: inner
                  set: {r: a}
      - set: {out: "{{ steps.pick }}"}
    output: "{{ vars.out }}"
`
	a := ctlLoad(t, src)
	res, err := a.run("main", engine.Options{Input: map[string]any{"v": "a"}})
	if err != "" {
		t.Fatal(err)
	}
	if want := map[string]any{"r": "a"}; !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %#v, want %#v", res.Output, want)
	}
	if got, want := ctlTrace(res), []string{"pick=ok", "pick.inner=ok", "set@14=ok"}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
	if got, want := res.Trace[0].Input, map[string]any{"case": 1}; !reflect.DeepEqual(got, want) {
		t.Errorf("trace input = %#v, want %#v", got, want)
	}
	res, err = a.run("main", engine.Options{Input: map[string]any{"v": "b"}})
	if err != "" {
		t.Fatal(err)
	}
	if res.Output != nil {
		t.Errorf("no case, no default: output = %#v, want nil", res.Output)
	}
}

func TestSwitchErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no cases", `app: t
flows:
  main:
    steps:
      - switch: {value: 1}
`, `app.yaml:5:17: switch: cases is missing (cases: [{equals: x, steps: [...]}])`},
		{"cases not a list", `app: t
flows:
  main:
    steps:
      - switch: {value: 1, cases: {equals: 1}}
`, `app.yaml:5:35: switch: cases must be a list, found a mapping`},
		{"case problems", `app: t
flows:
  main:
    steps:
      - switch:
          cases:
            - {equals: 1, steps: []}
            - {when: true, equals: 2, steps: []}
            - {steps: []}
            - {when: true}
            - {when: true, step: []}
`, `app.yaml:7:16: switch case: equals needs the switch's value (or use when: a condition)
app.yaml:8:28: switch case: when and equals are both set: use one
app.yaml:9:15: switch case: equals or when is missing (equals: x)
app.yaml:10:15: switch case: steps is missing (steps: [...])
app.yaml:11:15: switch case: steps is missing (steps: [...])
app.yaml:11:28: switch case: unknown field "step" (did you mean "steps"?)`},
		{"bad template in case", `app: t
flows:
  main:
    steps:
      - switch:
          value: 1
          cases:
            - equals: "{{ 1 + }}"
              steps: []
`, `app.yaml:8:30: template: unexpected token EOF`},
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
