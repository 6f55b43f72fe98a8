package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// result is what one in-process run of the command printed.
type result struct {
	code           int
	stdout, stderr string
}

// cli runs patchbay with args in-process, with an environment of its own (no HOME, no
// PATCHBAY_DATA unless env sets them).
func cli(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, getenv)
	return result{code, out.String(), errOut.String()}
}

// writeApp writes app.yaml (and more files) into a new folder and returns the folder.
func writeApp(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	for name, src := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const brokenApp = `app: demo
base_url: https://api.example.com
flows:
  list:
    inputs:
      limit: {type: integr}
    steps:
      - id: a
        call_apii: {path: /x}
      - id: b
        set: {x: "{{ steps.nope.y }}"}
`

const goodApp = `app: good
base_url: https://api.example.com
flows:
  one:
    steps:
      - set: {x: 1}
  two:
    output: "{{ 2 }}"
`

func TestValidate(t *testing.T) {
	root := t.TempDir()
	writeApp(t, root, map[string]string{
		"broken/app.yaml":          brokenApp,
		"good/app.yaml":            goodApp,
		"good/nested/app.yaml":     "app: nested\nflows:\n  f:\n    output: 1\n",
		"testdata/bad/app.yaml":    "app: [not, an, app]\n", // skipped
		".hidden/bad/app.yaml":     "app: [not, an, app]\n", // skipped
		"good/nested/empty/README": "no app here\n",
		"good/testdata/x/app.yaml": "flows: 3\n", // skipped
	})
	broken := filepath.Join(root, "broken", "app.yaml")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrPart string
	}{
		{"broken app", []string{filepath.Join(root, "broken")}, 1, broken + `:6:21: type "integr" is not one of string, number, integer, boolean, object, array (did you mean "integer"?)
` + broken + `:9:9: unknown block "call_apii" (did you mean "call_api"?)
` + broken + `:11:28: unknown step "nope"
`, "3 errors; 1 app checked"},
		{"tree with a broken app", []string{root}, 1, broken + `:6:21: type "integr" is not one of string, number, integer, boolean, object, array (did you mean "integer"?)
` + broken + `:9:9: unknown block "call_apii" (did you mean "call_api"?)
` + broken + `:11:28: unknown step "nope"
`, "3 errors; 3 apps checked"},
		{"good tree", []string{filepath.Join(root, "good")}, 0, "ok: 2 apps, 3 flows\n", ""},
		{"app.yaml given", []string{filepath.Join(root, "good", "app.yaml")}, 0, "ok: 1 app, 2 flows\n", ""},
		{"same app twice", []string{filepath.Join(root, "good", "nested"), filepath.Join(root, "good", "nested") + "/"}, 0, "ok: 1 app, 1 flow\n", ""},
		{"missing path", []string{filepath.Join(root, "nope")}, 1, filepath.Join(root, "nope") + ": no such file or folder\n", "1 error; 0 apps checked"},
		{"no apps", []string{filepath.Join(root, "good", "nested", "empty")}, 1, filepath.Join(root, "good", "nested", "empty") + ": no app here: an app is a folder with app.yaml\n", ""},
		{"not an app file", []string{filepath.Join(root, "good", "nested", "app.yml")}, 1, filepath.Join(root, "good", "nested", "app.yml") + ": no such file or folder\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"validate"}, tt.args...)...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("validate %v = %d\n%s\nwant %d\n%s", tt.args, r.code, r.stdout, tt.code, tt.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderrPart) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.stderrPart)
			}
		})
	}
}

func TestValidateExamples(t *testing.T) {
	apps, err := findApps(filepath.Join("..", "..", "examples"))
	if err != nil || len(apps) < 2 {
		t.Fatalf("findApps(examples) = %v, %v; want the example apps", apps, err)
	}
	r := cli(t, nil, "", "validate", "../../examples/")
	want := regexp.MustCompile(fmt.Sprintf(`^ok: %d apps, \d+ flows\n$`, len(apps)))
	if r.code != 0 || !want.MatchString(r.stdout) {
		t.Errorf("validate examples = %d %q (stderr %q), want 0 and a line matching %s", r.code, r.stdout, r.stderr, want)
	}
}

