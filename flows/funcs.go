package flows

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Func is a helper function available in every template.
type Func struct {
	Name    string
	Summary string
	Fn      func(args ...any) (any, error)
	Types   []any // typed signatures for the checker, as expr.Function takes them
}

// Funcs lists patchbay's template helpers, for the docs and the compiler. expr's own builtins
// (lower, upper, trim, split, join, replace, len, now, date, duration, toJSON, fromJSON ...)
// are available as well.
var Funcs = []Func{
	{"url_encode", "escapes a string for a URL query (spaces become +)", str1(url.QueryEscape), []any{new(func(string) string)}},
	{"url_path_escape", "escapes a string for a URL path segment", str1(url.PathEscape), []any{new(func(string) string)}},
	{"url_decode", "reverses url_encode", str1e(url.QueryUnescape), []any{new(func(string) string)}},
	{"query_string", "encodes a mapping as a URL query, keys sorted", queryString, []any{new(func(map[string]any) string)}},
	{"base64_encode", "standard base64 with padding", str1(b64str(base64.StdEncoding)), []any{new(func(string) string)}},
	{"base64_decode", "reverses base64_encode", str1e(b64dec(base64.StdEncoding)), []any{new(func(string) string)}},
	{"base64url_encode", "URL-safe base64 without padding", str1(b64str(base64.RawURLEncoding)), []any{new(func(string) string)}},
	{"base64url_decode", "reverses base64url_encode", str1e(b64dec(base64.RawURLEncoding)), []any{new(func(string) string)}},
	{"basic_auth", "the value of an Authorization header for HTTP basic auth: basic_auth(user, password)", basicAuth, []any{new(func(string, string) string)}},
	{"json_encode", "a value as compact JSON text", jsonEncode, nil},
	{"json_decode", "parses JSON text into a value", jsonDecode, []any{new(func(string) any)}},
	{"sha256", "hex SHA-256 of a string", str1(func(s string) string { return hexHash(sha256.New(), s) }), []any{new(func(string) string)}},
	{"hmac_sha256", "hex HMAC-SHA256: hmac_sha256(key, message)", hmacFn(sha256.New, hex.EncodeToString), []any{new(func(string, string) string)}},
	{"hmac_sha256_base64", "base64 HMAC-SHA256: hmac_sha256_base64(key, message)", hmacFn(sha256.New, base64.StdEncoding.EncodeToString), []any{new(func(string, string) string)}},
	{"hmac_sha1_base64", "base64 HMAC-SHA1: hmac_sha1_base64(key, message)", hmacFn(sha1.New, base64.StdEncoding.EncodeToString), []any{new(func(string, string) string)}},
	{"uuid", "a random UUID (version 4)", func(...any) (any, error) { return newUUID(), nil }, []any{new(func() string)}},
	{"format_time", `formats a time (a time, RFC 3339 text or seconds since 1970): format_time(t, layout); layout is a Go layout or rfc3339, rfc3339nano, rfc1123, rfc1123z, rfc822, date, datetime, unix, unix_ms`, formatTime, nil},
	{"parse_time", `parses a time: parse_time(s, layout), layouts as format_time`, parseTime, []any{new(func(string, string) any)}},
	{"unix", "seconds since 1970 of a time", unixFn, nil},
	{"from_unix", "the time of a number of seconds since 1970", fromUnix, nil},
	{"truncate", "the first n characters of a string: truncate(s, n)", truncateFn, nil},
	{"optional", "its argument, unchanged; in a URL's host or path (call_api's url, path, base_url) it marks a part that may be null or empty, where any other template fails the step: /a/{{ optional(x) }}/b asks for /a/b when x is empty, and {{ optional(x) }}.example.com for example.com; see [call_api URLs](#call_api-urls)", optionalFn, nil},
	{"default", "the first argument unless it is nil or empty, else the second: default(v, d)", defaultFn, nil},
	{"jwt_sign", "a signed JWT: jwt_sign(alg, key, claims) or jwt_sign(alg, key, claims, header); alg is RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA with a PEM private key (PKCS#1, PKCS#8 or SEC1; line breaks may be written `\\n`, as in a JSON key file), or HS256, HS384, HS512 with a shared secret; claims exp, nbf and iat may be times; header adds fields such as kid; see [service accounts](connections.md#service-accounts-jwt-bearer)", jwtSign,
		[]any{new(func(string, string, map[string]any, map[string]any) string), new(func(string, string, map[string]any) string)}},
}

