package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/engine/replay"
	"github.com/patchbay/patchbay/flows"
)

var runCmd = &command{
	Name:    "run",
	Args:    "APP FLOW [--input name=value]... [flags]",
	Summary: "run one flow of an app and print its output",
	Help: `
Run loads the app in the folder APP, runs its flow FLOW once and prints the flow's output to
stdout as JSON. Each step is shown on stderr as it ends: ✓ when it succeeded, ✗ when it failed,
- when its when: condition skipped it, ! when it failed and on_error: continue went on.
Secrets (sensitive inputs, tokens) are [redacted] in everything printed.

Inputs are given as --input name=value, once per input; the value is read as the flow declares
the input (integer, boolean, a JSON object or array ...). --input-file reads a JSON object of
inputs; --input overrides its keys.

Exit status: 0 when the flow succeeded, 1 when the app does not load, an input is wrong or the
run failed (error: says which step, where, and why), 2 for a bad command line.

A run is bounded (10 MiB per response, 10000 items per loop, 10000 steps, 64 MiB of step
outputs, --timeout); the --max-* flags raise a bound for a rare big job. Requests may reach every
address unless --deny-private-networks is given: then loopback, private, link-local and cloud
metadata addresses are refused, except the networks of --allow-network (docs/security.md).
--map-origin FROM=TO sends the requests to the origin FROM to a test server at TO instead
(docs/cli.md: Testing against a stand-in).

--record DIR writes every HTTP response of the run to DIR, redacted as the trace is (a secret
the run knows, tokens it obtained included, is [redacted] in bodies, headers and URLs);
--replay DIR answers every request from such a recording and never uses the network, so a
flow can be tried offline:

	patchbay run examples/hackernews top_stories --input limit=3 \
	    --replay examples/hackernews/testdata/replay --trace`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &runOptions{inputs: map[string]any{}}
		fs.Func("input", "an input of the flow as `name=value` (repeatable); the value is read as the input's declared type", o.addInput)
		fs.StringVar(&o.inputFile, "input-file", "", "read inputs from the JSON object in `FILE` (- for stdin); --input overrides its keys")
		fs.BoolVar(&o.trace, "trace", false, fmt.Sprintf("print each step's input and output (redacted, as JSON, each cut past %d KiB) under its line", engine.DefaultLimits.MaxTraceValueBytes>>10))
		fs.BoolVar(&o.jsonTrace, "json-trace", false, "print each step to stderr as one JSON object per line instead (path, block, status, duration in ns, input, output, error, pos)")
		fs.DurationVar(&o.timeout, "timeout", engine.DefaultLimits.Timeout, "stop the run after `D`, a duration such as 30s or 2m")
		fs.StringVar(&o.baseURL, "base-url", "", "send requests to `URL` instead of the app's base_url (a sandbox, a staging server)")
		fs.StringVar(&o.replay, "replay", "", "answer HTTP requests from the recordings in `DIR`, without the network")
		fs.StringVar(&o.record, "record", "", "record every HTTP response to `DIR`, for --replay")
		fs.StringVar(&o.connection, "connection", "", "sign the requests with the stored connection `NAME` (see patchbay connect)")
		d := engine.DefaultLimits
		fs.Int64Var(&o.limits.MaxResponseBytes, "max-response-bytes", d.MaxResponseBytes, "read at most `N` bytes of one HTTP response body")
		fs.IntVar(&o.limits.MaxIterations, "max-iterations", d.MaxIterations, "loop over at most `N` items in one loop")
		fs.Int64Var(&o.limits.MaxSteps, "max-steps", d.MaxSteps, "run at most `N` steps, nested steps and called flows included")
		fs.Int64Var(&o.limits.MaxOutputBytes, "max-output-bytes", d.MaxOutputBytes, "keep at most `N` bytes of step outputs in the run, all steps together")
		e.netFlags(fs)
		fs.Func("allow-origin", "let the connection's credentials go to `ORIGIN` (scheme://host[:port]) for this run as well as to the origins it was connected at (repeatable)", o.addOrigin)
		return func(ctx context.Context, args []string) int { return e.runFlow(ctx, o, args) }
	},
}

// runOptions are run's flags.
type runOptions struct {
	inputs    map[string]any
	inputFile string
	trace     bool
	jsonTrace bool
	timeout   time.Duration
	limits    engine.Limits // Timeout aside: timeout
	baseURL   string
	replay    string
	record    string

	connection string
	allow      []string // --allow-origin, as engine.Origin writes them
}

func (o *runOptions) addOrigin(s string) error {
	origin, err := engine.ParseOrigin(s)
	if err != nil {
		return err
	}
	o.allow = append(o.allow, origin)
	return nil
}

func (o *runOptions) addInput(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, found %q", s)
	}
	o.inputs[k] = v
	return nil
}

