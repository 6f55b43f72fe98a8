package sqlite

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/automations/storetest"
)

// TestAutomationsStore runs the contract every automations.Store keeps.
func TestAutomationsStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) automations.Store {
		return open(t, dbPath(t), testKey(t, 1))
	})
}

// TestAutomationsStoreShared runs the concurrency contract with two Store values on one file,
// as two processes sharing it.
func TestAutomationsStoreShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T, n int) []automations.Store {
		path := dbPath(t)
		list := make([]automations.Store, n)
		for i := range list {
			list[i] = open(t, path, testKey(t, 1))
		}
		return list
	})
}

// TestDeleteAutomationTakesKeys checks what the contract cannot see: deleting an automation
// deletes its dedupe keys and runs with it (ON DELETE CASCADE, with foreign keys on), and only
// its own.
func TestDeleteAutomationTakesKeys(t *testing.T) {
	s := open(t, dbPath(t), testKey(t, 1))
	ctx := t.Context()
	var ids []string
	for _, name := range []string{"gone", "kept"} {
		a := &automations.Automation{Workspace: "default", Name: name, Source: []byte("name: " + name),
			Trigger: automations.TriggerPoll, Enabled: true}
		if _, err := s.ApplyAutomation(ctx, a); err != nil {
			t.Fatal(err)
		}
		poll := &automations.Run{AutomationID: a.ID, Workspace: "default", Automation: name, Trigger: a.Trigger,
			Kind: automations.KindPoll, Status: automations.StatusQueued, Attempt: 1}
		if err := s.EnqueueRuns(ctx, []*automations.Run{poll}); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.ClaimRuns(ctx, "n1", time.Now(), time.Minute, 1)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("ClaimRuns = %v, %v", claimed, err)
		}
		claimed[0].Status, claimed[0].EndedAt = automations.StatusSucceeded, time.Now()
		items := []automations.PollItem{{Key: "k1", Run: &automations.Run{}}, {Key: "k2", Run: &automations.Run{}}}
		if _, err := s.FinishPoll(ctx, "n1", claimed[0], items, automations.DefaultSeenLimits); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	if err := s.DeleteAutomation(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		table, id string
		want      int
	}{{"seen_keys", ids[0], 0}, {"runs", ids[0], 0}, {"seen_keys", ids[1], 2}, {"runs", ids[1], 1}} {
		var n int
		if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM `+c.table+` WHERE automation_id = ?`, c.id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.want {
			t.Errorf("%s rows of automation %s: %d, want %d", c.table, c.id, n, c.want)
		}
	}
}
