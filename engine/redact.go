package engine

import (
	"slices"
	"strings"
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
	long    []string // the secrets replaced inside larger strings, longest first
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
	long := make([]string, 0, len(r.secrets))
	for s := range r.secrets {
		if len(s) >= minSubstring {
			long = append(long, s)
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
	if r.rep == nil || !r.contains(s) {
		return s
	}
	return r.rep.Replace(s)
}

// contains reports whether s contains one of the long secrets. Most strings shown contain
// none, and strings.Contains finds that far faster than the Replacer, which copies s always.
func (r *Redactor) contains(s string) bool {
	if len(r.long) == 0 || len(s) < len(r.long[len(r.long)-1]) {
		return false // shorter than the shortest secret (long is sorted longest first)
	}
	for _, secret := range r.long {
		if strings.Contains(s, secret) {
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
	str := func(s string) bool { return !r.secrets[s] && (r.rep == nil || !r.contains(s)) }
	switch x := v.(type) {
	case string:
		return str(x)
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
