package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/flows"
)

var validateCmd = &command{
	Name:    "validate",
	Args:    "PATH...",
	Summary: "check apps: every error as file:line:col",
	Help: `
Validate loads and compiles every app under each PATH: the YAML, the fields, the blocks and
every {{ template }}. A PATH is an app's folder (it holds app.yaml) or a folder of app folders,
searched recursively; folders named testdata and hidden folders are skipped.

Two apps with the same key are an error naming both app.yaml files: a stored connection
follows the app key. Every problem is printed to stdout as file:line:col: message, sorted, and
the exit status is 1.
When there is none, validate prints one line, such as "ok: 2 apps, 5 flows", and exits 0.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		return func(ctx context.Context, paths []string) int { return e.validate(paths) }
	},
}

func (e *env) validate(paths []string) int {
	if len(paths) == 0 {
		return e.usageError("no PATH given")
	}
	reg, err := newRegistry()
	if err != nil {
		fmt.Fprintf(e.stderr, "error: %v\n", err)
		return exitFailure
	}
	var errs flows.ErrorList
	var dirs []string
	seen := map[string]bool{}
	for _, p := range paths {
		found, err := findApps(p)
		errs.Append(flows.Pos{File: p}, err)
		if err == nil && len(found) == 0 {
			errs.Add(flows.Pos{File: p}, "no app here: an app is a folder with app.yaml")
		}
		for _, d := range found {
			if abs, _ := filepath.Abs(d); !seen[abs] {
				seen[abs] = true
				dirs = append(dirs, d)
			}
		}
	}
	nflows := 0
	keys := map[string]*flows.App{}
	for _, d := range dirs {
		prog, err := connections.LoadApp(reg, d)
		errs.Append(flows.Pos{File: filepath.Join(d, "app.yaml")}, err)
		if prog == nil {
			continue
		}
		nflows += len(prog.App.Flows)
		if app := prog.App; app.Key != "" {
			if first, ok := keys[app.Key]; ok {
				errs.Add(keyPos(app), fmt.Sprintf("app key %q is also the key of %s: a stored connection follows the app key, so the two apps would share connections and credentials; give one another key", app.Key, keyPos(first)))
			} else {
				keys[app.Key] = app
			}
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		for _, er := range errs {
			fmt.Fprintln(e.stdout, er.Error())
		}
		fmt.Fprintf(e.stderr, "%s; %s checked\n", plural(len(errs), "error"), plural(len(dirs), "app"))
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "ok: %s, %s\n", plural(len(dirs), "app"), plural(nflows, "flow"))
	return exitOK
}

// findApps returns the app folders at or under root: root itself when it holds app.yaml (or is
// an app.yaml file), and every folder below with an app.yaml, skipping testdata and hidden
// folders. An app's folder may hold further apps.
func findApps(root string) ([]string, error) {
	st, err := os.Stat(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &flows.Error{Pos: flows.Pos{File: root}, Msg: "no such file or folder"}
		}
		return nil, err
	}
	if !st.IsDir() {
		if filepath.Base(root) == "app.yaml" {
			return []string{filepath.Dir(root)}, nil
		}
		return nil, &flows.Error{Pos: flows.Pos{File: root}, Msg: "not an app: give the app's folder (or its app.yaml)"}
	}
	var out []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if st, err := os.Stat(filepath.Join(path, "app.yaml")); err == nil && !st.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// keyPos is the position of an app's app: key, line 1 when it cannot be found.
func keyPos(app *flows.App) flows.Pos {
	pos := flows.Pos{File: app.File, Line: 1, Col: 1}
	for i, line := range strings.Split(string(app.Files[app.File]), "\n") {
		if strings.HasPrefix(line, "app:") {
			pos.Line = i + 1
			break
		}
	}
	return pos
}

// plural returns "1 app", "2 apps".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
