package engine

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCut: a value within the limit is shown whole; a larger one is cut to about the limit,
// on a whole character, nested values cut in turn, each cut saying what it left out.
func TestCut(t *testing.T) {
	red := NewRedactor("s3cret-value")
	small := map[string]any{"a": []any{1, "two"}, "b": nil}
	if got := cut(red, small, 100); !reflect.DeepEqual(got, small) {
		t.Errorf("cut(small) = %v, want it whole", got)
	}
	tests := []struct {
		name string
		v    any
		mark string
	}{
		{"text of 2-byte characters", strings.Repeat("é", 1000), "…[cut: "},
		{"list of lists", []any{[]any{strings.Repeat("x", 50)}, make([]any, 500)}, "more items]"},
		{"range", make([]int, 1000), "[cut: 9"},
		{"map with number keys", map[any]any{1: strings.Repeat("y", 400), 2: "small"}, `"2":"small"`},
		{"secret at the cut", strings.Repeat("a", 160) + "s3cret-value" + strings.Repeat("b", 100), "a[redac"},
	}
	for _, tt := range tests {
		got := cut(red, tt.v, 200)
		data, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		text := string(data)
		if len(text) > 200+40 || !strings.Contains(text, tt.mark) || strings.Contains(text, "s3cret") {
			t.Errorf("%s: cut = %s (%d bytes), want about 200 bytes with %q and no secret", tt.name, text, len(text), tt.mark)
		}
		if s, ok := got.(string); ok && !utf8.ValidString(s) {
			t.Errorf("%s: cut a character in two: %q", tt.name, s)
		}
	}
}
