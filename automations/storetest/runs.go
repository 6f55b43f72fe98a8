package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// testRuns tests EnqueueRuns, ClaimRuns, ExtendLeases, FinishRuns and InterruptExpired.
func testRuns(t *testing.T, open Opener) {
	t.Run("enqueue records every column and fills ID and QueuedAt", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		r := run(a, at(time.Minute), at(time.Second))
		r.Serial, r.Attempt, r.RetryOf, r.NotBefore, r.Trigger = true, 3, "first", at(time.Hour), automations.TriggerPoll
		bare := run(a, time.Time{}, time.Time{})
		bare.Item = nil
		skipped := run(a, at(2*time.Minute), at(2*time.Minute))
		skipped.Status = automations.StatusSkipped
		enqueue(t, st, r, bare, skipped)
		if r.ID == "" || bare.ID == "" || bare.QueuedAt.IsZero() || r.ID == bare.ID {
			t.Fatalf("EnqueueRuns left IDs %q, %q and QueuedAt %v; want them filled", r.ID, bare.ID, bare.QueuedAt)
		}
		wantRun(t, getRun(t, st, r.ID), r)
		wantRun(t, getRun(t, st, bare.ID), bare)
		wantRun(t, getRun(t, st, skipped.ID), skipped)
	})

	t.Run("enqueue is all or none", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		enqueue(t, st, run(a, at(0), at(0)))
		first, again := run(a, time.Time{}, at(time.Second)), run(a, at(0), at(time.Second))
		if err := st.EnqueueRuns(t.Context(), []*automations.Run{first, again}); err == nil {
			t.Fatalf("EnqueueRuns with a slot that has a run: no error")
		}
		if n := len(listOf(t, st, a)); n != 1 {
			t.Errorf("%d runs after a failed EnqueueRuns, want 1 (none of the batch)", n)
		}
	})

	t.Run("claim runs: oldest first, up to limit, with a lease", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		r3, r1, r2 := run(a, time.Time{}, at(3*time.Second)), run(a, time.Time{}, at(time.Second)), run(a, time.Time{}, at(2*time.Second))
		enqueue(t, st, r3, r1, r2)
		now := at(time.Minute)
		got := claimRuns(t, st, "n1", now, 2)
		wantIDs(t, "ClaimRuns(limit 2)", got, r1, r2)
		for _, r := range got {
			stored := getRun(t, st, r.ID)
			for _, x := range []*automations.Run{r, stored} {
				if x.Status != automations.StatusRunning || x.Node != "n1" || !x.LeaseExpires.Equal(now.Add(lease)) ||
					!x.StartedAt.Equal(now) || string(x.Item) != `{"n":1}` {
					t.Errorf("claimed run %+v: want running for n1, lease until %v, started %v, with its item", x, now.Add(lease), now)
				}
			}
		}
		wantIDs(t, "second ClaimRuns", claimRuns(t, st, "n2", now, 2), r3)
		wantIDs(t, "third ClaimRuns", claimRuns(t, st, "n2", now, 2))
	})

	t.Run("claim runs waits for not before", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		r := run(a, time.Time{}, at(0))
		r.NotBefore = at(time.Minute)
		enqueue(t, st, r)
		wantIDs(t, "ClaimRuns before NotBefore", claimRuns(t, st, "n1", at(time.Minute-time.Nanosecond), 10))
		wantIDs(t, "ClaimRuns at NotBefore", claimRuns(t, st, "n1", at(time.Minute), 10), r)
	})

	t.Run("claim runs keeps serial runs one at a time, in order", func(t *testing.T) {
		st := open(t)
		a, b := scheduled(t, st, "a", at(0)), scheduled(t, st, "b", at(0))
		s1, s2, s3 := run(a, at(0), at(0)), run(a, at(time.Minute), at(time.Minute)), run(a, at(2*time.Minute), at(2*time.Minute))
		free := run(a, time.Time{}, at(2*time.Second))
		other := run(b, at(0), at(time.Second))
		s1.Serial, s2.Serial, s3.Serial, other.Serial = true, true, true, true
		enqueue(t, st, s3, s2, s1, free, other)
		now := at(time.Hour)
		wantIDs(t, "ClaimRuns", claimRuns(t, st, "n1", now, 10), s1, other, free)
		wantIDs(t, "ClaimRuns while s1 runs", claimRuns(t, st, "n1", now, 10))
		finish(t, st, "n1", s1, now)
		wantIDs(t, "ClaimRuns after s1 ended", claimRuns(t, st, "n1", now, 10), s2)

		// An older serial run held back by its backoff holds back the younger ones.
		c := scheduled(t, st, "c", at(0))
		retry, younger := run(c, time.Time{}, at(3*time.Minute)), run(c, at(4*time.Minute), at(4*time.Minute))
		retry.Serial, retry.NotBefore, younger.Serial = true, now.Add(time.Minute), true
		enqueue(t, st, retry, younger)
		wantIDs(t, "ClaimRuns with an older serial run waiting", claimRuns(t, st, "n1", now, 10))
		wantIDs(t, "ClaimRuns once it may run", claimRuns(t, st, "n1", now.Add(time.Minute), 10), retry)
	})

	t.Run("extend leases", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		mine, theirs := run(a, time.Time{}, at(0)), run(a, time.Time{}, at(time.Second))
		enqueue(t, st, mine, theirs)
		claimRuns(t, st, "n1", at(0), 1)
		claimRuns(t, st, "n2", at(0), 1)
		until := at(time.Hour)
		if err := st.ExtendLeases(t.Context(), "n1", []string{mine.ID, theirs.ID}, until); err != nil {
			t.Fatal(err)
		}
		if got := getRun(t, st, mine.ID).LeaseExpires; !got.Equal(until) {
			t.Errorf("n1's run lease = %v, want %v", got, until)
		}
		if got := getRun(t, st, theirs.ID).LeaseExpires; !got.Equal(at(lease)) {
			t.Errorf("n2's run lease = %v, want it kept at %v", got, at(lease))
		}
	})

	t.Run("finish runs saves the end and records retries", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		ok, bad := run(a, time.Time{}, at(0)), run(a, at(0), at(time.Second))
		enqueue(t, st, ok, bad)
		claimed := claimRuns(t, st, "n1", at(time.Minute), 2)
		done := finished(claimed[0], automations.StatusSucceeded, at(2*time.Minute))
		failed := finished(claimed[1], automations.StatusFailed, at(2*time.Minute))
		failed.Error, failed.FailedStep = "POST /messages: 503 Service Unavailable", "post/send"
		retry := run(a, time.Time{}, at(2*time.Minute))
		retry.Attempt, retry.RetryOf, retry.NotBefore = 2, bad.ID, at(3*time.Minute)
		if err := st.FinishRuns(t.Context(), "n1", []*automations.Run{done, failed}, []*automations.Run{nil, retry}); err != nil {
			t.Fatal(err)
		}
		wantRun(t, getRun(t, st, ok.ID), done)
		wantRun(t, getRun(t, st, bad.ID), failed)
		if retry.ID == "" {
			t.Fatalf("FinishRuns left the retry's ID empty")
		}
		wantRun(t, getRun(t, st, retry.ID), retry)
		if n := len(listOf(t, st, a)); n != 3 {
			t.Errorf("%d runs, want 3 (two and one retry)", n)
		}
		if err := st.FinishRuns(t.Context(), "n1", []*automations.Run{done}, []*automations.Run{}); err == nil {
			t.Errorf("FinishRuns with 0 retries for 1 run: no error")
		}
	})

	t.Run("finish runs after the lease was lost", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		lost, kept, taken := run(a, time.Time{}, at(0)), run(a, time.Time{}, at(time.Second)), run(a, time.Time{}, at(2*time.Second))
		enqueue(t, st, lost, kept, taken)
		claimRuns(t, st, "n1", at(0), 1)           // lost: expires at lease
		claimRuns(t, st, "n1", at(time.Minute), 1) // kept
		claimRuns(t, st, "n2", at(time.Minute), 1) // taken: n2's
		interrupted, err := st.InterruptExpired(t.Context(), at(lease), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "InterruptExpired", interrupted, lost)
		end := at(2 * time.Minute)
		retry := run(a, time.Time{}, end)
		err = st.FinishRuns(t.Context(), "n1",
			[]*automations.Run{finished(lost, automations.StatusFailed, end), finished(kept, automations.StatusSucceeded, end), finished(taken, automations.StatusSucceeded, end)},
			[]*automations.Run{retry, nil, nil})
		if !errors.Is(err, automations.ErrLeaseLost) || !strings.Contains(err.Error(), lost.ID) || !strings.Contains(err.Error(), taken.ID) {
			t.Fatalf("FinishRuns = %v, want ErrLeaseLost naming %s and %s", err, lost.ID, taken.ID)
		}
		if got := getRun(t, st, lost.ID).Status; got != automations.StatusInterrupted {
			t.Errorf("lost run is %s, want interrupted, left as it was", got)
		}
		if got := getRun(t, st, taken.ID); got.Status != automations.StatusRunning || got.Node != "n2" {
			t.Errorf("n2's run is %s for %s, want running for n2", got.Status, got.Node)
		}
		if got := getRun(t, st, kept.ID).Status; got != automations.StatusSucceeded {
			t.Errorf("kept run is %s, want succeeded: the others are saved", got)
		}
		if _, err := st.Run(t.Context(), retry.ID); retry.ID != "" && err == nil {
			t.Errorf("the retry of a lost run was recorded")
		}
		if n := len(listOf(t, st, a)); n != 3 {
			t.Errorf("%d runs, want 3 (no retry)", n)
		}
	})

	t.Run("finish runs of a deleted automation", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		r := run(a, time.Time{}, at(0))
		enqueue(t, st, r)
		claimRuns(t, st, "n1", at(0), 1)
		if err := st.DeleteAutomation(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
		err := st.FinishRuns(t.Context(), "n1", []*automations.Run{finished(r, automations.StatusSucceeded, at(time.Second))},
			[]*automations.Run{run(a, time.Time{}, at(time.Second))})
		if err != nil {
			t.Errorf("FinishRuns of a deleted automation's run = %v, want nil: it finishes without a record", err)
		}
	})

	t.Run("interrupt expired", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		early, late, waiting := run(a, at(0), at(0)), run(a, time.Time{}, at(time.Second)), run(a, time.Time{}, at(2*time.Second))
		enqueue(t, st, early, late, waiting)
		claimRuns(t, st, "dead", at(0), 1)
		claimRuns(t, st, "alive", at(time.Minute), 1)
		var given []*automations.Run
		var retry *automations.Run
		now := at(lease) // early's lease expires at now exactly
		got, err := st.InterruptExpired(t.Context(), now, func(r *automations.Run) *automations.Run {
			given = append(given, r)
			retry = run(a, time.Time{}, now)
			retry.Attempt, retry.RetryOf = r.Attempt+1, r.ID
			return retry
		})
		if err != nil {
			t.Fatal(err)
		}
		wantIDs(t, "InterruptExpired", got, early)
		wantIDs(t, "retry was given", given, early)
		stored := getRun(t, st, early.ID)
		if stored.Status != automations.StatusInterrupted || stored.Error == "" || !stored.EndedAt.Equal(now) {
			t.Errorf("expired run stored as %+v, want interrupted at %v with an error", stored, now)
		}
		if len(got) == 1 && (got[0].Status != automations.StatusInterrupted || got[0].Error != stored.Error) {
			t.Errorf("returned run %+v, want it as marked", got[0])
		}
		if got := getRun(t, st, retry.ID); got.Status != automations.StatusQueued || got.RetryOf != early.ID || got.Attempt != 2 {
			t.Errorf("retry stored as %+v, want queued, attempt 2 of %s", got, early.ID)
		}
		if got := getRun(t, st, late.ID).Status; got != automations.StatusRunning {
			t.Errorf("run with a live lease is %s, want running", got)
		}
		if got := getRun(t, st, waiting.ID).Status; got != automations.StatusQueued {
			t.Errorf("queued run is %s, want queued", got)
		}
		if again, err := st.InterruptExpired(t.Context(), now, nil); err != nil || len(again) != 0 {
			t.Errorf("second InterruptExpired = %v, %v; want none", again, err)
		}
	})
}

