package blocks

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSON decodes a response body. A number is an int when it is integral and fits exactly
// (1, 1.0, 1e3, ids up to 2^63-1), a float64 otherwise, so ids and counts stay integers in
// templates and in the trace; objects are map[string]any, arrays []any.
//
// It accepts exactly what encoding/json accepts and gives the same values (FuzzDecodeJSON
// checks both), but it decodes straight into those values: a call_api step spends less time
// here than a bare client spends in json.Unmarshal.
func decodeJSON(data []byte) (any, error) {
	p := jsonParser{data: data}
	p.space()
	v, err := p.value()
	if err == nil {
		p.space()
		if p.i < len(p.data) {
			err = fmt.Errorf("data after the JSON value at offset %d", p.i)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid JSON body: %w", err)
	}
	return v, nil
}

// maxJSONDepth bounds the nesting of a JSON document, as encoding/json does.
const maxJSONDepth = 10000

var errJSONEnd = errors.New("unexpected end of JSON input")

type jsonParser struct {
	data  []byte
	i     int
	depth int
}

func (p *jsonParser) space() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// syntax reports the byte at the parser's offset, which is not what the context needs.
func (p *jsonParser) syntax(context string) error {
	if p.i >= len(p.data) {
		return errJSONEnd
	}
	return fmt.Errorf("invalid character %s %s at offset %d", quoteChar(p.data[p.i]), context, p.i)
}

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		s = fmt.Sprintf(`"\x%02x"`, c)
	}
	return "'" + s[1:len(s)-1] + "'"
}

func (p *jsonParser) value() (any, error) {
	if p.i >= len(p.data) {
		return nil, errJSONEnd
	}
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.syntax("looking for beginning of value")
}

func (p *jsonParser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.data) {
			return errJSONEnd
		}
		if p.data[p.i] != word[k] {
			return p.syntax(fmt.Sprintf("in literal %s (expecting %s)", word, quoteChar(word[k])))
		}
		p.i++
	}
	return nil
}

func (p *jsonParser) enter() error {
	if p.depth++; p.depth > maxJSONDepth {
		return fmt.Errorf("exceeded max depth at offset %d", p.i)
	}
	return nil
}

func (p *jsonParser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // {
	p.space()
	m := map[string]any{}
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		p.depth--
		return m, nil
	}
	for {
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, p.syntax("looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.syntax("after object key")
		}
		p.i++
		p.space()
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case '}':
			p.i++
			p.depth--
			return m, nil
		default:
			return nil, p.syntax("after object key:value pair")
		}
	}
}

func (p *jsonParser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.i++ // [
	p.space()
	l := []any{}
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		p.depth--
		return l, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		l = append(l, v)
		p.space()
		if p.i >= len(p.data) {
			return nil, errJSONEnd
		}
		switch p.data[p.i] {
		case ',':
			p.i++
			p.space()
		case ']':
			p.i++
			p.depth--
			return l, nil
		default:
			return nil, p.syntax("after array element")
		}
	}
}

// str reads a string at p.i (its opening quote). Invalid UTF-8 and unpaired surrogates become
// U+FFFD, as with encoding/json.
func (p *jsonParser) str() (string, error) {
	p.i++ // "
	start := p.i
	for j := start; j < len(p.data); j++ {
		c := p.data[j]
		if c == '"' {
			p.i = j + 1
			return string(p.data[start:j]), nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
	}
	var b strings.Builder
	b.Grow(32)
	for p.i < len(p.data) {
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < ' ':
			return "", p.syntax("in string literal")
		case c == '\\':
			if err := p.escape(&b); err != nil {
				return "", err
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.data[p.i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteRune(utf8.RuneError)
			} else {
				b.Write(p.data[p.i : p.i+size])
			}
			p.i += size
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", errJSONEnd
}

func (p *jsonParser) escape(b *strings.Builder) error {
	p.i++ // backslash
	if p.i >= len(p.data) {
		return errJSONEnd
	}
	c := p.data[p.i]
	p.i++
	switch c {
	case '"', '\\', '/':
		b.WriteByte(c)
	case 'b':
		b.WriteByte('\b')
	case 'f':
		b.WriteByte('\f')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case 't':
		b.WriteByte('\t')
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return err
		}
		if utf16.IsSurrogate(r) {
			// A pair is two escapes; a lone surrogate is U+FFFD, and what follows is read anew.
			if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
				save := p.i
				p.i += 2
				r2, err := p.hex4()
				if err != nil {
					return err
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					b.WriteRune(d)
					return nil
				}
				p.i = save
			}
			r = utf8.RuneError
		}
		b.WriteRune(r)
	default:
		p.i--
		return p.syntax("in string escape code")
	}
	return nil
}

func (p *jsonParser) hex4() (rune, error) {
	var r rune
	for k := 0; k < 4; k++ {
		if p.i >= len(p.data) {
			return 0, errJSONEnd
		}
		c := p.data[p.i]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, p.syntax("in \\u hexadecimal character escape")
		}
		r = r<<4 | rune(c)
		p.i++
	}
	return r, nil
}

// number reads a number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.data) {
		return nil, errJSONEnd
	}
	switch c := p.data[p.i]; {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
		}
	default:
		return nil, p.syntax("in numeric literal")
	}
	integer := true
	if p.i < len(p.data) && p.data[p.i] == '.' {
		integer = false
		p.i++
		if err := p.digits(); err != nil {
			return nil, err
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if err := p.digits(); err != nil {
			return nil, err
		}
	}
	lit := p.data[start:p.i]
	if integer && len(lit) <= 18 { // fits in an int64 whatever the digits: no need for strconv
		n := 0
		neg := lit[0] == '-'
		if neg {
			lit = lit[1:]
		}
		for _, d := range lit {
			n = n*10 + int(d-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	return jsonNumber(string(lit)), nil
}

// digits reads one or more digits.
func (p *jsonParser) digits() error {
	if p.i >= len(p.data) {
		return errJSONEnd
	}
	if c := p.data[p.i]; c < '0' || c > '9' {
		return p.syntax("in numeric literal")
	}
	for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
		p.i++
	}
	return nil
}

// maxExactInt is the largest magnitude up to which every integer is a float64.
const maxExactInt = 1 << 53

// jsonNumber converts a JSON number literal: an int when integral and exact, else a float64.
func jsonNumber(s string) any {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return int(i)
		}
	}
	f, _ := strconv.ParseFloat(s, 64) // the syntax is checked; overflow gives ±Inf
	if f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
		return int(f)
	}
	return f
}
