package flows

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FuzzParse parses arbitrary bytes as app.yaml: no panic, and every error has a position.
// Seeds: every examples/*/app.yaml and testdata/*.yaml; crashers stay in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("../examples/*/app.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range append(seeds, more...) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 64<<10 {
			t.Skip("larger than 64 KB")
		}
		app, err := Parse("fuzz.yaml", src)
		if err == nil {
			if app == nil {
				t.Fatal("Parse = nil, nil")
			}
			return
		}
		var list ErrorList // sorted, so list[0] has the lowest line
		if !errors.As(err, &list) {
			t.Fatalf("Parse error %T is not an ErrorList: %v", err, err)
		}
		if len(list) == 0 {
			t.Fatal("Parse returned an empty ErrorList as an error")
		}
		for _, e := range list {
			if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("error without a position: %#v", e)
			}
			if e.Msg == "" {
				t.Fatalf("error without a message at %s", e.Pos)
			}
		}
	})
}

// templateSkip lists runtime errors a template may fairly raise on arbitrary input, as expr's
// own fuzz harness does; any other runtime error fails FuzzTemplate.
var templateSkip = regexp.MustCompile(strings.Join([]string{
	// expr's
	`cannot fetch .* from .*`, `cannot get .* from .*`, `cannot slice`, `slice index out of range`,
	`error parsing regexp`, `integer divide by zero`, `interface conversion`, `invalid argument`,
	`invalid character`, `invalid operation`, `invalid duration`, `time: missing unit in duration`,
	`time: unknown unit .* in duration`, `time: invalid duration`, `unknown time zone`, `invalid location name`,
	`json: unsupported value`, `json: unsupported type`, `json: cannot unmarshal`, `unexpected end of JSON input`,
	`memory budget exceeded`, `using interface \{\} as type`, `reflect`, `invalid number of arguments`,
	`strings: negative Repeat count`, `strings: illegal bytes to escape`, `invalid date`, `parsing time`,
	`cannot parse .* as .*`, `operator "in" not defined on`, `cannot sum`, `index out of range`,
	`reduce of empty array with no initial value`, `cannot use .* as argument`, `illegal base64 data`,
	`sort order argument must be a string`, `sortBy order argument must be a string`, `invalid order`,
	`unknown order`, `out of range`, `cannot convert`, `not a valid`, `is not a time`,
	`invalid URL escape`, `json_decode: `, `looking for beginning of value`, `after top-level value`,
	`strconv\.`, `cannot range over`, `missing argument`, `too many arguments`, `not enough arguments`,
	// patchbay's helpers
	`query_string wants a mapping`, `takes (one|a)`, `truncate: length must be`, `default takes`, `jwt_sign: `,
}, "|"))

// FuzzTemplate compiles a string as a template (in every YAML scalar style the encoder accepts)
// and evaluates it with a small environment: no panic, positions inside the file, and the same
// errors whatever the style. Input is capped at 1 KB; known runtime errors are skipped.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{{ input.a + 1 }}",
		"x {{ input.s }} y {{ vars.n * 2 }}",
		"{{ input.l | map(# * 2) }}",
		"{{ steps.get.body.items[0].id ?? 'none' }}",
		"{{ url_encode(input.s) }}&{{ query_string(input.m) }}",
		"{{ hmac_sha256(vault.secret, json_encode(input.m)) }}",
		"{{ format_time(now(), 'rfc3339') }} {{ parse_time('2024-01-02', 'date') }}",
		"{{ base64_decode(base64url_encode('x')) }}",
		"{{ truncate(input.s, 3) }}{{ default(input.none, 'd') }}",
		"{{ jwt_sign('HS256', input.s, {iat: now(), n: input.a}, {kid: 'k'}) }}",
		"{{ {'a': [1, 2.5, nil, true]} }}",
		"{{ input.a +\n  nope }}",
		"'it''s' {{ \"}}\" }} \\t",
		"{{ }}", "{{", "}}", "{{ 1 ) }}", "é {{ 1 % 0 }}",
		"a\n\nb {{ input.a }}\n",
		"  {{ input.a }}  \n",
	} {
		f.Add(s)
	}
	f.Fuzz(checkTemplate)
}

