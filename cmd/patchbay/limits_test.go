package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// --input-file reads a regular file or a pipe, and at most 16 MiB of either: /dev/zero made
// the process die out of memory, an endless stdin too.
func TestRunInputFileLimits(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": "app: echo\nflows:\n  echo:\n    inputs: {x: {type: string}}\n    output: \"{{ input.x }}\"\n"})
	fifo := filepath.Join(t.TempDir(), "inputs")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	go func() {
		// The writer end: run's open waits for it, as the shell's <(command) provides one.
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		f.WriteString(`{"x": "from a pipe"}`)
	}()
	tests := []struct {
		name  string
		stdin string
		file  string
		code  int
		out   string // stdout when code is 0, else the last line of stderr
	}{
		{"device", "", "/dev/zero", 1, "error: --input-file: /dev/zero is not a file or a pipe but a device"},
		{"folder", "", dir, 1, "error: --input-file: " + dir + " is not a file or a pipe but a folder"},
		{"stdin past the limit", strings.Repeat(" ", maxInputFile+1), "-", 1, "error: --input-file: stdin holds more than the limit of 16777216 bytes"},
		{"stdin", `{"x": "from stdin"}`, "-", 0, "\"from stdin\"\n"},
		{"named pipe", "", fifo, 0, "\"from a pipe\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, tt.stdin, "run", dir, "echo", "--input-file", tt.file)
			got := r.stdout
			if tt.code != 0 {
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				got = lines[len(lines)-1]
			}
			if r.code != tt.code || got != tt.out {
				t.Errorf("run --input-file %s = %d, stdout %q, stderr:\n%s\nwant %d and %q", tt.file, r.code, r.stdout, r.stderr, tt.code, tt.out)
			}
		})
	}
}

// validate refuses an app.yaml that is a named pipe instead of waiting for a writer forever.
func TestValidateNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "app.yaml"), 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	r := cli(t, nil, "", "validate", dir)
	want := filepath.Join(dir, "app.yaml") + ": not a regular file but a named pipe\n"
	if r.code != 1 || r.stdout != want {
		t.Errorf("validate = %d, stdout %q, stderr %q, want 1 and %q", r.code, r.stdout, r.stderr, want)
	}
}

// run's limit flags raise the limits of engine.DefaultLimits for a big job, and a run stopped
// by a limit says which flag raises it.
func TestRunLimitFlags(t *testing.T) {
	big := `{"data":"` + strings.Repeat("x", 11<<20) + `"}` // past the 10 MiB of a response
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, big)
	}))
	t.Cleanup(ts.Close)
	dir := writeApp(t, "", map[string]string{"app.yaml": `app: big
base_url: ` + ts.URL + `
flows:
  download:
    steps:
      - id: get
        call_api: {method: GET, path: /export}
    output: "{{ len(steps.get.body.data) }}"
  loop:
    inputs: {n: {type: integer}}
    steps:
      - id: each
        foreach:
          items: "{{ 1..input.n }}"
          steps:
            - id: s
              set: {x: "{{ item }}"}
          output: "{{ item }}"
    output: "{{ len(steps.each) }}"
`})
	tests := []struct {
		name string
		args []string
		code int
		out  string // stdout when code is 0, else the last two lines of stderr
	}{
		{"response default", []string{"download"}, 1,
			`limit exceeded: the response body of GET ` + ts.URL + `/export is larger (at most 10485760 response_bytes)` + "\n" +
				"a rare big job may raise the limit: --max-response-bytes N"},
		{"response raised", []string{"download", "--max-response-bytes", "12000000"}, 0, fmt.Sprintln(11 << 20)},
		{"iterations default", []string{"loop", "--input", "n=10001"}, 1,
			`limit exceeded: a loop over 10001 items (at most 10000 iterations)` + "\n" +
				"a rare big job may raise the limit: --max-iterations N"},
		{"steps default", []string{"loop", "--input", "n=10001", "--max-iterations", "10001"}, 1,
			`limit exceeded: too many steps in one run (at most 10000 steps)` + "\n" +
				"a rare big job may raise the limit: --max-steps N"},
		{"iterations and steps raised", []string{"loop", "--input", "n=10001", "--max-iterations", "10001", "--max-steps", "20002"}, 0, "10001\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"run", dir}, tt.args...)...)
			got := r.stdout
			if tt.code != 0 {
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				got = lines[len(lines)-2] + "\n" + lines[len(lines)-1]
				got = got[strings.Index(got, "limit exceeded"):]
			}
			if r.code != tt.code || got != tt.out {
				t.Errorf("run %v = %d, stdout %.200q, stderr (end):\n%s\nwant %d and\n%s", tt.args, r.code, r.stdout, tail(r.stderr), tt.code, tt.out)
			}
		})
	}
	for _, f := range []string{"max-response-bytes", "max-iterations", "max-steps", "max-output-bytes"} {
		r := cli(t, nil, "", "run", dir, "loop", "--"+f, "0")
		if first, _, _ := strings.Cut(r.stderr, "\n"); r.code != exitUsage || first != "patchbay run: --"+f+" must be positive" {
			t.Errorf("run --%s 0 = %d, stderr %q, want %d and a usage error", f, r.code, r.stderr, exitUsage)
		}
	}
}

// tail returns the last lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-3):], "\n")
}

// Ctrl-C ends a run that waits for --input-file's pipe to get a writer (or for stdin): the
// wait ignored the signal.
func TestRunInputFileWaitCanceled(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": "app: echo\nflows:\n  echo:\n    output: 1\n"})
	fifo := filepath.Join(t.TempDir(), "inputs")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	t.Cleanup(func() {
		// A writer that comes and goes lets the background open and read end.
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupt signal received"))
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"run", dir, "echo", "--input-file", fifo}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if want := "error: --input-file: interrupt signal received\n"; code != 1 || errOut.String() != want {
		t.Errorf("run = %d, stderr %q, want 1 and %q", code, errOut.String(), want)
	}
}

// connect reads piped answers a line at a time, and a line of at most 1 MiB: stdin from
// /dev/zero, one endless line, took all of the memory.
func TestConnectAnswerLineLimit(t *testing.T) {
	noMasterKey(t)
	ts, calls := keyAPI(t)
	dir := keyApp(t, ts.URL)
	data := t.TempDir()
	r := cli(t, nil, "eu\n"+strings.Repeat("k", maxSecret+1), "--data", data, "connect", dir)
	if want := "error: read api_key: a line of stdin is longer than 1048576 bytes\nnothing was stored\n"; r.code != 1 || !strings.HasSuffix(r.stderr, want) {
		t.Errorf("connect with a long line = %d, stderr (end) %q, want 1 and ending %q", r.code, tail(r.stderr), want)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the API got %d requests, want none", n)
	}
	// A line of exactly the limit is an answer.
	r = cli(t, nil, "eu\n"+strings.Repeat("k", maxSecret)+"\r\n", "--data", data, "connect", dir)
	if want := "connection test failed, nothing was stored"; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("connect with a line of 1 MiB = %d, stderr (end) %q, want 1 and the key refused by the API", r.code, tail(r.stderr))
	}
}
