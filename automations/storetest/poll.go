package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// testPoll tests FinishPoll: priming, dedupe, the limits on the keys kept, a lost lease.
func testPoll(t *testing.T, open Opener) {
	t.Run("the first poll primes and starts none; later ones start new items once", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		if started := poll(t, st, a, at(0), "k1", "k2"); len(started) != 0 {
			t.Fatalf("first poll started %v, want none", keysOf(started))
		}
		if !getAutomation(t, st, a.ID).Primed {
			t.Fatalf("first poll left the automation unprimed")
		}
		started := poll(t, st, a, at(time.Minute), "k2", "k3", "k1", "k4", "k3")
		if got, want := keysOf(started), []string{"k3", "k4"}; !slices.Equal(got, want) {
			t.Fatalf("second poll started %v, want %v (new keys, each once, in order)", got, want)
		}
		for _, r := range started {
			got := getRun(t, st, r.ID)
			if got.Status != automations.StatusQueued || string(got.Item) != string(r.Item) || got.Kind != automations.KindActions {
				t.Errorf("started run stored as %+v, want queued with its item", got)
			}
		}
		if started := poll(t, st, a, at(2*time.Minute), "k4", "k1"); len(started) != 0 {
			t.Errorf("a page sent again started %v, want none", keysOf(started))
		}
	})

	t.Run("the poll run is saved", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		p := claimPoll(t, st, a, at(0))
		p = finished(p, automations.StatusSucceeded, at(time.Second))
		if _, err := st.FinishPoll(t.Context(), "n1", p, nil, automations.DefaultSeenLimits); err != nil {
			t.Fatal(err)
		}
		got := getRun(t, st, p.ID)
		if got.Status != automations.StatusSucceeded || !got.EndedAt.Equal(at(time.Second)) || string(got.Steps) != string(p.Steps) {
			t.Errorf("poll run stored as %+v, want it ended", got)
		}
	})

	t.Run("a failed poll primes nothing", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		p := finished(claimPoll(t, st, a, at(0)), automations.StatusFailed, at(time.Second))
		p.Error = "GET /tasks: 503 Service Unavailable"
		if _, err := st.FinishPoll(t.Context(), "n1", p, nil, automations.DefaultSeenLimits); err != nil {
			t.Fatal(err)
		}
		if getAutomation(t, st, a.ID).Primed {
			t.Fatalf("a failed poll primed the automation: the next poll would start every item that exists")
		}
		if started := poll(t, st, a, at(time.Minute), "k1"); len(started) != 0 {
			t.Errorf("first successful poll started %v, want none", keysOf(started))
		}
	})

	t.Run("keep the newest keys", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		limits := automations.SeenLimits{Keep: 3}
		pollWith(t, st, a, at(0), limits, "k1", "k2")
		pollWith(t, st, a, at(time.Minute), limits, "k3", "k4") // k1 dropped: oldest of four
		if got := keysOf(pollWith(t, st, a, at(2*time.Minute), limits, "k2", "k1")); !slices.Equal(got, []string{"k1"}) {
			t.Errorf("after keeping 3 of 4 keys, a poll of k2, k1 started %v, want k1 (dropped) only", got)
		}
		// Seen again, k2 became newer than k3, which k1's return pushed out.
		if got := keysOf(pollWith(t, st, a, at(3*time.Minute), limits, "k2", "k3", "k4")); !slices.Equal(got, []string{"k3"}) {
			t.Errorf("a poll of k2, k3, k4 started %v, want k3", got)
		}
	})

	t.Run("keys older than the maximum age are dropped", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		limits := automations.SeenLimits{Keep: 100, MaxAge: time.Hour}
		pollWith(t, st, a, at(0), limits, "old", "listed")
		pollWith(t, st, a, at(50*time.Minute), limits, "listed")
		pollWith(t, st, a, at(100*time.Minute), limits) // "old" is 100 minutes old
		got := keysOf(pollWith(t, st, a, at(101*time.Minute), limits, "old", "listed"))
		if !slices.Equal(got, []string{"old"}) {
			t.Errorf("started %v, want old (past the maximum age) only: listed was seen again 51 minutes ago", got)
		}
	})

	t.Run("a lost lease records no keys and starts nothing", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		poll(t, st, a, at(0))
		p := claimPoll(t, st, a, at(time.Minute))
		if _, err := st.InterruptExpired(t.Context(), at(time.Minute+lease), nil); err != nil {
			t.Fatal(err)
		}
		p = finished(p, automations.StatusSucceeded, at(time.Minute+lease+time.Second))
		started, err := st.FinishPoll(t.Context(), "n1", p, items(at(time.Minute), "k1"), automations.DefaultSeenLimits)
		if !errors.Is(err, automations.ErrLeaseLost) || len(started) != 0 {
			t.Fatalf("FinishPoll after the lease expired = %v, %v; want ErrLeaseLost, nothing started", keysOf(started), err)
		}
		if got := getRun(t, st, p.ID); got.Status != automations.StatusInterrupted {
			t.Errorf("poll run is %s, want interrupted (left as it was)", got.Status)
		}
		if got := keysOf(poll(t, st, a, at(2*time.Minute), "k1")); !slices.Equal(got, []string{"k1"}) {
			t.Errorf("the next poll started %v, want k1: the lost poll must not have recorded it", got)
		}
	})

	t.Run("a poll of a deleted automation finishes without a record", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		p := finished(claimPoll(t, st, a, at(0)), automations.StatusSucceeded, at(time.Second))
		if err := st.DeleteAutomation(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
		if started, err := st.FinishPoll(t.Context(), "n1", p, items(at(0), "k1"), automations.DefaultSeenLimits); err != nil || len(started) != 0 {
			t.Errorf("FinishPoll = %v, %v; want nothing, no error", started, err)
		}
	})
}

