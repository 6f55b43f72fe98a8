package flows

import (
	"context"
	"strings"
	"testing"
)

// TestTemplateMemoryBudget: a template could build a value of any size — doubling text or a list
// in a loop, repeating or joining a large text, writing a list that holds another many times over
// as JSON — and the process ran out of memory and died, or spent hours copying; each now fails
// with a clear error, and ordinary templates work as before.
func TestTemplateMemoryBudget(t *testing.T) {
	const over = "memory budget exceeded: one evaluation of a template builds at most 16 MiB"
	big := strings.Repeat("x", 1<<20) // 1 MiB, as a response body might be
	const dag = `reduce(1..30, [#acc, #acc], 'x')`
	tests := []struct {
		expr string
		want string // the error, "" for none
	}{
		{`len(reduce(1..40, #acc + #acc, 'x'))`, over},
		{`len(repeat(repeat('x', 999999), 999999))`, over},
		{`len(repeat(input.big, 17))`, over},
		{`len(join(map(1..100, input.big)))`, over},
		{`len(replace(input.big, 'x', 'yy'))`, ""},
		{`len(replace(input.big, 'x', input.big))`, over},
		{`len(map(1..100, upper(input.big)))`, over},
		{`len(reduce(1..100, base64_encode(#acc), 'abc'))`, over},
		{`len(map(1..20, base64_encode(input.big)))`, over},
		{`len(toJSON(` + dag + `))`, over},
		{`len(string(` + dag + `))`, over},
		{`len(json_encode(` + dag + `))`, over},
		{`len(flatten(` + dag + `))`, over},
		{`len(toJSON(reduce(1..4000, [#acc], 1)))`, over}, // 4000 deep: 16 MB of indentation
		{`len(fromJSON(input.json))`, over},
		{`len(json_decode(input.json))`, over},
		{dag, "its value is larger than 64 MiB as JSON"},
		// What templates do every day stays as it was.
		{`len(base64_encode(input.big) + input.big)`, ""},
		{`len(repeat('x', 2000))`, ""},
		{`'a' + input.s + 'b'`, ""},
		{`input.n + input.n`, ""},
		{`join(['a', 'b'], '-')`, ""},
		{`toJSON({a: 1})`, ""},
		{`(now() + duration('1h')) > now()`, ""},
		{`1 + 2.5`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			in := map[string]any{"big": big, "s": "x", "n": 2, "json": "[" + strings.Repeat("1,", 2<<20) + "1]"}
			env := map[string]any{"input": in}
			_, err := evalTemplate(t, tt.expr, env)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tt.want == "" && got != "" || tt.want != "" && !strings.HasSuffix(got, tt.want) {
				t.Errorf("%s: error %q, want one ending %q", tt.expr, got, tt.want)
			}
		})
	}
}

// TestTemplateMemoryBudgetValues: results are what expr's own builtins give.
func TestTemplateMemoryBudgetValues(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{`toJSON({a: [1, 'x<y']})`, "{\n  \"a\": [\n    1,\n    \"x\\u003cy\"\n  ]\n}"},
		{`string([1, 'a'])`, "[1 a]"},
		{`join(['a', 'b'], '-') + upper('c') + repeat('d', 2) + replace('aXa', 'X', 'Y')`, "a-bCddaYa"},
		{`'{{ 1 + 2 }}'`, "{{ 1 + 2 }}"},
		{`trim('  x ') + lower('Y')`, "xy"},
	}
	for _, tt := range tests {
		got, err := evalTemplate(t, tt.expr, nil)
		if err != nil || got != tt.want {
			t.Errorf("%s = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
}

// TestTemplateCountedOperatorsAsBefore: +, in, contains, matches and the helpers that count what
// they build or look through give the values, runtime errors and load errors expr gives.
func TestTemplateCountedOperatorsAsBefore(t *testing.T) {
	env := map[string]any{"input": map[string]any{"list": []any{"a", 1, nil}, "m": map[string]any{"a": 1},
		"s": "xyz", "p": "^x", "bad": "(", "n": 3, "b": []byte("xy")}}
	tests := []struct{ expr, want string }{
		{`'a' in input.list`, "true"},
		{`nil in input.list`, "true"},
		{`'q' in input.list`, "false"},
		{`'a' in input.m`, "true"},
		{`'a' in input.s`, `t.yaml:1:12: template {{ 'a' in input.s }}: operator "in" not defined on string`},
		{`input.s contains 'y'`, "true"},
		{`input.s contains input.none`, "false"},
		{`input.n contains 'a'`, "t.yaml:1:16: template {{ input.n contains 'a' }}: interface conversion: interface {} is int, not string"},
		{`input.s matches '^x'`, "true"},
		{`input.s matches input.p`, "true"},
		{`input.s matches input.bad`, "t.yaml:1:16: template {{ input.s matches input.bad }}: error parsing regexp: missing closing ): `(`"},
		{`input.b matches 'x'`, "true"},
		{`indexOf(input.s, 'z')`, "2"},
		{`max(input.list)`, "t.yaml:1:8: template {{ max(input.list) }}: invalid argument for max (type string)"},
		{`median([3, 1, 2])`, "2"},
		{`input.s + input.n`, "t.yaml:1:16: template {{ input.s + input.n }}: invalid operation: string + int"},
		// Load errors.
		{`'x' matches '('`, "t.yaml:1:12: template: error parsing regexp: missing closing ): `(`"},
		{`1 + 'a'`, "t.yaml:1:10: template: invalid operation: + (mismatched types int and string)"},
		{`'a' contains 1`, "t.yaml:1:12: template: invalid operation: contains (mismatched types string and int)"},
		{`1 in 2`, "t.yaml:1:10: template: invalid operation: in (mismatched types int and int)"},
		{`upper(1)`, "t.yaml:1:14: template: cannot use int as argument (type string) to call upper "},
		{`url_encode(1, 2)`, "t.yaml:1:8: template: too many arguments to call url_encode"},
	}
	for _, tt := range tests {
		v, errs := compileValue(t, "v: \"{{ "+tt.expr+" }}\"\n")
		var got string
		if len(errs) > 0 {
			got = errs.Error()
		} else if out, err := NewEvaluator(context.Background()).Eval(v, env); err != nil {
			got = err.Error()
		} else {
			got = Stringify(out)
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
