package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/engine/replay"
)

const examples = "../../examples"

// TestExamplesLoad loads every app under examples/: each must load and compile without error.
func TestExamplesLoad(t *testing.T) {
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	apps, err := findApps(examples)
	if err != nil || len(apps) == 0 {
		t.Fatalf("findApps(%s) = %v, %v", examples, apps, err)
	}
	for _, dir := range apps {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := engine.Load(reg, dir); err != nil {
				t.Errorf("engine.Load(%s):\n%v", dir, err)
			}
		})
	}
}

// recordedAPI serves the recordings in dir as an API would, counting requests.
func recordedAPI(t *testing.T, dir string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	player := &replay.Player{Dir: dir}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		resp, err := player.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

const topStories3 = `[
  {
    "by": "lindqvist",
    "comments": 214,
    "id": 42617645,
    "score": 812,
    "title": "SQLite is not a toy database",
    "url": "https://example.org/blog/sqlite-is-not-a-toy"
  },
  {
    "by": "ferrous_ox",
    "comments": 96,
    "id": 42619014,
    "score": 431,
    "title": "Show HN: I rewrote our cron jobs as YAML flows and deleted 4k lines",
    "url": "https://github.com/example/cron-to-flows"
  },
  {
    "by": "okayjay",
    "comments": 158,
    "id": 42616823,
    "score": 377,
    "title": "Ask HN: How do you keep OAuth refresh tokens from expiring in long-running jobs?",
    "url": null
  }
]
`

func TestHackerNewsTopStories(t *testing.T) {
	app := filepath.Join(examples, "hackernews")
	recordings := filepath.Join(app, "testdata", "replay")
	ts, hits := recordedAPI(t, recordings)

	r := cli(t, nil, "", "run", app, "top_stories", "--input", "limit=3", "--base-url", ts.URL+"/v0")
	if r.code != 0 || r.stdout != topStories3 {
		t.Fatalf("top_stories against the recorded API = %d\n%s\nstderr:\n%s\nwant\n%s", r.code, r.stdout, r.stderr, topStories3)
	}
	if n := hits.Load(); n != 4 {
		t.Errorf("top_stories sent %d requests, want 4 (the list, then 3 items)", n)
	}

	// make run's way: the recordings without a server.
	r = cli(t, nil, "", "run", app, "top_stories", "--input", "limit=3", "--replay", recordings)
	if r.code != 0 || r.stdout != topStories3 {
		t.Errorf("top_stories --replay = %d\n%s\nstderr:\n%s\nwant\n%s", r.code, r.stdout, r.stderr, topStories3)
	}

	// Every story the Makefile's run asks for is recorded.
	r = cli(t, nil, "", "run", app, "top_stories", "--input", "limit=5", "--replay", recordings)
	var stories []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &stories); r.code != 0 || err != nil || len(stories) != 5 {
		t.Errorf("top_stories limit=5 --replay = %d, %d stories, %v; stderr:\n%s", r.code, len(stories), err, r.stderr)
	}

	// A story that was not recorded fails with the file the recording was looked for in.
	r = cli(t, nil, "", "run", app, "top_stories", "--input", "limit=7", "--replay", recordings)
	if r.code != 1 || !strings.Contains(r.stderr, "replay: no recording for GET /v0/item/42614309.json: "+filepath.Join(recordings, "GET_v0_item_42614309.json_")) {
		t.Errorf("top_stories limit=7 --replay = %d, stderr:\n%s\nwant 1 and the missing recording's file", r.code, r.stderr)
	}

	r = cli(t, nil, "", "run", app, "top_stories", "--input", "limit=0", "--replay", recordings)
	if want := `step "check_limit" (fail): failed: limit must be between 1 and 100, found 0`; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("top_stories limit=0 = %d, stderr:\n%s\nwant 1 and %s", r.code, r.stderr, want)
	}
}

