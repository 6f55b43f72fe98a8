package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

// dbFile is the SQLite database in the data directory.
const dbFile = "patchbay.db"

// openStore opens the store in the data directory, <data>/patchbay.db, creating both on first
// use (the directory with mode 0700). Its secrets are sealed with the master key of
// store/keys: PATCHBAY_MASTER_KEY from the process environment, else <data>/master.key,
// created with mode 0600. The caller closes the store.
func (e *env) openStore() (*sqlite.Store, error) {
	dir, err := e.dataDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	key, err := keys.Load(dir)
	if err != nil {
		return nil, err
	}
	// An empty file is an empty database. Made here, it gets mode 0600, and SQLite gives its
	// -wal and -shm files the database file's mode.
	path := filepath.Join(dir, dbFile)
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return sqlite.Open(path, key, sqlite.WithLogger(e.lifecycleLog()))
}

// newManager returns the connection manager over st. client (e.httpClient) sends the private
// flows' and the refreshes' requests; allow are origins every connection's credentials may go
// to besides its own (run --allow-origin).
func (e *env) newManager(st connections.Store, client *http.Client, allow ...string) *connections.Manager {
	return connections.NewManager(connections.Config{Store: st, HTTPClient: client, Logger: e.lifecycleLog(), AllowOrigins: allow})
}

// lifecycleLog is the logger of the store and the manager. The commands print what happened
// themselves (connected ..., deleted ...), so at the default level their lifecycle lines
// (schema migrated, connection created, token refreshed) are left out: --log-level debug
// shows them. Warnings and errors are always shown.
func (e *env) lifecycleLog() *slog.Logger {
	if e.logLevel == "info" {
		if l, err := newLogger(e.stderr, "warn"); err == nil {
			return l
		}
	}
	return e.log
}

// loadApp loads the app in dir (or the folder of dir when it names an app.yaml), with the
// built-in private flows its connection needs. On error it prints every problem to stderr.
func (e *env) loadApp(dir string) (*engine.Program, bool) {
	reg, err := newRegistry()
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return nil, false
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() && filepath.Base(dir) == "app.yaml" {
		dir = filepath.Dir(dir)
	}
	prog, err := connections.LoadApp(reg, dir)
	if err != nil {
		printErrors(e.stderr, err)
		return nil, false
	}
	return prog, true
}

// findConnection returns the connection called name in the default workspace; app, when not
// "", is the key of the app it must belong to. The error says what there is instead.
func findConnection(ctx context.Context, st connections.Store, name, app string) (*connections.Record, error) {
	// By name first: only this record is decrypted, so another that cannot be (a damaged
	// page) stops nothing but itself. The listing below says what there is instead.
	rec, err := st.Connection(ctx, connections.DefaultWorkspace, name)
	if err == nil && (app == "" || rec.App == app) {
		return rec, nil
	}
	var mismatch *keys.MismatchError
	if errors.Is(err, keys.ErrCorrupt) || errors.As(err, &mismatch) {
		return nil, err // this record's credentials cannot be read
	}
	recs, err := st.Connections(ctx, connections.DefaultWorkspace)
	if err != nil {
		return nil, err
	}
	var found, others []*connections.Record
	var names []string
	for _, r := range recs {
		if r.Name != name {
			if !slices.Contains(names, r.Name) {
				names = append(names, r.Name)
			}
			continue
		}
		if app == "" || r.App == app {
			found = append(found, r)
		} else {
			others = append(others, r)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], nil
	case len(found) > 1:
		apps := make([]string, len(found))
		for i, r := range found {
			apps[i] = r.App
		}
		return nil, fmt.Errorf("connection %q is ambiguous: apps %s each have one of that name; give --app APP", name, strings.Join(apps, ", "))
	case len(others) > 0:
		return nil, fmt.Errorf("connection %q belongs to app %s, not %s", name, others[0].App, app)
	}
	return nil, fmt.Errorf("no connection named %q%s (patchbay connections list shows them)", name, flows.Suggest(name, names))
}
