package automations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// BenchmarkDurableRun40Steps records and runs a manual automation whose action is 40
// sequential set steps, every step's trace kept in the run's record: ns/step is one step's
// share of the whole durable run (recorded, claimed, run, its trace and end saved).
func BenchmarkDurableRun40Steps(b *testing.B) {
	e := newEnv(b, func(c *automations.Config) { c.Now = time.Now })
	e.apply(`name: chain
trigger:
  manual: {}
actions:
  - id: chain
    app: demo
    flow: chain
    input: {n: 1}
`)
	ctx := context.Background()
	for b.Loop() {
		r, err := e.svc.RunNow(ctx, "default", "chain", nil)
		if err != nil || r.Status != automations.StatusSucceeded {
			b.Fatalf("RunNow: %v %v", err, r)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*40), "ns/step")
	r, err := e.svc.RunNow(ctx, "default", "chain", nil)
	if err != nil {
		b.Fatal(err)
	}
	stored, err := e.store.Run(ctx, r.ID)
	if err != nil {
		b.Fatal(err)
	}
	var steps []automations.StepRecord
	if err := json.Unmarshal(stored.Steps, &steps); err != nil || len(steps) != 40 {
		b.Fatalf("%d steps recorded (%v), want 40", len(steps), err)
	}
}

// BenchmarkHook calls Hook from parallel goroutines: each call returns once its run is
// recorded durably, batched with the calls waiting meanwhile (group commit). runs/s is
// recorded runs per second; p50-ms and p99-ms the latency of one call.
func BenchmarkHook(b *testing.B) {
	e := newEnv(b, func(c *automations.Config) { c.Now = time.Now })
	ap := e.apply(postDoc("hooked", "webhook: {}", "x"))
	ctx := context.Background()
	item := json.RawMessage(`{"n":1}`)
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32) // 64 clients at once on 2 CPUs, as a load generator on loopback keeps
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			start := time.Now()
			if _, err := e.svc.Hook(ctx, ap.HookSecret, item); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	reportPercentiles(b, lat)
}

// BenchmarkScheduler100k serves N enabled "@every 1m" automations (default 100,000; env
// PATCHBAY_BENCH_AUTOMATIONS) whose slots are spread over the minute, each running one set
// step, for a minute of real time, and reports the fire lag (slot to run start) of the runs
// it started: p50-ms and p99-ms, runs started, and the heap per idle automation after they
// were applied (definitions cached included).
func BenchmarkScheduler100k(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("PATCHBAY_BENCH_AUTOMATIONS")); err == nil && v > 0 {
		n = v
	}
	var obs lagObserver
	var offset atomic.Int64 // the clock's distance to the real one while the automations are applied
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnv(b, func(c *automations.Config) { c.Now, c.Observer, c.Workers = now, &obs, 8 })
	ctx := context.Background()
	// Applied with the clock set back so that automation i's first slot is start + i/n of a
	// minute: the slots are spread over the minute that Serve then runs.
	start := time.Now().Add(2 * time.Minute)
	var before, after runtimeStats
	before.read()
	for i := range n {
		offset.Store(int64(start.Add(time.Duration(i) * time.Minute / time.Duration(n)).Add(-time.Minute).Sub(time.Now())))
		_, err := e.svc.Apply(ctx, "bench.yaml", fmt.Appendf(nil, `name: every-%d
trigger:
  schedule: {cron: "@every 1m", timezone: UTC}
actions:
  - id: say
    app: demo
    flow: echo
    input: {text: "{{ trigger.time }}"}
`, i))
		if err != nil {
			b.Fatal(err)
		}
	}
	offset.Store(0)
	after.read()
	b.ReportMetric(float64(after.heap-before.heap)/float64(n), "heap-B/automation")
	if wait := time.Until(start); wait > 0 {
		time.Sleep(wait) // until the first slot
	}
	b.ResetTimer()
	sctx, stop := context.WithTimeout(ctx, time.Minute)
	defer stop()
	if err := e.svc.Serve(sctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	lat := obs.lags()
	b.ReportMetric(float64(len(lat)), "runs")
	reportPercentiles(b, lat)
}

// lagObserver keeps the fire lags.
type lagObserver struct {
	mu  sync.Mutex
	lag []time.Duration
}

func (o *lagObserver) Fired(lag time.Duration) {
	o.mu.Lock()
	o.lag = append(o.lag, lag)
	o.mu.Unlock()
}

func (o *lagObserver) RunEnded(*automations.Run, time.Duration) {}

func (o *lagObserver) lags() []time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.lag)
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	at := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// runtimeStats is the live heap after a collection.
type runtimeStats struct{ heap uint64 }

func (s *runtimeStats) read() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.heap = m.HeapAlloc
}
