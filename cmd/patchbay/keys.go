package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/patchbay/patchbay/store/keys"
	"github.com/patchbay/patchbay/store/sqlite"
)

var keysCmd = &command{
	Name:    "keys",
	Args:    "rotate",
	Summary: "re-encrypt every stored secret under a new master key",
	Help: `
keys rotate moves the store in the data directory to a new master key: every secret
(credentials, auth client secrets, vault values) is re-encrypted in one transaction, all or
nothing. It prints the new key's id, never the key.

With the key in the key file (<data>/master.key), the new key is written to master.key.new
first and renamed over master.key at the end; an interrupted rotation loses nothing and is
finished by running keys rotate again.

With PATCHBAY_MASTER_KEY set, no file is written: the new key comes from
PATCHBAY_NEW_MASTER_KEY (head -c 32 /dev/urandom | base64). Afterwards put the new key in
PATCHBAY_MASTER_KEY and unset PATCHBAY_NEW_MASTER_KEY.

Stop patchbay serve first, or restart it afterwards: a process that still holds the old key
cannot read or write secrets.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		return func(ctx context.Context, args []string) int {
			return e.dispatch(ctx, fs, args, []subcommand{
				{"rotate", "", nil, e.keysRotate},
			})
		}
	},
}

func (e *env) keysRotate(ctx context.Context, _ []string) int {
	dir, err := e.dataDir()
	if err != nil {
		return e.fail(err)
	}
	// store/keys reads the process environment; so does this check.
	_, fromEnv := os.LookupEnv(keys.EnvMasterKey)
	if _, ok := os.LookupEnv(keys.EnvNewMasterKey); fromEnv && !ok {
		fmt.Fprintf(e.stderr, "error: %s is set, so the new key must come from %s: set it to a new key (head -c 32 /dev/urandom | base64) and run keys rotate again\n", keys.EnvMasterKey, keys.EnvNewMasterKey)
		return exitFailure
	}
	return e.withStore(func(st *sqlite.Store) int {
		nk, err := keys.Rotate(ctx, dir, st)
		if err != nil {
			return e.fail(err)
		}
		fmt.Fprintf(e.stdout, "rotated the master key: every secret is now under key %s\n", nk.ID())
		if fromEnv {
			fmt.Fprintf(e.stderr, "now set %s to the value of %s and unset %s\n", keys.EnvMasterKey, keys.EnvNewMasterKey, keys.EnvNewMasterKey)
		}
		return exitOK
	})
}
