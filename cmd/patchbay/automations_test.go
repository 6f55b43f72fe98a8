package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// automationsEnv is a data directory with an apps folder holding the app notes (a one-set
// flow) and a folder holding a broken app, as PATCHBAY_DATA.
func automationsEnv(t *testing.T) (map[string]string, string) {
	t.Helper()
	data := t.TempDir()
	writeApp(t, filepath.Join(data, "apps"), map[string]string{
		"notes/app.yaml": `app: notes
flows:
  keep:
    inputs:
      text: {type: string, required: true}
    steps:
      - id: keep
        set: {text: "{{ upper(input.text) }}"}
    output: "{{ vars.text }}"
  fail:
    inputs:
      n: {type: string, default: "not a number"}
    steps:
      - id: boom
        set: {x: "{{ int(input.n) }}"}
`,
		"broken/app.yaml": "app: broken\nflows:\n  f:\n    steps:\n      - id: a\n        call_apii: {path: /x}\n",
	})
	return map[string]string{"PATCHBAY_DATA": data}, data
}

// writeAutomation writes an automation file and returns its path.
func writeAutomation(t *testing.T, src string) string {
	t.Helper()
	return filepath.Join(writeApp(t, "", map[string]string{"a.yaml": src}), "a.yaml")
}

const dailyAutomation = `name: daily-note
trigger:
  schedule: {cron: "0 9 * * *", timezone: Europe/Berlin}
actions:
  - id: keep
    app: notes
    flow: keep
    input: {text: "{{ trigger.item == nil ? 'at ' + trigger.time : trigger.item.text }}"}
`

