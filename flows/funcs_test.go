package flows

import (
	"context"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// evalTemplate compiles expression as a whole template in a scope with the flow names and
// evaluates it with env.
func evalTemplate(t *testing.T, expression string, env map[string]any) (any, error) {
	t.Helper()
	src := "v: '{{ " + strings.ReplaceAll(expression, "'", "''") + " }}'\n"
	v, errs := compileValue(t, src)
	if len(errs) > 0 {
		t.Fatalf("Compile(%s): %v", expression, errs)
	}
	return NewEvaluator(context.Background()).Eval(v, env)
}

var funcEnv = map[string]any{
	"input": map[string]any{
		"q":     map[string]any{"b": []any{1, "two"}, "a": "x y", "c": nil, "d": 2.5},
		"t":     time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		"empty": "",
		"none":  nil,
		"zero":  0,
	},
}

// TestFuncs checks each helper of Funcs through a template, as app authors call them.
func TestFuncs(t *testing.T) {
	tests := []struct {
		expr string
		want any
	}{
		{`url_encode("a b&c=d/é")`, "a+b%26c%3Dd%2F%C3%A9"},
		{`url_encode(input.zero)`, "0"},
		{`url_path_escape("a b/c?")`, "a%20b%2Fc%3F"},
		{`url_decode("a+b%26c")`, "a b&c"},
		{`query_string(input.q)`, "a=x+y&b=1&b=two&c=&d=2.5"},
		{`query_string({z: "1", a: true})`, "a=true&z=1"},
		{`query_string({})`, ""},
		{`base64_encode("hello?>")`, "aGVsbG8/Pg=="},
		{`base64_decode("aGVsbG8/Pg==")`, "hello?>"},
		{`base64url_encode("hello?>")`, "aGVsbG8_Pg"},
		{`base64url_decode("aGVsbG8_Pg")`, "hello?>"},
		{`base64_encode("")`, ""},
		{`basic_auth("Aladdin", "open sesame")`, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
		{`basic_auth("user", "")`, "Basic dXNlcjo="},
		// Computed apart from Go (Python's hmac over the sorted JSON of header and claims).
		{`jwt_sign("HS256", "your-256-bit-secret", {sub: "1234567890", name: "John Doe", iat: 1516239022})`,
			"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE1MTYyMzkwMjIsIm5hbWUiOiJKb2huIERvZSIsInN1YiI6IjEyMzQ1Njc4OTAifQ.fdOPQ05ZfRhkST2-rIWgUpbqUsVhkkNVNcuG7Ki0s-8"},
		{`json_encode({a: 1, b: [true, nil], c: "x"})`, `{"a":1,"b":[true,null],"c":"x"}`},
		{`json_encode("a<b")`, `"a\u003cb"`},
		{`json_encode(nil)`, "null"},
		{`json_decode("{\"a\": [1, 2.5, \"x\", null]}")`, map[string]any{"a": []any{1.0, 2.5, "x", nil}}},
		{`json_decode("3")`, 3.0},
		{`json_decode(json_encode(input.q)).a`, "x y"},
		{`sha256("abc")`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`sha256("")`, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		// RFC 4231 test case 2.
		{`hmac_sha256("Jefe", "what do ya want for nothing?")`, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{`hmac_sha256_base64("Jefe", "what do ya want for nothing?")`, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="},
		// RFC 2202 test case 2 (effcdf6ae5eb2fa2d27416d5f184df9c259a7c79).
		{`hmac_sha1_base64("Jefe", "what do ya want for nothing?")`, "7/zfauXrL6LSdBbV8YTfnCWafHk="},
		{`format_time(input.t, "rfc3339")`, "2024-05-06T07:08:09Z"},
		{`format_time(input.t, "rfc1123")`, "Mon, 06 May 2024 07:08:09 UTC"},
		{`format_time(input.t, "rfc1123z")`, "Mon, 06 May 2024 07:08:09 +0000"},
		{`format_time(input.t, "rfc822")`, "06 May 24 07:08 UTC"},
		{`format_time(input.t, "date")`, "2024-05-06"},
		{`format_time(input.t, "datetime")`, "2024-05-06 07:08:09"},
		{`format_time(input.t, "unix")`, int64(1714979289)},
		{`format_time(input.t, "unix_ms")`, int64(1714979289000)},
		{`format_time(input.t, "02/01/2006 15h04")`, "06/05/2024 07h08"},
		{`format_time("2024-05-06T09:08:09+02:00", "rfc3339")`, "2024-05-06T09:08:09+02:00"},
		{`format_time(1714979289, "rfc3339")`, "2024-05-06T07:08:09Z"},
		{`format_time(0, "date")`, "1970-01-01"},
		{`parse_time("2024-05-06", "date")`, time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)},
		{`parse_time("2024-05-06T07:08:09Z", "rfc3339")`, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{`parse_time("1714979289", "unix")`, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{`parse_time("1714979289123", "unix_ms")`, time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)},
		{`parse_time("06/05/2024", "02/01/2006")`, time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)},
		{`format_time(parse_time("Mon, 06 May 2024 07:08:09 UTC", "rfc1123"), "unix")`, int64(1714979289)},
		{`unix(input.t)`, 1714979289},
		{`unix("1970-01-01T00:01:00Z")`, 60},
		{`from_unix(1714979289)`, time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)},
		{`truncate("héllo wörld", 7)`, "héllo w"},
		{`truncate("short", 10)`, "short"},
		{`truncate("abc", 0)`, ""},
		{`default(input.none, "d")`, "d"},
		{`default(input.empty, "d")`, "d"},
		{`default(input.zero, "d")`, 0},
		{`default("v", "d")`, "v"},
		{`optional(input.none)`, nil},
		{`optional(5)`, 5},
		{`default(input.missing, 5)`, 5},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := evalTemplate(t, tt.expr, funcEnv)
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v (%T), want %#v (%T)", tt.expr, got, got, tt.want, tt.want)
			}
		})
	}
}

