package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/engine"
)

// scale is how many automations the scheduler benchmarks keep: issue 16's 100,000 on one node.
const scale = 100_000

var benchStart = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// seed stores n enabled "@every 1m" automations whose next slots are spread over a minute from
// benchStart (n not a multiple of 7919), in one transaction (ApplyAutomation one by one would take n commits), and
// returns their IDs.
func seed(b *testing.B, s *Store, n int) []string {
	b.Helper()
	tx, err := s.w.BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare(`INSERT INTO automations (id, workspace, name, file, source, version, trigger, overlap,
		enabled, next_slot, connections, created_at, updated_at) VALUES (?, 'default', ?, ?, ?, 1, 'schedule', 'skip', 1, ?, '[]', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	now := formatTime(benchStart)
	for i := range n {
		ids[i] = orderedID()
		name := fmt.Sprintf("auto-%06d", i)
		src := "name: " + name + "\ntrigger:\n  schedule: {cron: \"@every 1m\"}\nactions:\n  - {id: a, app: tools, flow: set}\n"
		// Slots spread over the minute in another order than the IDs' (a prime stride), as
		// automations created over time and scheduled at their own times are: claims in slot
		// order do not walk the indexes keyed by automation in order.
		next := benchStart.Add(time.Duration(i*7919%n) * time.Minute / time.Duration(n))
		if _, err := stmt.Exec(ids[i], name, name+".yaml", []byte(src), formatTime(next), now, now); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return ids
}

// benchRun is a queued webhook run of automation id.
func benchRun(id string, queued time.Time) *automations.Run {
	return &automations.Run{AutomationID: id, Workspace: "default", Automation: "auto", Trigger: automations.TriggerWebhook,
		Kind: automations.KindActions, Item: json.RawMessage(`{"body":{"id":42,"name":"new task"},"headers":{"content-type":"application/json"}}`),
		Status: automations.StatusQueued, Attempt: 1, QueuedAt: queued}
}

// batch returns n queued runs of automation id, queued one after another after the *i runs
// before them.
func batch(id string, n int, i *int) []*automations.Run {
	runs := make([]*automations.Run, n)
	for j := range runs {
		*i++
		runs[j] = benchRun(id, benchStart.Add(time.Duration(*i)))
	}
	return runs
}

// BenchmarkEnqueueRuns records webhook runs in batches of 1 and of 64, as a group commit does;
// ns/run is the figure to compare: a batch costs one commit, not one per run.
func BenchmarkEnqueueRuns(b *testing.B) {
	for _, n := range []int{1, 64} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := open(b, dbPath(b), testKey(b, 1))
			id := seed(b, s, 1)[0]
			var i int
			for b.Loop() {
				if err := s.EnqueueRuns(b.Context(), batch(id, n, &i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
		})
	}
}

// BenchmarkClaimDue claims due slots among 100,000 automations, limit slots per transaction
// (each moved a minute on and its run recorded), always at a time when all of them are due, so
// every transaction claims limit slots; ns/slot is the figure. The runs are recorded as
// skipped, so the indexes of open runs stay as small as a running scheduler keeps them (its
// runs end within seconds) instead of growing by limit runs per op.
func BenchmarkClaimDue(b *testing.B) {
	for _, limit := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(limit), func(b *testing.B) {
			s := open(b, dbPath(b), testKey(b, 1))
			seed(b, s, scale)
			now := benchStart.Add(24 * time.Hour)
			plan := func(a *automations.Automation, active bool) automations.Claim {
				r := benchRun(a.ID, time.Time{})
				r.Trigger, r.Slot, r.Item, r.Status = automations.TriggerSchedule, a.NextSlot, nil, automations.StatusSkipped
				return automations.Claim{Run: r, Next: a.NextSlot.Add(time.Minute)}
			}
			var slots int
			for b.Loop() {
				runs, err := s.ClaimDue(b.Context(), now, limit, plan)
				if err != nil {
					b.Fatal(err)
				}
				if len(runs) != limit {
					b.Fatalf("claimed %d slots, want %d", len(runs), limit)
				}
				slots += len(runs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(slots), "ns/slot")
		})
	}
}

// BenchmarkCommit is the floor of every write: one immediate transaction changing one row of
// a small table (a value that changes: SQLite writes nothing for an update to the same value).
// The other benchmarks' figures read best as multiples of it; on this machine's disk it is
// mostly the fsync of _synchronous=FULL (doc.go).
func BenchmarkCommit(b *testing.B) {
	s := open(b, dbPath(b), testKey(b, 1))
	var i int
	for b.Loop() {
		i++
		if err := s.inTx(b.Context(), func(tx *sql.Tx) error {
			_, err := tx.ExecContext(b.Context(), `INSERT INTO meta (name, value) VALUES ('bench', ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, fmt.Sprint(i))
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyAutomation adds a new automation (add) or changes one (update) while 100,000
// are scheduled: issue 16's target is under 50 µs.
func BenchmarkApplyAutomation(b *testing.B) {
	for _, mode := range []string{"add", "update"} {
		b.Run(mode, func(b *testing.B) {
			s := open(b, dbPath(b), testKey(b, 1))
			seed(b, s, scale)
			var i int
			for b.Loop() {
				i++
				name := fmt.Sprintf("new-%06d", i)
				if mode == "update" {
					name = fmt.Sprintf("auto-%06d", i%scale)
				}
				a := &automations.Automation{Workspace: "default", Name: name, File: name + ".yaml",
					Source: fmt.Appendf(nil, "name: %s\n# %d\n", name, i), Trigger: automations.TriggerSchedule,
					Overlap: automations.OverlapSkip, Enabled: true, NextSlot: benchStart.Add(time.Duration(i) * time.Millisecond),
					Connections: []string{"work"}}
				if _, err := s.ApplyAutomation(b.Context(), a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDeleteAutomation deletes one automation of 100,000: issue 16's target is under
// 50 µs.
func BenchmarkDeleteAutomation(b *testing.B) {
	s := open(b, dbPath(b), testKey(b, 1))
	ids := seed(b, s, scale)
	var i int
	for b.Loop() {
		if i == len(ids) {
			b.StopTimer()
			ids, i = seed(b, s, scale), 0
			b.StartTimer()
		}
		if err := s.DeleteAutomation(b.Context(), ids[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// steps40 is the Steps JSON of a run of 40 sequential set steps, each with its input and
// output, as the runner records it.
func steps40(b *testing.B) json.RawMessage {
	type record struct {
		Action string `json:"action"`
		engine.StepTrace
	}
	var list []record
	for i := range 40 {
		list = append(list, record{Action: "a", StepTrace: engine.StepTrace{
			Path: fmt.Sprintf("s%02d", i), ID: fmt.Sprintf("s%02d", i), Block: "set", Start: benchStart,
			Duration: 3 * time.Microsecond, Status: "ok",
			Input:  map[string]any{"value": fmt.Sprintf("{{ steps.s%02d.output.n + 1 }}", i)},
			Output: map[string]any{"n": i + 1, "name": "task", "tags": []string{"a", "b"}},
		}})
	}
	raw, err := json.Marshal(list)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkClaimRuns claims queued runs one at a time or 8 at once, as workers do; ns/run is
// the figure. Enqueueing and ending them is outside the timer.
func BenchmarkClaimRuns(b *testing.B) {
	benchRuns(b, func(b *testing.B, s *Store, queued []*automations.Run) {
		b.StartTimer()
		claimed, err := s.ClaimRuns(b.Context(), "bench", benchStart.Add(time.Hour), time.Minute, len(queued))
		b.StopTimer()
		if err != nil || len(claimed) != len(queued) {
			b.Fatalf("claimed %d runs (%v), want %d", len(claimed), err, len(queued))
		}
		end(b, s, claimed, nil)
	})
}

// BenchmarkFinishRuns ends runs of 40 set steps with their trace (8.9 KB of JSON each),
// one per transaction or 8 at once; ns/run is the figure. Enqueueing and claiming them is
// outside the timer.
func BenchmarkFinishRuns(b *testing.B) {
	steps := steps40(b)
	benchRuns(b, func(b *testing.B, s *Store, queued []*automations.Run) {
		claimed, err := s.ClaimRuns(b.Context(), "bench", benchStart.Add(time.Hour), time.Minute, len(queued))
		if err != nil || len(claimed) != len(queued) {
			b.Fatalf("claimed %d runs (%v), want %d", len(claimed), err, len(queued))
		}
		b.StartTimer()
		end(b, s, claimed, steps)
		b.StopTimer()
	})
}

// benchRuns runs op on batches of 1 and of 8 queued runs, with the timer stopped but for what
// op times, and reports ns/run.
func benchRuns(b *testing.B, op func(b *testing.B, s *Store, queued []*automations.Run)) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := open(b, dbPath(b), testKey(b, 1))
			id := seed(b, s, 1)[0]
			var i int
			for b.Loop() {
				b.StopTimer()
				runs := batch(id, n, &i)
				if err := s.EnqueueRuns(b.Context(), runs); err != nil {
					b.Fatal(err)
				}
				op(b, s, runs)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
		})
	}
}

// end finishes claimed runs as succeeded with steps.
func end(b *testing.B, s *Store, claimed []*automations.Run, steps json.RawMessage) {
	for _, r := range claimed {
		r.Status, r.EndedAt, r.Steps, r.Output = automations.StatusSucceeded, benchStart.Add(time.Hour), steps, json.RawMessage(`{"n":40}`)
	}
	if err := s.FinishRuns(b.Context(), "bench", claimed, nil); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPruneRuns deletes runs past the newest 10 of each of 10,000 automations that have
// 20 ended runs each (200,000 runs), in batches of 500, as retention does; ns/run is the
// figure per run deleted. "scan" is the call that finds nothing left to delete: it ranks every
// run along runs_by_automation, on the read handle, holding no lock.
func BenchmarkPruneRuns(b *testing.B) {
	const automationsN, perAutomation, keep, batchN = 10_000, 20, 10, 500
	s := open(b, dbPath(b), testKey(b, 1))
	ids := seed(b, s, automationsN)
	fill := func() {
		var i int
		for _, id := range ids {
			runs := batch(id, perAutomation, &i)
			for _, r := range runs {
				r.Status = automations.StatusSkipped
			}
			if err := s.EnqueueRuns(b.Context(), runs); err != nil {
				b.Fatal(err)
			}
		}
	}
	var deleted int
	var scan time.Duration
	for b.Loop() {
		b.StopTimer()
		fill()
		b.StartTimer()
		for {
			t0 := time.Now()
			n, err := s.PruneRuns(b.Context(), keep, time.Time{}, batchN)
			if err != nil {
				b.Fatal(err)
			}
			deleted += n
			if n < batchN {
				scan += time.Since(t0)
				break
			}
		}
		b.StopTimer()
		// Back to no run at all, so the next fill starts as this one did.
		if _, err := s.PruneRuns(b.Context(), 0, benchStart.Add(time.Hour), automationsN*perAutomation); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	if deleted != b.N*automationsN*(perAutomation-keep) {
		b.Fatalf("deleted %d runs, want %d", deleted, b.N*automationsN*(perAutomation-keep))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deleted), "ns/run")
	b.ReportMetric(float64(scan.Microseconds())/float64(b.N), "scan-µs")
}
