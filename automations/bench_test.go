package automations_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
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
// step, for two minutes of real time: the first parses and caches every definition, the
// second is measured. It reports the fire lag (slot to run start) of the second minute's runs
// (p50-ms, p99-ms, runs), the heap per idle automation once every definition is cached
// (heap-B/automation), and the scheduler's and workers' CPU time per minute (cpu-s/min).
func BenchmarkScheduler100k(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("PATCHBAY_BENCH_AUTOMATIONS")); err == nil && v > 0 {
		n = v
	}
	obs := &lagObserver{}
	workers := 64
	if v, err := strconv.Atoi(os.Getenv("PATCHBAY_BENCH_WORKERS")); err == nil && v > 0 {
		workers = v
	}
	e := newEnv(b, func(c *automations.Config) { c.Now, c.Observer, c.Workers = time.Now, obs, workers })
	ctx := context.Background()
	e.apply(everyMinute(0))
	var before runtimeStats
	before.read()
	// The first slot comes once the automations are in the store (about a second per 100,000).
	start := time.Now().Add(5*time.Second + time.Duration(n/100_000)*3*time.Second).Truncate(time.Second)
	cloneAutomations(b, e, n, start)
	if wait := time.Until(start); wait < 0 {
		b.Fatalf("cloning the automations took %s too long", -wait)
	}

	b.ResetTimer()
	obs.from.Store(start.Add(time.Minute).UnixNano())
	sctx, stop := context.WithDeadline(ctx, start.Add(2*time.Minute))
	defer stop()
	var cpu0, cpu1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	if err := e.svc.Serve(sctx); err != nil {
		b.Fatal(err)
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
	b.StopTimer()
	var after runtimeStats
	after.read()
	lat := obs.lags()
	b.ReportMetric(float64(len(lat)), "runs")
	b.ReportMetric(float64(obs.fired.Load())/120, "started/s")
	reportPercentiles(b, lat)
	cpu := time.Duration(cpu1.Utime.Nano()+cpu1.Stime.Nano()-cpu0.Utime.Nano()-cpu0.Stime.Nano()) / 2
	b.ReportMetric(cpu.Seconds(), "cpu-s/min")
	b.ReportMetric(float64(int64(after.heap)-int64(before.heap))/float64(n), "heap-B/automation")
	runtime.KeepAlive(e)
}

// BenchmarkApplyDelete100k applies a new "@every 1m" automation and deletes it while 100,000
// others are scheduled (env PATCHBAY_BENCH_AUTOMATIONS): the cost of adding and removing one,
// each a durable transaction in the store, besides parsing the file.
func BenchmarkApplyDelete100k(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("PATCHBAY_BENCH_AUTOMATIONS")); err == nil && v > 0 {
		n = v
	}
	e := newEnv(b, func(c *automations.Config) { c.Now = time.Now })
	e.apply(everyMinute(0))
	cloneAutomations(b, e, n, time.Now().Add(time.Hour))
	ctx := context.Background()
	src := []byte(everyMinute(n))
	var apply, del time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := e.svc.Apply(ctx, "bench.yaml", src); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := e.svc.Delete(ctx, "default", fmt.Sprintf("every-%d", n)); err != nil {
			b.Fatal(err)
		}
		apply, del = apply+t1.Sub(t0), del+time.Since(t1)
	}
	b.ReportMetric(float64(apply.Microseconds())/float64(b.N), "apply-µs")
	b.ReportMetric(float64(del.Microseconds())/float64(b.N), "delete-µs")
}

// everyMinute is the automation every-i: "@every 1m", one set step.
func everyMinute(i int) string {
	return fmt.Sprintf(`name: every-%d
trigger:
  schedule: {cron: "@every 1m", timezone: UTC}
actions:
  - id: say
    app: demo
    flow: echo
    input: {text: "{{ trigger.time }}"}
`, i)
}

// cloneAutomations copies the automation every-0 to every-1 ... every-(n-1) in one
// transaction on the store's database file, with first slots spread over the minute from
// start: applying 100,000 one by one would take a durable commit each.
func cloneAutomations(b *testing.B, e *env, n int, start time.Time) {
	b.Helper()
	db, err := sql.Open("sqlite3", e.path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO automations (id, workspace, name, file, source, version, trigger, overlap,
			enabled, reason, next_slot, hook_hash, connections, primed, created_at, updated_at)
		SELECT ?, workspace, ?, file, CAST(replace(CAST(source AS TEXT), 'every-0', ?) AS BLOB), version, trigger, overlap,
			enabled, reason, ?, NULL, connections, primed, created_at, updated_at FROM automations WHERE workspace = 'default' AND name = 'every-0'`)
	if err != nil {
		b.Fatal(err)
	}
	const layout = "2006-01-02T15:04:05.000000000Z"
	for i := range n {
		slot := start.Add(time.Duration(i) * time.Minute / time.Duration(n)).Truncate(time.Second).UTC().Format(layout)
		name := fmt.Sprintf("every-%d", i)
		if i == 0 {
			if _, err := tx.Exec(`UPDATE automations SET next_slot = ? WHERE name = 'every-0'`, slot); err != nil {
				b.Fatal(err)
			}
			continue
		}
		if _, err := stmt.Exec(fmt.Sprintf("%032x", i), name, name, slot); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// lagObserver keeps the fire lags.
type lagObserver struct {
	from  atomic.Int64 // slots before this (Unix ns) are not counted
	fired atomic.Int64 // slot runs started, counted or not
	mu    sync.Mutex
	lag   []time.Duration
}

func (o *lagObserver) Fired(lag time.Duration) {
	o.fired.Add(1)
	if time.Now().Add(-lag).UnixNano() < o.from.Load() {
		return
	}
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
