package engine

import (
	"reflect"
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
