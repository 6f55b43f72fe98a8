package engine

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/flows"
)

// Redacted replaces a secret wherever a value is shown.
const Redacted = "[redacted]"

// minSubstring is the shortest secret replaced inside larger strings; shorter secrets are
// replaced only where they are the whole value, so that "[redacted]" does not eat every "a".
const minSubstring = 4

// Redactor replaces secrets in values that are about to be shown. The zero Redactor (or nil)
// redacts nothing. It is immutable once built and safe for concurrent use.
type Redactor struct {
	secrets map[string]bool
	long    []string // the secrets replaced inside larger strings, and their escaped forms, longest first
	b64     []string // base64 of the long secrets at each offset: the base64 text around one is replaced
	min     int      // the length of the shortest of long and b64
	numbers bool     // whether a secret is a number's text, so that numbers are looked up too
	rep     *strings.Replacer
}

// NewRedactor returns a redactor for secrets; empty strings are ignored.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{secrets: map[string]bool{}}
	r.add(secrets)
	return r
}

// With returns a redactor for r's secrets and more; r itself when it has them all already.
func (r *Redactor) With(secrets ...string) *Redactor {
	if r.hasAll(secrets) {
		return r
	}
	n := &Redactor{secrets: map[string]bool{}}
	if r != nil {
		for s := range r.secrets {
			n.secrets[s] = true
		}
	}
	n.add(secrets)
	return n
}

// hasAll reports whether r redacts every non-empty secret (a nil r: whether there is none).
func (r *Redactor) hasAll(secrets []string) bool {
	for _, s := range secrets {
		if s != "" && (r == nil || !r.secrets[s]) {
			return false
		}
	}
	return true
}

func (r *Redactor) add(secrets []string) {
	for _, s := range secrets {
		if s != "" {
			r.secrets[s] = true
		}
	}
	seen := map[string]bool{}
	long := make([]string, 0, len(r.secrets))
	r.b64 = nil
	for s := range r.secrets {
		if len(s) < minSubstring {
			continue
		}
		for _, form := range append(escapedForms(s), s) {
			if !seen[form] {
				seen[form] = true
				long = append(long, form)
			}
		}
		for _, core := range base64Cores(s) {
			if !seen[core] {
				seen[core] = true
				r.b64 = append(r.b64, core)
			}
		}
	}
	// Longest first, so a secret that contains another is replaced whole.
	slices.SortFunc(long, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	r.rep, r.long = nil, long
	r.numbers = false
	for s := range r.secrets {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			r.numbers = true
			break
		}
	}
	r.min = 0
	for _, s := range append(long, r.b64...) {
		if r.min == 0 || len(s) < r.min {
			r.min = len(s)
		}
	}
	if len(long) > 0 {
		pairs := make([]string, 0, 2*len(long))
		for _, s := range long {
			pairs = append(pairs, s, Redacted)
		}
		r.rep = strings.NewReplacer(pairs...)
	}
}

// Empty reports whether there is nothing to redact.
func (r *Redactor) Empty() bool { return r == nil || len(r.secrets) == 0 }

// String redacts a string.
func (r *Redactor) String(s string) string {
	if r.Empty() {
		return s
	}
	if r.secrets[s] {
		return Redacted
	}
	if !r.contains(s) {
		return s
	}
	if r.rep != nil {
		s = r.rep.Replace(s)
	}
	return r.replaceBase64(s)
}

// SecretStrings returns the strings that redact a secret value: its text and, for a mapping or a
// list (a sensitive input of type object or array), the text of every number and string in it.
func SecretStrings(v any) []string {
	out := []string{flows.Stringify(v)}
	var walk func(any)
	walk = func(x any) {
		switch y := x.(type) {
		case map[string]any:
			for _, e := range y {
				walk(e)
			}
		case []any:
			for _, e := range y {
				walk(e)
			}
		case nil, bool:
		default:
			out = append(out, flows.Stringify(y))
		}
	}
	switch v.(type) {
	case map[string]any, []any:
		walk(v)
	}
	return out
}

