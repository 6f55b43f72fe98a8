package blocks_test

import (
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

func TestReturn(t *testing.T) {
	const src = `app: t
flows:
  scalar:
    steps:
      - set: {a: 2}
      - id: r
        return: "{{ vars.a * 21 }}"
      - set: {a: 3}
    output: never
  mapping:
    steps:
      - return: {value: {found: false}}
  list:
    steps:
      - return: [1, "{{ 1 + 1 }}"]
  empty:
    steps:
      - return:
  nested:
    inputs:
      v: {type: integer}
    steps:
      - if:
          condition: "{{ input.v > 0 }}"
          then:
            - return: positive
      - set: {r: other}
    output: "{{ vars.r }}"
  caller:
    steps:
      - id: c
        call_flow: {flow: scalar}
      - set: {after: "{{ steps.c }}"}
    output: "after {{ vars.after }}"
`
	a := ctlLoad(t, src)
	tests := []struct {
		flow  string
		input map[string]any
		want  any
		trace []string
	}{
		{"scalar", nil, 42, []string{"set@5=ok", "r=ok"}},
		{"mapping", nil, map[string]any{"found": false}, []string{"return@12=ok"}},
		{"list", nil, []any{1, 2}, []string{"return@15=ok"}},
		{"empty", nil, nil, []string{"return@18=ok"}},
		{"nested", map[string]any{"v": 1}, "positive", []string{"if@23=ok", "if@23.return@26=ok"}},
		{"nested", map[string]any{"v": 0}, "other", []string{"if@23=ok", "set@27=ok"}},
		// return ends the called flow only.
		{"caller", nil, "after 42", []string{"c=ok", "c>scalar.set@5=ok", "c>scalar.r=ok", "set@33=ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			res, err := a.run(tt.flow, engine.Options{Input: tt.input})
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

func TestReturnErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"mapping without value", `app: t
flows:
  main:
    steps:
      - return: {found: false}
`, "app.yaml:5:17: return: value is missing (value: \"{{ ... }}\")\napp.yaml:5:18: return: unknown field \"found\""},
		{"bad template", `app: t
flows:
  main:
    steps:
      - return: "{{ vars. }}"
`, `app.yaml:5:26: template: unexpected end of expression`},
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
