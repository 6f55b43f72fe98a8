package flows

import (
	"bytes"
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// origin locates one template's expression in its file, so that an error at an offset inside
// the expression, at load or at run time, can name the exact file:line:col. A scalar's value is
// not its source text: quotes, escapes, line folding and block indentation come between, so
// positions are found by walking the value and the source side by side (scalarWalker).
type origin struct {
	file  string
	src   []byte // the whole file; may be nil
	lines []int  // byte offset of each line of src; nil: computed on use
	node  *yaml.Node
	off   int // byte offset of the expression (just after "{{") in node.Value
}

// pos returns the position of the rune at offset from (a rune offset as expr's file.Location
// counts it) within the expression. w, when not nil, is a walker of the same scalar that is
// reused if it has not gone past the offset yet.
func (o *origin) pos(from int, w *scalarWalker) Pos {
	expr := o.node.Value[o.off:]
	b := 0
	for n := 0; n < from && b < len(expr); n++ {
		_, size := utf8.DecodeRuneInString(expr[b:])
		b += size
	}
	return o.valuePos(o.off+b, w)
}

// valuePos returns the file position of byte off of the scalar's value.
func (o *origin) valuePos(off int, w *scalarWalker) Pos {
	if w == nil || off < w.i {
		w = newScalarWalker(o.src, o.lines, o.node)
	}
	if line, col, ok := w.to(off); ok {
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
// yaml.v3 counts them) in src; ok is false when src does not hold the value there.
func scalarPos(src []byte, lines []int, n *yaml.Node, off int) (line, col int, ok bool) {
	return newScalarWalker(src, lines, n).to(off)
}

// A scalarWalker walks a scalar's source and its value side by side: equal runes advance both;
// escapes of "…" scalars and doubled quotes of '…' scalars stand for one rune; whitespace that
// folding or indentation removed is skipped on the source side, and whitespace that folding made
// is skipped on the value side. It only goes forward, so the templates of one scalar are found
// in one pass.
type scalarWalker struct {
	src       []byte
	val       string
	dq, sq    bool
	i, j      int // offsets in val and src
	line, col int // of src[j]
	ok        bool
}

// newScalarWalker returns a walker at the start of n's value in src.
func newScalarWalker(src []byte, lines []int, n *yaml.Node) *scalarWalker {
	w := &scalarWalker{src: src, val: n.Value}
	if src == nil || n.Line < 1 || n.Column < 1 {
		return w
	}
	if lines == nil {
		lines = lineStarts(src)
	}
	if n.Line > len(lines) {
		return w
	}
	w.j, w.line, w.col = lines[n.Line-1], n.Line, 1
	for w.col < n.Column {
		if w.j >= len(src) || src[w.j] == '\n' {
			return w
		}
		_, size := utf8.DecodeRune(src[w.j:])
		w.j += size
		w.col++
	}
	w.dq = n.Style&yaml.DoubleQuotedStyle != 0
	w.sq = n.Style&yaml.SingleQuotedStyle != 0
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		k := bytes.IndexByte(src[w.j:], '\n')
		if k < 0 {
			return w
		}
		w.j += k + 1
		w.line, w.col = w.line+1, 1
	case w.dq || w.sq:
		q := byte('"')
		if w.sq {
			q = '\''
		}
		// A tag (!!str "…") comes before the quote on the same line.
		for w.j < len(src) && src[w.j] != q && src[w.j] != '\n' {
			w.j++
			w.col++
		}
		if w.j >= len(src) || src[w.j] != q {
			return w
		}
		w.j++
		w.col++
	}
	w.ok = true
	return w
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// advance moves over k bytes of source that hold no line break.
func (w *scalarWalker) advance(k int) {
	w.col += utf8.RuneCount(w.src[w.j : w.j+k])
	w.j += k
}

// skip moves over one byte of source whitespace, or the backslash of an escaped line break.
func (w *scalarWalker) skip() bool {
	src, j := w.src, w.j
	switch {
	case j < len(src) && isSpace(src[j]):
		if src[j] == '\n' {
			w.j++
			w.line, w.col = w.line+1, 1
		} else {
			w.advance(1)
		}
		return true
	case w.dq && j+1 < len(src) && src[j] == '\\' && (src[j+1] == '\n' || src[j+1] == '\r'):
		w.advance(1)
		return true
	}
	return false
}

// to walks to byte off of the value (not before where the walker is) and returns its position.
func (w *scalarWalker) to(off int) (line, col int, ok bool) {
	if !w.ok || off < w.i || off > len(w.val) {
		return 0, 0, false
	}
	src, val := w.src, w.val
	for w.i < off {
		if w.j >= len(src) {
			w.ok = false
			return 0, 0, false
		}
		c, ci := utf8.DecodeRuneInString(val[w.i:])
		s := src[w.j]
		r, rn := utf8.DecodeRune(src[w.j:])
		switch {
		case w.dq && s == '\\' && w.j+1 < len(src) && src[w.j+1] != '\n' && src[w.j+1] != '\r':
			k := 2
			switch src[w.j+1] {
			case 'x':
				k = 4
			case 'u':
				k = 6
			case 'U':
				k = 10
			}
			if w.j+k > len(src) {
				w.ok = false
				return 0, 0, false
			}
			w.advance(k)
			w.i += ci
		case w.sq && s == '\'' && w.j+1 < len(src) && src[w.j+1] == '\'':
			w.advance(2)
			w.i += ci
		case r == c:
			if s == '\n' {
				w.j++
				w.line, w.col = w.line+1, 1
			} else {
				w.advance(rn)
			}
			w.i += ci
		case w.skip():
		case c == ' ' || c == '\n' || c == '\t':
			w.i += ci
		default:
			w.ok = false
			return 0, 0, false
		}
	}
	// Point at the rune itself, not at the indentation or folded break before it.
	if off < len(val) && !isSpace(val[off]) {
		for w.skip() {
		}
	}
	return w.line, w.col, true
}

// lineCache keeps the line offsets of the last few files: the engine makes a Scope per flow,
// and a file with many flows would otherwise be scanned once per flow.
var lineCache struct {
	sync.Mutex
	entries [4]struct {
		src   []byte
		lines []int
	}
	next int
}

// cachedLineStarts returns lineStarts(src), computed once per file among the last few.
func cachedLineStarts(src []byte) []int {
	if len(src) == 0 {
		return nil
	}
	lineCache.Lock()
	defer lineCache.Unlock()
	for _, e := range lineCache.entries {
		if len(e.src) == len(src) && &e.src[0] == &src[0] {
			return e.lines
		}
	}
	lines := lineStarts(src)
	e := &lineCache.entries[lineCache.next]
	e.src, e.lines = src, lines
	lineCache.next = (lineCache.next + 1) % len(lineCache.entries)
	return lines
}