// pollAutomation stores an enabled poll automation.
func pollAutomation(t *testing.T, st automations.Store, name string) *automations.Automation {
	t.Helper()
	a := automation(name)
	a.Trigger = automations.TriggerPoll
	return apply(t, st, a)
}

// claimPoll records a's poll run for the slot end and claims it for node n1. It is queued a
// day before end, so it is older than every run the test's polls started.
func claimPoll(t *testing.T, st automations.Store, a *automations.Automation, end time.Time) *automations.Run {
	t.Helper()
	p := run(a, end, end.Add(-24*time.Hour))
	p.Kind, p.Item = automations.KindPoll, nil
	enqueue(t, st, p)
	claimed := claimRuns(t, st, "n1", end, 1)
	if len(claimed) != 1 || claimed[0].ID != p.ID {
		t.Fatalf("ClaimRuns = %v, want the poll run %s", ids(claimed), p.ID)
	}
	return claimed[0]
}

// poll runs a poll of a that ends at end and returns keys, with the default limits.
func poll(t *testing.T, st automations.Store, a *automations.Automation, end time.Time, keys ...string) []*automations.Run {
	t.Helper()
	return pollWith(t, st, a, end, automations.DefaultSeenLimits, keys...)
}

func pollWith(t *testing.T, st automations.Store, a *automations.Automation, end time.Time, limits automations.SeenLimits, keys ...string) []*automations.Run {
	t.Helper()
	p := finished(claimPoll(t, st, a, end), automations.StatusSucceeded, end)
	it := items(end, keys...)
	for _, i := range it {
		i.Run.AutomationID, i.Run.Workspace, i.Run.Automation, i.Run.Trigger = a.ID, a.Workspace, a.Name, a.Trigger
	}
	started, err := st.FinishPoll(t.Context(), "n1", p, it, limits)
	if err != nil {
		t.Fatalf("FinishPoll: %v", err)
	}
	return started
}

// items returns poll items of keys; each run's Item is {"key": key}. Their automation is set by
// pollWith.
func items(queued time.Time, keys ...string) []automations.PollItem {
	var list []automations.PollItem
	for _, k := range keys {
		list = append(list, automations.PollItem{Key: k, Run: &automations.Run{
			Kind: automations.KindActions, Item: []byte(`{"key":"` + k + `"}`), Status: automations.StatusQueued,
			Attempt: 1, QueuedAt: queued,
		}})
	}
	return list
}

// keysOf returns the keys in the items of runs started by items.
func keysOf(runs []*automations.Run) []string {
	var keys []string
	for _, r := range runs {
		s := string(r.Item)
		keys = append(keys, s[len(`{"key":"`):len(s)-2])
	}
	return keys
}
