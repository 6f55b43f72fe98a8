package flows

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Pos is a place in an app's files; String returns "file:line:col" as go/token does.
type Pos struct {
	File      string
	Line, Col int // 1-based; 0 when unknown
}

// IsValid reports whether the position has a line.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String returns "file:line:col", "file:line" or "file", whichever is known.
func (p Pos) String() string {
	s := p.File
	if p.Line > 0 {
		if s != "" {
			s += ":"
		}
		s += fmt.Sprintf("%d", p.Line)
		if p.Col > 0 {
			s += fmt.Sprintf(":%d", p.Col)
		}
	}
	if s == "" {
		s = "-"
	}
	return s
}

// Error is one problem: Msg is lower case with no final period; Unwrap returns Err.
type Error struct {
	Pos Pos
	Msg string
	Err error
}

func (e *Error) Error() string {
	if e.Pos.File == "" && e.Pos.Line == 0 {
		return e.Msg
	}
	return e.Pos.String() + ": " + e.Msg
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorList is a list of *Error. Sort it before showing it; Err returns nil when it is empty.
type ErrorList []*Error

// maxErrors bounds one report, as go/parser does: past it the rest is noise.
const maxErrors = 50

// Add appends an error at pos.
func (l *ErrorList) Add(pos Pos, msg string) { *l = append(*l, &Error{Pos: pos, Msg: msg}) }

// Addf appends a formatted error at pos.
func (l *ErrorList) Addf(pos Pos, format string, args ...any) {
	l.Add(pos, fmt.Sprintf(format, args...))
}

// Append adds all errors of err: an ErrorList is flattened, an *Error kept, anything else wrapped at pos.
func (l *ErrorList) Append(pos Pos, err error) {
	if err == nil {
		return
	}
	var list ErrorList
	if errors.As(err, &list) {
		*l = append(*l, list...)
		return
	}
	var e *Error
	if errors.As(err, &e) {
		*l = append(*l, e)
		return
	}
	*l = append(*l, &Error{Pos: pos, Msg: err.Error(), Err: err})
}

func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i].Pos, l[j].Pos
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	if a.Col != b.Col {
		return a.Col < b.Col
	}
	return l[i].Msg < l[j].Msg
}

// Sort sorts the list by position and removes exact duplicates and a second error on one line
// with the same message prefix, as go/scanner.ErrorList.RemoveMultiples does for lines.
func (l *ErrorList) Sort() {
	sort.Stable(*l)
	out := (*l)[:0]
	var last *Error
	for _, e := range *l {
		if last != nil && last.Pos == e.Pos && last.Msg == e.Msg {
			continue
		}
		out = append(out, e)
		last = e
	}
	*l = out
}

// Error joins the messages one per line, at most maxErrors of them.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i == maxErrors {
			fmt.Fprintf(&b, "\n(and %d more errors)", len(l)-maxErrors)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Err returns the sorted list as an error, or nil when it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}
