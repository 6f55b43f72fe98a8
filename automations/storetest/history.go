package storetest

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// testHistory tests Run, Runs, LastRun, QueueDepth and PruneRuns.
func testHistory(t *testing.T, open Opener) {
	t.Run("run not found", func(t *testing.T) {
		st := open(t)
		_, err := st.Run(t.Context(), "nope")
		wantNotFound(t, "Run(nope)", err)
		a := scheduled(t, st, "a", at(0))
		_, err = st.LastRun(t.Context(), a.ID)
		wantNotFound(t, "LastRun of an automation without runs", err)
	})

	t.Run("runs: newest first, filtered, paged", func(t *testing.T) {
		st := open(t)
		a, b := scheduled(t, st, "a", at(0)), scheduled(t, st, "b", at(0))
		other := automation("a")
		other.Workspace = "team"
		apply(t, st, other)
		a1, b1, a2, a3 := run(a, time.Time{}, at(time.Second)), run(b, time.Time{}, at(2*time.Second)),
			run(a, time.Time{}, at(3*time.Second)), run(a, time.Time{}, at(3*time.Second))
		a1.ID, a2.ID, a3.ID = "0000000000000000000000000000000a", "0000000000000000000000000000000b", "0000000000000000000000000000000c"
		enqueue(t, st, a1, b1, a2, a3, run(other, time.Time{}, at(time.Hour)))
		claimRuns(t, st, "n1", at(time.Minute), 1) // a1
		finish(t, st, "n1", getRun(t, st, a1.ID), at(2*time.Minute))

		list := func(f automations.RunFilter) []*automations.Run {
			t.Helper()
			runs, err := st.Runs(t.Context(), f)
			if err != nil {
				t.Fatalf("Runs(%+v): %v", f, err)
			}
			return runs
		}
		all := list(automations.RunFilter{Workspace: "default"})
		wantIDs(t, "Runs(default)", all, a3, a2, b1, a1) // a3 and a2 queued at once: by ID, descending
		for _, r := range all {
			if r.Steps != nil || r.Output != nil {
				t.Errorf("listed run %s has steps or output, want them left empty", r.ID)
			}
		}
		if got := getRun(t, st, a1.ID); got.Steps == nil || got.Output == nil {
			t.Errorf("Run(%s) has no steps or output", a1.ID)
		}
		wantIDs(t, "Runs(automation a)", list(automations.RunFilter{Workspace: "default", AutomationID: a.ID}), a3, a2, a1)
		wantIDs(t, "Runs(succeeded)", list(automations.RunFilter{Workspace: "default", Status: automations.StatusSucceeded}), a1)
		wantIDs(t, "Runs(a, queued)", list(automations.RunFilter{Workspace: "default", AutomationID: a.ID, Status: automations.StatusQueued}), a3, a2)
		wantIDs(t, "Runs(limit 2)", list(automations.RunFilter{Workspace: "default", Limit: 2}), a3, a2)
		wantIDs(t, "Runs(limit 2, before a2)", list(automations.RunFilter{Workspace: "default", Limit: 2, Before: a2.ID}), b1, a1)
		wantIDs(t, "Runs(a, before a3)", list(automations.RunFilter{Workspace: "default", AutomationID: a.ID, Before: a3.ID}), a2, a1)
		if got := lastRun(t, st, a); got.ID != a3.ID {
			t.Errorf("LastRun(a) = %s, want %s", got.ID, a3.ID)
		}
	})

	t.Run("runs caps the limit at 1000", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		var runs []*automations.Run
		for i := range 1001 {
			runs = append(runs, run(a, time.Time{}, at(time.Duration(i)*time.Second)))
		}
		enqueue(t, st, runs...)
		for _, limit := range []int{0, 1001, 5000} {
			got, err := st.Runs(t.Context(), automations.RunFilter{Workspace: "default", Limit: limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1000 || got[0].ID != runs[1000].ID {
				t.Errorf("Runs(limit %d) returned %d runs, want the newest 1000", limit, len(got))
			}
		}
	})

	t.Run("queue depth", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		later := run(a, time.Time{}, at(time.Second))
		later.NotBefore = at(time.Hour)
		skipped := run(a, at(0), at(0))
		skipped.Status = automations.StatusSkipped
		enqueue(t, st, run(a, time.Time{}, at(0)), run(a, time.Time{}, at(0)), later, skipped)
		claimRuns(t, st, "n1", at(0), 1)
		if n, err := st.QueueDepth(t.Context()); err != nil || n != 2 {
			t.Errorf("QueueDepth = %d, %v; want 2 (one claimed, one skipped)", n, err)
		}
	})

	t.Run("prune keeps the newest runs of each automation", func(t *testing.T) {
		st := open(t)
		a, b := scheduled(t, st, "a", at(0)), scheduled(t, st, "b", at(0))
		var old []*automations.Run
		for i := range 5 {
			r := run(a, time.Time{}, at(time.Duration(i)*time.Second))
			r.Status = automations.StatusSkipped
			old = append(old, r)
		}
		waiting := run(a, time.Time{}, at(-time.Hour)) // oldest, but queued: never pruned
		bs := []*automations.Run{run(b, time.Time{}, at(0)), run(b, time.Time{}, at(time.Second))}
		for _, r := range bs {
			r.Status = automations.StatusSkipped
		}
		enqueue(t, st, append(append(old, waiting), bs...)...)
		// a has 6 runs; keep 2 leaves its two newest ended ones and the queued one.
		for _, want := range []int{2, 1, 0} {
			n, err := st.PruneRuns(t.Context(), 2, time.Time{}, 2)
			if err != nil || n != want {
				t.Fatalf("PruneRuns(keep 2, batch 2) = %d, %v; want %d", n, err, want)
			}
		}
		wantIDs(t, "a's runs after pruning", listOf(t, st, a), old[4], old[3], waiting)
		wantIDs(t, "b's runs after pruning", listOf(t, st, b), bs[1], bs[0])
	})

	t.Run("prune deletes ended runs older than before", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		var runs []*automations.Run
		for i := range 3 {
			r := run(a, time.Time{}, at(time.Duration(i)*time.Hour))
			r.Status = automations.StatusSkipped
			runs = append(runs, r)
		}
		queued := run(a, time.Time{}, at(0))
		enqueue(t, st, append(runs, queued)...)
		n, err := st.PruneRuns(t.Context(), 1000, at(90*time.Minute), 100)
		if err != nil || n != 2 {
			t.Fatalf("PruneRuns(before %v) = %d, %v; want 2", at(90*time.Minute), n, err)
		}
		wantIDs(t, "runs after pruning", listOf(t, st, a), runs[2], queued)
	})
}

// listOf lists a's runs.
func listOf(t *testing.T, st automations.Store, a *automations.Automation) []*automations.Run {
	t.Helper()
	runs, err := st.Runs(t.Context(), automations.RunFilter{Workspace: a.Workspace, AutomationID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}
