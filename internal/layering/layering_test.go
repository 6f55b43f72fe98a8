// Package layering holds the test that keeps the dependency direction of DESIGN.md section 2.
package layering

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/patchbay/patchbay/"

// rules: a package (prefix) must not depend, directly or through others, on any of these.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"flows", []string{"engine", "blocks", "connections", "automations", "store", "server", "cmd"}},
	{"engine", []string{"blocks", "connections", "automations", "store", "server", "cmd"}},
	{"blocks", []string{"connections", "automations", "store", "server", "cmd"}},
	{"connections", []string{"blocks", "automations", "store", "server", "cmd"}},
	{"automations", []string{"blocks", "store", "server", "cmd"}},
	{"store", []string{"blocks", "server", "cmd"}},
	{"server", []string{"blocks", "store", "cmd"}},
	// The outbound network policy is a leaf: cmd and a server build their clients with it.
	{"internal/netpolicy", []string{"flows", "engine", "blocks", "connections", "automations", "store", "server", "cmd"}},
}

// Only the store speaks SQL: the SQLite driver is imported by store/sqlite alone.
const sqliteDriver = "github.com/mattn/go-sqlite3"

func TestDependencyDirection(t *testing.T) {
	readSources(t, "../..")
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}} {{join .Deps " "}}`, mod+"...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], mod)
		deps := fields[1:]
		for _, r := range rules {
			if pkg != r.pkg && !strings.HasPrefix(pkg, r.pkg+"/") {
				continue
			}
			seen++
			for _, d := range deps {
				for _, f := range r.forbidden {
					if d == mod+f || strings.HasPrefix(d, mod+f+"/") {
						t.Errorf("%s depends on %s: DESIGN.md section 2 forbids %s -> %s", pkg, strings.TrimPrefix(d, mod), r.pkg, f)
					}
				}
			}
		}
		for _, d := range deps {
			if d == sqliteDriver && !strings.HasPrefix(pkg, "store/sqlite") && !strings.HasPrefix(pkg, "cmd/") {
				t.Errorf("%s depends on %s: only store/sqlite may", pkg, sqliteDriver)
			}
		}
	}
	if seen == 0 {
		t.Fatalf("go list listed none of the project's packages:\n%s", out)
	}
}

// readSources reads every folder and .go file of the module. The answer of `go list` does not
// reach go test's cache key, but what a test opens does: without this, a new import elsewhere
// would be judged by a cached pass.
func readSources(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case e.IsDir() && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules"):
		case e.IsDir():
			readSources(t, p)
		case strings.HasSuffix(name, ".go"):
			if _, err := os.ReadFile(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}
