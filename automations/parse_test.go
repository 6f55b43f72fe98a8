package automations_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/parse/*.golden)")

var (
	catalogOnce sync.Once
	catalog     automations.Apps
	catalogErr  error
)

// testCatalog loads the apps the parse tests name, as patchbay loads them: the test app chat
// and the example apps hackernews and rss.
func testCatalog(t testing.TB) automations.Apps {
	t.Helper()
	catalogOnce.Do(func() {
		reg := engine.NewRegistry()
		if catalogErr = blocks.Register(reg); catalogErr != nil {
			return
		}
		catalog = automations.Apps{}
		for _, dir := range []string{"testdata/apps/chat", "../examples/hackernews", "../examples/rss"} {
			prog, err := connections.LoadApp(reg, dir)
			if err != nil {
				catalogErr = err
				return
			}
			catalog[prog.App.Key] = prog
		}
	})
	if catalogErr != nil {
		t.Fatal(catalogErr)
	}
	return catalog
}

// TestParseGolden parses every testdata/parse/<case>.yaml and compares its errors, one
// file:line:col: message per line, with <case>.golden. Cases named valid_* must parse without
// error. go test ./automations -update rewrites the golden files.
func TestParseGolden(t *testing.T) {
	cat := testCatalog(t)
	files, err := filepath.Glob("testdata/parse/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/parse/*.yaml (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := parseErrors(t, file, src, cat)
			if strings.HasPrefix(name, "valid_") {
				if got != "" {
					t.Errorf("Parse(%s): want no errors, got\n%s", file, got)
				}
				return
			}
			if got == "" {
				t.Errorf("Parse(%s): no errors", file)
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
				t.Fatalf("%v (run go test ./automations -update)", err)
			}
			if got != string(want) {
				t.Errorf("Parse(%s) errors:\n%s\nwant (%s):\n%s", file, got, golden, want)
			}
		})
	}
}

// parseErrors parses src as file and returns its errors one per line.
func parseErrors(t *testing.T, file string, src []byte, cat automations.Catalog) string {
	t.Helper()
	spec, err := automations.Parse(file, src, cat)
	if err == nil {
		if spec == nil {
			t.Errorf("Parse(%s) = nil, nil", file)
		}
		return ""
	}
	if spec != nil {
		t.Errorf("Parse(%s) returned a spec with its errors", file)
	}
	var list flows.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Parse(%s) error %T is not a flows.ErrorList: %v", file, err, err)
	}
	if !slices.IsSortedFunc(list, func(a, b *flows.Error) int { return a.Pos.Line*1000 + a.Pos.Col - b.Pos.Line*1000 - b.Pos.Col }) {
		t.Errorf("Parse(%s) errors are not sorted:\n%v", file, err)
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

// parseFile parses file against the test catalog; it must parse.
func parseFile(t *testing.T, file string) *automations.Spec {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := automations.Parse(file, src, testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestParseSpec(t *testing.T) {
	file := "testdata/parse/valid_schedule.yaml"
	spec := parseFile(t, file)
	if spec.Name != "morning-digest" || spec.Workspace != "team_1" || spec.File != file {
		t.Errorf("Name, Workspace, File = %q, %q, %q", spec.Name, spec.Workspace, spec.File)
	}
	if spec.Overlap != automations.OverlapQueue || spec.Timeout != 2*time.Minute || spec.CatchUp != automations.CatchUpNone {
		t.Errorf("Overlap, Timeout, CatchUp = %q, %v, %q", spec.Overlap, spec.Timeout, spec.CatchUp)
	}
	wantRetry := &flows.Retry{MaxAttempts: 4, Backoff: 10 * time.Second, MaxBackoff: flows.DefaultMaxBackoff, Jitter: true, On: []string{"5xx", "network"}}
	if !reflect.DeepEqual(spec.Retry, wantRetry) {
		t.Errorf("Retry = %+v, want %+v", spec.Retry, wantRetry)
	}
	tr := spec.Trigger
	if tr.Kind != automations.TriggerSchedule || tr.Schedule == nil || tr.Schedule.Cron != "0 8 * * MON-FRI" || tr.Schedule.TimeZone != "Europe/Berlin" || tr.Poll != nil {
		t.Fatalf("Trigger = %+v", tr)
	}
	if tr.Pos.String() != file+":5:3" {
		t.Errorf("Trigger.Pos = %s, want %s:5:3", tr.Pos, file)
	}
	if next := tr.Schedule.Next(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)); next.Format(time.RFC3339) != "2026-12-07T08:00:00+01:00" {
		t.Errorf("Next = %s, want Monday 08:00 in Berlin", next.Format(time.RFC3339))
	}
	if len(spec.Actions) != 2 {
		t.Fatalf("%d actions, want 2", len(spec.Actions))
	}
	a, b := spec.Actions[0], spec.Actions[1]
	if a.ID != "stories" || a.App != "hackernews" || a.Flow != "top_stories" || a.Connection != "" || a.Pos.String() != file+":7:5" {
		t.Errorf("Actions[0] = %+v", a)
	}
	if b.ID != "post" || b.App != "chat" || b.Flow != "post_message" || b.Connection != "team-chat" {
		t.Errorf("Actions[1] = %+v", b)
	}
	if got := spec.Connections(); !slices.Equal(got, []string{"team-chat"}) {
		t.Errorf("Connections() = %v, want [team-chat]", got)
	}

	// The inputs evaluated as a run would: constants in their types, templates in env.
	ev := flows.NewEvaluator(context.Background())
	env := map[string]any{
		"trigger": map[string]any{"item": nil, "time": "2026-12-07T08:00:00+01:00"},
		"actions": map[string]any{"stories": map[string]any{"output": []any{map[string]any{"title": "Go 2"}, map[string]any{"title": "Rust"}}}},
	}
	got, err := a.Inputs(ev, env)
	if err != nil || !reflect.DeepEqual(got, map[string]any{"limit": 5}) {
		t.Errorf("Actions[0].Inputs = %v, %v; want limit 5", got, err)
	}
	got, err = b.Inputs(ev, env)
	want := map[string]any{"channel": "general", "text": "2 stories at 2026-12-07T08:00:00+01:00: Go 2", "priority": 2}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Actions[1].Inputs = %#v, %v\nwant %#v", got, err, want)
	}
	// A template's runtime error names the input and the template's place in the file.
	delete(env, "actions")
	_, err = b.Inputs(ev, env)
	if want := "input text: " + file + ":17:29: template {{ len(actions.stories.output) }}:"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Inputs without actions: %v, want %s...", err, want)
	}
}

func TestParseDefaults(t *testing.T) {
	cat := testCatalog(t)
	src := []byte("name: by-hand\ntrigger: {manual: {}}\nactions:\n  - {id: a, app: hackernews, flow: top_stories}\n")
	spec, err := automations.Parse("a.yaml", src, cat)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Workspace != connections.DefaultWorkspace || spec.Overlap != automations.OverlapSkip || spec.CatchUp != automations.CatchUpOnce ||
		spec.Timeout != engine.DefaultLimits.Timeout || spec.Retry != nil {
		t.Errorf("defaults: Workspace %q, Overlap %q, CatchUp %q, Timeout %v, Retry %v", spec.Workspace, spec.Overlap, spec.CatchUp, spec.Timeout, spec.Retry)
	}
	if spec.Trigger.Kind != automations.TriggerManual || spec.Trigger.Schedule != nil {
		t.Errorf("Trigger = %+v", spec.Trigger)
	}
	if got := spec.Connections(); len(got) != 0 {
		t.Errorf("Connections() = %v, want none", got)
	}
	if got, err := spec.Actions[0].Inputs(flows.NewEvaluator(context.Background()), nil); err != nil || len(got) != 0 {
		t.Errorf("Inputs() = %v, %v; want none (the flow's defaults apply when it runs)", got, err)
	}
}

func TestParsePoll(t *testing.T) {
	spec := parseFile(t, "testdata/parse/valid_poll.yaml")
	tr := spec.Trigger
	if tr.Kind != automations.TriggerPoll || tr.Poll == nil || tr.Schedule == nil || tr.Schedule.TimeZone != "UTC" {
		t.Fatalf("Trigger = %+v", tr)
	}
	if tr.Poll.App != "chat" || tr.Poll.Flow != "new_messages" || tr.Poll.Connection != "work" {
		t.Errorf("Poll = %+v", tr.Poll)
	}
	got, err := tr.Poll.Inputs(flows.NewEvaluator(context.Background()), map[string]any{"trigger": map[string]any{"item": nil, "time": "2026-12-04T10:05:00Z"}})
	if err != nil || got["channel"] != "ops-2026" {
		t.Errorf("Poll.Inputs = %v, %v; want channel ops-2026", got, err)
	}
	if got := spec.Connections(); !slices.Equal(got, []string{"home", "work"}) {
		t.Errorf("Connections() = %v, want [home work]", got)
	}
}

func TestParseTooLarge(t *testing.T) {
	src := []byte("name: big\n# " + strings.Repeat("x", flows.MaxFileSize) + "\n")
	_, err := automations.Parse("big.yaml", src, testCatalog(t))
	var list flows.ErrorList
	if !errors.As(err, &list) || len(list) != 1 || !strings.HasPrefix(list[0].Error(), "big.yaml:1:1: file is ") {
		t.Errorf("Parse of %d bytes: %v, want one error: file is too large", len(src), err)
	}
}

// FuzzParse: whatever the file, Parse returns a spec or positioned errors, and never panics.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/parse/*.yaml")
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	cat := testCatalog(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		spec, err := automations.Parse("fuzz.yaml", src, cat)
		if err == nil {
			if spec == nil {
				t.Fatal("Parse = nil, nil")
			}
			return
		}
		var list flows.ErrorList
		if !errors.As(err, &list) || len(list) == 0 {
			t.Fatalf("Parse error %T is not a flows.ErrorList: %v", err, err)
		}
		for _, e := range list {
			if e.Pos.Line < 1 {
				t.Fatalf("error without a line: %v", e)
			}
		}
	})
}
