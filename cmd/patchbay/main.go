// Command patchbay checks and runs patchbay apps: integrations described in YAML.
//
//	patchbay validate PATH...     every error as file:line:col
//	patchbay run APP FLOW         run one flow and print its output
//	patchbay help [COMMAND]
//
// main only wires: the block registry, a logger, signals. Each subcommand lives in a file of
// its own and is listed in the commands table below.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Exit codes.
const (
	exitOK      = 0 // success
	exitFailure = 1 // validation errors, a failed run
	exitUsage   = 2 // a bad command line
)

// A command is one subcommand. Setup declares the command's own flags on fs (the global flags
// are already there) and returns the function that runs it with the positional arguments;
// that function returns an exit code.
type command struct {
	Name    string // "run"
	Args    string // "APP FLOW [flags]", for the usage line
	Summary string // one line, for patchbay help
	Help    string // paragraphs after the usage line, for patchbay help NAME
	Setup   func(fs *flag.FlagSet, e *env) func(ctx context.Context, args []string) int
}

// commands lists the subcommands in the order patchbay help shows them. A new subcommand is a
// file defining a *command and one entry here.
var commands = []*command{
	validateCmd,
	runCmd,
	connectCmd,
	connectionsCmd,
	clientsCmd,
	vaultCmd,
	keysCmd,
	appCmd,
	automationsCmd,
	runsCmd,
	serveCmd,
}

// env is what every command gets: its streams, the environment, the global flags and the logger.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	cmd      *command // the command being run
	data     string   // --data
	logLevel string   // --log-level
	log      *slog.Logger
	net      netOptions // the network policy flags of the commands that send requests
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code. Ctrl-C cancels ctx, which ends a
// run in progress with an error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	e := &env{stdin: stdin, stdout: terminalSafe{stdout}, stderr: terminalSafe{stderr}, getenv: getenv, logLevel: "info"}
	// Global flags may come before the command name too: patchbay --data DIR run ...
	top := e.flagSet("patchbay")
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "patchbay: %v\n", err)
		usage(stderr)
		return exitUsage
	}
	args = top.Args()
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, args := args[0], args[1:]
	if name == "help" {
		return e.help(args)
	}
	cmd := lookup(name)
	if cmd == nil {
		fmt.Fprintf(stderr, "patchbay: unknown command %q%s\nRun 'patchbay help' for the list of commands.\n", name, suggestCommand(name))
		return exitUsage
	}
	e.cmd = cmd
	fs := e.flagSet("patchbay " + cmd.Name)
	runCmd := cmd.Setup(fs, e)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			e.commandHelp(stdout, cmd)
			return exitOK
		}
		return e.usageError("%v", err)
	}
	if e.log, err = newLogger(stderr, e.logLevel); err != nil {
		return e.usageError("%v", err)
	}
	if err := e.net.resolve(getenv); err != nil {
		return e.usageError("%v", err)
	}
	return runCmd(ctx, pos)
}

// flagSet returns a flag set with the global flags, which reports errors to run rather than
// printing them.
func (e *env) flagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&e.data, "data", e.data, "the `DIR` of patchbay's database and key file (env PATCHBAY_DATA; default $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay)")
	fs.StringVar(&e.logLevel, "log-level", e.logLevel, "log `LEVEL` on stderr: debug, info, warn or error")
	return fs
}

// parseInterspersed parses flags that may come before, between and after the positional
// arguments (run APP FLOW --trace), as kubectl does; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil // flag.Parse stopped at "--" and dropped it
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newLogger returns a text logger on w at level.
func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag -log-level: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// dataDir returns the directory of patchbay's database and key file: --data, else
// $PATCHBAY_DATA, else $XDG_DATA_HOME/patchbay, else ~/.local/share/patchbay. It does not
// create it; a command that writes there creates it with mode 0700.
func (e *env) dataDir() (string, error) {
	if e.data != "" {
		return e.data, nil
	}
	if d := e.getenv("PATCHBAY_DATA"); d != "" {
		return d, nil
	}
	if d := e.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "patchbay"), nil
	}
	home := e.getenv("HOME")
	if home == "" {
		var err error
		if home, err = os.UserHomeDir(); err != nil {
			return "", fmt.Errorf("data directory: set --data or PATCHBAY_DATA: %w", err)
		}
	}
	return filepath.Join(home, ".local", "share", "patchbay"), nil
}

// newRegistry returns a registry with every core block.
func newRegistry() (*engine.Registry, error) {
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		return nil, fmt.Errorf("register blocks: %w", err)
	}
	return reg, nil
}

// usageError prints a problem with the current command's command line and how to get help,
// and returns exitUsage.
func (e *env) usageError(format string, args ...any) int {
	cmd := e.cmd
	fmt.Fprintf(e.stderr, "patchbay %s: %s\n", cmd.Name, fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "usage: patchbay %s %s\nRun 'patchbay help %s' for details.\n", cmd.Name, cmd.Args, cmd.Name)
	return exitUsage
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// suggestCommand returns ` (did you mean "validate"?)` for a near miss or a prefix, else "".
func suggestCommand(name string) string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.Name
	}
	if s := flows.Suggest(name, names); s != "" {
		return s
	}
	for _, c := range names {
		if name != "" && strings.HasPrefix(c, name) {
			return fmt.Sprintf(" (did you mean %q?)", c)
		}
	}
	return ""
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprint(w, "patchbay runs app integrations described in YAML.\n\nUsage:\n\n\tpatchbay [--data DIR] [--log-level LEVEL] COMMAND [ARGS]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-12s %s\n", c.Name, c.Summary)
	}
	fmt.Fprint(w, "\nRun 'patchbay help COMMAND' for a command's arguments and flags.\n")
}

// help runs patchbay help [COMMAND].
func (e *env) help(args []string) int {
	switch len(args) {
	case 0:
		usage(e.stdout)
		return exitOK
	case 1:
		if cmd := lookup(args[0]); cmd != nil {
			e.commandHelp(e.stdout, cmd)
			return exitOK
		}
		fmt.Fprintf(e.stderr, "patchbay help: unknown command %q%s\n", args[0], suggestCommand(args[0]))
		return exitUsage
	}
	fmt.Fprintln(e.stderr, "usage: patchbay help [COMMAND]")
	return exitUsage
}

// commandHelp prints a command's usage line, its help text, its flags and the global flags.
func (e *env) commandHelp(w io.Writer, cmd *command) {
	fmt.Fprintf(w, "usage: patchbay %s %s\n\n%s\n", cmd.Name, cmd.Args, strings.TrimSpace(cmd.Help))
	fs := e.flagSet("patchbay " + cmd.Name)
	cmd.Setup(fs, e)
	var own, global strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		b := &own
		if globalFlags[f.Name] {
			b = &global
		}
		name, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(b, "  --%s", f.Name)
		if name != "" {
			fmt.Fprintf(b, " %s", name)
		}
		fmt.Fprintf(b, "\n      %s", usage)
		if f.DefValue != "" && f.DefValue != "false" {
			fmt.Fprintf(b, " (default %s)", f.DefValue)
		}
		b.WriteByte('\n')
	})
	if own.Len() > 0 {
		fmt.Fprintf(w, "\nFlags:\n%s", own.String())
	}
	fmt.Fprintf(w, "\nGlobal flags:\n%s", global.String())
}

// globalFlags are the flags every command takes.
var globalFlags = map[string]bool{"data": true, "log-level": true}
