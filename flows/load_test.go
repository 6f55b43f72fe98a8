package flows

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeApp writes files (name -> content) into a new folder and returns it.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadApp(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string // errors with the folder shown as DIR
		flows []string
	}{
		{
			name: "flows in extra files, in name order",
			files: map[string]string{
				"app.yaml":   "app: demo\nflows:\n  test:\n    output: 1\n",
				"b.yaml":     "flows:\n  second:\n    output: 2\n",
				"a.yaml":     "description: more flows\nflows:\n  first:\n    output: 3\n",
				"notes.txt":  "not yaml: [",
				"readme.yml": "not read: [",
			},
			flows: []string{"test", "first", "second"},
		},
		{
			name: "a flow defined in two files",
			files: map[string]string{
				"app.yaml":   "app: demo\nflows:\n  list:\n    output: 1\n",
				"more.yaml":  "flows:\n  other:\n    output: 1\n  list:\n    output: 2\n",
				"other.yaml": "flows:\n  other:\n    output: 3\n",
			},
			want: "DIR/more.yaml:4:3: flow \"list\" is defined twice (first at DIR/app.yaml:3:3)\n" +
				"DIR/other.yaml:2:3: flow \"other\" is defined twice (first at DIR/more.yaml:2:3)",
			flows: []string{"list", "other"},
		},
		{
			name: "a flow file without flows",
			files: map[string]string{
				"app.yaml":  "app: demo\nflows: {}\n",
				"more.yaml": "description: nothing\n",
				"bad.yaml":  "flow:\n  x: {output: 1}\n",
			},
			want: "DIR/bad.yaml:1:1: flow file: no flows: mapping\n" +
				"DIR/bad.yaml:1:1: flow file: unknown field \"flow\" (did you mean \"flows\"?)\n" +
				"DIR/more.yaml:1:1: flow file: no flows: mapping",
		},
		{
			name: "errors of every file together",
			files: map[string]string{
				"app.yaml":  "app: demo\nflows:\n  a:\n    kind: akshun\n    output: 1\n",
				"more.yaml": "flows:\n  b:\n    steps: {}\n",
				"zz.yaml":   "flows: [\n",
			},
			want: "DIR/app.yaml:4:11: kind \"akshun\" is not one of action, trigger, private\n" +
				"DIR/more.yaml:3:12: steps must be a list, found a mapping\n" +
				"DIR/zz.yaml:1:1: invalid YAML: did not find expected node content",
			flows: []string{"a", "b"},
		},
		{
			name:  "no app.yaml",
			files: map[string]string{"flows.yaml": "flows: {}\n"},
			want:  "DIR/app.yaml: no such file: an app is a folder with app.yaml",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeApp(t, tt.files)
			app, err := LoadApp(dir)
			got := ""
			if err != nil {
				got = strings.ReplaceAll(err.Error(), dir, "DIR")
			}
			if got != tt.want {
				t.Errorf("LoadApp errors:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.flows != nil {
				if app == nil {
					t.Fatalf("LoadApp returned no app")
				}
				if got := strings.Join(app.FlowNames(), ","); got != strings.Join(tt.flows, ",") {
					t.Errorf("FlowNames() = %s, want %s", got, strings.Join(tt.flows, ","))
				}
				if app.Dir != dir {
					t.Errorf("Dir = %q, want %q", app.Dir, dir)
				}
			}
		})
	}
}

func TestLoadAppTooLarge(t *testing.T) {
	dir := writeApp(t, map[string]string{"app.yaml": "app: big\n# " + strings.Repeat("x", MaxFileSize) + "\n"})
	_, err := LoadApp(dir)
	want := filepath.Join(dir, "app.yaml") + ": file is 4194316 bytes, more than the limit of 4194304"
	if err == nil || err.Error() != want {
		t.Errorf("LoadApp = %v, want %s", err, want)
	}
}

// TestExamples loads every app under examples/: each must parse without error (the engine's
// tests compile their flows).
func TestExamples(t *testing.T) {
	dirs := exampleDirs(t)
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := LoadApp(dir); err != nil {
				t.Errorf("LoadApp(%s):\n%v", dir, err)
			}
		})
	}
}

// exampleDirs returns the folders of ../examples that hold an app.yaml.
func exampleDirs(t testing.TB) []string {
	files, err := filepath.Glob("../examples/*/app.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, len(files))
	for i, f := range files {
		dirs[i] = filepath.Dir(f)
	}
	return dirs
}
