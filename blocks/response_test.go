package blocks

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeJSONNumbers(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`1`, 1},
		{`-0`, 0},
		{`1.0`, 1},
		{`1e3`, 1000},
		{`1.5`, 1.5},
		{`9223372036854775807`, 9223372036854775807},
		{`9223372036854775808`, 9.223372036854775808e18}, // past int64: a float
		{`12345678901234567.0`, 1.2345678901234568e16},   // past 2^53 and not an integer literal: a float
		{`[1, {"a": [2.25]}]`, []any{1, map[string]any{"a": []any{2.25}}}},
	}
	for _, tc := range tests {
		got, err := decodeJSON([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("decodeJSON(%s) = %#v, %v; want %#v", tc.in, got, err, tc.want)
		}
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":1} x`, "invalid JSON body: data after the JSON value at offset 8"},
		{`{"a":`, "invalid JSON body: unexpected end of JSON input"},
		{`{a}`, "invalid JSON body: invalid character 'a' looking for beginning of object key string at offset 1"},
		{`nul`, "invalid JSON body: unexpected end of JSON input"},
		{`nulL`, "invalid JSON body: invalid character 'L' in literal null (expecting 'l') at offset 3"},
		{`[1,]`, "invalid JSON body: invalid character ']' looking for beginning of value at offset 3"},
		{`[1 2]`, "invalid JSON body: invalid character '2' after array element at offset 3"},
		{`{"a" 1}`, "invalid JSON body: invalid character '1' after object key at offset 5"},
		{`{"a":1 "b"}`, "invalid JSON body: invalid character '\"' after object key:value pair at offset 7"},
		{`01`, "invalid JSON body: data after the JSON value at offset 1"},
		{`-x`, "invalid JSON body: invalid character 'x' in numeric literal at offset 1"},
		{`1.e5`, "invalid JSON body: invalid character 'e' in numeric literal at offset 2"},
		{"\"a\tb\"", "invalid JSON body: invalid character '\\t' in string literal at offset 2"},
		{`"\x"`, "invalid JSON body: invalid character 'x' in string escape code at offset 2"},
		{`"\u12g4"`, "invalid JSON body: invalid character 'g' in \\u hexadecimal character escape at offset 5"},
		{"\xef\xbb\xbf{}", "invalid JSON body: invalid character '\\xef' looking for beginning of value at offset 0"},
		{strings.Repeat("[", 10001), "invalid JSON body: exceeded max depth at offset 10000"},
	}
	for _, tc := range tests {
		_, err := decodeJSON([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("decodeJSON(%.20q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestDecodeJSONStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t"`, "café \"q\" \\ / \b\f\n\r\t"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\uFFFD"},
		{`"\ud83dx"`, "\uFFFDx"},
		{`"\ud83d\u0041"`, "\uFFFDA"},
		{"\"bad \xff utf8\"", "bad \uFFFD utf8"},
		{"\"näive\"", "näive"},
	}
	for _, tc := range tests {
		got, err := decodeJSON([]byte(tc.in))
		if err != nil || got != tc.want {
			t.Errorf("decodeJSON(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// refDecodeJSON is what decodeJSON must agree with: encoding/json with UseNumber, numbers then
// converted as decodeJSON documents.
func refDecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, io.ErrUnexpectedEOF
	}
	return refNumbers(v), nil
}

func refNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return jsonNumber(string(x))
	case map[string]any:
		for k, e := range x {
			x[k] = refNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = refNumbers(e)
		}
	}
	return v
}

// FuzzDecodeJSON checks decodeJSON against encoding/json: the same documents are accepted, with
// the same values.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"id": 12345678901, "price": 1.5, "list": [1, "a", null, true, false], "o": {}}`,
		`[]`, `""`, `"\u00e9\ud83d\ude00\ud800"`, `-0.0e+10`, `1E400`, `[1,2]x`, "\"\xff\"", ` 7 `,
		`{"a":1,"a":2}`, `9223372036854775808`, `-9223372036854775808`, `123456789012345678`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeJSON(data)
		want, refErr := refDecodeJSON(data)
		if (err == nil) != (refErr == nil) {
			t.Fatalf("decodeJSON(%q): error %v, encoding/json: %v", data, err, refErr)
		}
		if err == nil && !equalJSON(got, want) {
			t.Fatalf("decodeJSON(%q) = %#v, encoding/json gives %#v", data, got, want)
		}
	})
}

// equalJSON is reflect.DeepEqual where NaN cannot occur and ±Inf equals itself.
func equalJSON(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && (fa == fb || (math.IsInf(fa, 0) && fa == fb))
	}
	return reflect.DeepEqual(a, b)
}

func TestDecodeXML(t *testing.T) {
	tests := []struct {
		name, in string
		want     any
	}{
		{"text only", `<a>  hi  </a>`, map[string]any{"a": "hi"}},
		{"empty", `<a/>`, map[string]any{"a": ""}},
		{"attributes and text", `<a x="1" y="2">t</a>`, map[string]any{"a": map[string]any{"@x": "1", "@y": "2", "#text": "t"}}},
		{"mixed content", `<p>one <b>two</b> three</p>`, map[string]any{"p": map[string]any{"b": "two", "#text": "one  three"}}},
		{"repeated children", `<l><i>1</i><j/><i>2</i><i>3</i></l>`, map[string]any{"l": map[string]any{"i": []any{"1", "2", "3"}, "j": ""}}},
		{"atom namespace", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>T</title><link href="https://x"/></entry></feed>`,
			map[string]any{"feed": map[string]any{"@xmlns": "http://www.w3.org/2005/Atom", "entry": map[string]any{"title": "T", "link": map[string]any{"@href": "https://x"}}}}},
		{"prefixes kept", `<r xmlns:m="urn:m"><m:x m:a="1">v</m:x></r>`,
			map[string]any{"r": map[string]any{"@xmlns:m": "urn:m", "m:x": map[string]any{"@m:a": "1", "#text": "v"}}}},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>caf\xe9</a>", map[string]any{"a": "café"}},
		{"comments and directives", `<!DOCTYPE a><!-- c --><a><!-- d -->x</a>`, map[string]any{"a": "x"}},
	}
	for _, tc := range tests {
		got, err := decodeXML([]byte(tc.in))
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: decodeXML = %#v, %v\nwant %#v", tc.name, got, err, tc.want)
		}
	}
}

func TestDecodeXMLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`<a></b>`, "invalid XML body: unexpected </b> at offset 7"},
		{`<a><b></a>`, "invalid XML body: unexpected </a> at offset 10"},
		{`<a>`, "invalid XML body: <a> is not closed"},
		{`<a/><b/>`, "invalid XML body: a second root element <b> at offset 8"},
		{`x<a/>`, "invalid XML body: text outside the root element at offset 1"},
		{`<!-- only -->`, "invalid XML body: no root element"},
		{`<?xml version="1.0" encoding="koi8-r"?><a/>`, `invalid XML body: xml: opening charset "koi8-r": unsupported charset "koi8-r"`},
	}
	for _, tc := range tests {
		_, err := decodeXML([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("decodeXML(%s) error = %v, want %s", tc.in, err, tc.want)
		}
	}
}

func TestParseBodyEmpty(t *testing.T) {
	for _, ct := range []string{"application/json", "application/xml", "application/x-www-form-urlencoded"} {
		if got, err := parseBody(parseAuto, ct, []byte("  \n")); got != nil || err != nil {
			t.Errorf("parseBody(%s, blank) = %#v, %v; want nil", ct, got, err)
		}
	}
	if got, _ := parseBody(parseAuto, "text/plain", nil); got != "" {
		t.Errorf("parseBody(text/plain, empty) = %#v, want \"\"", got)
	}
}