func (e *env) runFlow(ctx context.Context, o *runOptions, args []string) int {
	if len(args) != 2 {
		return e.usageError("want APP and FLOW, found %d arguments", len(args))
	}
	if o.replay != "" && o.record != "" {
		return e.usageError("--replay and --record exclude each other")
	}
	if o.replay != "" && len(e.net.origins.from) > 0 {
		return e.usageError("--replay and --map-origin exclude each other: a replayed run sends no request")
	}
	if o.timeout <= 0 {
		return e.usageError("--timeout must be positive")
	}
	l := o.limits
	for _, f := range []struct {
		name string
		v    int64
	}{{"max-response-bytes", l.MaxResponseBytes}, {"max-iterations", int64(l.MaxIterations)}, {"max-steps", l.MaxSteps}, {"max-output-bytes", l.MaxOutputBytes}} {
		if f.v <= 0 {
			return e.usageError("--%s must be positive", f.name)
		}
	}
	if o.baseURL != "" {
		if u, err := url.Parse(o.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return e.usageError("--base-url %q is not an http or https URL", o.baseURL)
		}
	}
	dir, name := args[0], args[1]
	input, err := e.readInputs(ctx, o)
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	reg, err := newRegistry()
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() && filepath.Base(dir) == "app.yaml" {
		dir = filepath.Dir(dir)
	}
	prog, err := connections.LoadApp(reg, dir)
	if err != nil {
		printErrors(e.stderr, err)
		return exitFailure
	}
	limits := o.limits
	limits.Timeout = o.timeout
	opts := engine.Options{
		Input:   input,
		Limits:  limits,
		Logger:  e.log.With("app", prog.App.Key, "flow", name),
		BaseURL: o.baseURL,
	}
	var recorder *replay.Recorder
	switch {
	case o.replay != "":
		opts.HTTPClient = &http.Client{Transport: &replay.Player{Dir: o.replay}}
	case o.record != "":
		recorder = &replay.Recorder{Dir: o.record, Transport: e.httpClient().Transport}
		opts.HTTPClient = &http.Client{Transport: recorder}
	default:
		opts.HTTPClient = e.httpClient()
	}
	if len(o.allow) > 0 && o.connection == "" {
		return e.usageError("--allow-origin needs --connection: it lets a connection's credentials go to another origin")
	}
	closeStore, err := e.useConnection(ctx, prog, args[0], o.connection, o.allow, opts.HTTPClient, &opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	defer closeStore()
	p := &stepPrinter{w: e.stderr, trace: o.trace, json: o.jsonTrace, ascii: e.getenv("TERM") == "dumb", origins: &e.net.origins}
	opts.OnStep = p.step
	opts.Trace = o.trace || o.jsonTrace // values only when they are printed
	res, err := prog.Run(ctx, name, opts)
	if recorder != nil && res != nil {
		// The secrets the run learnt after a response came: the recorder knew only the earlier.
		if rerr := recorder.Redact(res.Redactor); rerr != nil {
			fmt.Fprintf(e.stderr, "error: --record: %v\n", rerr)
			return exitFailure
		}
	}
	if err != nil {
		var in flows.InputErrors
		if errors.As(err, &in) {
			for _, ie := range in {
				fmt.Fprintf(e.stderr, "error: %v\n", ie)
			}
		} else {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
		}
		var le *engine.LimitError
		if errors.As(err, &le) && limitFlags[le.Limit] != "" {
			fmt.Fprintf(e.stderr, "a rare big job may raise the limit: --%s N\n", limitFlags[le.Limit])
		}
		return exitFailure
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res.Redactor.Value(res.Output)); err != nil {
		fmt.Fprintf(e.stderr, "error: print output: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// limitFlags are the flags of run that set each engine.LimitError.Limit.
var limitFlags = map[string]string{
	"steps":          "max-steps",
	"iterations":     "max-iterations",
	"response_bytes": "max-response-bytes",
	"output_bytes":   "max-output-bytes",
}

// maxInputFile bounds --input-file.
const maxInputFile = 16 << 20

// readInputs merges --input-file and --input, the latter winning. Ctrl-C stops the wait for
// a pipe's writer or for stdin: the read goes on in the background until the process exits.
func (e *env) readInputs(ctx context.Context, o *runOptions) (map[string]any, error) {
	in := map[string]any{}
	if o.inputFile != "" {
		type read struct {
			data []byte
			err  error
		}
		done := make(chan read, 1)
		go func() {
			data, err := e.readInputFile(o.inputFile)
			done <- read{data, err}
		}()
		var data []byte
		var err error
		select {
		case r := <-done:
			data, err = r.data, r.err
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("--input-file: %w", err)
		}
		if err := json.Unmarshal(data, &in); err != nil || in == nil {
			if err == nil {
				err = errors.New("found null")
			}
			return nil, fmt.Errorf("--input-file %s: want a JSON object of inputs: %v", o.inputFile, err)
		}
	}
	for k, v := range o.inputs {
		in[k] = v
	}
	return in, nil
}

// readInputFile reads --input-file: a regular file, or a pipe (- for stdin, <(command) in the
// shell), of at most maxInputFile bytes. A device (/dev/zero), a folder or a socket is refused,
// before it is opened and again once it is.
func (e *env) readInputFile(name string) ([]byte, error) {
	r, label := e.stdin, "stdin"
	if name != "-" {
		label = name
		if st, err := os.Stat(name); err == nil { // else open says what is wrong
			if err := inputFileKind(name, st); err != nil {
				return nil, err
			}
		}
		f, err := os.Open(name) // a named pipe waits for its writer here, as cat's would
		if err != nil {
			return nil, err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, err
		}
		if err := inputFileKind(name, st); err != nil {
			return nil, err
		}
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxInputFile {
		return nil, fmt.Errorf("%s holds more than the limit of %d bytes", label, maxInputFile)
	}
	return data, nil
}

// inputFileKind refuses an --input-file that is neither a regular file nor a pipe.
func inputFileKind(name string, st fs.FileInfo) error {
	if m := st.Mode(); !m.IsRegular() && m.Type() != fs.ModeNamedPipe {
		return fmt.Errorf("%s is not a file or a pipe but %s", name, flows.FileKind(m))
	}
	return nil
}

// printErrors prints a load error one problem per line, as validate does.
func printErrors(w io.Writer, err error) {
	var list flows.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintln(w, err.Error())
}
