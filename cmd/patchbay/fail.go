package main

import (
	"errors"
	"fmt"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/sqlite"
)

// fail prints err as "error: ..." to stderr and returns exitFailure.
func (e *env) fail(err error) int {
	fmt.Fprintf(e.stderr, "error: %v\n", err)
	return exitFailure
}

// failNotFound is fail, except that an ErrNotFound is printed as "error: " and the message
// format makes of args.
func (e *env) failNotFound(err error, format string, args ...any) int {
	if errors.Is(err, connections.ErrNotFound) {
		fmt.Fprintf(e.stderr, "error: %s\n", fmt.Sprintf(format, args...))
		return exitFailure
	}
	return e.fail(err)
}

// withStore opens the store in the data directory, runs fn with it and closes it. A store
// that does not open fails the command before fn runs.
func (e *env) withStore(fn func(st *sqlite.Store) int) int {
	st, err := e.openStore()
	if err != nil {
		return e.fail(err)
	}
	defer st.Close()
	return fn(st)
}

// optionalApp loads the app in dir for an optional --app flag: with dir "" there is no app,
// a nil program and key "". On error it prints every problem and ok is false.
func (e *env) optionalApp(dir string) (prog *engine.Program, key string, ok bool) {
	if dir == "" {
		return nil, "", true
	}
	if prog, ok = e.loadApp(dir); !ok {
		return nil, "", false
	}
	return prog, prog.App.Key, true
}
