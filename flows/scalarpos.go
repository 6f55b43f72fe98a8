package flows

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// origin locates one template's expression in its file, so that an error at an offset inside
// the expression, at load or at run time, can name the exact file:line:col. A scalar's value is
// not its source text: quotes, escapes, line folding and block indentation come between, so
// positions are found by walking the value and the source side by side (scalarPos).
type origin struct {
	file  string
	src   []byte // the whole file; may be nil
	lines []int  // byte offset of each line of src; nil: computed on use
	node  *yaml.Node
	off   int // byte offset of the expression (just after "{{") in node.Value
}

// pos returns the position of the rune at offset from (a rune offset as expr's file.Location
// counts it) within the expression.
func (o *origin) pos(from int) Pos {
	expr := o.node.Value[o.off:]
	b := 0
	for n := 0; n < from && b < len(expr); n++ {
		_, size := utf8.DecodeRuneInString(expr[b:])
		b += size
	}
	return o.valuePos(o.off + b)
}

// valuePos returns the file position of byte off of the scalar's value.
func (o *origin) valuePos(off int) Pos {
	if line, col, ok := scalarPos(o.src, o.lines, o.node, off); ok {
		return Pos{File: o.file, Line: line, Col: col}
	}
	return estimatePos(o.file, o.node, off)
}

// estimatePos is the position of byte off of a scalar's value when its source is unknown or does
// not match: right on the scalar's first line, a best effort past a line break.
func estimatePos(file string, n *yaml.Node, off int) Pos {
	p := NodePos(file, n)
	before := n.Value[:off]
	switch n.Style {
	case yaml.LiteralStyle, yaml.FoldedStyle:
		p.Line++
		p.Col = 1
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		p.Col++
	}
	if nl := strings.Count(before, "\n"); nl > 0 {
		p.Line += nl
		p.Col = 1
		before = before[strings.LastIndexByte(before, '\n')+1:]
	}
	p.Col += utf8.RuneCountInString(before)
	return p
}

// lineStarts returns the byte offset where each line of src starts.
func lineStarts(src []byte) []int {
	out := []int{0}
	for i, c := range src {
		if c == '\n' {
			out = append(out, i+1)
		}
	}
	return out
}

// scalarPos maps byte off of the value of scalar n to a 1-based line and column (in runes, as
// yaml.v3 counts them) in src. It walks the source from the scalar's start and the value in step:
// equal runes advance both; escapes of "…" scalars and doubled quotes of '…' scalars stand for one rune;
// whitespace that folding or indentation removed is skipped on the source side, and whitespace
// that folding made is skipped on the value side. ok is false when src does not match the value.
func scalarPos(src []byte, lines []int, n *yaml.Node, off int) (line, col int, ok bool) {
	if src == nil || n.Line < 1 || n.Column < 1 || off < 0 || off > len(n.Value) {
		return 0, 0, false
	}
	if lines == nil {
		lines = lineStarts(src)
	}
	if n.Line > len(lines) {
		return 0, 0, false
	}
	j := lines[n.Line-1]
	line, col = n.Line, 1
	for col < n.Column {
		if j >= len(src) || src[j] == '\n' {
			return 0, 0, false
		}
		_, size := utf8.DecodeRune(src[j:])
		j += size
		col++
	}
	dq := n.Style&yaml.DoubleQuotedStyle != 0
	sq := n.Style&yaml.SingleQuotedStyle != 0
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		k := bytes.IndexByte(src[j:], '\n')
		if k < 0 {
			return 0, 0, false
		}
		j += k + 1
		line, col = line+1, 1
	case dq || sq:
		q := byte('"')
		if sq {
			q = '\''
		}
		// A tag (!!str "…") comes before the quote on the same line.
		for j < len(src) && src[j] != q && src[j] != '\n' {
			j++
			col++
		}
		if j >= len(src) || src[j] != q {
			return 0, 0, false
		}
		j++
		col++
	}
	// advance moves j over k bytes of source that hold no line break.
	advance := func(k int) {
		col += utf8.RuneCount(src[j : j+k])
		j += k
	}
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	// skip moves j over source whitespace, and over an escaped line break in "…".
	skip := func() bool {
		switch {
		case j < len(src) && isSpace(src[j]):
			if src[j] == '\n' {
				j++
				line, col = line+1, 1
			} else {
				advance(1)
			}
			return true
		case dq && j+1 < len(src) && src[j] == '\\' && (src[j+1] == '\n' || src[j+1] == '\r'):
			advance(1)
			return true
		}
		return false
	}
	val := n.Value
	i := 0
	for i < off {
		if j >= len(src) {
			return 0, 0, false
		}
		c, ci := utf8.DecodeRuneInString(val[i:])
		s := src[j]
		r, rn := utf8.DecodeRune(src[j:])
		switch {
		case dq && s == '\\' && j+1 < len(src) && src[j+1] != '\n' && src[j+1] != '\r':
			k := 2
			switch src[j+1] {
			case 'x':
				k = 4
			case 'u':
				k = 6
			case 'U':
				k = 10
			}
			if j+k > len(src) {
				return 0, 0, false
			}
			advance(k)
			i += ci
		case sq && s == '\'' && j+1 < len(src) && src[j+1] == '\'':
			advance(2)
			i += ci
		case r == c:
			if s == '\n' {
				j++
				line, col = line+1, 1
			} else {
				advance(rn)
			}
			i += ci
		case skip():
		case c == ' ' || c == '\n' || c == '\t':
			i += ci
		default:
			return 0, 0, false
		}
	}
	// Point at the rune itself, not at the indentation or folded break before it.
	if off < len(val) && !isSpace(val[off]) {
		for skip() {
		}
	}
	return line, col, true
}
