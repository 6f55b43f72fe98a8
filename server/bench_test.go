package server_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/server"
)

// BenchmarkWebhook: webhooks POSTed at once from 64 goroutines over loopback TCP to the real
// serve stack (server, Service with its workers, SQLite store in a temporary folder), each
// answered 202 once its run (a one-set flow) is recorded durably. It reports the webhooks
// accepted per second, the p50 and p99 of a POST's latency, and the runs that ended per second
// counting the time the workers took to drain the queue after the last POST. Logs go to
// io.Discard at info level, as serve writes them (a line per run start and end).
func BenchmarkWebhook(b *testing.B) {
	s := newStackLog(b, server.Config{}, nil, io.Discard)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	url := s.ts.URL + "/hooks/" + s.secret
	const body = `{"event": "created", "id": 42}`
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32) // 64 goroutines on 2 cores
	start := s.count.Load()
	b.ResetTimer()
	t0 := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			t := time.Now()
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("POST = %d, want 202", resp.StatusCode)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	accepted := time.Since(t0)
	for s.count.Load()-start < int64(b.N) {
		time.Sleep(time.Millisecond) // the workers drain the queue; a benchmark, not a test
	}
	drained := time.Since(t0)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/accepted.Seconds(), "hooks/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(b.N)/drained.Seconds(), "runs/s")
	}
}