// api is a test API: GET /projects/{id}/tasks lists tasks and echoes the Authorization header
// (which a good redactor hides), anything else is a 404 with a body.
func api(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /projects/{id}/tasks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"data":[{"gid":"1","name":"write docs"},{"gid":"2","name":"ship"}],"project":%q,"auth":%q}`,
			r.PathValue("id"), r.Header.Get("Authorization"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such project", http.StatusNotFound)
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

const secret = "sk-live-9b1d4f7e2a"

func tasksApp(t *testing.T, baseURL string) string {
	return writeApp(t, "", map[string]string{"app.yaml": `app: tasks
base_url: ` + baseURL + `
flows:
  list:
    inputs:
      project: {type: string, required: true}
      limit: {type: integer, default: 10}
      token: {type: string, sensitive: true}
    steps:
      - id: get
        call_api:
          method: GET
          path: "/projects/{{ input.project }}/tasks"
          headers: {Authorization: "Bearer {{ input.token }}"}
      - id: note
        set: {header: "Bearer {{ input.token }}"}
    output:
      tasks: "{{ map(steps.get.body.data, #.name)[:input.limit] }}"
      project: "{{ steps.get.body.project }}"
      echoed: "{{ steps.get.body.auth }}"
`})
}

func TestRunOutput(t *testing.T) {
	ts := api(t)
	dir := tasksApp(t, ts.URL)
	r := cli(t, nil, "", "run", dir, "list", "--input", "project=42", "--input", "limit=1")
	want := `{
  "echoed": "Bearer",
  "project": "42",
  "tasks": [
    "write docs"
  ]
}
`
	if r.code != 0 || r.stdout != want {
		t.Fatalf("run = %d\n%s\nstderr:\n%s\nwant 0\n%s", r.code, r.stdout, r.stderr, want)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	steps := regexp.MustCompile(`^✓ (get  call_api|note  set)  \d+(\.\d+)?(µs|ms|s)$`)
	if len(lines) != 2 || !steps.MatchString(lines[0]) || !steps.MatchString(lines[1]) {
		t.Errorf("stderr = %q, want a ✓ line per step", r.stderr)
	}
}

// TestRunTraceRedacts runs a flow whose sensitive input goes into a header, a variable, the
// response and the output: --trace shows every one as [redacted], and the secret appears
// nowhere in what was printed.
func TestRunTraceRedacts(t *testing.T) {
	ts := api(t)
	dir := tasksApp(t, ts.URL)
	for _, flags := range [][]string{{"--trace"}, {"--json-trace"}, {"--trace", "--log-level", "debug"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			args := append([]string{"run", dir, "list", "--input", "project=42", "--input", "token=" + secret}, flags...)
			r := cli(t, nil, "", args...)
			if r.code != 0 {
				t.Fatalf("run = %d, stderr:\n%s", r.code, r.stderr)
			}
			if all := r.stdout + r.stderr; strings.Contains(all, secret) || strings.Contains(all, secret[3:]) {
				t.Errorf("the secret was printed:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, `"echoed": "Bearer [redacted]"`) {
				t.Errorf("stdout = %s, want the echoed header redacted", r.stdout)
			}
			for _, want := range []string{`"Authorization": "Bearer [redacted]"`, `"header": "Bearer [redacted]"`} {
				if flags[0] == "--json-trace" {
					want = strings.ReplaceAll(want, " ", "")
					want = strings.Replace(want, "Bearer[redacted]", "Bearer [redacted]", 1)
				}
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not show %s:\n%s", want, r.stderr)
				}
			}
		})
	}
}

func TestRunJSONTrace(t *testing.T) {
	ts := api(t)
	r := cli(t, nil, "", "run", tasksApp(t, ts.URL), "list", "--input", "project=42", "--json-trace")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		var s struct{ Path, Block, Status, Pos string }
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatalf("stderr line %q is not JSON: %v", line, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s %s", s.Path, s.Block, s.Status, filepath.Base(s.Pos)))
	}
	want := []string{"get call_api ok app.yaml:10:9", "note set ok app.yaml:15:9"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--json-trace steps = %q, want %q", got, want)
	}
}

// TestRunTraceCutsValues: --trace and --json-trace show a large value cut, saying so; without
// them a step's line shows no value at all.
func TestRunTraceCutsValues(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": `app: big
flows:
  big:
    steps:
      - id: s
        set: {s: "{{ repeat('x', 40000) }}"}
    output: "{{ len(vars.s) }}"
