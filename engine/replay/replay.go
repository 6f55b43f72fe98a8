// Package replay records HTTP responses to files and plays them back without the network, so a
// flow can be run offline, in tests and in demos, against responses a real API once gave.
//
// A Recorder is an http.RoundTripper that sends each request and writes its response to a
// directory, one JSON file per request; a Player answers each request from such a file and fails
// a request that has none, naming the file it looked for:
//
//	client := &http.Client{Transport: &replay.Recorder{Dir: "testdata/replay"}} // record
//	client = &http.Client{Transport: &replay.Player{Dir: "testdata/replay"}}    // replay
//
// A request's file is named by its method, URL path, sorted query and body (see FileName); the
// host is not part of it, so responses recorded from an API replay against any base URL. Request
// headers are never written, and the response headers that carry credentials (Set-Cookie and
// the like) are dropped.
//
// Under a run's HTTP client, a Recorder redacts what it writes as the run's trace is redacted:
// every secret the run knows when the response comes is [redacted] in the body, the headers and
// the URL. Recorder.Redact, called with the run's final redactor once the run is over, redacts
// the secrets the run learnt later too (a token from the very response recorded).
package replay

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Recording is the content of one recorded response's file.
type Recording struct {
	// Method and URL say which request this answers, for readers: the URL has no query, no
	// user information and no host, since the query may hold credentials and the host is
	// not part of the file name.
	Method string `json:"method"`
	URL    string `json:"url"`
	// Status is the response's status code.
	Status int `json:"status"`
	// Header holds the response headers, without credentials and without Content-Length.
	Header http.Header `json:"header,omitempty"`
	// Body is the response body as text; a body that is not UTF-8 is in BodyBase64 instead.
	Body       string `json:"body"`
	BodyBase64 string `json:"body_base64,omitempty"`
}

// MaxBody bounds a body the Recorder reads (the engine's own response limit is smaller).
const MaxBody = 64 << 20

// maxRecording bounds a recording file: a body of MaxBody as JSON text, where a control
// character takes six bytes (\u0001), and its headers.
const maxRecording = 6*MaxBody + 1<<20

// dropHeaders are never written to a recording: they carry credentials or are recomputed.
var dropHeaders = []string{"Set-Cookie", "Set-Cookie2", "Authorization", "Proxy-Authorization", "Cookie", "Content-Length"}

// FileName returns the name of the recording of a request: the method, the URL path made
// safe for a file name, and 8 hex digits of a SHA-256 over method, path, sorted query and
// body, e.g. "GET_v0_item_8863.json_0c7b2a1d.json". The hash keeps names distinct where the
// readable part is not, and keeps query values (which may be credentials) out of the name.
func FileName(method string, u *url.URL, body []byte) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s?%s\n", method, path, u.Query().Encode())
	h.Write(body)
	sum := hex.EncodeToString(h.Sum(nil))[:8]
	return method + "_" + slug(path) + "_" + sum + ".json"
}

// slug keeps letters, digits, dots and dashes of path, turns every other run into one
// underscore, and caps the length.
func slug(path string) string {
	var b strings.Builder
	under := true // no leading underscore
	for _, r := range path {
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-')
		switch {
		case ok:
			b.WriteRune(r)
			under = false
		case !under:
			b.WriteByte('_')
			under = true
		}
	}
	s := strings.Trim(b.String(), "_.")
	if len(s) > 80 {
		s = s[:80]
	}
	if s == "" {
		s = "root"
	}
	return s
}

// readBody reads and closes a request's body, returning the bytes (nil for no body).
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("replay: read request body: %w", err)
	}
	if len(b) > MaxBody {
		return nil, fmt.Errorf("replay: request body is larger than %d bytes", MaxBody)
	}
	return b, nil
}

// Recorder is an http.RoundTripper that sends requests with Transport and writes each response
// to a file in Dir, which it creates. Two requests with the same file name overwrite each
// other: the last response wins. A request whose context is a run's (engine.RunRedactor) is
// recorded redacted with the run's secrets. It is safe for concurrent use.
type Recorder struct {
	Dir       string
	Transport http.RoundTripper // nil: http.DefaultTransport

	mu      sync.Mutex
	written map[string]*engine.Redactor // file name: the redactor it was written with
}

var _ http.RoundTripper = (*Recorder)(nil)