// checkTemplate is FuzzTemplate's check of one input.
func checkTemplate(t *testing.T, s string) {
	if len(s) > 1<<10 {
		t.Skip("longer than 1 KB")
	}
	if !utf8.ValidString(s) {
		t.Skip("not UTF-8: YAML could not hold it")
	}
	// As written in the file: a scalar without a source.
	var errs ErrorList
	raw := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Line: 1, Column: 1}
	v := NewScope("fuzz.yaml", nil, &errs, FlowNames...).Compile(raw)
	want := messages(errs)
	for _, e := range errs {
		if e.Pos.Line < 1 || e.Pos.Col < 1 {
			t.Fatalf("compile error without a position: %#v", e)
		}
	}
	if len(errs) == 0 {
		e := NewEvaluator(context.Background())
		e.vm.MemoryBudget = 100_000
		out, err := e.Eval(v, templateEnv)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.Line < 1 {
				t.Fatalf("runtime error without a position: %#v", err)
			}
			if !templateSkip.MatchString(err.Error()) {
				t.Errorf("unexpected runtime error: %v", err)
			}
		} else if v.kind == kindInterp {
			if _, ok := out.(string); !ok {
				t.Fatalf("text with templates evaluated to %T, want a string", out)
			}
		}
	}
	// In each scalar style: the same errors, positions inside the file, and every
	// ASCII letter, digit or brace of the value found at its mapped position.
	for _, style := range []yaml.Style{0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle, yaml.LiteralStyle, yaml.FoldedStyle} {
		src, n := encodeScalar(s, style)
		if n == nil {
			continue
		}
		var serrs ErrorList
		sc := NewScope("fuzz.yaml", src, &serrs, FlowNames...)
		sc.Compile(n)
		if got := messages(serrs); got != want {
			t.Fatalf("style %v: errors %q, want %q\n%s", style, got, want, src)
		}
		lines := strings.Split(string(src), "\n")
		for _, e := range serrs {
			if e.Pos.Line < 1 || e.Pos.Line > len(lines) || e.Pos.Col < 1 || e.Pos.Col > utf8.RuneCountInString(lines[e.Pos.Line-1])+1 {
				t.Fatalf("style %v: error %v outside the file\n%s", style, e, src)
			}
		}
		for off := 0; off < len(s); off++ {
			c := s[off]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '{' || c == '}') {
				continue
			}
			line, col, ok := scalarPos(src, nil, n, off)
			if !ok {
				t.Fatalf("style %v: offset %d of %q not found in\n%s", style, off, s, src)
			}
			if got := runeAt(lines, line, col); got != rune(c) {
				t.Fatalf("style %v: offset %d (%q) of %q maps to %d:%d (%q) in\n%s", style, off, c, s, line, col, got, src)
			}
		}
	}
}

// templateEnv is the environment FuzzTemplate evaluates in, shaped as the engine's.
var templateEnv = map[string]any{
	"input":      map[string]any{"a": 1, "s": "text", "l": []any{1, 2, 3}, "m": map[string]any{"k": "v", "n": 2.5}, "none": nil},
	"steps":      map[string]any{"get": map[string]any{"status": 200, "body": map[string]any{"items": []any{map[string]any{"id": "i1"}}}}},
	"vars":       map[string]any{"n": 2},
	"connection": map[string]any{"params": map[string]any{"server": "eu"}, "fields": map[string]any{}},
	"app":        map[string]any{"key": "demo", "name": "Demo", "version": 1},
	"vault":      map[string]any{"secret": "s3cr3t"},
}

// messages returns the messages of errs without their positions, one per line.
func messages(errs ErrorList) string {
	errs.Sort()
	m := make([]string, len(errs))
	for i, e := range errs {
		m[i] = e.Msg
	}
	return strings.Join(m, "\n")
}

// encodeScalar writes "v: <s>" in the given style and parses it back. It returns nil when the
// encoder chose another style or the value does not survive the round trip.
func encodeScalar(s string, style yaml.Style) ([]byte, *yaml.Node) {
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "v"},
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: s, Style: style},
	}}
	src, err := yaml.Marshal(doc)
	if err != nil {
		return nil, nil
	}
	var back yaml.Node
	if yaml.Unmarshal(src, &back) != nil || len(back.Content) == 0 || len(back.Content[0].Content) != 2 {
		return nil, nil
	}
	n := back.Content[0].Content[1]
	if n.Kind != yaml.ScalarNode || n.Value != s || n.Style&^yaml.TaggedStyle != style {
		return nil, nil
	}
	return src, n
}

// runeAt returns the rune at a 1-based line and column of lines, or -1.
func runeAt(lines []string, line, col int) rune {
	if line < 1 || line > len(lines) {
		return -1
	}
	for i, r := range []rune(lines[line-1]) {
		if i == col-1 {
			return r
		}
	}
	return -1
}
