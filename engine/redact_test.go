package engine

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestRedactorValue: a value that shows a secret anywhere is copied with the secret replaced;
// one that shows none is returned as it is, not copied (the common case, on every step).
func TestRedactorValue(t *testing.T) {
	r := NewRedactor("s3cret-token", "abc") // "abc" is short: replaced only as a whole value
	clean := map[string]any{"id": "user-1", "tags": []any{"a", "abcd"}, "h": map[string][]string{"X": {"y"}}, "n": 3}
	tests := []struct {
		name string
		in   any
		want any
		same bool // the very value comes back
	}{
		{"clean map", clean, clean, true},
		{"clean string", "no secret here", "no secret here", false},
		{"short secret inside", "xabcx", "xabcx", false},
		{"short secret whole", "abc", Redacted, false},
		{"long secret inside", "Bearer s3cret-token!", "Bearer " + Redacted + "!", false},
		{"nested", map[string]any{"a": []any{"x", map[string]any{"u": "https://h/?t=s3cret-token"}}},
			map[string]any{"a": []any{"x", map[string]any{"u": "https://h/?t=" + Redacted}}}, false},
		{"secret as a key", map[string]any{"s3cret-token": 1}, map[string]any{Redacted: 1}, false},
		{"map of strings", map[string]string{"k": "abc"}, map[string]any{"k": Redacted}, false},
		{"list of strings", []string{"ok", "s3cret-token"}, []any{"ok", Redacted}, false},
		{"header", map[string][]string{"A": {"s3cret-token"}}, map[string]any{"A": []any{Redacted}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Value(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Value(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if m, ok := tt.in.(map[string]any); ok && tt.same {
				if g, ok := got.(map[string]any); !ok || reflect.ValueOf(g).Pointer() != reflect.ValueOf(m).Pointer() {
					t.Errorf("Value copied a map that shows no secret")
				}
			}
		})
	}
}

// TestRedactorEncodedForms: a secret shown encoded was not redacted: URL-escaped in a query or a
// path, base64 (alone, or inside a Basic credential at any offset), or escaped inside JSON text
// (a json_encode'd body, a response body's excerpt in an error).
func TestRedactorEncodedForms(t *testing.T) {
	const secret = `s3cr3t&<pass/word>"x\`
	r := NewRedactor(secret, "short")
	b64 := base64.StdEncoding.EncodeToString
	basic := func(user string) string { return "Basic " + b64([]byte(user+":"+secret)) }
	jsonText := func(html bool) string {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		enc.Encode(map[string]string{"p": secret})
		return strings.TrimSpace(b.String())
	}
	tests := []struct{ name, in, want string }{
		{"query escaped", "https://h/?p=" + url.QueryEscape(secret) + "&a=1", "https://h/?p=" + Redacted + "&a=1"},
		{"path escaped", "https://h/" + url.PathEscape(secret) + "/x", "https://h/" + Redacted + "/x"},
		{"base64", b64([]byte(secret)), Redacted},
		{"base64url", base64.RawURLEncoding.EncodeToString([]byte(secret)), Redacted},
		{"basic, offset 0", basic("ab"), "Basic " + Redacted},
		{"basic, offset 1", basic("abc"), "Basic " + Redacted},
		{"basic, offset 2", basic("abcd"), "Basic " + Redacted},
		{"json", jsonText(true), `{"p":"` + Redacted + `"}`},
		{"json without html escapes", jsonText(false), `{"p":"` + Redacted + `"}`},
		{"go quoted", "found " + strconv.Quote(secret), `found "` + Redacted + `"`},
		{"short secret's forms are left", b64([]byte("short")), b64([]byte("short"))},
		{"plain base64 text is left", "aGVsbG8gd29ybGQ=", "aGVsbG8gd29ybGQ="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.String(tt.in); got != tt.want {
				t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := r.Value(map[string]any{"k": tt.in}); !reflect.DeepEqual(got, map[string]any{"k": tt.want}) {
				t.Errorf("Value = %v, want the same as String", got)
			}
		})
	}
}

// TestRedactorNumberSecret: a secret that is a number (a PIN input of type integer) was shown
// wherever it stood as a number rather than as text.
func TestRedactorNumberSecret(t *testing.T) {
	r := NewRedactor("987654", "s3cret-token")
	in := map[string]any{"int": 987654, "int64": int64(987654), "float": 987654.0, "json": json.Number("987654"),
		"other": 12, "list": []any{987654, 3.5}}
	want := map[string]any{"int": Redacted, "int64": Redacted, "float": Redacted, "json": Redacted,
		"other": 12, "list": []any{Redacted, 3.5}}
	if got := r.Value(in); !reflect.DeepEqual(got, want) {
		t.Errorf("Value = %#v, want %#v", got, want)
	}
	if got := NewRedactor("s3cret-token").Value(in); !reflect.DeepEqual(got, in) {
		t.Errorf("Value without a number secret = %#v, want it unchanged", got)
	}
}
