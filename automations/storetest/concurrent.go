package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// testConcurrent tests that claims running at once, on the stores open returns (one store twice,
// or two sharing one database), never claim one slot or one run twice, and keep serial runs
// one at a time.
func testConcurrent(t *testing.T, open SharedOpener) {
	t.Run("claim due at once claims each slot once", func(t *testing.T) {
		sts := open(t, 2)
		const n, slots = 60, 5
		for i := range n {
			scheduled(t, sts[0], fmt.Sprintf("a%03d", i), at(-time.Duration(i)*time.Second))
		}
		now := at(slots * time.Minute) // each has slots+1 slots due: 0, 1, ..., slots minutes
		got := make([][]*automations.Run, len(sts))
		each(t, sts, func(i int, st automations.Store) error {
			for {
				runs, err := st.ClaimDue(t.Context(), now, 7, everyMinute(new([]*automations.Automation)))
				if err != nil || len(runs) == 0 {
					return err
				}
				got[i] = append(got[i], runs...)
			}
		})
		seen := map[string]bool{}
		for _, runs := range got {
			for _, r := range runs {
				key := r.AutomationID + " " + r.Slot.String()
				if seen[key] {
					t.Errorf("slot %s claimed twice", key)
				}
				seen[key] = true
			}
		}
		if len(seen) != n*(slots+1) {
			t.Errorf("%d slots claimed (%d and %d by each store), want %d", len(seen), len(got[0]), len(got[1]), n*(slots+1))
		}
		runs, err := sts[1].Runs(t.Context(), automations.RunFilter{Workspace: "default"})
		if err != nil || len(runs) != n*(slots+1) {
			t.Errorf("%d runs recorded (%v), want %d", len(runs), err, n*(slots+1))
		}
	})

	t.Run("claim runs at once claims each run once", func(t *testing.T) {
		sts := open(t, 2)
		a := scheduled(t, sts[0], "a", at(0))
		const n = 200
		var runs []*automations.Run
		for i := range n {
			runs = append(runs, run(a, time.Time{}, at(time.Duration(i)*time.Millisecond)))
		}
		enqueue(t, sts[0], runs...)
		claimed := make([][]*automations.Run, len(sts))
		each(t, sts, func(i int, st automations.Store) error {
			for {
				got, err := st.ClaimRuns(t.Context(), fmt.Sprint("n", i), at(time.Minute), lease, 3)
				if err != nil || len(got) == 0 {
					return err
				}
				claimed[i] = append(claimed[i], got...)
			}
		})
		by := map[string]string{}
		for i, list := range claimed {
			for _, r := range list {
				node := fmt.Sprint("n", i)
				if prev, ok := by[r.ID]; ok {
					t.Errorf("run %s claimed by %s and %s", r.ID, prev, node)
				}
				by[r.ID] = node
				if got := getRun(t, sts[0], r.ID); got.Node != node || got.Status != automations.StatusRunning {
					t.Errorf("run %s is %s for %s, want running for %s", r.ID, got.Status, got.Node, node)
				}
			}
		}
		if len(by) != n {
			t.Errorf("%d runs claimed, want %d", len(by), n)
		}
	})

	t.Run("serial runs stay one at a time across workers", func(t *testing.T) {
		sts := open(t, 2)
		var runs []*automations.Run
		for _, name := range []string{"a", "b"} {
			a := scheduled(t, sts[0], name, at(0))
			for i := range 15 {
				r := run(a, at(time.Duration(i)*time.Minute), at(time.Duration(i)*time.Minute))
				r.Serial = true
				runs = append(runs, r)
			}
		}
		enqueue(t, sts[0], runs...)
		var mu sync.Mutex
		running := map[string]string{} // automation ID -> its serial run running
		var order []string
		each(t, sts, func(i int, st automations.Store) error {
			node := fmt.Sprint("n", i)
			for idle, last := 0, -1; idle < 10000; {
				got, err := st.ClaimRuns(t.Context(), node, at(time.Hour), lease, 2)
				if err != nil {
					return err
				}
				mu.Lock()
				progress := len(order)
				for _, r := range got {
					if other, ok := running[r.AutomationID]; ok {
						mu.Unlock()
						return fmt.Errorf("%s claimed %s while %s of its automation runs", node, r.ID, other)
					}
					running[r.AutomationID] = r.ID
					order = append(order, r.ID)
				}
				mu.Unlock()
				if len(got) == 0 {
					if progress == len(runs) {
						return nil
					}
					// The other worker holds the runs that hold back the rest.
					if progress == last {
						idle++
					} else {
						idle, last = 0, progress
					}
					continue
				}
				var ended []*automations.Run
				mu.Lock()
				for _, r := range got {
					delete(running, r.AutomationID) // before it ends: then the next may be claimed
					ended = append(ended, finished(r, automations.StatusSucceeded, at(time.Hour)))
				}
				mu.Unlock()
				if err := st.FinishRuns(t.Context(), node, ended, nil); err != nil {
					return err
				}
			}
			return fmt.Errorf("%s: runs left unclaimed", node)
		})
		pos := map[string]int{}
		for i, id := range order {
			pos[id] = i
		}
		for i := 1; i < len(runs); i++ {
			if prev, r := runs[i-1], runs[i]; prev.AutomationID == r.AutomationID && pos[prev.ID] > pos[r.ID] {
				t.Errorf("serial run of slot %v claimed before the one of slot %v", r.Slot, prev.Slot)
			}
		}
	})
}

// each runs fn for each store in its own goroutine, at once, and fails t with their errors.
func each(t *testing.T, sts []automations.Store, fn func(i int, st automations.Store) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(sts))
	start := make(chan struct{})
	for i, st := range sts {
		wg.Go(func() {
			<-start
			errs[i] = fn(i, st)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}
