package flows

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// NodePos returns the position of n in file.
func NodePos(file string, n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: file}
	}
	return Pos{File: file, Line: n.Line, Col: n.Column}
}

// Field is one key of a YAML mapping with its value.
type Field struct {
	Key   *yaml.Node
	Value *yaml.Node
}

// Fields checks that n is a mapping whose keys are all in allowed (a key ending in "*" allows any
// key with that prefix) and appear once. It reports every problem into errs, with a "did you
// mean" for near misses, and returns the known fields by key. A nil n yields an empty map.
func Fields(file string, n *yaml.Node, errs *ErrorList, what string, allowed ...string) map[string]Field {
	out := map[string]Field{}
	if n == nil {
		return out
	}
	if n.Kind != yaml.MappingNode {
		errs.Addf(NodePos(file, n), "%s must be a mapping, found %s", what, Describe(n))
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if _, dup := out[key]; dup {
			errs.Addf(NodePos(file, k), "%s: key %q appears twice (first at line %d)", what, key, out[key].Key.Line)
			continue
		}
		if !allowedKey(key, allowed) {
			errs.Addf(NodePos(file, k), "%s: unknown field %q%s", what, key, Suggest(key, allowed))
			continue
		}
		out[key] = Field{Key: k, Value: v}
	}
	return out
}

func allowedKey(key string, allowed []string) bool {
	for _, a := range allowed {
		if a == key || (strings.HasSuffix(a, "*") && strings.HasPrefix(key, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

// Pairs returns the key/value pairs of a mapping in document order and reports duplicate keys.
// A node that is not a mapping is reported and yields nil.
func Pairs(file string, n *yaml.Node, errs *ErrorList, what string) []Field {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		errs.Addf(NodePos(file, n), "%s must be a mapping, found %s", what, Describe(n))
		return nil
	}
	seen := map[string]int{}
	var out []Field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if line, dup := seen[k.Value]; dup {
			errs.Addf(NodePos(file, k), "%s: key %q appears twice (first at line %d)", what, k.Value, line)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, Field{Key: k, Value: n.Content[i+1]})
	}
	return out
}

// Describe names the kind of a node for error messages: "a list", "a mapping", "a string" ...
func Describe(n *yaml.Node) string {
	if isUnquotedTemplate(n) {
		return "a mapping (" + unquotedTemplateHint + ")"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	switch n.Tag {
	case "!!null":
		return "nothing"
	case "!!bool":
		return "a boolean"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	}
	return fmt.Sprintf("the string %q", truncate(n.Value, 40))
}

const unquotedTemplateHint = `a value that starts with {{ must be quoted: "{{ … }}"`

// isUnquotedTemplate reports whether n is what YAML makes of an unquoted {{ template }}: a flow
// mapping whose only key is another flow mapping.
func isUnquotedTemplate(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.MappingNode && n.Style&yaml.FlowStyle != 0 && len(n.Content) == 2 &&
		n.Content[0].Kind == yaml.MappingNode && n.Content[0].Style&yaml.FlowStyle != 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) { // not in the middle of a character
		n--
	}
	return s[:n] + "…"
}

// String reads a scalar string; other kinds are reported.
func String(file string, n *yaml.Node, errs *ErrorList, what string) string {
	if n == nil {
		return ""
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		errs.Addf(NodePos(file, n), "%s must be a string, found %s", what, Describe(n))
		return ""
	}
	return n.Value
}

// Bool reads a scalar boolean.
func Bool(file string, n *yaml.Node, errs *ErrorList, what string) bool {
	if n == nil {
		return false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		errs.Addf(NodePos(file, n), "%s must be true or false, found %s", what, Describe(n))
		return false
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

// Int reads a scalar integer.
func Int(file string, n *yaml.Node, errs *ErrorList, what string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return int(i)
		}
	}
	errs.Addf(NodePos(file, n), "%s must be an integer, found %s", what, Describe(n))
	return 0
}

// Duration reads a Go duration such as "30s" or "1m30s"; a bare integer is seconds.
func Duration(file string, n *yaml.Node, errs *ErrorList, what string) time.Duration {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!int" {
			i, err := strconv.ParseInt(n.Value, 10, 64)
			if err == nil && i >= 0 && i <= math.MaxInt64/int64(time.Second) {
				return time.Duration(i) * time.Second
			}
			if (err == nil && i > 0) || errors.Is(err, strconv.ErrRange) {
				errs.Addf(NodePos(file, n), "%s %s is out of range", what, n.Value)
				return 0
			}
		}
		if d, err := time.ParseDuration(n.Value); err == nil && d >= 0 {
			return d
		}
	}
	errs.Addf(NodePos(file, n), "%s must be a duration such as 30s or 5m, found %s", what, Describe(n))
	return 0
}

// Strings reads a list of strings; a single string is a list of one.
func Strings(file string, n *yaml.Node, errs *ErrorList, what string) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		errs.Addf(NodePos(file, n), "%s must be a list of strings, found %s", what, Describe(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, String(file, c, errs, what+" item"))
	}
	return out
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsIdent reports whether s can be used as a name in expressions (letters, digits, underscores).
func IsIdent(s string) bool { return identRE.MatchString(s) }

// Suggest returns ` (did you mean "x"?)` for the nearest candidate within edit distance 2,
// or "" when none is near (HCL's didyoumean).
func Suggest(s string, candidates []string) string {
	best, bestD := "", 3
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	for _, c := range sorted {
		c = strings.TrimSuffix(c, "*")
		if d := levenshtein(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

var yamlLineRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// SyntaxError converts an error of yaml.Unmarshal ("yaml: line N: msg") into an *Error at file:N.
// Errors of other shapes keep their text at the file's start.
func SyntaxError(file string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(strings.SplitN(msg, "\n", 2)[0]); m != nil {
		line, _ := strconv.Atoi(m[1])
		if line == 0 {
			line = 1
		}
		return &Error{Pos: Pos{File: file, Line: line, Col: 1}, Msg: "invalid YAML: " + m[2], Err: err}
	}
	return &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "invalid YAML: " + msg, Err: err}
}
