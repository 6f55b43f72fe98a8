package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// appsDirName is the folder of the apps automations use, in the data directory (--apps).
const appsDirName = "apps"

// catalog is the apps automations may use: every app folder under the apps directory, loaded
// with connections.LoadApp. It implements automations.Catalog.
type catalog struct {
	dir    string
	apps   automations.Apps // by app key
	broken []appProblem     // folders whose app did not load, by folder
}

// appProblem is an app folder that did not load, and why (every problem as file:line:col).
type appProblem struct {
	dir string
	err error
}

// App returns the app with key, or nil.
func (c *catalog) App(key string) *engine.Program { return c.apps[key] }

// Keys returns the loaded apps' keys, sorted: automations.Parse suggests one of them for an
// unknown app.
func (c *catalog) Keys() []string { return c.apps.Keys() }

// printBroken prints each app that did not load, every problem on a line of its own.
func (c *catalog) printBroken(w io.Writer) {
	for _, b := range c.broken {
		fmt.Fprintf(w, "app %s does not load:\n", b.dir)
		printErrors(w, b.err)
	}
}

// loadCatalog loads the catalog of --apps (flagValue), else of <data>/apps.
func (e *env) loadCatalog(flagValue string) (*catalog, error) {
	dir := flagValue
	if dir == "" {
		data, err := e.dataDir()
		if err != nil {
			return nil, err
		}
		dir = filepath.Join(data, appsDirName)
	}
	return loadCatalogDir(dir)
}

// loadCatalogDir loads every app under dir (testdata and hidden folders skipped, as validate
// does). An app that does not load is kept in broken; two folders of one app key are an
// error of the second. A missing apps directory is an empty catalog.
func loadCatalogDir(dir string) (*catalog, error) {
	c := &catalog{dir: dir, apps: automations.Apps{}}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	dirs, err := findApps(dir)
	if err != nil {
		return nil, fmt.Errorf("apps directory: %w", err)
	}
	reg, err := newRegistry()
	if err != nil {
		return nil, err
	}
	seen := map[string]string{} // app key -> its folder
	for _, d := range dirs {
		prog, err := connections.LoadApp(reg, d)
		if err != nil {
			c.broken = append(c.broken, appProblem{d, err})
			continue
		}
		key := prog.App.Key
		if other, dup := seen[key]; dup {
			c.broken = append(c.broken, appProblem{d, fmt.Errorf("%s: app %q is in %s already", filepath.Join(d, "app.yaml"), key, other)})
			continue
		}
		seen[key] = d
		c.apps[key] = prog
	}
	return c, nil
}