`})
	for _, flags := range [][]string{nil, {"--trace"}, {"--json-trace"}} {
		t.Run(strings.Join(append([]string{"flags"}, flags...), " "), func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"run", dir, "big"}, flags...)...)
			if r.code != 0 || r.stdout != "40000\n" {
				t.Fatalf("run = %d, stdout %q, stderr:\n%.300s", r.code, r.stdout, r.stderr)
			}
			max := int(engine.DefaultLimits.MaxTraceValueBytes)
			switch {
			case flags == nil && (strings.Contains(r.stderr, "xxx") || !strings.HasPrefix(r.stderr, "✓ s  set  ")):
				t.Errorf("without a trace stderr = %.300q, want the step's line alone", r.stderr)
			case flags != nil && (!strings.Contains(r.stderr, "more bytes]") || len(r.stderr) > max+1000):
				t.Errorf("%s printed %d bytes, want a value cut at about %d, saying so:\n%.300s", flags[0], len(r.stderr), max, r.stderr)
			}
		})
	}
}

func TestRunFails(t *testing.T) {
	ts := api(t)
	dir := tasksApp(t, ts.URL+"/missing")
	file := filepath.Join(dir, "app.yaml")
	tests := []struct {
		name string
		args []string
		want string // the last line of stderr
	}{
		{"step fails", []string{"--input", "project=42"},
			`error: ` + file + `:10:9: step "get" (call_api): GET ` + ts.URL + `/missing/projects/42/tasks: 404 Not Found: no such project`},
		{"bad input", []string{"--input", "project=42", "--input", "limit=ten"},
			`error: flow list: input limit: "ten" is not an integer`},
		{"unknown input", []string{"--input", "project=42", "--input", "limt=3"},
			`error: flow list: input limt: unknown input (did you mean "limit"?)`},
		{"missing input", nil,
			`error: flow list: input project: required input is missing`},
		{"bad input file", []string{"--input-file", filepath.Join(dir, "nope.json")},
			`error: --input-file: open ` + filepath.Join(dir, "nope.json") + `: no such file or directory`},
		{"input file not an object", []string{"--input-file", "-"},
			`error: --input-file -: want a JSON object of inputs: json: cannot unmarshal array into Go value of type map[string]interface {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, "[1]", append([]string{"run", dir, "list"}, tt.args...)...)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || lines[len(lines)-1] != tt.want || r.stdout != "" {
				t.Errorf("run = %d, stdout %q, stderr:\n%s\nwant 1 and a last line\n%s", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
	t.Run("step line", func(t *testing.T) {
		r := cli(t, nil, "", "run", dir, "list", "--input", "project=42")
		want := "✗ get  call_api  GET " + ts.URL + "/missing/projects/42/tasks: 404 Not Found: no such project\n"
		if !strings.HasPrefix(r.stderr, want) {
			t.Errorf("stderr = %q, want it to start with %q", r.stderr, want)
		}
	})
	t.Run("ascii", func(t *testing.T) {
		r := cli(t, map[string]string{"TERM": "dumb"}, "", "run", dir, "list", "--input", "project=42")
		if !strings.HasPrefix(r.stderr, "FAIL get  call_api  GET ") {
			t.Errorf("stderr = %q, want a FAIL line", r.stderr)
		}
	})
}

func TestRunInputs(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": `app: echo
flows:
  echo:
    inputs:
      n: {type: integer}
      on: {type: boolean}
      tags: {type: array}
      name: {type: string}
    output: "{{ input }}"
`})
	file := filepath.Join(dir, "in.json")
	if err := os.WriteFile(file, []byte(`{"n": 1, "on": true, "tags": ["a"], "name": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"flags", "", []string{"--input", "n=7", "--input", "on=false", "--input", `tags=["x","y"]`, "--input", "name=a=b"},
			`{"n":7,"name":"a=b","on":false,"tags":["x","y"]}`},
		{"file", "", []string{"--input-file", file}, `{"n":1,"name":"file","on":true,"tags":["a"]}`},
		{"flag overrides file", "", []string{"--input-file", file, "--input", "n=2"}, `{"n":2,"name":"file","on":true,"tags":["a"]}`},
		{"stdin", `{"n": 3}`, []string{"--input-file", "-"}, `{"n":3,"name":null,"on":null,"tags":null}`},
		{"flags first", "", nil, `{"n":5,"name":null,"on":null,"tags":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"run", dir, "echo"}, tt.args...)
			if tt.args == nil {
				args = []string{"run", "--input", "n=5", dir, "--", "echo"}
			}
			r := cli(t, nil, tt.stdin, args...)
			var v any
			if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
				t.Fatalf("run = %d %q (stderr %q): %v", r.code, r.stdout, r.stderr, err)
			}
			got, _ := json.Marshal(v)
			if r.code != 0 || string(got) != tt.want {
				t.Errorf("run %v = %d %s, want 0 %s", tt.args, r.code, got, tt.want)
			}
		})
	}
}

func TestRunLoadErrors(t *testing.T) {
	dir := writeApp(t, "", map[string]string{"app.yaml": brokenApp})
	r := cli(t, nil, "", "run", dir, "list")
	file := filepath.Join(dir, "app.yaml")
	want := file + `:6:21: type "integr" is not one of string, number, integer, boolean, object, array (did you mean "integer"?)
` + file + `:9:9: unknown block "call_apii" (did you mean "call_api"?)
` + file + `:11:28: unknown step "nope"
`
	if r.code != 1 || r.stderr != want || r.stdout != "" {
		t.Errorf("run = %d, stdout %q, stderr:\n%s\nwant 1 and\n%s", r.code, r.stdout, r.stderr, want)
	}
	r = cli(t, nil, "", "run", dir+"/nope", "list")
	if want := filepath.Join(dir, "nope", "app.yaml") + ": no such file: an app is a folder with app.yaml\n"; r.code != 1 || r.stderr != want {
		t.Errorf("run on a missing app = %d %q, want 1 %q", r.code, r.stderr, want)
	}
	good := writeApp(t, "", map[string]string{"app.yaml": goodApp})
	r = cli(t, nil, "", "run", good, "tow")
	if want := "error: app good has no flow \"tow\" (did you mean \"two\"?)\n"; r.code != 1 || r.stderr != want {
		t.Errorf("run with a misspelt flow = %d %q, want 1 %q", r.code, r.stderr, want)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdoutPart string
		stderrPart string
	}{
		{"no command", nil, 2, "", "Commands:"},
		{"help", []string{"help"}, 0, "\tvalidate     check apps", ""},
		{"-h", []string{"-h"}, 0, "Commands:", ""},
		{"help run", []string{"help", "run"}, 0, "usage: patchbay run APP FLOW [--input name=value]... [flags]", ""},
		{"help run lists flags", []string{"help", "run"}, 0, "--replay DIR\n", ""},
		{"help run lists global flags", []string{"help", "run"}, 0, "Global flags:\n  --data DIR\n", ""},
		{"run -h", []string{"run", "-h"}, 0, "usage: patchbay run", ""},
		{"validate --help", []string{"validate", "--help"}, 0, "usage: patchbay validate PATH...", ""},
		{"help unknown", []string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{"unknown command", []string{"vaildate"}, 2, "", `patchbay: unknown command "vaildate" (did you mean "validate"?)`},
		{"far from any command", []string{"deploy"}, 2, "", "patchbay: unknown command \"deploy\"\nRun 'patchbay help'"},
		{"prefix suggestion", []string{"valid"}, 2, "", `(did you mean "validate"?)`},
		{"validate without path", []string{"validate"}, 2, "", "patchbay validate: no PATH given\nusage: patchbay validate PATH...\n"},
		{"run without flow", []string{"run", "examples/hackernews"}, 2, "", "patchbay run: want APP and FLOW, found 1 arguments"},
		{"unknown flag", []string{"run", "a", "b", "--tarce"}, 2, "", "patchbay run: flag provided but not defined: -tarce"},
		{"bad input flag", []string{"run", "a", "b", "--input", "limit"}, 2, "", `invalid value "limit" for flag -input: want name=value, found "limit"`},
		{"replay and record", []string{"run", "a", "b", "--replay", "x", "--record", "y"}, 2, "", "--replay and --record exclude each other"},
		{"bad base url", []string{"run", "a", "b", "--base-url", "localhost:8080"}, 2, "", `--base-url "localhost:8080" is not an http or https URL`},
		{"bad timeout", []string{"run", "a", "b", "--timeout", "0s"}, 2, "", "--timeout must be positive"},
		{"bad log level", []string{"--log-level", "loud", "validate", "."}, 2, "", `invalid value "loud" for flag -log-level`},
		{"global flag before the command", []string{"--data", "/tmp/x", "validate"}, 2, "", "no PATH given"},
		{"unknown global flag", []string{"--nope", "validate"}, 2, "", "patchbay: flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, "", tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdoutPart) || !strings.Contains(r.stderr, tt.stderrPart) {
				t.Errorf("patchbay %v = %d\nstdout:\n%s\nstderr:\n%s\nwant %d, stdout with %q, stderr with %q",
					tt.args, r.code, r.stdout, r.stderr, tt.code, tt.stdoutPart, tt.stderrPart)
			}
		})
	}
}

func TestDataDir(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag wins", "/srv/pb", map[string]string{"PATCHBAY_DATA": "/env", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/srv/pb"},
		{"PATCHBAY_DATA", "", map[string]string{"PATCHBAY_DATA": "/env", "XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/env"},
		{"XDG_DATA_HOME", "", map[string]string{"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/patchbay"},
		{"HOME", "", map[string]string{"HOME": "/home/u"}, "/home/u/.local/share/patchbay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{getenv: func(k string) string { return tt.env[k] }}
			fs := e.flagSet("test")
			args := []string{}
			if tt.flag != "" {
				args = []string{"--data", tt.flag}
			}
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			got, err := e.dataDir()
			if err != nil || got != tt.want {
				t.Errorf("dataDir() = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseInterspersed(t *testing.T) {
	tests := []struct {
		args      []string
		wantPos   string
		wantTrace bool
	}{
		{[]string{"a", "b"}, "a b", false},
		{[]string{"--trace", "a", "b"}, "a b", true},
		{[]string{"a", "--trace", "b"}, "a b", true},
		{[]string{"a", "b", "--trace"}, "a b", true},
		{[]string{"a", "--", "--trace"}, "a --trace", false},
		{[]string{"--", "-a", "b"}, "-a b", false},
	}
	for _, tt := range tests {
		e := &env{getenv: func(string) string { return "" }}
		fs := e.flagSet("test")
		trace := fs.Bool("trace", false, "")
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil || strings.Join(pos, " ") != tt.wantPos || *trace != tt.wantTrace {
			t.Errorf("parseInterspersed(%q) = %q, trace %v, %v; want %q, trace %v", tt.args, pos, *trace, err, tt.wantPos, tt.wantTrace)
		}
	}
}

// TestRunCanceled: Ctrl-C cancels the context; the run ends with an error and exit status 1.
func TestRunCanceled(t *testing.T) {
	ts := api(t)
	dir := tasksApp(t, ts.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, []string{"run", dir, "list", "--input", "project=1"}, strings.NewReader(""), &out, &errOut, func(string) string { return "" })
	if code != 1 || !strings.Contains(errOut.String(), "context canceled") {
		t.Errorf("canceled run = %d, stderr %q; want 1 and context canceled", code, errOut.String())
	}
}

// TestRunTimeout: --timeout ends a run whose API does not answer.
func TestRunTimeout(t *testing.T) {
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-block:
		}
	}))
	defer ts.Close()
	defer close(block)
	r := cli(t, nil, "", "run", tasksApp(t, ts.URL), "list", "--input", "project=1", "--timeout", "50ms")
	if r.code != 1 || !strings.Contains(r.stderr, "run timed out") {
		t.Errorf("run with --timeout 50ms = %d, stderr:\n%s\nwant 1 and run timed out", r.code, r.stderr)
	}
}
