package flows

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// valueNode parses src, a YAML mapping, and returns the value of its key v.
func valueNode(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml.Unmarshal(%q): %v", src, err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "v" {
			return root.Content[i+1]
		}
	}
	t.Fatalf("%q has no key v", src)
	return nil
}

// compileValue compiles the value of key v in src with the flow names; inputs, when given, are
// the only inputs templates may name.
func compileValue(t *testing.T, src string, inputs ...string) (*Value, ErrorList) {
	t.Helper()
	var errs ErrorList
	s := NewScope("t.yaml", []byte(src), &errs, FlowNames...)
	if len(inputs) > 0 {
		s.Inputs = map[string]bool{}
		for _, in := range inputs {
			s.Inputs[in] = true
		}
	}
	v := s.Compile(valueNode(t, src))
	errs.Sort()
	return v, errs
}

func errorStrings(errs ErrorList) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// TestTemplatePositions pins the file:line:col of a template error in every YAML scalar style:
// the column is that of the offending token inside the expression, as expr reports it.
func TestTemplatePositions(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"plain", "v: id {{ nope }}\n",
			"t.yaml:1:10: template: unknown name nope"},
		{"plain at start is a mapping", "v: {{ nope }}\n",
			`t.yaml:1:4: a value that starts with {{ must be quoted: "{{ … }}"`},
		{"double-quoted", "v: \"{{ nope }}\"\n",
			"t.yaml:1:8: template: unknown name nope"},
		{"single-quoted", "v: '{{ nope }}'\n",
			"t.yaml:1:8: template: unknown name nope"},
		{"literal block", "v: |\n  {{ nope }}\n",
			"t.yaml:2:6: template: unknown name nope"},
		{"folded block", "v: >\n  {{ nope }}\n",
			"t.yaml:2:6: template: unknown name nope"},
		{"not at the start", "v: \"abc {{ nope }}\"\n",
			"t.yaml:1:12: template: unknown name nope"},
		{"two templates", "v: \"{{ input.a }} and {{ nope }}\"\n",
			"t.yaml:1:26: template: unknown name nope"},
		{"multi-line expression in a literal block", "v: |\n  a\n  {{ input.a +\n     nope }}\n",
			"t.yaml:4:6: template: unknown name nope"},
		{"multi-line expression in a double-quoted scalar", "v: \"{{ input.a +\n  nope }}\"\n",
			"t.yaml:2:3: template: unknown name nope"},
		{"multi-line expression in a plain scalar", "v: x {{ input.a +\n  nope }}\n",
			"t.yaml:2:3: template: unknown name nope"},
		{"folded block, second line", "v: >\n  a\n  b {{ nope }}\n",
			"t.yaml:3:8: template: unknown name nope"},
		{"literal block with an indentation indicator", "v: |2\n    {{ nope }}\n",
			"t.yaml:2:8: template: unknown name nope"},
		{"literal block after an empty line", "v: |-\n  x\n\n  {{ nope }}\n",
			"t.yaml:4:6: template: unknown name nope"},
		{"block header with a comment", "v: | # note\n  {{ nope }}\n",
			"t.yaml:2:6: template: unknown name nope"},
		{"escape before", "v: \"a\\tb {{ nope }}\"\n",
			"t.yaml:1:13: template: unknown name nope"},
		{"quote pair before", "v: 'it''s {{ nope }}'\n",
			"t.yaml:1:14: template: unknown name nope"},
		{"multi-byte rune before", "v: \"é {{ nope }}\"\n",
			"t.yaml:1:10: template: unknown name nope"},
		{"tagged", "v: !!str \"{{ nope }}\"\n",
			"t.yaml:1:14: template: unknown name nope"},
		{"in a flow sequence", "v: [\"{{ nope }}\"]\n",
			"t.yaml:1:9: template: unknown name nope"},
		{"nested mapping", "v:\n  headers:\n    X-Id: \"{{ nope }}\"\n",
			"t.yaml:3:15: template: unknown name nope"},
		{"syntax error", "v: \"{{ input.a ) }}\"\n",
			`t.yaml:1:16: template: unexpected token Bracket(")")`},
		{"unexpected end", "v: \"{{ input.a + }}\"\n",
			"t.yaml:1:17: template: unexpected token EOF"},
		{"type error", "v: \"{{ 'a' + 1 }}\"\n",
			"t.yaml:1:12: template: invalid operation: + (mismatched types string and int)"},
		{"wrong arguments", "v: \"{{ url_encode(1, 2) }}\"\n",
			"t.yaml:1:8: template: too many arguments to call url_encode"},
		{"unclosed", "v: \"x {{ input.a\"\n",
			"t.yaml:1:7: template opened with {{ is not closed with }}"},
		{"unclosed in a block", "v: |\n  x\n  y {{ input.a\n",
			"t.yaml:3:5: template opened with {{ is not closed with }}"},
		{"empty", "v: \"{{ }}\"\n",
			"t.yaml:1:7: empty template {{ }}"},
		{"empty without spaces", "v: \"a{{}}\"\n",
			"t.yaml:1:8: empty template {{ }}"},
		{"unknown input", "v: \"{{ input.nmae }}\"\n",
			`t.yaml:1:14: unknown input "nmae" (did you mean "name"?)`},
		{"unknown input, index", "v: \"{{ input['nmae'] }}\"\n",
			`t.yaml:1:14: unknown input "nmae" (did you mean "name"?)`},
		{"}} inside a string is not the end", "v: \"{{ '}}' + nope }}\"\n",
			"t.yaml:1:15: template: unknown name nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := compileValue(t, tt.src, "a", "name")
			if got := errorStrings(errs); got != tt.want {
				t.Errorf("Compile(%q) errors:\n%s\nwant:\n%s", tt.src, got, tt.want)
			}
		})
	}
}