// TestHackerNewsRecord records a run against the recorded API into a new folder and replays it.
func TestHackerNewsRecord(t *testing.T) {
	app := filepath.Join(examples, "hackernews")
	ts, _ := recordedAPI(t, filepath.Join(app, "testdata", "replay"))
	dir := t.TempDir()
	r := cli(t, nil, "", "run", app, "top_stories", "--input", "limit=3", "--base-url", ts.URL+"/v0", "--record", dir)
	if r.code != 0 {
		t.Fatalf("--record = %d, stderr:\n%s", r.code, r.stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("--record wrote %d files, want 4", len(entries))
	}
	ts.Close()
	r = cli(t, nil, "", "run", app, "top_stories", "--input", "limit=3", "--replay", dir)
	if r.code != 0 || r.stdout != topStories3 {
		t.Errorf("--replay of the new recording = %d\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestRSSLatest(t *testing.T) {
	feed, err := os.ReadFile(filepath.Join(examples, "rss", "testdata", "feed.xml"))
	if err != nil {
		t.Fatal(err)
	}
	feeds := map[string]string{
		"/feed.xml": string(feed),
		"/one.xml":  `<rss version="2.0"><channel><title>t</title><item><title>Only</title><link>https://example.org/only</link><pubDate>Wed, 01 Jan 2025 00:00:00 GMT</pubDate></item></channel></rss>`,
		"/none.xml": `<rss version="2.0"><channel><title>t</title></channel></rss>`,
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := feeds[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer ts.Close()
	type item struct{ Title, Link, Published string }
	tests := []struct {
		name string
		args []string
		want []item
	}{
		{"limit 2", []string{"--input", "feed_url=" + ts.URL + "/feed.xml", "--input", "limit=2"}, []item{
			{"One refresh at a time", "https://example.org/blog/one-refresh-at-a-time", "Mon, 06 Jan 2025 09:00:00 +0000"},
			{"Errors with line and column", "https://example.org/blog/positioned-errors", "Thu, 19 Dec 2024 14:30:00 +0000"},
		}},
		{"default limit", []string{"--input", "feed_url=" + ts.URL + "/feed.xml"}, []item{
			{"One refresh at a time", "https://example.org/blog/one-refresh-at-a-time", "Mon, 06 Jan 2025 09:00:00 +0000"},
			{"Errors with line and column", "https://example.org/blog/positioned-errors", "Thu, 19 Dec 2024 14:30:00 +0000"},
			{"Replaying APIs: offline & deterministic", "https://example.org/blog/replay", "Tue, 03 Dec 2024 08:15:00 +0000"},
		}},
		{"one item", []string{"--input", "feed_url=" + ts.URL + "/one.xml"}, []item{
			{"Only", "https://example.org/only", "Wed, 01 Jan 2025 00:00:00 GMT"},
		}},
		{"no items", []string{"--input", "feed_url=" + ts.URL + "/none.xml"}, []item{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, nil, "", append([]string{"run", filepath.Join(examples, "rss"), "latest"}, tt.args...)...)
			var got []item
			if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil {
				t.Fatalf("latest = %d %q (%v), stderr:\n%s", r.code, r.stdout, err, r.stderr)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) {
				t.Errorf("latest = %s, want %s", g, w)
			}
		})
	}
	r := cli(t, nil, "", "run", filepath.Join(examples, "rss"), "latest", "--input", "feed_url="+ts.URL+"/gone.xml")
	if want := `step "feed" (call_api): GET ` + ts.URL + `/gone.xml: 404 Not Found: 404 page not found`; r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Errorf("latest on a missing feed = %d, stderr:\n%s\nwant 1 and %s", r.code, r.stderr, want)
	}
}

// TestReadmeApps loads every app in README.md (a yaml block that starts with "app:"), so the
// README's examples stay true to the parser.
func TestReadmeApps(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, block := range strings.Split(string(src), "```yaml\n")[1:] {
		app, _, _ := strings.Cut(block, "```")
		if !strings.HasPrefix(app, "app:") {
			continue
		}
		n++
		dir := writeApp(t, "", map[string]string{"app.yaml": app})
		if _, err := engine.Load(reg, dir); err != nil {
			t.Errorf("README yaml block %d:\n%s\n%v", i+1, app, err)
		}
	}
	if n < 2 {
		t.Errorf("found %d apps in README.md, want at least 2", n)
	}
}

// TestGreetWebhookExample walks the README's offline automation: apply
// examples/automations/greet-webhook.yaml against the example apps (the webhook's path printed
// once), run it with an item as a webhook would give it, and find the run in runs list.
func TestGreetWebhookExample(t *testing.T) {
	env := map[string]string{"PATCHBAY_DATA": t.TempDir()}
	r := cli(t, env, "", "automations", "apply", "-f", filepath.Join(examples, "automations", "greet-webhook.yaml"), "--apps", examples)
	if r.code != 0 || !regexp.MustCompile(`(?m)^webhook: POST /hooks/[0-9a-f]{32,}$`).MatchString(r.stdout) {
		t.Fatalf("apply = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, env, "", "automations", "run", "greet-webhook", "--apps", examples, "--item", `{"body": {"name": "  Grace "}}`)
	if r.code != 0 || !strings.Contains(r.stdout, "status:     succeeded") || !strings.Contains(r.stdout, `"text": "Hello, Grace!"`) {
		t.Fatalf("run = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = cli(t, env, "", "runs", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "greet-webhook") || !strings.Contains(r.stdout, "succeeded") {
		t.Errorf("runs list = %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
