package blocks

import (
	"reflect"
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
		{`{a}`, "invalid JSON body: invalid character 'a' looking for beginning of object key string"},
	}
	for _, tc := range tests {
		_, err := decodeJSON([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("decodeJSON(%s) error = %v, want %s", tc.in, err, tc.want)
		}
	}
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