// TestAutomationsLifecycle: apply creates then updates, list, show (trigger, next 5 slots in
// the zone, on or why off), disable, enable, run with --item, runs list and show, delete.
func TestAutomationsLifecycle(t *testing.T) {
	env, _ := automationsEnv(t)
	file := writeAutomation(t, dailyAutomation)
	r := cli(t, env, "", "automations", "apply", "-f", file)
	nextSlots := regexp.MustCompile(`next slots: (20\d\d-\d\d-\d\d 09:00:00 CES?T, ){2}20\d\d-\d\d-\d\d 09:00:00 CES?T\n$`)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "created automation daily-note (workspace default, version 1)\n") || !nextSlots.MatchString(r.stdout) {
		t.Fatalf("apply = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "automations", "apply", "-f", file); r.code != 0 || !strings.HasPrefix(r.stdout, "updated automation daily-note (workspace default, version 1)\n") {
		t.Errorf("apply again = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, env, "", "automations", "list")
	if r.code != 0 || !regexp.MustCompile(`(?m)^daily-note +schedule +on +20\d\d-`).MatchString(r.stdout) {
		t.Errorf("list = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, env, "", "automations", "show", "daily-note")
	for _, want := range []string{
		`trigger:     schedule "0 9 * * *" in Europe/Berlin`,
		"action keep: notes/keep\n",
		"status:      on\n",
		"last run:    none\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show does not say %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if n := strings.Count(r.stdout, " 09:00:00 CE"); n != 5 {
		t.Errorf("show lists %d slots, want 5:\n%s", n, r.stdout)
	}
	if r = cli(t, env, "", "automations", "disable", "daily-note"); r.code != 0 || r.stdout != "disabled daily-note\n" {
		t.Errorf("disable = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "automations", "show", "daily-note"); !strings.Contains(r.stdout, "status:      off: disabled by the user\n") || strings.Contains(r.stdout, "next slots") {
		t.Errorf("show of a disabled automation:\n%s", r.stdout)
	}
	if r = cli(t, env, "", "automations", "enable", "daily-note"); r.code != 0 || r.stdout != "enabled daily-note\n" {
		t.Errorf("enable = %d %q %q", r.code, r.stdout, r.stderr)
	}

	r = cli(t, env, "", "automations", "run", "daily-note", "--item", `{"text": "hello"}`)
	if r.code != 0 || !strings.Contains(r.stdout, "status:     succeeded\n") || !strings.Contains(r.stdout, `output: "HELLO"`) {
		t.Fatalf("run = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	id := regexp.MustCompile(`(?m)^run: +([0-9a-f]+)$`).FindStringSubmatch(r.stdout)
	if id == nil {
		t.Fatalf("run printed no run id:\n%s", r.stdout)
	}
	step := regexp.MustCompile(`(?m)^  ✓ keep/keep  set  \d`)
	if !step.MatchString(r.stdout) || !strings.Contains(r.stdout, `"text": "hello"`) {
		t.Errorf("run does not show its step with its input:\n%s", r.stdout)
	}
	r = cli(t, env, "", "runs", "list", "--automation", "daily-note")
	if r.code != 0 || !regexp.MustCompile(`(?m)^`+id[1]+` +daily-note +schedule +succeeded +1 `).MatchString(r.stdout) {
		t.Errorf("runs list = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "runs", "list", "--status", "failed"); r.code != 0 || r.stdout != "" {
		t.Errorf("runs list --status failed = %d %q %q, want no runs", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "runs", "show", id[1]); r.code != 0 || !step.MatchString(r.stdout) {
		t.Errorf("runs show = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "runs", "show", id[1], "--workspace", "other"); r.code != 1 || !strings.Contains(r.stderr, "no run") {
		t.Errorf("runs show of another workspace = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "automations", "show", "daily-note"); !strings.Contains(r.stdout, "last run:    "+id[1]+" succeeded ") {
		t.Errorf("show after a run:\n%s", r.stdout)
	}
	if r = cli(t, env, "", "automations", "delete", "daily-note"); r.code != 0 || r.stdout != "deleted daily-note\n" {
		t.Errorf("delete = %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "automations", "show", "daily-note"); r.code != 1 || !strings.Contains(r.stderr, `error: no automation named "daily-note" in workspace default`) {
		t.Errorf("show after delete = %d %q", r.code, r.stderr)
	}
}

// TestAutomationsRunFails: a run that fails prints its failing step and error first and exits 1.
func TestAutomationsRunFails(t *testing.T) {
	env, _ := automationsEnv(t)
	file := writeAutomation(t, "name: failing\ntrigger:\n  manual: {}\nactions:\n  - id: act\n    app: notes\n    flow: fail\n")
	if r := cli(t, env, "", "automations", "apply", "-f", file); r.code != 0 {
		t.Fatalf("apply = %d %s%s", r.code, r.stdout, r.stderr)
	}
	r := cli(t, env, "", "automations", "run", "failing")
	if r.code != 1 || !strings.HasPrefix(r.stdout, "failed at step act/boom: ") || !strings.Contains(r.stdout, "status:     failed\n") {
		t.Errorf("run = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestAutomationsApplyErrors: a typo fails apply with file:line:col and stores nothing; an
// automation using a broken app names the app's problems; a file of another workspace needs
// --workspace.
func TestAutomationsApplyErrors(t *testing.T) {
	env, data := automationsEnv(t)
	typo := writeAutomation(t, strings.Replace(dailyAutomation, "trigger.item.text", "trigger.itme.text", 1))
	r := cli(t, env, "", "automations", "apply", "-f", typo)
	if r.code != 1 || !strings.HasPrefix(r.stderr, typo+":8:") || r.stdout != "" {
		t.Errorf("apply of a typo = %d %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	broken := writeAutomation(t, "name: b\ntrigger:\n  manual: {}\nactions:\n  - id: a\n    app: broken\n    flow: f\n")
	r = cli(t, env, "", "automations", "apply", "-f", broken)
	brokenApp := filepath.Join(data, "apps", "broken", "app.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, brokenApp+`:6:9: unknown block "call_apii" (did you mean "call_api"?)`) {
		t.Errorf("apply using a broken app = %d\nstderr:\n%s", r.code, r.stderr)
	}
	other := writeAutomation(t, "workspace: team\n"+dailyAutomation)
	if r = cli(t, env, "", "automations", "apply", "-f", other); r.code != 1 || !strings.Contains(r.stderr, `the automation is of workspace "team", not "default" (give --workspace team)`) {
		t.Errorf("apply of another workspace = %d %q", r.code, r.stderr)
	}
	if r = cli(t, env, "", "automations", "apply", "-f", other, "--workspace", "team"); r.code != 0 {
		t.Errorf("apply --workspace team = %d %q", r.code, r.stderr)
	}
	if r = cli(t, env, "", "automations", "list"); r.stdout != "" {
		t.Errorf("list after failed applies = %q, want nothing", r.stdout)
	}
}

// TestAutomationsWebhookSecretOnce: apply of a webhook automation prints its URL path with the
// secret when it creates it, and never again.
func TestAutomationsWebhookSecretOnce(t *testing.T) {
	env, _ := automationsEnv(t)
	file := writeAutomation(t, "name: hook\ntrigger:\n  webhook: {}\nactions:\n  - id: keep\n    app: notes\n    flow: keep\n    input: {text: \"{{ string(trigger.item.body) }}\"}\n")
	r := cli(t, env, "", "automations", "apply", "-f", file)
	if r.code != 0 || !regexp.MustCompile(`(?m)^webhook: POST /hooks/[A-Za-z0-9_-]{20,}$`).MatchString(r.stdout) {
		t.Fatalf("apply = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = cli(t, env, "", "automations", "apply", "-f", file); strings.Contains(r.stdout, "/hooks/") {
		t.Errorf("apply again shows the secret:\n%s", r.stdout)
	}
	if r = cli(t, env, "", "automations", "show", "hook"); !strings.Contains(r.stdout, "trigger:     webhook: POST /hooks/<secret>") {
		t.Errorf("show:\n%s", r.stdout)
	}
}

// TestAutomationsUsage: a subcommand's flags and arguments are checked.
func TestAutomationsUsage(t *testing.T) {
	env, _ := automationsEnv(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"automations", "apply"}, "automations apply needs -f FILE"},
		{[]string{"automations", "list", "--item", "{}"}, "automations list does not take --item"},
		{[]string{"automations", "run", "x", "--item", "{"}, "--item is not JSON"},
		{[]string{"runs", "list", "--status", "done"}, `--status "done" is not one of queued, running, succeeded, failed, timed_out, interrupted, skipped`},
		{[]string{"serve", "--workers", "0"}, "--workers must be positive"},
	} {
		r := cli(t, env, "", tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%v = %d %q, want 2 and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
}

// TestAutomationsShowWithoutItsApp: show prints what is stored of an automation whose app is
// not in --apps, and says why it does not check.
func TestAutomationsShowWithoutItsApp(t *testing.T) {
	env, _ := automationsEnv(t)
	if r := cli(t, env, "", "automations", "apply", "-f", writeAutomation(t, dailyAutomation)); r.code != 0 {
		t.Fatalf("apply = %d %s%s", r.code, r.stdout, r.stderr)
	}
	empty := t.TempDir()
	r := cli(t, env, "", "automations", "show", "daily-note", "--apps", empty)
	if r.code != 0 || !strings.Contains(r.stdout, "trigger:     schedule\n") || !strings.Contains(r.stdout, "status:      on\n") {
		t.Errorf("show = %d\n%s", r.code, r.stdout)
	}
	if want := "warning: the automation does not check against the apps of " + empty + "; its runs fail until it does:\n"; !strings.HasPrefix(r.stderr, want) || !strings.Contains(r.stderr, `unknown app "notes"`) {
		t.Errorf("stderr = %q, want %q and the unknown app", r.stderr, want)
	}
}
