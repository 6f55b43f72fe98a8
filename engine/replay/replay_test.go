package replay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/engine/replay"
)

const (
	secretToken  = "tok-3f9a7c1e5b"
	secretCookie = "sess-8d2e4b6a0c"
)

// api is the server recordings are made from: a JSON item, a body-dependent POST, a 404, a
// binary body, and a Set-Cookie header that must not be recorded.
func api(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	var mu sync.Mutex
	hits := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v0/item/{id}", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+secretToken {
			t.Errorf("Authorization = %q, want the bearer token", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Remaining", "99")
		http.SetCookie(w, &http.Cookie{Name: "session", Value: secretCookie})
		fmt.Fprintf(w, `{"id":%q,"q":%q}`, r.PathValue("id"), r.URL.RawQuery)
	})
	mux.HandleFunc("POST /graphql", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "echo:%s", b)
	})
	mux.HandleFunc("GET /bin", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte{0xff, 0x00, 0xfe})
	})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts, &hits
}

type exchange struct {
	method, path, body string
	wantStatus         int
	wantBody           string
}

var exchanges = []exchange{
	{"GET", "/v0/item/8863.json?b=2&a=1", "", 200, `{"id":"8863.json","q":"b=2&a=1"}`},
	{"GET", "/v0/item/8863.json", "", 200, `{"id":"8863.json","q":""}`},
	{"POST", "/graphql", `{"query":"{ a }"}`, 200, `echo:{"query":"{ a }"}`},
	{"POST", "/graphql", `{"query":"{ b }"}`, 200, `echo:{"query":"{ b }"}`},
	{"GET", "/missing", "", 404, "404 page not found\n"},
	{"GET", "/bin", "", 200, "\xff\x00\xfe"},
}

func do(t *testing.T, c *http.Client, base string, x exchange) *http.Response {
	t.Helper()
	var body io.Reader
	if x.body != "" {
		body = strings.NewReader(x.body)
	}
	req, err := http.NewRequest(x.method, base+x.path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+secretToken)
	req.Header.Set("Cookie", "session="+secretCookie)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", x.method, x.path, err)
	}
	return resp
}

func check(t *testing.T, resp *http.Response, x exchange) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != x.wantStatus || string(b) != x.wantBody {
		t.Errorf("%s %s = %d %q, want %d %q", x.method, x.path, resp.StatusCode, b, x.wantStatus, x.wantBody)
	}
}

func TestRecordThenReplay(t *testing.T) {
	ts, hits := api(t)
	dir := filepath.Join(t.TempDir(), "rec")
	rec := &http.Client{Transport: &replay.Recorder{Dir: dir}}
	for _, x := range exchanges {
		resp := do(t, rec, ts.URL, x)
		if x.path == "/v0/item/8863.json" && len(resp.Cookies()) != 1 {
			t.Errorf("recording: the caller lost the Set-Cookie header: %v", resp.Header)
		}
		check(t, resp, x)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(exchanges) {
		t.Errorf("recorded %d files, want %d", len(entries), len(exchanges))
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{secretToken, secretCookie, "Set-Cookie", "Authorization"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("%s holds %q:\n%s", e.Name(), secret, data)
			}
		}
	}
	before := *hits
	ts.Close() // replay must not need the network
	play := &http.Client{Transport: &replay.Player{Dir: dir}}
	for _, x := range exchanges {
		resp := do(t, play, "http://127.0.0.1:1", x) // another host: the host is not in the key
		if x.path == "/v0/item/8863.json" {
			if got := resp.Header.Get("X-Ratelimit-Remaining"); got != "99" {
				t.Errorf("replayed header X-Ratelimit-Remaining = %q, want 99", got)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("replayed Content-Type = %q, want application/json", got)
			}
		}
		check(t, resp, x)
	}
	if *hits != before {
		t.Errorf("replay sent %d requests to the server", *hits-before)
	}
}