// TestTemplateRuntimePositions pins the position of an error raised while a template runs.
func TestTemplateRuntimePositions(t *testing.T) {
	env := map[string]any{"input": map[string]any{"z": 0, "s": 1}}
	tests := []struct {
		name, src, want string
	}{
		{"whole template", "v: \"{{ 1 % input.z }}\"\n",
			"t.yaml:1:10: template {{ 1 % input.z }}: runtime error: integer divide by zero"},
		{"text around, second line", "v: \"x {{\n  1 % input.z }}\"\n",
			"t.yaml:2:5: template {{ 1 % input.z }}: runtime error: integer divide by zero"},
		{"literal block", "v: |\n  id={{ input.a.b }}\n",
			"t.yaml:2:17: template {{ input.a.b }}: cannot fetch b from <nil>"},
		{"in a list", "v: [1, \"{{ input.s | upper() }}\"]\n",
			"t.yaml:1:22: template {{ input.s | upper() }}: interface conversion: interface {} is int, not string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, errs := compileValue(t, tt.src)
			if len(errs) > 0 {
				t.Fatalf("Compile(%q): %v", tt.src, errs)
			}
			_, err := NewEvaluator(context.Background()).Eval(v, env)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Eval(%q) = %v, want %s", tt.src, err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Err == nil {
				t.Errorf("Eval(%q) error %#v: want an *Error wrapping expr's error", tt.src, err)
			}
		})
	}
}

