package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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

--record DIR writes every HTTP response of the run to DIR; --replay DIR answers every request
from such a recording and never uses the network, so a flow can be tried offline:

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
	baseURL   string
	replay    string
	record    string

	connection string
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
	if o.timeout <= 0 {
		return e.usageError("--timeout must be positive")
	}
	if o.baseURL != "" {
		if u, err := url.Parse(o.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return e.usageError("--base-url %q is not an http or https URL", o.baseURL)
		}
	}
	dir, name := args[0], args[1]
	input, err := e.readInputs(o)
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
	opts := engine.Options{
		Input:   input,
		Limits:  engine.Limits{Timeout: o.timeout},
		Logger:  e.log.With("app", prog.App.Key, "flow", name),
		BaseURL: o.baseURL,
	}
	switch {
	case o.replay != "":
		opts.HTTPClient = &http.Client{Transport: &replay.Player{Dir: o.replay}}
	case o.record != "":
		opts.HTTPClient = &http.Client{Transport: &replay.Recorder{Dir: o.record}}
	}
	closeStore, err := e.useConnection(ctx, prog, args[0], o.connection, opts.HTTPClient, &opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	defer closeStore()
	p := &stepPrinter{w: e.stderr, trace: o.trace, json: o.jsonTrace, ascii: e.getenv("TERM") == "dumb"}
	opts.OnStep = p.step
	opts.Trace = o.trace || o.jsonTrace // values only when they are printed
	res, err := prog.Run(ctx, name, opts)
	if err != nil {
		var in flows.InputErrors
		if errors.As(err, &in) {
			for _, ie := range in {
				fmt.Fprintf(e.stderr, "error: %v\n", ie)
			}
		} else {
			fmt.Fprintf(e.stderr, "error: %v\n", err)
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

// readInputs merges --input-file and --input, the latter winning.
func (e *env) readInputs(o *runOptions) (map[string]any, error) {
	in := map[string]any{}
	if o.inputFile != "" {
		var data []byte
		var err error
		if o.inputFile == "-" {
			data, err = io.ReadAll(e.stdin)
		} else {
			data, err = os.ReadFile(o.inputFile)
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
