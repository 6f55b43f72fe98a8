package main

import (
	"bytes"
	"fmt"
	"io"
)

// terminalSafe writes what it is given with every control character but newline and tab turned
// into its \u escape. Text a provider chose (an error body, an error_description, a label)
// reaches the terminal through it, and must not move the cursor, rewrite a line, recolour or
// retitle the terminal. The escape is also valid inside a JSON string, so JSON output keeps its
// meaning. A UTF-8 C1 control (U+0080-U+009F) split across two writes passes; the Go code here
// writes whole strings.
type terminalSafe struct{ w io.Writer }

func (t terminalSafe) Write(p []byte) (int, error) {
	if !hasControl(p) {
		return t.w.Write(p)
	}
	var b bytes.Buffer
	b.Grow(len(p) + 16)
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\n' || c == '\t':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, c)
		case c == 0xc2 && i+1 < len(p) && p[i+1] >= 0x80 && p[i+1] <= 0x9f:
			fmt.Fprintf(&b, `\u%04x`, p[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	if _, err := t.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func hasControl(p []byte) bool {
	for i, c := range p {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c == 0xc2 && i+1 < len(p) && p[i+1] >= 0x80 && p[i+1] <= 0x9f) {
			return true
		}
	}
	return false
}
