package flows

import (
	"reflect"
	"strings"

	"github.com/expr-lang/expr/builtin"
)

// scanSize is the items of a list, or the bytes of a text, a function looks through.
func scanSize(v any) int {
	if s, ok := v.(string); ok {
		return len(s)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len()
	}
	return 0
}

// shallowSize is what building v took: text's bytes, 16 bytes for an item of a list, 48 for
// one of a mapping.
func shallowSize(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case []byte:
		return len(x)
	case []any:
		return 16 * len(x)
	case []string:
		return 16 * len(x)
	case map[string]any:
		return 48 * len(x)
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Map {
		return 16 * rv.Len()
	}
	return 0
}

// valueSize estimates v's size as JSON, as engine.SizeOf does, but stops counting, and walking,
// once it passes max.
func valueSize(v any, max int) int {
	switch x := v.(type) {
	case nil:
		return 4
	case string:
		return len(x) + 2
	case bool:
		return 5
	case map[string]any:
		n := 2
		for k, e := range x {
			if n += len(k) + 4 + valueSize(e, max-n); n > max {
				return n
			}
		}
		return n
	case []any:
		n := 2
		for _, e := range x {
			if n += 1 + valueSize(e, max-n); n > max {
				return n
			}
		}
		return n
	case []string:
		n := 2
		for _, e := range x {
			if n += 3 + len(e); n > max {
				return n
			}
		}
		return n
	}
	return 8
}

// deepSize estimates the memory a parsed value takes, 16 bytes a value besides its text, and
// stops counting, and walking, once it passes max.
func deepSize(v any, max int) int {
	n := 16
	switch x := v.(type) {
	case string:
		n += len(x)
	case map[string]any:
		for k, e := range x {
			if n += 32 + len(k) + deepSize(e, max-n); n > max {
				return n
			}
		}
	case []any:
		for _, e := range x {
			if n += deepSize(e, max-n); n > max {
				return n
			}
		}
	}
	return n
}

// checkSize fails for a list or a mapping larger than max as JSON: text made of it would be.
func checkSize(v any, max int) error {
	switch v.(type) {
	case map[string]any, []any:
		if valueSize(v, max) > max {
			return errBudget
		}
	}
	return nil
}

// argsSize checks every argument that is a list or a mapping, which a helper may write as
// text; it counts nothing itself.
func argsSize(args []any) (int, error) {
	for _, a := range args {
		if err := checkSize(a, MaxTemplateBytes); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// replaceSize is the length of replace's result, known before it is built.
func replaceSize(args []any) (int, error) {
	if len(args) < 3 {
		return 0, nil
	}
	s, ok1 := args[0].(string)
	old, ok2 := args[1].(string)
	repl, ok3 := args[2].(string)
	if !ok1 || !ok2 || !ok3 {
		return 0, nil // replace fails on its own
	}
	n := strings.Count(s, old) // for old == "": runes + 1
	if len(args) == 4 {
		if m, ok := args[3].(int); ok && m >= 0 && m < n {
			n = m
		}
	}
	if len(repl) > len(old) && n > 0 && (len(repl)-len(old)) > (MaxTemplateBytes-len(s))/n {
		return 0, errBudget
	}
	return len(s) + n*(len(repl)-len(old)), nil
}

// repeatSize is the length of repeat's result, known before it is built.
func repeatSize(args []any) (int, error) {
	if len(args) != 2 {
		return 0, nil
	}
	s, ok := args[0].(string)
	n, ok2 := args[1].(int)
	if !ok || !ok2 || n <= 0 {
		return 0, nil
	}
	if len(s) > MaxTemplateBytes/n {
		return 0, errBudget
	}
	return len(s) * n, nil
}

// joinSize is the length of join's result, known before it is built.
func joinSize(args []any) (int, error) {
	if len(args) == 0 {
		return 0, nil
	}
	glue := 0
	if len(args) == 2 {
		if g, ok := args[1].(string); ok {
			glue = len(g)
		}
	}
	n := 0
	add := func(s string) error {
		if n += len(s) + glue; n > MaxTemplateBytes {
			return errBudget
		}
		return nil
	}
	switch l := args[0].(type) {
	case []string:
		for _, s := range l {
			if err := add(s); err != nil {
				return 0, err
			}
		}
	case []any:
		for _, e := range l {
			if s, ok := e.(string); ok {
				if err := add(s); err != nil {
					return 0, err
				}
			}
		}
	}
	return n, nil
}

// flattenSize counts the items flatten makes, 16 bytes each, before it makes them.
func flattenSize(args []any) (int, error) {
	if len(args) != 1 {
		return 0, nil
	}
	n := 0
	var count func(v reflect.Value, depth int) error
	count = func(v reflect.Value, depth int) error {
		for i := range v.Len() {
			e := v.Index(i)
			for e.Kind() == reflect.Interface || e.Kind() == reflect.Pointer {
				if e.IsNil() {
					break
				}
				e = e.Elem()
			}
			if (e.Kind() == reflect.Slice || e.Kind() == reflect.Array) && depth < builtin.MaxDepth {
				if err := count(e, depth+1); err != nil {
					return err
				}
				continue
			}
			if n += 16; n > MaxTemplateBytes {
				return errBudget
			}
		}
		return nil
	}
	v := reflect.ValueOf(args[0])
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return 0, nil // flatten fails on its own
	}
	return n, count(v, 0)
}

// toJSONSize checks what toJSON (json.MarshalIndent with two spaces) writes before it writes it:
// each value of a list or a mapping starts a line indented by its depth, so a deep value writes
// far more than its size.
func toJSONSize(args []any) (int, error) {
	if len(args) != 1 {
		return 0, nil
	}
	var size func(v any, depth, max int) int
	size = func(v any, depth, max int) int {
		n := 0
		switch x := v.(type) {
		case map[string]any:
			n = 2 + 2*depth
			for k, e := range x {
				if n += 2*depth + 8 + len(k) + size(e, depth+1, max-n); n > max {
					return n
				}
			}
		case []any:
			n = 2 + 2*depth
			for _, e := range x {
				if n += 2*depth + 4 + size(e, depth+1, max-n); n > max {
					return n
				}
			}
		default:
			n = valueSize(v, max)
		}
		return n
	}
	if n := size(args[0], 0, MaxTemplateBytes); n > MaxTemplateBytes {
		return 0, errBudget
	}
	return 0, nil
}
