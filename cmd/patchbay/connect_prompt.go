package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// maxSecret bounds a secret read whole from stdin (vault set, clients add).
const maxSecret = 1 << 20

// prompter asks the user for values. On a terminal it shows a prompt and reads a line, without
// echo for a sensitive value. When stdin is not a terminal it reads lines from stdin, so a
// script can pipe values in; prompts still go to stderr, and no value is ever echoed.
type prompter struct {
	in  *bufio.Reader
	fd  int // stdin's descriptor when it is a terminal, else -1
	out io.Writer
	eof bool // stdin is exhausted: every later answer is empty
}

// newPrompter returns the prompter of e's stdin, prompting on stderr.
func (e *env) newPrompter() *prompter {
	p := &prompter{in: bufio.NewReader(e.stdin), fd: -1, out: e.stderr}
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.fd = int(f.Fd())
	}
	return p
}

// terminal reports whether the user types the answers.
func (p *prompter) terminal() bool { return p.fd >= 0 }

// line reads one answer: a line without its line ending. Ctrl-C (ctx) stops the wait and puts
// the terminal back as it was.
func (p *prompter) line(ctx context.Context, sensitive bool) (string, error) {
	if p.eof {
		return "", nil
	}
	if !p.terminal() {
		s, err := p.readLine()
		if errors.Is(err, io.EOF) {
			p.eof, err = true, nil
		}
		return s, err
	}
	state, err := term.GetState(p.fd)
	if err != nil {
		return "", err
	}
	type answer struct {
		s   string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		if sensitive {
			b, err := term.ReadPassword(p.fd)
			fmt.Fprintln(p.out) // the Enter the user typed was not echoed
			done <- answer{string(b), err}
			return
		}
		s, err := p.readLine()
		done <- answer{s, err}
	}()
	select {
	case a := <-done:
		if errors.Is(a.err, io.EOF) {
			p.eof, a.err = true, nil
		}
		return a.s, a.err
	case <-ctx.Done():
		term.Restore(p.fd, state)
		fmt.Fprintln(p.out)
		return "", context.Cause(ctx)
	}
}

// readLine reads a line of at most maxSecret bytes and returns it without its line ending;
// a longer one (stdin from /dev/zero) is an error rather than all of the memory.
func (p *prompter) readLine() (string, error) {
	var b []byte
	for {
		frag, err := p.in.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) <= maxSecret+2 && errors.Is(err, bufio.ErrBufferFull) {
			continue // the line goes on; +2: its line ending
		}
		s := strings.TrimRight(string(b), "\r\n")
		if len(s) > maxSecret {
			return "", fmt.Errorf("a line of stdin is longer than %d bytes", maxSecret)
		}
		return s, err
	}
}

// ask shows label, with its help lines below it, and reads the answer.
func (p *prompter) ask(ctx context.Context, label string, help []string, sensitive bool) (string, error) {
	fmt.Fprintln(p.out, label)
	for _, h := range help {
		fmt.Fprintf(p.out, "  %s\n", h)
	}
	fmt.Fprint(p.out, "> ")
	s, err := p.line(ctx, sensitive)
	if !p.terminal() {
		fmt.Fprintln(p.out) // the piped answer is not shown: end the prompt's line
	}
	return s, err
}

// secret reads one secret value: on a terminal from a no-echo prompt, else the whole of stdin
// without its final line ending (so a multi-line value, a PEM key, can be piped in).
func (p *prompter) secret(ctx context.Context, label string) (string, error) {
	if p.terminal() {
		fmt.Fprintf(p.out, "%s (typing is hidden): ", label)
		return p.line(ctx, true)
	}
	b, err := io.ReadAll(io.LimitReader(p.in, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("read %s from stdin: %w", label, err)
	}
	if len(b) > maxSecret {
		return "", fmt.Errorf("read %s from stdin: longer than %d bytes", label, maxSecret)
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}
