package blocks

import "testing"

// TestLinkTarget reads Link headers as RFC 8288 writes them.
func TestLinkTarget(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		rel    string
		want   string
	}{
		{"github", []string{`<https://api.github.com/user/repos?page=2>; rel="next", <https://api.github.com/user/repos?page=5>; rel="last"`}, "next", "https://api.github.com/user/repos?page=2"},
		{"last", []string{`<https://x/?page=2>; rel="next", <https://x/?page=5>; rel="last"`}, "last", "https://x/?page=5"},
		{"none", []string{`<https://x/?page=1>; rel="prev"`}, "next", ""},
		{"unquoted rel, upper case", []string{`<https://x/2>; REL=Next`}, "next", "https://x/2"},
		{"rel list", []string{`<https://x/2>; rel="last next"`}, "next", "https://x/2"},
		{"a comma in a quoted title", []string{`<https://x/1>; title="a, b"; rel="prev", <https://x/2>;rel=next`}, "next", "https://x/2"},
		{"a comma in the URL", []string{`<https://x/?ids=1,2>; rel="next"`}, "next", "https://x/?ids=1,2"},
		{"relative", []string{`</items?cursor=abc>; rel="next"`}, "next", "/items?cursor=abc"},
		{"second header value", []string{`<https://x/0>; rel="first"`, `<https://x/2>; rel="next"`}, "next", "https://x/2"},
		{"only the first rel counts", []string{`<https://x/2>; rel="prev"; rel="next"`}, "next", ""},
		{"not a link", []string{`https://x/2; rel="next"`}, "next", ""},
		{"unclosed", []string{`<https://x/2; rel="next"`}, "next", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := linkTarget(tc.values, tc.rel); got != tc.want {
				t.Errorf("linkTarget(%q, %q) = %q, want %q", tc.values, tc.rel, got, tc.want)
			}
		})
	}
}