// escapedForms are the ways s is written escaped in larger text, when they differ from s: in a
// URL query or form, in a URL path, inside a JSON string (with and without encoding/json's HTML
// escapes), inside a Go-quoted string (%q in an error).
func escapedForms(s string) []string {
	if !needsEscape(s) {
		return nil // the common case: a token of letters, digits, - . _ ~
	}
	q := strconv.Quote(s)
	forms := []string{url.QueryEscape(s), url.PathEscape(s), q[1 : len(q)-1]}
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			j := strings.TrimSuffix(b.String(), "\n")
			forms = append(forms, j[1:len(j)-1])
		}
	}
	out := forms[:0]
	for _, f := range forms {
		if f != s && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// needsEscape reports whether s has a byte that a URL, JSON or Go quoting may escape.
func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return true
		}
	}
	return false
}

// minBase64 is the shortest base64 text of a secret that is looked for.
const minBase64 = 8

// base64Cores returns the base64 text of s, standard and URL-safe, at each of the three offsets
// s may have in encoded text (a password after "user:" in a Basic credential): the characters
// that encode s's bytes alone, without the partial groups at either end, which depend on the
// bytes around s.
func base64Cores(s string) []string {
	var out []string
	for skip := range 3 {
		if len(s) < skip+minBase64/4*3 {
			break
		}
		rest := s[skip:]
		core := base64.StdEncoding.EncodeToString([]byte(rest[:len(rest)/3*3]))
		out = append(out, core)
		if strings.ContainsAny(core, "+/") { // the URL-safe alphabet differs only there
			out = append(out, strings.NewReplacer("+", "-", "/", "_").Replace(core))
		}
	}
	return out
}

// replaceBase64 replaces each run of base64 text that holds one of the b64 cores.
func (r *Redactor) replaceBase64(s string) string {
	for _, core := range r.b64 {
		for from := 0; ; {
			i := strings.Index(s[from:], core)
			if i < 0 {
				break
			}
			lo, hi := from+i, from+i+len(core)
			for lo > 0 && isBase64(s[lo-1]) {
				lo--
			}
			for hi < len(s) && isBase64(s[hi]) {
				hi++
			}
			s = s[:lo] + Redacted + s[hi:]
			from = lo + len(Redacted)
		}
	}
	return s
}

// isBase64 reports whether c may be part of base64 text, standard or URL-safe, padding included.
func isBase64(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("+/=-_", c) >= 0
}

// contains reports whether s contains one of the long secrets. Most strings shown contain
// none, and strings.Contains finds that far faster than the Replacer, which copies s always.
func (r *Redactor) contains(s string) bool {
	if r.min == 0 || len(s) < r.min {
		return false // shorter than the shortest secret
	}
	for _, secret := range r.long {
		if strings.Contains(s, secret) {
			return true
		}
	}
	for _, core := range r.b64 {
		if strings.Contains(s, core) {
			return true
		}
	}
	return false
}

// Value returns a redacted copy of v (maps and lists are copied, strings replaced). Values
// without secrets, maps and lists included, are returned as they are.
func (r *Redactor) Value(v any) any {
	if r.Empty() || r.clean(v) {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.String(x)
	case int, int64, float64, json.Number:
		return Redacted // not clean: a number secret
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.String(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.String(e)
		}
		return out
	case map[string][]string:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = r.Value(e)
		}
		return out
	}
	return v
}

// clean reports whether v shows no secret, so that Value can return it as it is, as it does
// for every value when there is nothing to redact.
func (r *Redactor) clean(v any) bool {
	str := func(s string) bool { return !r.secrets[s] && !r.contains(s) }
	switch x := v.(type) {
	case string:
		return str(x)
	case int, int64, float64, json.Number:
		return !r.numbers || !r.secrets[flows.Stringify(x)]
	case map[string]any:
		for k, e := range x {
			if !str(k) || !r.clean(e) {
				return false
			}
		}
	case []any:
		for _, e := range x {
			if !r.clean(e) {
				return false
			}
		}
	case map[string]string:
		for _, e := range x {
			if !str(e) {
				return false
			}
		}
	case []string:
		for _, e := range x {
			if !str(e) {
				return false
			}
		}
	case map[string][]string:
		for _, e := range x {
			if !r.clean(e) {
				return false
			}
		}
	}
	return true
}
