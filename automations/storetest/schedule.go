package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// everyMinute is a planner that records a run for the due slot and moves the next slot a
// minute on; it appends each automation it is given to seen.
func everyMinute(seen *[]*automations.Automation) func(a *automations.Automation, active bool) automations.Claim {
	return func(a *automations.Automation, active bool) automations.Claim {
		*seen = append(*seen, a)
		return automations.Claim{Run: run(a, a.NextSlot, time.Time{}), Next: a.NextSlot.Add(time.Minute)}
	}
}

// testSchedule tests NextDue and ClaimDue.
func testSchedule(t *testing.T, open Opener) {
	t.Run("next due", func(t *testing.T) {
		st := open(t)
		if due, err := st.NextDue(t.Context()); err != nil || !due.IsZero() {
			t.Fatalf("NextDue of an empty store = %v, %v; want zero", due, err)
		}
		scheduled(t, st, "later", at(2*time.Minute))
		scheduled(t, st, "sooner", at(time.Minute))
		off := automation("off")
		off.Enabled, off.NextSlot = false, at(0)
		apply(t, st, off)
		hook := automation("hook")
		hook.Trigger = automations.TriggerWebhook
		apply(t, st, hook)
		if due, err := st.NextDue(t.Context()); err != nil || !due.Equal(at(time.Minute)) {
			t.Errorf("NextDue = %v, %v; want %v (the earliest enabled one)", due, err, at(time.Minute))
		}
	})

	t.Run("claim due records runs and moves slots, earliest first", func(t *testing.T) {
		st := open(t)
		b := scheduled(t, st, "b", at(time.Second))
		a := scheduled(t, st, "a", at(0))
		later := scheduled(t, st, "later", at(2*time.Minute))
		off := automation("off")
		off.Enabled, off.NextSlot = false, at(0)
		apply(t, st, off)

		var seen []*automations.Automation
		now := at(30 * time.Second)
		runs, err := st.ClaimDue(t.Context(), now, 10, everyMinute(&seen))
		if err != nil {
			t.Fatal(err)
		}
		if got := names(seen); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("plan was given %v, want [a b] (due, earliest first)", got)
		}
		if len(runs) != 2 || runs[0].AutomationID != a.ID || runs[1].AutomationID != b.ID {
			t.Fatalf("ClaimDue returned %v, want the runs of a and b", runs)
		}
		for _, r := range runs {
			if r.ID == "" || r.QueuedAt.IsZero() {
				t.Errorf("returned run %+v: want its ID and QueuedAt filled", r)
			}
			got := getRun(t, st, r.ID)
			if got.Status != automations.StatusQueued || !got.Slot.Equal(r.Slot) || !got.QueuedAt.Equal(r.QueuedAt) {
				t.Errorf("stored run %+v, want it queued for slot %v", got, r.Slot)
			}
		}
		if got := getAutomation(t, st, a.ID).NextSlot; !got.Equal(at(time.Minute)) {
			t.Errorf("a's next slot = %v, want %v", got, at(time.Minute))
		}
		if got := getAutomation(t, st, later.ID).NextSlot; !got.Equal(at(2 * time.Minute)) {
			t.Errorf("later's next slot moved to %v", got)
		}
		seen = nil
		if runs, err := st.ClaimDue(t.Context(), now, 10, everyMinute(&seen)); err != nil || len(runs) != 0 || len(seen) != 0 {
			t.Errorf("second ClaimDue at the same time = %v, %v (plan given %v); want nothing", runs, err, names(seen))
		}
		if due, _ := st.NextDue(t.Context()); !due.Equal(at(time.Minute)) {
			t.Errorf("NextDue = %v, want %v", due, at(time.Minute))
		}
	})

	t.Run("claim due stops at limit", func(t *testing.T) {
		st := open(t)
		for i, name := range []string{"e", "d", "c", "b", "a"} {
			scheduled(t, st, name, at(time.Duration(4-i)*time.Second))
		}
		var seen []*automations.Automation
		for _, want := range [][]string{{"a", "b"}, {"c", "d"}, {"e"}, nil} {
			seen = nil
			runs, err := st.ClaimDue(t.Context(), at(10*time.Second), 2, everyMinute(&seen))
			if err != nil {
				t.Fatal(err)
			}
			if got := names(seen); !slices.Equal(got, want) || len(runs) != len(want) {
				t.Errorf("ClaimDue(limit 2) planned %v and recorded %d runs, want %v", got, len(runs), want)
			}
		}
	})

	t.Run("claim due tells plan whether a slot or serial run is active", func(t *testing.T) {
		st := open(t)
		scheduled(t, st, "idle", at(0))
		slotQueued := scheduled(t, st, "slot-queued", at(0))
		slotRunning := scheduled(t, st, "slot-running", at(0))
		serial := scheduled(t, st, "serial", at(0))
		hooked := scheduled(t, st, "hooked", at(0))
		ended := scheduled(t, st, "ended", at(0))
		queued := run(serial, time.Time{}, at(-time.Hour))
		queued.Serial = true
		enqueue(t, st,
			run(slotQueued, at(-time.Minute), at(-time.Minute)),
			run(slotRunning, at(-2*time.Minute), at(-2*time.Hour)),
			queued,
			run(hooked, time.Time{}, at(-time.Minute)),
			run(ended, at(-3*time.Minute), at(-3*time.Hour)),
		)
		claimRuns(t, st, "n1", at(-time.Minute), 2) // the runs of ended and slot-running, the oldest
		done := getRun(t, st, lastRun(t, st, ended).ID)
		if err := st.FinishRuns(t.Context(), "n1", []*automations.Run{finished(done, automations.StatusSucceeded, at(-time.Second))}, nil); err != nil {
			t.Fatal(err)
		}
		active := map[string]bool{}
		_, err := st.ClaimDue(t.Context(), at(0), 10, func(a *automations.Automation, act bool) automations.Claim {
			active[a.Name] = act
			return automations.Claim{}
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"idle": false, "slot-queued": true, "slot-running": true, "serial": true, "hooked": false, "ended": false}
		for name, w := range want {
			if got, ok := active[name]; !ok || got != w {
				t.Errorf("plan(%s) active = %v (planned %v), want %v", name, got, ok, w)
			}
		}
	})

	t.Run("a slot that has a run is dropped, not an error", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		b := scheduled(t, st, "b", at(0))
		first := run(a, at(0), at(0))
		enqueue(t, st, first)
		runs, err := st.ClaimDue(t.Context(), at(0), 10, everyMinute(new([]*automations.Automation)))
		if err != nil {
			t.Fatalf("ClaimDue of a slot that has a run: %v", err)
		}
		if len(runs) != 1 || runs[0].AutomationID != b.ID {
			t.Errorf("ClaimDue returned %v, want only b's run", runs)
		}
		if got := getAutomation(t, st, a.ID).NextSlot; !got.Equal(at(time.Minute)) {
			t.Errorf("a's next slot = %v, want it moved to %v", got, at(time.Minute))
		}
		if got := lastRun(t, st, a); got.ID != first.ID {
			t.Errorf("a's last run is %s, want the first %s kept alone", got.ID, first.ID)
		}
	})

	t.Run("a plan without a run or a next slot", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		runs, err := st.ClaimDue(t.Context(), at(time.Hour), 10, func(*automations.Automation, bool) automations.Claim {
			return automations.Claim{}
		})
		if err != nil || len(runs) != 0 {
			t.Fatalf("ClaimDue = %v, %v; want no runs", runs, err)
		}
		if got := getAutomation(t, st, a.ID); !got.NextSlot.IsZero() || !got.Enabled {
			t.Errorf("next slot %v, enabled %v; want zero, still enabled", got.NextSlot, got.Enabled)
		}
		if _, err := st.LastRun(t.Context(), a.ID); err == nil {
			t.Errorf("a run was recorded for a dropped slot")
		}
		if due, _ := st.NextDue(t.Context()); !due.IsZero() {
			t.Errorf("NextDue = %v, want zero", due)
		}
	})
}

func names(list []*automations.Automation) []string {
	var s []string
	for _, a := range list {
		s = append(s, a.Name)
	}
	return s
}

func lastRun(t *testing.T, st automations.Store, a *automations.Automation) *automations.Run {
	t.Helper()
	r, err := st.LastRun(t.Context(), a.ID)
	if err != nil {
		t.Fatalf("LastRun(%s): %v", a.Name, err)
	}
	return r
}