// TestFuncErrors checks that helpers reject bad arguments with an error naming the template.
func TestFuncErrors(t *testing.T) {
	tests := []struct {
		expr, want string
	}{
		{`url_decode("%zz")`, `invalid URL escape "%zz"`},
		{`base64_decode("!!")`, "illegal base64 data at input byte 0"},
		{`base64url_decode("a+b=")`, "illegal base64 data at input byte 1"},
		{`json_decode("{")`, "json_decode: unexpected end of JSON input"},
		{`query_string(input.t)`, "query_string wants a mapping"},
		{`truncate("abc", -1)`, "truncate: length must be a non-negative integer"},
		{`truncate("abc", 1.5)`, "truncate: length must be a non-negative integer"},
		{`format_time("yesterday", "date")`, `parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`},
		{`format_time(true, "date")`, "bool is not a time"},
		{`parse_time("2024-13-01", "date")`, `parsing time "2024-13-01": month out of range`},
		{`parse_time("soon", "unix")`, `strconv.ParseInt: parsing "soon": invalid syntax`},
		{`format_time(input.t)`, "format_time takes a time and a layout"},
		{`default(1)`, "default takes a value and a fallback"},
		{`optional(1, 2)`, "optional takes one value"},
		{`unix()`, "unix takes one time"},
		{`from_unix()`, "from_unix takes one number"},
		{`json_encode()`, "json_encode takes one argument"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) { evalError(t, tt.expr, funcEnv, tt.want) })
	}
}

// evalError evaluates expression as evalTemplate does and checks that it fails with want after
// the template's position; it returns the error.
func evalError(t *testing.T, expression string, env map[string]any, want string) error {
	t.Helper()
	_, err := evalTemplate(t, expression, env)
	if err == nil {
		t.Fatalf("%s: no error, want %q", expression, want)
	}
	// The position is that of the call, as expr reports it (the function's name).
	want = "t.yaml:1:8: template {{ " + expression + " }}: " + want
	if err.Error() != want {
		t.Errorf("%s: error\n%s\nwant\n%s", expression, err, want)
	}
	return err
}

func TestUUID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[any]bool{}
	for range 100 {
		got, err := evalTemplate(t, `uuid()`, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s, _ := got.(string); !re.MatchString(s) {
			t.Fatalf("uuid() = %q, want a version 4 UUID", got)
		}
		if seen[got] {
			t.Fatalf("uuid() returned %q twice", got)
		}
		seen[got] = true
	}
}

// TestExprBuiltins checks that expr's own builtins are usable in templates beside the helpers.
func TestExprBuiltins(t *testing.T) {
	tests := []struct {
		expr string
		want any
	}{
		{`lower("AbC")`, "abc"},
		{`upper("AbC")`, "ABC"},
		{`trim("  x  ")`, "x"},
		{`split("a,b,c", ",")`, []string{"a", "b", "c"}},
		{`join(["a", "b"], "-")`, "a-b"},
		{`replace("a-b", "-", "+")`, "a+b"},
		{`len([1, 2, 3])`, 3},
		{`toJSON({a: 1})`, "{\n  \"a\": 1\n}"},
		{`fromJSON("[1]")`, []any{1.0}},
		{`filter([1, 2, 3], # > 1)`, []any{2, 3}},
		{`map([1, 2], # * 2)`, []any{2, 4}},
		{`"b" in ["a", "b"]`, true},
		{`input.q.a ?? "none"`, "x y"},
		{`input.q?.zz?.yy ?? "none"`, "none"},
		{`now().Year() >= 2024`, true},
		{`duration("1h").Minutes()`, 60.0},
		{`date("2024-05-06").Weekday().String()`, "Monday"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := evalTemplate(t, tt.expr, funcEnv)
			if err != nil {
				t.Fatalf("%s: %v", tt.expr, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %#v (%T), want %#v (%T)", tt.expr, got, got, tt.want, tt.want)
			}
		})
	}
	got, err := evalTemplate(t, "now()", nil)
	if _, ok := got.(time.Time); err != nil || !ok {
		t.Errorf("now() = %#v, %v; want a time.Time", got, err)
	}
}

// TestFuncsDocumented: every helper has a summary, a distinct name, and a case in TestFuncs.
func TestFuncsDocumented(t *testing.T) {
	src, err := os.ReadFile("funcs_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range Funcs {
		if f.Summary == "" || f.Fn == nil {
			t.Errorf("helper %s has no summary or no function", f.Name)
		}
		if slices.Contains(names, f.Name) {
			t.Errorf("helper %s is listed twice", f.Name)
		}
		names = append(names, f.Name)
		if !strings.Contains(string(src), "`"+f.Name+"(") {
			t.Errorf("helper %s has no case in TestFuncs", f.Name)
		}
	}
}
