package blocks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/engine"
)

const benchBody = `{"id": 1, "name": "widget", "tags": ["a", "b"], "price": 9.5, "owner": {"id": 7, "email": "ann@example.com"}}`

// benchCallAPI starts a loopback server returning a small JSON body, a client for it, and a
// program whose flow get fetches it with one call_api step.
func benchCallAPI(b *testing.B) (url string, client *http.Client, prog *engine.Program) {
	b.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchBody)
	}))
	b.Cleanup(ts.Close)
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	b.Cleanup(client.CloseIdleConnections)
	prog, err := capiLoad(b, ts.URL, `app: bench
base_url: BASE
flows:
  get:
    steps:
      - id: item
        call_api: {path: /item}
`)
	if err != "" {
		b.Fatal(err)
	}
	return ts.URL + "/item", client, prog
}

// bareGet is the baseline: what a hand-written client does for the same request.
func bareGet(b *testing.B, client *http.Client, url string) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatal(resp.Status, err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		b.Fatal(err)
	}
}

func flowGet(b *testing.B, client *http.Client, prog *engine.Program) {
	res, err := prog.Run(context.Background(), "get", engine.Options{HTTPClient: client})
	if err != nil {
		b.Fatal(err)
	}
	if res.Output.(map[string]any)["status"] != 200 {
		b.Fatal(res.Output)
	}
}

// BenchmarkCallAPI measures one GET of a small JSON body by a bare net/http client and by a
// one-step flow, separately.
func BenchmarkCallAPI(b *testing.B) {
	url, client, prog := benchCallAPI(b)
	b.Run("bare_client", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bareGet(b, client, url)
		}
	})
	b.Run("flow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			flowGet(b, client, prog)
		}
	})
}

// BenchmarkCallAPIRatio runs both loops b.N times in one benchmark and reports the flow's time
// per request over the bare client's as "flow/bare" (the target is at most 1.25: the flow's
// throughput at least 0.8 of the bare client's). The loops alternate in rounds of 50 requests,
// and the ratio is that of the median round of each, so that a burst of load on a shared
// machine weighs on both alike and does not decide the figure.
func BenchmarkCallAPIRatio(b *testing.B) {
	url, client, prog := benchCallAPI(b)
	bareGet(b, client, url) // warm the connection pool
	flowGet(b, client, prog)
	const round = 50
	var bare, flow []float64 // ns per request, per round
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		start := time.Now()
		for range n {
			bareGet(b, client, url)
		}
		bare = append(bare, float64(time.Since(start))/float64(n))
		start = time.Now()
		for range n {
			flowGet(b, client, prog)
		}
		flow = append(flow, float64(time.Since(start))/float64(n))
	}
	mb, mf := median(bare), median(flow)
	b.ReportMetric(mb, "bare-ns/op")
	b.ReportMetric(mf, "flow-ns/op")
	b.ReportMetric(mf/mb, "flow/bare")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
