package flows

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// CheckInput checks v against the input's type and returns it in its canonical form: strings
// given for numbers, booleans, objects and arrays (from a command line) are parsed; integers are
// int, other numbers float64.
func CheckInput(in *Input, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	s, isString := v.(string)
	switch in.Type {
	case "string":
		if isString {
			return s, nil
		}
		switch v.(type) {
		case int, int64, float64, bool:
			return Stringify(v), nil
		}
	case "integer":
		if isString {
			i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", s)
			}
			return int(i), nil
		}
		switch n := v.(type) {
		case int:
			return n, nil
		case int64:
			return int(n), nil
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
				return int(n), nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return int(i), nil
			}
		}
	case "number":
		if isString {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not a number", s)
			}
			return f, nil
		}
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float64:
			return n, nil
		case json.Number:
			return n.Float64()
		}
	case "boolean":
		if isString {
			b, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", s)
			}
			return b, nil
		}
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case "object":
		if isString {
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				return nil, fmt.Errorf("not a JSON object: %v", err)
			}
			return m, nil
		}
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	case "array":
		if isString {
			var l []any
			if err := json.Unmarshal([]byte(s), &l); err != nil {
				return nil, fmt.Errorf("not a JSON array: %v", err)
			}
			return l, nil
		}
		if l, ok := v.([]any); ok {
			return l, nil
		}
	}
	return nil, fmt.Errorf("want %s %s, found %s", article(in.Type), in.Type, typeName(v))
}

func article(t string) string {
	if strings.ContainsRune("aeiou", rune(t[0])) {
		return "an"
	}
	return "a"
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int, int64:
		return "an integer"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// InputError is a problem with the inputs given to a flow; Field names the input.
type InputError struct {
	Flow  string
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("flow %s: input %s: %s", e.Flow, e.Field, e.Msg)
}

// ResolveInputs checks the inputs given to flow f: unknown names, types, required inputs. It fills
// in defaults and returns a new map; every problem is reported, sorted by input name.
func ResolveInputs(f *Flow, given map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(f.Inputs))
	var problems []error
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	known := make([]string, len(f.Inputs))
	for i, in := range f.Inputs {
		known[i] = in.Name
	}
	for _, k := range names {
		if f.Input(k) == nil {
			msg := "unknown input" + Suggest(k, known)
			if len(known) == 0 {
				msg = "unknown input: the flow takes none"
			}
			problems = append(problems, &InputError{Flow: f.Name, Field: k, Msg: msg})
		}
	}
	for _, in := range f.Inputs {
		v, ok := given[in.Name]
		if !ok || v == nil {
			if in.Default != nil {
				out[in.Name] = in.Default
			} else if in.Required {
				problems = append(problems, &InputError{Flow: f.Name, Field: in.Name, Msg: "required input is missing"})
			} else {
				out[in.Name] = nil
			}
			continue
		}
		cv, err := CheckInput(in, v)
		if err != nil {
			msg := err.Error()
			if in.Sensitive { // the message may quote the value, and it is a secret
				msg = fmt.Sprintf("the value given is not %s %s (not shown: the input is sensitive)", article(in.Type), in.Type)
			}
			problems = append(problems, &InputError{Flow: f.Name, Field: in.Name, Msg: msg})
			continue
		}
		out[in.Name] = cv
	}
	switch len(problems) {
	case 0:
		return out, nil
	case 1:
		return nil, problems[0]
	}
	return nil, InputErrors(problems)
}

// InputErrors is several input problems.
type InputErrors []error

func (l InputErrors) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns the problems, for errors.As.
func (l InputErrors) Unwrap() []error { return l }