func TestValueEval(t *testing.T) {
	env := map[string]any{
		"input": map[string]any{
			"list":  []any{1, "two"},
			"n":     3,
			"f":     2.0,
			"g":     2.5,
			"big":   1e20,
			"m":     map[string]any{"a": 1, "b": []any{true}},
			"s":     "x",
			"empty": nil,
			"t":     time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		},
		"vars": map[string]any{"k": "key"},
	}
	tests := []struct {
		name, src string
		want      any
	}{
		{"whole template keeps a list", `v: "{{ input.list }}"`, []any{1, "two"}},
		{"whole template keeps a number", `v: "{{ input.n }}"`, 3},
		{"whole template keeps a float", `v: "{{ input.n / 2 }}"`, 1.5},
		{"whole template keeps a mapping", `v: "{{ input.m }}"`, map[string]any{"a": 1, "b": []any{true}}},
		{"whole template keeps nil", `v: "{{ input.empty }}"`, nil},
		{"whole template keeps a bool", `v: "{{ input.n > 2 }}"`, true},
		{"spaces around the braces do not make text", `v: "{{input.n}}"`, 3},
		{"text around makes a string", `v: "n={{ input.n }}"`, "n=3"},
		{"a space after makes a string", `v: "{{ input.n }} "`, "3 "},
		{"whole float without fraction", `v: "f={{ input.f }}"`, "f=2"},
		{"float with fraction", `v: "g={{ input.g }}"`, "g=2.5"},
		{"large float", `v: "{{ input.big }}!"`, "100000000000000000000!"},
		{"nil as empty", `v: "[{{ input.empty }}]"`, "[]"},
		{"mapping as JSON", `v: "m={{ input.m }}"`, `m={"a":1,"b":[true]}`},
		{"list as JSON", `v: "l={{ input.list }}"`, `l=[1,"two"]`},
		{"bool", `v: "b={{ input.n > 2 }}"`, "b=true"},
		{"time as RFC 3339", `v: "t={{ input.t }}"`, "t=2024-05-06T07:08:09Z"},
		{"two templates", `v: "{{ input.s }}-{{ input.n }}"`, "x-3"},
		{"no template", `v: "plain {text}"`, "plain {text}"},
		{"integer scalar", `v: 42`, 42},
		{"float scalar", `v: 1.5`, 1.5},
		{"bool scalar", `v: yes`, "yes"},
		{"null scalar", `v: ~`, nil},
		{"quoted number stays a string", `v: "42"`, "42"},
		{"mapping with a template", "v:\n  a: 1\n  b: \"{{ vars.k }}\"\n", map[string]any{"a": 1, "b": "key"}},
		{"list with a template", "v: [1, \"{{ input.n + 1 }}\", [x]]\n", []any{1, 4, []any{"x"}}},
		{"alias", "a: &x \"{{ input.s }}\"\nv: [*x, *x]\n", []any{"x", "x"}},
		{"expr builtins", `v: "{{ upper(input.s) }}{{ lower('AB') }}"`, "Xab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, errs := compileValue(t, tt.src)
			if len(errs) > 0 {
				t.Fatalf("Compile(%q): %v", tt.src, errs)
			}
			got, err := NewEvaluator(context.Background()).Eval(v, env)
			if err != nil {
				t.Fatalf("Eval(%q): %v", tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Eval(%q) = %#v, want %#v", tt.src, got, tt.want)
			}
		})
	}
}

func TestValueConstFolding(t *testing.T) {
	tests := []struct {
		name, src string
		isConst   bool
		want      any // ConstValue when isConst
	}{
		{"scalar", `v: abc`, true, "abc"},
		{"mapping of constants", "v: {a: 1, b: [x, {c: true}]}", true, map[string]any{"a": 1, "b": []any{"x", map[string]any{"c": true}}}},
		{"list of constants", "v: [1, 2.5, null]", true, []any{1, 2.5, nil}},
		{"empty mapping", "v: {}", true, map[string]any{}},
		{"mapping with a template", "v: {a: 1, b: \"{{ input.a }}\"}", false, nil},
		{"nested template", "v: [[[\"{{ input.a }}\"]]]", false, nil},
		{"template", `v: "{{ 1 + 1 }}"`, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, errs := compileValue(t, tt.src)
			if len(errs) > 0 {
				t.Fatalf("Compile(%q): %v", tt.src, errs)
			}
			if v.IsConst() != tt.isConst {
				t.Fatalf("Compile(%q).IsConst() = %v, want %v", tt.src, v.IsConst(), tt.isConst)
			}
			if tt.isConst && !reflect.DeepEqual(v.ConstValue(), tt.want) {
				t.Errorf("Compile(%q).ConstValue() = %#v, want %#v", tt.src, v.ConstValue(), tt.want)
			}
		})
	}
}

func TestValueSource(t *testing.T) {
	v, _ := compileValue(t, `v: "{{  input.a + 1 }}"`)
	if got := v.Source(); got != "input.a + 1" {
		t.Errorf("Source() = %q, want %q", got, "input.a + 1")
	}
	if got, want := v.Pos.String(), "t.yaml:1:7"; got != want {
		t.Errorf("Pos = %s, want %s", got, want)
	}
	v, _ = compileValue(t, `v: "a {{ input.a }}"`)
	if got := v.Source(); got != "" {
		t.Errorf("Source() of text = %q, want empty", got)
	}
	var nilValue *Value
	if got, err := NewEvaluator(context.Background()).Eval(nilValue, nil); got != nil || err != nil {
		t.Errorf("nil Value Eval = %v, %v; want nil, nil", got, err)
	}
}

// TestAliasExpansion: a YAML "billion laughs" of aliases compiles each anchor once.
func TestAliasExpansion(t *testing.T) {
	src := `a: &a ["{{ input.a }}", "{{ input.a }}", "{{ input.a }}", "{{ input.a }}", "{{ input.a }}"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]
v: [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]
`
	v, errs := compileValue(t, src)
	if len(errs) > 0 {
		t.Fatalf("Compile: %v", errs)
	}
	if v.kind != kindList || len(v.vals) != 10 || v.vals[0] != v.vals[9] {
		t.Fatalf("Compile: want a list of 10 shared values, got %#v", v)
	}
}