// finish ends r (claimed by node) as succeeded at end.
func finish(t *testing.T, st automations.Store, node string, r *automations.Run, end time.Time) {
	t.Helper()
	if err := st.FinishRuns(t.Context(), node, []*automations.Run{finished(r, automations.StatusSucceeded, end)}, nil); err != nil {
		t.Fatalf("FinishRuns(%s): %v", r.ID, err)
	}
}

// wantRun fails unless got has want's columns; a want without StartedAt takes got's.
func wantRun(t *testing.T, got, want *automations.Run) {
	t.Helper()
	started := want.StartedAt
	if started.IsZero() {
		started = got.StartedAt
	}
	if got.ID != want.ID || got.AutomationID != want.AutomationID || got.Workspace != want.Workspace ||
		got.Automation != want.Automation || got.Trigger != want.Trigger || got.Kind != want.Kind ||
		!got.Slot.Equal(want.Slot) || string(got.Item) != string(want.Item) || got.Serial != want.Serial ||
		got.Status != want.Status || got.Attempt != want.Attempt || got.RetryOf != want.RetryOf ||
		!got.NotBefore.Equal(want.NotBefore) || !got.QueuedAt.Equal(want.QueuedAt) || !got.StartedAt.Equal(started) ||
		!got.EndedAt.Equal(want.EndedAt) || got.Error != want.Error || got.FailedStep != want.FailedStep ||
		string(got.Steps) != string(want.Steps) || string(got.Output) != string(want.Output) {
		t.Errorf("stored run %+v\nwant       %+v", got, want)
	}
}
