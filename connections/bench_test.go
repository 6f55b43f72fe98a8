package connections_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// apiKeyBenchYAML is an api_key app against a server written as SRV, whose key goes in a
// header made by a template, as most api_key apps put theirs.
const apiKeyBenchYAML = `app: keyed
base_url: SRV
connection:
  type: api_key
  inject: {in: header, name: Authorization, value: "token {{ token }}"}
flows:
  me:
    steps:
      - id: me
        call_api: {method: GET, path: /api/me}
    output: "{{ steps.me.body }}"
`

// BenchmarkCallAPIConnection runs a flow of one call_api (GET /api/me against a loopback
// server) with a connection, and in turns the same flow with no connection, the baseline.
// conn/none is the connection's time over the baseline's (the target: under 1.10);
// ns/op, B/op and allocs/op cover one run of each. The connections:
//
//   - oauth2: a valid token, so nothing is refreshed, put on the request as a bearer token.
//   - api_key: a key put in a header by the app's inject template.
//
// For each:
//
//   - call: the run options are made once, as a run making many calls uses them: the cost of
//     putting the credentials on each request (Conn.Authorize) and of redacting its secrets.
//   - run: Manager.RunOptions for every run as well, as a run starts: reading the connection's
//     auth client and vault from the store besides.
//   - none-vs-none: the baseline against itself, the noise floor of the ratio on this machine.
func BenchmarkCallAPIConnection(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/me" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"user-1","email":"user-1@example.com"}`))
	}))
	b.Cleanup(ts.Close)
	for _, kind := range []string{"oauth2", "api_key"} {
		b.Run(kind, func(b *testing.B) { benchConnection(b, ts.URL, kind) })
	}
}

func benchConnection(b *testing.B, srv, kind string) {
	ctx := context.Background()
	m := newManager(b, nil)
	now := time.Now()
	var (
		prog *engine.Program
		rec  *connections.Record
	)
	switch kind {
	case "oauth2":
		prog = loadApp(b, strings.ReplaceAll(oauth2AppYAML, "SRV", srv))
		err := m.Store().PutClient(ctx, &connections.Client{
			Workspace: connections.DefaultWorkspace, App: "acme", Name: "acme", ClientID: testClientID, Secret: testClientSecret,
		})
		if err != nil {
			b.Fatal(err)
		}
		rec = &connections.Record{
			Workspace: connections.DefaultWorkspace, App: "acme", Name: "alice", Type: "oauth2", Status: connections.StatusConnected, Client: "acme",
			Creds: connections.Credentials{Token: &connections.Token{
				AccessToken: "at-0123456789abcdef", RefreshToken: "rt-0123456789abcdef", TokenType: "Bearer",
				ObtainedAt: now, Expiry: now.Add(24 * time.Hour),
			}},
		}
	case "api_key":
		prog = loadApp(b, strings.ReplaceAll(apiKeyBenchYAML, "SRV", srv))
		rec = &connections.Record{
			Workspace: connections.DefaultWorkspace, App: "keyed", Name: "alice", Type: "api_key", Status: connections.StatusConnected,
			Creds: connections.Credentials{Fields: map[string]connections.Secret{"api_key": "key-0123456789abcdef"}},
		}
	}
	if err := m.Store().CreateConnection(ctx, rec); err != nil {
		b.Fatal(err)
	}
	opts, err := m.RunOptions(ctx, prog, rec)
	if err != nil {
		b.Fatal(err)
	}
	none := engine.Options{HTTPClient: opts.HTTPClient, Logger: opts.Logger}
	run := func(o engine.Options) {
		res, err := prog.Run(ctx, "me", o)
		if err != nil {
			b.Fatal(err)
		}
		if out, _ := res.Output.(map[string]any); out["id"] != "user-1" {
			b.Fatalf("output = %v", res.Output)
		}
	}
	runs := map[string]func(){
		"call":         func() { run(opts) },
		"none-vs-none": func() { run(none) },
		"run": func() {
			o, err := m.RunOptions(ctx, prog, rec)
			if err != nil {
				b.Fatal(err)
			}
			run(o)
		},
	}
	for _, name := range []string{"none-vs-none", "call", "run"} {
		withConn := runs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			// The two are timed in turns, so that a busy machine slows both alike, and each
			// goes first every other time, so that neither always follows the other.
			var connTime, noneTime time.Duration
			timed := func(f func()) time.Duration {
				t0 := time.Now()
				f()
				return time.Since(t0)
			}
			baseline := func() { run(none) }
			odd := false
			for b.Loop() {
				if odd = !odd; odd {
					connTime += timed(withConn)
					noneTime += timed(baseline)
				} else {
					noneTime += timed(baseline)
					connTime += timed(withConn)
				}
			}
			b.ReportMetric(float64(connTime)/float64(noneTime), "conn/none")
			b.ReportMetric(float64(connTime.Nanoseconds())/float64(b.N), "conn-ns/call")
			b.ReportMetric(float64(noneTime.Nanoseconds())/float64(b.N), "none-ns/call")
		})
	}
}
