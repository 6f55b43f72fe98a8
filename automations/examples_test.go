package automations_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// TestExamples parses every automation under examples/automations against the example apps,
// loaded as patchbay loads them.
func TestExamples(t *testing.T) {
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		t.Fatal(err)
	}
	apps, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil || len(apps) == 0 {
		t.Fatalf("no example apps (%v)", err)
	}
	cat := automations.Apps{}
	for _, app := range apps {
		prog, err := connections.LoadApp(reg, filepath.Dir(app))
		if err != nil {
			t.Fatal(err)
		}
		cat[prog.App.Key] = prog
	}
	files, err := filepath.Glob("../examples/automations/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples/automations/*.yaml (%v)", err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := automations.Parse(file, src, cat); err != nil {
			t.Errorf("Parse(%s):\n%v", file, err)
		}
	}
}

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// TestDocExamples parses every automation file in docs/automations.md against the test
// catalog (the chat app the page describes, hackernews and rss).
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/automations.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := yamlBlock.FindAllSubmatchIndex(doc, -1)
	if len(blocks) < 5 {
		t.Fatalf("docs/automations.md has %d yaml blocks, want one per trigger and more", len(blocks))
	}
	cat := testCatalog(t)
	for _, b := range blocks {
		// The lines before the block kept as empty lines: errors name the page's lines.
		src := append(bytes.Repeat([]byte("\n"), bytes.Count(doc[:b[2]], []byte("\n"))), doc[b[2]:b[3]]...)
		if _, err := automations.Parse("docs/automations.md", src, cat); err != nil {
			t.Error(err)
		}
	}
}
