// Package storetest holds the contract tests of automations.Store that every store runs, as
// testing/fstest.TestFS does for file systems: the SQLite store now, PostgreSQL later, keep one
// promise. Each test reads the contract in the doc comment of the method it tests.
package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// Opener opens a new, empty store for t, closed when t ends.
type Opener func(t *testing.T) automations.Store

// SharedOpener opens n stores on one new, empty database for t, as n processes sharing it
// would, closed when t ends.
type SharedOpener func(t *testing.T, n int) []automations.Store

// Run runs every contract test of automations.Store, concurrency included (two goroutines on
// one store).
func Run(t *testing.T, open Opener) {
	t.Run("automations", func(t *testing.T) { testAutomations(t, open) })
	t.Run("schedule", func(t *testing.T) { testSchedule(t, open) })
	t.Run("runs", func(t *testing.T) { testRuns(t, open) })
	t.Run("poll", func(t *testing.T) { testPoll(t, open) })
	t.Run("history", func(t *testing.T) { testHistory(t, open) })
	t.Run("concurrent", func(t *testing.T) {
		testConcurrent(t, func(t *testing.T, n int) []automations.Store {
			st := open(t)
			list := make([]automations.Store, n)
			for i := range list {
				list[i] = st
			}
			return list
		})
	})
}

// RunShared runs the concurrency tests with stores that share one database, as processes do:
// two of them never claim one slot or one run.
func RunShared(t *testing.T, open SharedOpener) {
	testConcurrent(t, open)
}

// t0 is the tests' clock's start; every time passed to a store is t0 plus something.
var t0 = time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// automation returns an enabled schedule automation of the default workspace.
func automation(name string) *automations.Automation {
	return &automations.Automation{
		Workspace: "default", Name: name, File: name + ".yaml", Source: []byte("name: " + name + "\n"),
		Trigger: automations.TriggerSchedule, Overlap: automations.OverlapSkip, Enabled: true,
	}
}

// apply stores a and returns it as ApplyAutomation left it.
func apply(t *testing.T, st automations.Store, a *automations.Automation) *automations.Automation {
	t.Helper()
	if _, err := st.ApplyAutomation(t.Context(), a); err != nil {
		t.Fatalf("ApplyAutomation(%s): %v", a.Name, err)
	}
	return a
}

// scheduled stores an enabled schedule automation whose next slot is next.
func scheduled(t *testing.T, st automations.Store, name string, next time.Time) *automations.Automation {
	t.Helper()
	a := automation(name)
	a.NextSlot = next
	return apply(t, st, a)
}

// run returns a queued actions run of a, for slot (zero: none), queued at queued.
func run(a *automations.Automation, slot, queued time.Time) *automations.Run {
	return &automations.Run{
		AutomationID: a.ID, Workspace: a.Workspace, Automation: a.Name, Trigger: a.Trigger,
		Kind: automations.KindActions, Slot: slot, Item: []byte(`{"n":1}`), Status: automations.StatusQueued,
		Attempt: 1, QueuedAt: queued,
	}
}

func enqueue(t *testing.T, st automations.Store, runs ...*automations.Run) {
	t.Helper()
	if err := st.EnqueueRuns(t.Context(), runs); err != nil {
		t.Fatalf("EnqueueRuns: %v", err)
	}
}

func claimRuns(t *testing.T, st automations.Store, node string, now time.Time, limit int) []*automations.Run {
	t.Helper()
	runs, err := st.ClaimRuns(t.Context(), node, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimRuns(%s): %v", node, err)
	}
	return runs
}

// lease is the tests' run lease.
const lease = 30 * time.Second

func getRun(t *testing.T, st automations.Store, id string) *automations.Run {
	t.Helper()
	r, err := st.Run(t.Context(), id)
	if err != nil {
		t.Fatalf("Run(%s): %v", id, err)
	}
	return r
}

func getAutomation(t *testing.T, st automations.Store, id string) *automations.Automation {
	t.Helper()
	a, err := st.AutomationByID(t.Context(), id)
	if err != nil {
		t.Fatalf("AutomationByID(%s): %v", id, err)
	}
	return a
}

// ids returns the IDs of runs.
func ids(runs []*automations.Run) []string {
	var list []string
	for _, r := range runs {
		list = append(list, r.ID)
	}
	return list
}

// wantIDs fails unless runs are want, in order.
func wantIDs(t *testing.T, what string, runs []*automations.Run, want ...*automations.Run) {
	t.Helper()
	if got, w := ids(runs), ids(want); !slices.Equal(got, w) {
		t.Errorf("%s = %v, want %v", what, got, w)
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, automations.ErrNotFound) {
		t.Errorf("%s: err = %v, want ErrNotFound", what, err)
	}
}

// finish ends r as succeeded at end, with a small trace.
func finished(r *automations.Run, status string, end time.Time) *automations.Run {
	c := *r
	c.Status, c.EndedAt = status, end
	c.Steps = []byte(fmt.Sprintf(`[{"action":"post","path":"send","status":%q}]`, status))
	c.Output = []byte(`{"ok":true}`)
	return &c
}
