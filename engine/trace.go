package engine

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"unicode/utf8"
)

// shown is v as a step's trace shows it: redacted, and cut at Limits.MaxTraceValueBytes; nil
// when the run keeps no trace.
func (r *run) shown(v any) any {
	if !r.opts.Trace {
		return nil
	}
	return cut(r.redact.Load(), v, r.limits.MaxTraceValueBytes)
}

// cutKey is the key a mapping cut by Cut gets, with how many keys were left out.
const cutKey = "[cut]"

// cutMark is room kept for the mark of a cut text or list.
const cutMark = 32

// minCut is the least room worth giving to part of a list item or a mapping value that does not
// fit whole; with less, the item is left out.
const minCut = 64

// cut returns v redacted by red and, when it shows as more than limit bytes of JSON (estimated as
// SizeOf does), cut to about limit, saying what it left out: a text keeps its first bytes and ends
// in "…[cut: N more bytes]", a list keeps its first items and ends in the item
// "[cut: N more items]", a mapping keeps its smallest entries and gets the key "[cut]" with
// "N more keys". Secrets are redacted before anything is cut, so a cut never shows the start of
// one.
func cut(red *Redactor, v any, limit int64) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Map {
		v = stringKeys(rv) // JSON shows a map[any]any (fromPairs) as one of string keys
	}
	if sizeUpTo(v, limit) <= limit {
		return red.Value(v)
	}
	switch x := v.(type) {
	case string:
		return cutString(red.String(x), limit)
	case []any:
		return cutList(red, len(x), func(i int) any { return x[i] }, limit)
	case map[string]any:
		return cutMap(red, x, limit)
	}
	if k := rv.Kind(); k == reflect.Slice || k == reflect.Array { // a range, 1..n
		return cutList(red, rv.Len(), func(i int) any { return rv.Index(i).Interface() }, limit)
	}
	return red.Value(v)
}

// stringKeys returns a map's entries under their keys' text.
func stringKeys(rv reflect.Value) map[string]any {
	if m, ok := rv.Interface().(map[string]any); ok {
		return m
	}
	out := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		out[keyText(it.Key().Interface())] = it.Value().Interface()
	}
	return out
}

// cutString keeps s whole when it fits in limit, else its first bytes, on a character boundary.
func cutString(s string, limit int64) string {
	if int64(len(s))+2 <= limit {
		return s
	}
	keep := int(min(int64(len(s)), max(limit-2-cutMark, 0)))
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	return s[:keep] + fmt.Sprintf("…[cut: %d more bytes]", len(s)-keep)
}

// cutList keeps the first of a list's n items, item(i), that fit.
func cutList(red *Redactor, n int, item func(i int) any, limit int64) []any {
	out := make([]any, 0, min(int64(n), limit/2+1))
	used := int64(2 + cutMark)
	for i := range n {
		e := item(i)
		left := limit - used - 1
		size := sizeUpTo(e, left)
		if size > left {
			if left >= minCut {
				out = append(out, cut(red, e, left))
				i++
			}
			return append(out, fmt.Sprintf("[cut: %d more items]", n-i))
		}
		out = append(out, red.Value(e))
		used += size + 1
	}
	return out
}

// cutMap keeps the entries that fit, smallest first, so that a response's status and headers
// are shown whole and its large body is what is cut.
func cutMap(red *Redactor, x map[string]any, limit int64) map[string]any {
	type entry struct {
		key  string
		size int64
	}
	entries := make([]entry, 0, len(x))
	for k, e := range x {
		entries = append(entries, entry{k, int64(len(k)) + 4 + sizeUpTo(e, limit)})
	}
	slices.SortFunc(entries, func(a, b entry) int {
		return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.key, b.key))
	})
	out := map[string]any{}
	used := int64(2 + len(cutKey) + 4 + cutMark)
	for i, en := range entries {
		if left := limit - used; en.size > left {
			if room := left - int64(len(en.key)) - 4; room >= minCut {
				out[red.String(en.key)] = cut(red, x[en.key], room)
				i++
			}
			out[cutKey] = fmt.Sprintf("%d more keys", len(entries)-i)
			return out
		}
		out[red.String(en.key)] = red.Value(x[en.key])
		used += en.size
	}
	return out
}
