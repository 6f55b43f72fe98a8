package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/engine/replay"
	"github.com/patchbay/patchbay/flows"
)

// useConnection gives a run of prog (loaded from dir) the stored connection name: its Conn
// (which puts the credentials and request defaults on every request and refreshes tokens),
// the template value connection, the vault and the secrets to redact, merged into opts.
// client sends the refreshes; a --record client's token requests are not
// recorded, and with a --replay client the connection requests no token and is not changed.
// allow are origins the credentials may go to besides those the connection is bound to.
// The returned func closes the store once the run is over.
//
// Without a name, an app that needs a connection still runs, unauthenticated, after a warning,
// with the vault of the workspace (see useVault).
func (e *env) useConnection(ctx context.Context, prog *engine.Program, dir, name string, allow []string, client *http.Client, opts *engine.Options) (func(), error) {
	if name == "" {
		if c := prog.App.Connection; c != nil && c.Type != flows.ConnNone {
			fmt.Fprintf(e.stderr, "warning: app %s connects with %s, but no --connection was given: its requests go without credentials\n", prog.App.Key, c.Type)
		}
		return func() {}, e.useVault(ctx, prog, opts)
	}
	st, err := e.openStore()
	if err != nil {
		return nil, err
	}
	rec, err := findConnection(ctx, st, name, prog.App.Key)
	if err != nil {
		st.Close()
		return nil, err
	}
	if _, replayed := client.Transport.(*replay.Player); !replayed {
		e.warnStandIns(rec)
	}
	m := e.newManager(st, client, allow...)
	switch t := client.Transport.(type) {
	case *replay.Recorder:
		// A recording keeps response bodies in clear: the token endpoint's holds the
		// tokens. Token requests go out, unrecorded, through the recorder's own transport.
		m = e.newManager(st, &http.Client{Transport: t.Transport}, allow...)
	case *replay.Player:
		// Replayed responses do not care for credentials, and a token replayed from a
		// recording must not be saved over the live connection's.
		m = connections.NewManager(connections.Config{Store: st, Logger: e.lifecycleLog(), NoRefresh: true, AllowOrigins: allow})
	}
	co, err := m.RunOptions(ctx, prog, rec)
	if err != nil {
		st.Close()
		if errors.Is(err, connections.ErrDisconnected) {
			return nil, fmt.Errorf("%w\n%s", err, reconnectHint(dir, rec.Name))
		}
		return nil, err
	}
	opts.Conn, opts.Connection, opts.Vault = co.Conn, co.Connection, co.Vault
	opts.Secrets = append(opts.Secrets, co.Secrets...)
	return func() { st.Close() }, nil
}

// reconnectHint says how to connect a disconnected connection again.
func reconnectHint(dir, name string) string {
	return fmt.Sprintf("to connect it again: patchbay connect %s --name %s", dir, name)
}

// useVault gives a run of prog without a connection the vault of the workspace: the app's
// secrets over the workspace's. Without a store in the data directory the vault is empty, and
// none is created for it.
func (e *env) useVault(ctx context.Context, prog *engine.Program, opts *engine.Options) error {
	dir, err := e.dataDir()
	if err != nil {
		return nil // no data directory: no store, and so no vault
	}
	if _, err := os.Stat(filepath.Join(dir, dbFile)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	wo, err := e.newManager(st, nil).WorkspaceOptions(ctx, connections.DefaultWorkspace, prog)
	if err != nil {
		return err
	}
	opts.Vault, opts.Redactor = wo.Vault, wo.Redactor
	return nil
}
