package blocks_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
)

// ctlApp is an app loaded from YAML written to a temporary folder, for the control-flow tests.
type ctlApp struct {
	t    testing.TB
	dir  string
	prog *engine.Program
}

// ctlRegistry returns a fresh registry with the core blocks and extra types.
func ctlRegistry(t testing.TB, extra ...engine.BlockType) *engine.Registry {
	t.Helper()
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	for _, bt := range extra {
		if err := reg.Register(bt); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// ctlLoadApp writes src as app.yaml and loads it; the error's text has the folder removed, so
// positions read app.yaml:line:col.
func ctlLoadApp(t testing.TB, src string, extra ...engine.BlockType) (*ctlApp, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	prog, err := engine.Load(ctlRegistry(t, extra...), dir)
	a := &ctlApp{t: t, dir: dir, prog: prog}
	if err != nil {
		return a, a.rel(err)
	}
	return a, ""
}

// ctlLoad loads src and fails the test on a load error.
func ctlLoad(t testing.TB, src string, extra ...engine.BlockType) *ctlApp {
	t.Helper()
	a, err := ctlLoadApp(t, src, extra...)
	if err != "" {
		t.Fatalf("load: %s", err)
	}
	return a
}

func (a *ctlApp) rel(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), a.dir+string(filepath.Separator), "")
}

// run runs flow with a trace and returns the result and the error's text ("" for none), folder
// removed.
func (a *ctlApp) run(flow string, opts engine.Options) (*engine.Result, string) {
	a.t.Helper()
	opts.Trace = true
	res, err := a.prog.Run(context.Background(), flow, opts)
	return res, a.rel(err)
}

// ctlTrace returns "path=status" for every step of a trace, in the order the steps started.
func ctlTrace(res *engine.Result) []string {
	if res == nil {
		return nil
	}
	out := make([]string, len(res.Trace))
	for i, tr := range res.Trace {
		out[i] = tr.Path + "=" + tr.Status
	}
	return out
}