// RoundTrip sends req, records its response and returns it with its body intact.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	out := req.Clone(req.Context())
	if body != nil {
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	t := r.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	resp, err := t.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("replay: read response of %s %s: %w", req.Method, req.URL.Path, err)
	}
	if len(respBody) > MaxBody {
		return nil, fmt.Errorf("replay: response of %s %s is larger than %d bytes", req.Method, req.URL.Path, MaxBody)
	}
	rec := Recording{Method: req.Method, URL: req.URL.EscapedPath(), Status: resp.StatusCode, Header: resp.Header.Clone()}
	for _, h := range dropHeaders {
		rec.Header.Del(h)
	}
	if len(rec.Header) == 0 {
		rec.Header = nil
	}
	rec.setBody(respBody)
	red := engine.RunRedactor(req.Context())
	rec.redact(red)
	name := FileName(req.Method, req.URL, body)
	r.mu.Lock()
	defer r.mu.Unlock() // one writer of a name at a time, and written tells which redactor
	if err := r.write(name, &rec); err != nil {
		return nil, err
	}
	if r.written == nil {
		r.written = map[string]*engine.Redactor{}
	}
	r.written[name] = red
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	resp.ContentLength = int64(len(respBody))
	return resp, nil
}

// Redact rewrites every recording r wrote that red redacts more of than the redactor it was
// written with: call it with the run's final redactor (engine.Result.Redactor) when the run is
// over, so that secrets the run learnt after a response came are redacted in its recording too.
func (r *Recorder) Redact(red *engine.Redactor) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, was := range r.written {
		if was == red || red.Empty() {
			continue // a run's redactor only grows: the same one has nothing more
		}
		var rec Recording
		if err := readRecording(filepath.Join(r.Dir, name), &rec); err != nil {
			return err
		}
		body, err := rec.body()
		if err != nil {
			return fmt.Errorf("replay: %s: %w", name, err)
		}
		rec.setBody(body)
		rec.redact(red)
		if err := r.write(name, &rec); err != nil {
			return err
		}
		r.written[name] = red
	}
	return nil
}

// setBody puts body in Body, or in BodyBase64 when it is not UTF-8 text.
func (rec *Recording) setBody(body []byte) {
	rec.Body, rec.BodyBase64 = "", ""
	if utf8.Valid(body) {
		rec.Body = string(body)
	} else {
		rec.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
}

// body returns the recorded body.
func (rec *Recording) body() ([]byte, error) {
	if rec.BodyBase64 == "" {
		return []byte(rec.Body), nil
	}
	b, err := base64.StdEncoding.DecodeString(rec.BodyBase64)
	if err != nil {
		return nil, fmt.Errorf("body_base64: %w", err)
	}
	return b, nil
}

// redact replaces red's secrets in the body, the header values and the URL, as a trace shows
// them. A body in BodyBase64 is redacted as the bytes it holds.
func (rec *Recording) redact(red *engine.Redactor) {
	if red.Empty() {
		return
	}
	rec.URL = red.String(rec.URL)
	for k, vs := range rec.Header {
		for i, v := range vs {
			rec.Header[k][i] = red.String(v)
		}
	}
	if rec.BodyBase64 == "" {
		rec.Body = red.String(rec.Body)
		return
	}
	if b, err := base64.StdEncoding.DecodeString(rec.BodyBase64); err == nil {
		rec.setBody([]byte(red.String(string(b))))
	}
}

// readRecording reads and decodes the recording in file.
func readRecording(file string, rec *Recording) error {
	data, err := flows.ReadFile(file, maxRecording)
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if err := json.Unmarshal(data, rec); err != nil {
		return fmt.Errorf("replay: %s: %w", file, err)
	}
	return nil
}

// write stores rec atomically: a reader never sees half a file.
func (r *Recorder) write(name string, rec *Recording) error {
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("replay: encode %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(r.Dir, ".rec-*")
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(r.Dir, name))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("replay: write %s: %w", name, err)
	}
	return nil
}

// Player is an http.RoundTripper that answers each request from its recording in Dir and
// never uses the network. It is safe for concurrent use.
type Player struct {
	Dir string
}

var _ http.RoundTripper = (*Player)(nil)

// ErrNoRecording is the class of a request that has no recording.
var ErrNoRecording = errors.New("no recording")

// RoundTrip returns the recorded response to req, or an error naming the file it looked for.
func (p *Player) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readBody(req)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(p.Dir, FileName(req.Method, req.URL, body))
	var rec Recording
	err = readRecording(file, &rec)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("replay: %w for %s %s: %s", ErrNoRecording, req.Method, req.URL.EscapedPath(), file)
	}
	if err != nil {
		return nil, err
	}
	if rec.Status < 100 || rec.Status > 999 {
		return nil, fmt.Errorf("replay: %s: status %d is not an HTTP status", file, rec.Status)
	}
	respBody, err := rec.body()
	if err != nil {
		return nil, fmt.Errorf("replay: %s: %w", file, err)
	}
	header := rec.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		Status:        strings.TrimSpace(fmt.Sprintf("%d %s", rec.Status, http.StatusText(rec.Status))),
		StatusCode:    rec.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          io.NopCloser(bytes.NewReader(respBody)),
		ContentLength: int64(len(respBody)),
		Request:       req,
	}, nil
}