func TestStringify(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, ""},
		{"s", "s"},
		{[]byte("b"), "b"},
		{true, "true"},
		{42, "42"},
		{int64(-7), "-7"},
		{2.0, "2"},
		{-3.0, "-3"},
		{2.5, "2.5"},
		{1e15, "1000000000000000"},
		{1e20, "100000000000000000000"},
		{0.1, "0.1"},
		{math.Inf(1), "+Inf"},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "2024-01-02T03:04:05Z"},
		{90 * time.Second, "1m30s"},
		{map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`},
		{[]any{1, "a", nil}, `[1,"a",null]`},
		{map[string]any{"h": "<&>"}, `{"h":"\u003c\u0026\u003e"}`},
	}
	for _, tt := range tests {
		if got := Stringify(tt.in); got != tt.want {
			t.Errorf("Stringify(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestTemplateRuntimeErrorOneLine: the runtime error of a template written over several lines
// (a | block) quoted its source with the line breaks, so the error printed as several lines
// and the lines after the first had no file:line:col.
func TestTemplateRuntimeErrorOneLine(t *testing.T) {
	v, errs := compileValue(t, "v: |\n  {{ 1 +\n     input.zz }}\n")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := NewEvaluator(context.Background()).Eval(v, map[string]any{"input": map[string]any{}})
	if want := "t.yaml:2:8: template {{ 1 + input.zz }}: invalid operation: int + <nil>"; err == nil || err.Error() != want {
		t.Errorf("Eval error = %v, want %s", err, want)
	}
}

// TestTemplateErrorSourceCutOnARune: a template's source cut for an error message at 80 bytes
// could end in half a character, which printed as invalid UTF-8.
func TestTemplateErrorSourceCutOnARune(t *testing.T) {
	src := "v: \"{{ '" + strings.Repeat("é", 60) + "' + input.zz }}\"\n"
	v, errs := compileValue(t, src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	_, err := NewEvaluator(context.Background()).Eval(v, map[string]any{"input": map[string]any{"zz": 1}})
	if err == nil || !utf8.ValidString(err.Error()) || !strings.Contains(err.Error(), "é…") {
		t.Errorf("Eval error = %q, want valid UTF-8 cut after a whole é", err)
	}
}

// TestCompileConcurrently compiles templates in one set of names from many goroutines at once,
// as apps load in parallel: they share the expr configuration built once for those names, and
// each compiles and evaluates as it does alone (go test -race checks the sharing).
func TestCompileConcurrently(t *testing.T) {
	srcs := []string{
		`v: "{{ input.a + 1 }}"`,
		`v: "{{ upper(input.s) }}-{{ len(vault) }}"`,
		`v: "{{ input.a in [1, 2] }}"`,
		`v: "{{ nope }}"`,
	}
	want := []string{"3", "X-0", "true", "error"}
	done := make(chan error, 8*len(srcs))
	for range 8 {
		for i, src := range srcs {
			go func() {
				var errs ErrorList
				v := NewScope("t.yaml", nil, &errs, FlowNames...).Compile(valueNode(t, src))
				got := "error"
				if errs.Err() == nil {
					x, err := NewEvaluator(context.Background()).EvalString(v, map[string]any{"input": map[string]any{"a": 2, "s": "x"}, "vault": map[string]any{}})
					if err != nil {
						done <- err
						return
					}
					got = x
				}
				if got != want[i] {
					done <- errors.New(src + ": got " + got + ", want " + want[i])
					return
				}
				done <- nil
			}()
		}
	}
	for range 8 * len(srcs) {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestValueRefs(t *testing.T) {
	src := "v:\n  a: \"{{ steps.x.body + steps['y'] }}\"\n  b: [\"n {{ steps.z.output.id }} {{ steps?.w }}\", \"{{ input.q }}\"]\n  c: \"{{ steps[input.q] }}\"\n"
	v, errs := compileValue(t, src)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	v.Refs("steps", func(path []string, pos Pos) {
		got = append(got, strings.Join(path, ".")+"@"+pos.String())
	})
	want := []string{
		"x@t.yaml:2:16", "x.body@t.yaml:2:18", "y@t.yaml:2:31",
		"z@t.yaml:3:19", "z.output@t.yaml:3:21", "z.output.id@t.yaml:3:28", "w@t.yaml:3:44",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Refs(steps) =\n  %v\nwant\n  %v", got, want)
	}
}