func TestRecordingFormat(t *testing.T) {
	ts, _ := api(t)
	dir := t.TempDir()
	resp := do(t, &http.Client{Transport: &replay.Recorder{Dir: dir}}, ts.URL, exchanges[1])
	resp.Body.Close()
	u, _ := url.Parse("/v0/item/8863.json")
	data, err := os.ReadFile(filepath.Join(dir, replay.FileName("GET", u, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var got replay.Recording
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	got.Header.Del("Date")
	want := replay.Recording{
		Method: "GET", URL: "/v0/item/8863.json", Status: 200,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Ratelimit-Remaining": {"99"}},
		Body:   `{"id":"8863.json","q":""}`,
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("recording = %s\nwant %s", gotJSON, wantJSON)
	}
}

func TestReplayMissing(t *testing.T) {
	dir := t.TempDir()
	c := &http.Client{Transport: &replay.Player{Dir: dir}}
	_, err := c.Get("http://example.com/v0/item/1.json?x=1")
	u, _ := url.Parse("/v0/item/1.json?x=1")
	want := `Get "http://example.com/v0/item/1.json?x=1": replay: no recording for GET /v0/item/1.json: ` + filepath.Join(dir, replay.FileName("GET", u, nil))
	if err == nil || err.Error() != want {
		t.Fatalf("Get = %v, want %s", err, want)
	}
	if !errors.Is(err, replay.ErrNoRecording) {
		t.Errorf("errors.Is(%v, ErrNoRecording) = false", err)
	}
}

func TestReplayBadFile(t *testing.T) {
	dir := t.TempDir()
	u, _ := url.Parse("/x")
	name := filepath.Join(dir, replay.FileName("GET", u, nil))
	tests := []struct{ content, want string }{
		{`{"status": 0, "body": ""}`, "replay: " + name + ": status 0 is not an HTTP status"},
		{`{"status": 200, "body_base64": "!!"}`, "replay: " + name + ": body_base64: illegal base64 data at input byte 0"},
		{`{`, "replay: " + name + ": unexpected end of JSON input"},
	}
	for _, tt := range tests {
		if err := os.WriteFile(name, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := (&replay.Player{Dir: dir}).RoundTrip(httptest.NewRequest("GET", "/x", nil))
		if err == nil || err.Error() != tt.want {
			t.Errorf("RoundTrip with %s = %v, want %s", tt.content, err, tt.want)
		}
	}
}

// A recording that is not a regular file is refused unread: a symbolic link to /dev/zero was
// read until the memory ran out, a named pipe hung the run.
func TestReplayNonRegularFile(t *testing.T) {
	dir := t.TempDir()
	u, _ := url.Parse("/x")
	name := filepath.Join(dir, replay.FileName("GET", u, nil))
	if err := os.Symlink("/dev/zero", name); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	_, err := (&replay.Player{Dir: dir}).RoundTrip(httptest.NewRequest("GET", "/x", nil))
	if want := "replay: " + name + ": not a regular file but a device"; err == nil || err.Error() != want {
		t.Errorf("RoundTrip with a link to /dev/zero = %v, want %s", err, want)
	}
	os.Remove(name)
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	_, err = (&replay.Player{Dir: dir}).RoundTrip(httptest.NewRequest("GET", "/x", nil))
	if want := "replay: " + name + ": not a regular file but a named pipe"; err == nil || err.Error() != want {
		t.Errorf("RoundTrip with a named pipe = %v, want %s", err, want)
	}
}

func TestFileName(t *testing.T) {
	name := func(method, rawURL, body string) string {
		u, err := url.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		return replay.FileName(method, u, []byte(body))
	}
	// Pinned: the recordings under examples/ depend on this exact scheme.
	if got, want := name("GET", "https://hacker-news.firebaseio.com/v0/item/8863.json", ""), "GET_v0_item_8863.json_"; !strings.HasPrefix(got, want) || len(got) != len(want)+8+len(".json") {
		t.Errorf("FileName = %q, want %q + 8 hex digits + .json", got, want)
	}
	same := []struct{ a, b [3]string }{
		{[3]string{"GET", "http://a.example/x?b=2&a=1", ""}, [3]string{"GET", "http://b.example/x?a=1&b=2", ""}},
		{[3]string{"GET", "/", ""}, [3]string{"GET", "http://a.example", ""}},
	}
	for _, s := range same {
		if x, y := name(s.a[0], s.a[1], s.a[2]), name(s.b[0], s.b[1], s.b[2]); x != y {
			t.Errorf("FileName(%v) = %s, FileName(%v) = %s, want the same", s.a, x, s.b, y)
		}
	}
	differ := []struct{ a, b [3]string }{
		{[3]string{"GET", "/x?a=1", ""}, [3]string{"GET", "/x?a=2", ""}},
		{[3]string{"GET", "/x", ""}, [3]string{"POST", "/x", ""}},
		{[3]string{"POST", "/x", "1"}, [3]string{"POST", "/x", "2"}},
		{[3]string{"GET", "/a_b", ""}, [3]string{"GET", "/a/b", ""}},
	}
	for _, d := range differ {
		if x, y := name(d.a[0], d.a[1], d.a[2]), name(d.b[0], d.b[1], d.b[2]); x == y {
			t.Errorf("FileName(%v) = FileName(%v) = %s, want them to differ", d.a, d.b, x)
		}
	}
	if got := name("GET", "/?api_key=s3cr3tvalue", ""); strings.Contains(got, "s3cr3t") {
		t.Errorf("FileName = %q holds a query value", got)
	}
}

// TestRecordConcurrent records from several goroutines at once, as a loop with concurrency does.
func TestRecordConcurrent(t *testing.T) {
	ts, _ := api(t)
	dir := t.TempDir()
	c := &http.Client{Transport: &replay.Recorder{Dir: dir}}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v0/item/%d.json", ts.URL, i%4), nil)
			req.Header.Set("Authorization", "Bearer "+secretToken)
			resp, err := c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("recorded %d files, want 4 (no temporary files left)", len(entries))
	}
}

// TestRecorderRedact: Redact rewrites what the recorder wrote with the secrets of the run's
// final redactor, in the body (text or not), the header values and the URL, and the recording
// still replays.
func TestRecorderRedact(t *testing.T) {
	const secret = "s3cret-in-body-0123"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", secret)
		if r.URL.Path == "/bin/"+secret {
			w.Write(append([]byte{0xff, 0x00}, secret...))
			return
		}
		fmt.Fprintf(w, `{"token":%q}`, secret)
	}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	r := &replay.Recorder{Dir: dir}
	for _, path := range []string{"/text", "/bin/" + secret} {
		resp, err := (&http.Client{Transport: r}).Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := r.Redact(engine.NewRedactor(secret)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("recorded %d files, want 2", len(entries))
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) || !strings.Contains(string(b), "[redacted]") {
			t.Errorf("%s after Redact:\n%s\nwant the secret [redacted]", e.Name(), b)
		}
	}
	ts.Close()
	play := &http.Client{Transport: &replay.Player{Dir: dir}}
	for path, want := range map[string]string{"/text": `{"token":"[redacted]"}`, "/bin/" + secret: "\xff\x00[redacted]"} {
		resp, err := play.Get("http://example.com" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != want || resp.Header.Get("X-Echo") != "[redacted]" {
			t.Errorf("replayed %s = %q, X-Echo %q; want %q, [redacted]", path, b, resp.Header.Get("X-Echo"), want)
		}
	}
}