func b64str(enc *base64.Encoding) func(string) string {
	return func(s string) string { return enc.EncodeToString([]byte(s)) }
}

func str1(f func(string) string) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		s, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

func str1e(f func(string) (string, error)) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		s, err := argString(args, 0)
		if err != nil {
			return nil, err
		}
		return f(s)
	}
}

func argString(args []any, i int) (string, error) {
	if i >= len(args) {
		return "", fmt.Errorf("missing argument %d", i+1)
	}
	switch v := args[i].(type) {
	case string:
		return v, nil
	case nil:
		return "", nil
	default:
		return Stringify(v), nil
	}
}

func b64dec(enc *base64.Encoding) func(string) (string, error) {
	return func(s string) (string, error) {
		b, err := enc.DecodeString(s)
		return string(b), err
	}
}

func basicAuth(args ...any) (any, error) {
	u, _ := argString(args, 0)
	p, _ := argString(args, 1)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)), nil
}

func queryString(args ...any) (any, error) {
	m, ok := args[0].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("query_string wants a mapping")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		vals, isList := m[k].([]any)
		if !isList {
			vals = []any{m[k]}
		}
		for _, v := range vals {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(Stringify(v)))
		}
	}
	return b.String(), nil
}

func jsonEncode(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("json_encode takes one argument")
	}
	b, err := json.Marshal(args[0])
	return string(b), err
}

func jsonDecode(args ...any) (any, error) {
	s, err := argString(args, 0)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("json_decode: %w", err)
	}
	return v, nil
}

func hexHash(h hash.Hash, s string) string {
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil))
}

func hmacFn(h func() hash.Hash, enc func([]byte) string) func(...any) (any, error) {
	return func(args ...any) (any, error) {
		k, _ := argString(args, 0)
		m, _ := argString(args, 1)
		mac := hmac.New(h, []byte(k))
		mac.Write([]byte(m))
		return enc(mac.Sum(nil)), nil
	}
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

var layouts = map[string]string{
	"rfc3339":     time.RFC3339,
	"rfc3339nano": time.RFC3339Nano,
	"rfc1123":     time.RFC1123,
	"rfc1123z":    time.RFC1123Z,
	"rfc822":      time.RFC822,
	"date":        time.DateOnly,
	"datetime":    time.DateTime,
}

func toTime(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t, nil
	case string:
		return time.Parse(time.RFC3339, t)
	case int:
		return time.Unix(int64(t), 0).UTC(), nil
	case int64:
		return time.Unix(t, 0).UTC(), nil
	case float64:
		return time.Unix(int64(t), 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%T is not a time", v)
}

func formatTime(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("format_time takes a time and a layout")
	}
	t, err := toTime(args[0])
	if err != nil {
		return nil, err
	}
	layout, _ := argString(args, 1)
	switch layout {
	case "unix":
		return t.Unix(), nil
	case "unix_ms":
		return t.UnixMilli(), nil
	}
	if l, ok := layouts[layout]; ok {
		layout = l
	}
	return t.Format(layout), nil
}

func parseTime(args ...any) (any, error) {
	s, _ := argString(args, 0)
	layout, _ := argString(args, 1)
	switch layout {
	case "unix":
		n, err := strconv.ParseInt(s, 10, 64)
		return time.Unix(n, 0).UTC(), err
	case "unix_ms":
		n, err := strconv.ParseInt(s, 10, 64)
		return time.UnixMilli(n).UTC(), err
	}
	if l, ok := layouts[layout]; ok {
		layout = l
	}
	return time.Parse(layout, s)
}

func unixFn(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("unix takes one time")
	}
	t, err := toTime(args[0])
	if err != nil {
		return nil, err
	}
	return int(t.Unix()), nil
}

func fromUnix(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("from_unix takes one number")
	}
	return toTime(args[0])
}

func truncateFn(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("truncate takes a string and a length")
	}
	s, _ := argString(args, 0)
	n, ok := toInt(args[1])
	if !ok || n < 0 {
		return nil, fmt.Errorf("truncate: length must be a non-negative integer")
	}
	r := []rune(s)
	if len(r) <= n {
		return s, nil
	}
	return string(r[:n]), nil
}

func optionalFn(args ...any) (any, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("optional takes one value")
	}
	return args[0], nil
}

func defaultFn(args ...any) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("default takes a value and a fallback")
	}
	switch v := args[0].(type) {
	case nil:
		return args[1], nil
	case string:
		if v == "" {
			return args[1], nil
		}
	}
	return args[0], nil
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}
