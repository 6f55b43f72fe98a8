package connections_test

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/connections"
)

// docBlock is a fenced yaml block of a Markdown file and the line its text starts on.
type docBlock struct {
	line int
	src  string
}

// yamlBlocks returns the ```yaml blocks of a Markdown file.
func yamlBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []docBlock
	var cur *docBlock
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```yaml":
			cur = &docBlock{line: n + 1}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.src += line + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s:%d: a yaml block is not closed", path, cur.line-1)
	}
	return out
}

// docFlowsHost is the app a doc block of private flows (a flow file, as auth.yaml) is loaded with.
const docFlowsHost = `app: host
version: 1
base_url: https://api.example.com
connection:
  type: oauth2
  authorize_url: https://example.com/authorize
  token_url: https://example.com/token
`

// TestConnectionsDocExamples loads every example of docs/connections.md with the core blocks: a
// block that starts with app: as an app.yaml, one that starts with flows: as the auth.yaml of
// an oauth2 app. Together the apps show every connection type.
func TestConnectionsDocExamples(t *testing.T) {
	const doc = "../docs/connections.md"
	var types []string
	apps := 0
	for _, b := range yamlBlocks(t, doc) {
		files := map[string]string{}
		switch {
		case strings.HasPrefix(b.src, "app:"):
			files["app.yaml"] = b.src
			apps++
		case strings.HasPrefix(b.src, "flows:"):
			files["app.yaml"], files["auth.yaml"] = docFlowsHost, b.src
		default:
			continue // a fragment
		}
		dir := t.TempDir()
		for name, src := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		prog, err := connections.LoadApp(tkRegistry(t), dir)
		if err != nil {
			t.Errorf("%s:%d: the example does not load:\n%s", doc, b.line, strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), ""))
			continue
		}
		if files["auth.yaml"] == "" {
			types = append(types, prog.App.Connection.String())
		}
	}
	for _, want := range []string{"none", "fields", "basic", "api_key", "oauth2 (authorization_code)", "oauth2 (client_credentials)", "oauth1", "token"} {
		if !slices.Contains(types, want) {
			t.Errorf("%s has no example app with a connection of type %s (it has %q)", doc, want, types)
		}
	}
	if apps < 8 {
		t.Errorf("%s has %d example apps, want at least one per connection type", doc, apps)
	}
}
