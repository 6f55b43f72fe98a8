package flows

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/*.golden)")

// TestGolden parses every testdata/<case>.yaml as an app.yaml and compares the errors, one
// file:line:col: message per line, with testdata/<case>.golden. Cases named valid_* must load
// without error. go test ./flows -update rewrites the golden files.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.yaml")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := errorLines(t, file, src)
			if strings.HasPrefix(name, "valid_") && got != "" {
				t.Errorf("Parse(%s): want no errors, got\n%s", file, got)
			}
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./flows -update)", err)
			}
			if got != string(want) {
				t.Errorf("Parse(%s) errors:\n%s\nwant (%s):\n%s", file, got, golden, want)
			}
		})
	}
}

// errorLines parses src as file and returns its errors one per line, each line ending in "\n".
func errorLines(t *testing.T, file string, src []byte) string {
	t.Helper()
	app, err := Parse(file, src)
	if err == nil {
		if app == nil {
			t.Errorf("Parse(%s) = nil, nil", file)
		}
		return ""
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse(%s) error %T is not an ErrorList: %v", file, err, err)
	}
	var b strings.Builder
	for _, e := range list {
		if e.Pos.File != file || e.Pos.Line < 1 || e.Pos.Col < 1 {
			t.Errorf("Parse(%s): error without a full position: %v", file, e)
		}
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}
