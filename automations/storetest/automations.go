package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// testAutomations tests ApplyAutomation, the lookups, DeleteAutomation, SetEnabled and
// DisableUsing.
func testAutomations(t *testing.T, open Opener) {
	t.Run("apply creates, then updates by workspace and name", func(t *testing.T) {
		st := open(t)
		a := automation("daily")
		a.HookHash, a.Connections, a.NextSlot, a.Overlap = "h1", []string{"chat", "work"}, at(time.Minute), automations.OverlapQueue
		created, err := st.ApplyAutomation(t.Context(), a)
		if err != nil || !created {
			t.Fatalf("ApplyAutomation = %v, %v; want created", created, err)
		}
		if a.ID == "" || a.Version != 1 || a.CreatedAt.IsZero() || !a.UpdatedAt.Equal(a.CreatedAt) {
			t.Fatalf("created %+v: want an ID, version 1, CreatedAt = UpdatedAt", a)
		}
		wantAutomation(t, st, a)

		// The same source again: no new version; every other column from a.
		b := automation("daily")
		b.Enabled, b.Reason, b.Primed, b.Connections, b.File = false, "off for now", true, []string{"mail"}, "other.yaml"
		created, err = st.ApplyAutomation(t.Context(), b)
		if err != nil || created {
			t.Fatalf("second ApplyAutomation = %v, %v; want updated", created, err)
		}
		if b.ID != a.ID || b.Version != 1 || !b.CreatedAt.Equal(a.CreatedAt) || b.HookHash != "h1" {
			t.Errorf("updated %+v: want ID %s, version 1, CreatedAt %v and HookHash h1 kept", b, a.ID, a.CreatedAt)
		}
		wantAutomation(t, st, b)

		// A changed source bumps the version; a HookHash given replaces the stored one.
		c := automation("daily")
		c.Source, c.HookHash = []byte("name: daily\n# changed\n"), "h2"
		apply(t, st, c)
		if c.Version != 2 || c.HookHash != "h2" {
			t.Errorf("changed source: version %d, hook %q; want 2, h2", c.Version, c.HookHash)
		}
		wantAutomation(t, st, c)
		if _, err := st.AutomationByHook(t.Context(), "h1"); err == nil {
			t.Errorf("AutomationByHook(old hash) found the automation, want ErrNotFound")
		}
	})

	t.Run("lookups", func(t *testing.T) {
		st := open(t)
		b := apply(t, st, automation("b"))
		a := automation("a")
		a.HookHash = "hash-a"
		apply(t, st, a)
		other := automation("a")
		other.Workspace = "team"
		apply(t, st, other)
		if other.ID == a.ID {
			t.Fatalf("one name in two workspaces got one ID")
		}

		list, err := st.Automations(t.Context(), "default")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range list {
			names = append(names, x.Workspace+"/"+x.Name)
		}
		if want := []string{"default/a", "default/b"}; !slices.Equal(names, want) {
			t.Errorf("Automations(default) = %v, want %v", names, want)
		}
		if got, err := st.Automation(t.Context(), "team", "a"); err != nil || got.ID != other.ID {
			t.Errorf("Automation(team, a) = %v, %v; want %s", got, err, other.ID)
		}
		if got, err := st.AutomationByHook(t.Context(), "hash-a"); err != nil || got.ID != a.ID {
			t.Errorf("AutomationByHook = %v, %v; want %s", got, err, a.ID)
		}
		if got := getAutomation(t, st, b.ID); got.Name != "b" {
			t.Errorf("AutomationByID(%s) = %s, want b", b.ID, got.Name)
		}
		_, err = st.Automation(t.Context(), "default", "c")
		wantNotFound(t, "Automation(default, c)", err)
		_, err = st.AutomationByID(t.Context(), "nope")
		wantNotFound(t, "AutomationByID(nope)", err)
		_, err = st.AutomationByHook(t.Context(), "nope")
		wantNotFound(t, "AutomationByHook(nope)", err)
		_, err = st.AutomationByHook(t.Context(), "")
		wantNotFound(t, `AutomationByHook("") (b has no hook)`, err)
	})

	t.Run("delete takes runs and keys with it", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(0))
		keep := scheduled(t, st, "keep", at(0))
		r, kept := run(a, at(0), at(0)), run(keep, at(0), at(0))
		enqueue(t, st, r, kept)
		if err := st.DeleteAutomation(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
		_, err := st.AutomationByID(t.Context(), a.ID)
		wantNotFound(t, "AutomationByID after delete", err)
		_, err = st.Run(t.Context(), r.ID)
		wantNotFound(t, "Run of a deleted automation", err)
		getRun(t, st, kept.ID)
		if due, err := st.NextDue(t.Context()); err != nil || !due.Equal(at(0)) {
			t.Errorf("NextDue = %v, %v; want the other automation's %v", due, err, at(0))
		}
		wantNotFound(t, "second DeleteAutomation", st.DeleteAutomation(t.Context(), a.ID))
	})

	t.Run("set enabled", func(t *testing.T) {
		st := open(t)
		a := scheduled(t, st, "a", at(time.Minute))
		if err := st.SetEnabled(t.Context(), a.ID, false, "disabled by the user", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got := getAutomation(t, st, a.ID)
		if got.Enabled || got.Reason != "disabled by the user" || !got.NextSlot.IsZero() {
			t.Errorf("off: enabled %v, reason %q, next %v; want false, the reason, zero", got.Enabled, got.Reason, got.NextSlot)
		}
		if due, _ := st.NextDue(t.Context()); !due.IsZero() {
			t.Errorf("NextDue with the only automation off = %v, want zero", due)
		}
		if err := st.SetEnabled(t.Context(), a.ID, true, "", at(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		got = getAutomation(t, st, a.ID)
		if !got.Enabled || got.Reason != "" || !got.NextSlot.Equal(at(2*time.Minute)) {
			t.Errorf("on: enabled %v, reason %q, next %v; want true, none, %v", got.Enabled, got.Reason, got.NextSlot, at(2*time.Minute))
		}
		if err := st.SetEnabled(t.Context(), a.ID, true, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got := getAutomation(t, st, a.ID); !got.NextSlot.IsZero() {
			t.Errorf("on without a next slot: next %v, want zero", got.NextSlot)
		}
		wantNotFound(t, "SetEnabled(nope)", st.SetEnabled(t.Context(), "nope", true, "", at(0)))
	})

	t.Run("set enabled clears primed and the dedupe keys", func(t *testing.T) {
		st := open(t)
		a := pollAutomation(t, st, "p")
		if started := poll(t, st, a, at(0), "k1"); len(started) != 0 {
			t.Fatalf("first poll started %d runs, want none", len(started))
		}
		if !getAutomation(t, st, a.ID).Primed {
			t.Fatalf("first poll left the automation unprimed")
		}
		if err := st.SetEnabled(t.Context(), a.ID, true, "", at(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if getAutomation(t, st, a.ID).Primed {
			t.Errorf("SetEnabled(on) kept Primed")
		}
		// Primed again by hand: k1 is new once more, since its key went with the old priming.
		a.Primed = true
		apply(t, st, a)
		if started := poll(t, st, a, at(time.Minute), "k1"); len(started) != 1 {
			t.Errorf("poll of k1 after SetEnabled(on) started %d runs, want 1: its key was kept", len(started))
		}
	})

	t.Run("disable using a connection", func(t *testing.T) {
		st := open(t)
		uses := func(name, ws string, enabled bool, conns ...string) *automations.Automation {
			a := automation(name)
			a.Workspace, a.Enabled, a.Connections, a.NextSlot = ws, enabled, conns, at(time.Minute)
			if !enabled {
				a.Reason, a.NextSlot = "disabled by the user", time.Time{}
			}
			return apply(t, st, a)
		}
		b := uses("b", "default", true, "chat", "work")
		a := uses("a", "default", true, "work")
		c := uses("c", "default", true, "chat", "workspace")
		d := uses("d", "default", false, "work")
		e := uses("e", "team", true, "work")
		got, err := st.DisableUsing(t.Context(), "default", "work", "connection work was disconnected")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range got {
			names = append(names, x.Name)
			if x.Enabled || x.Reason != "connection work was disconnected" || !x.NextSlot.IsZero() {
				t.Errorf("returned %s: enabled %v, reason %q, next %v; want it off as it is now", x.Name, x.Enabled, x.Reason, x.NextSlot)
			}
		}
		if want := []string{"a", "b"}; !slices.Equal(names, want) {
			t.Errorf("DisableUsing returned %v, want %v", names, want)
		}
		for _, x := range []*automations.Automation{a, b} {
			if got := getAutomation(t, st, x.ID); got.Enabled || got.Reason != "connection work was disconnected" {
				t.Errorf("%s stored: enabled %v, reason %q; want off with the reason", x.Name, got.Enabled, got.Reason)
			}
		}
		for _, x := range []*automations.Automation{c, e} {
			if got := getAutomation(t, st, x.ID); !got.Enabled || !got.NextSlot.Equal(at(time.Minute)) {
				t.Errorf("%s (not using default/work) was changed: %+v", x.Name, got)
			}
		}
		if got := getAutomation(t, st, d.ID); got.Reason != "disabled by the user" {
			t.Errorf("d, already off, has reason %q, want its own kept", got.Reason)
		}
	})
}

// wantAutomation fails unless the stored automation, read each way, has a's columns.
func wantAutomation(t *testing.T, st automations.Store, a *automations.Automation) {
	t.Helper()
	byName, err := st.Automation(t.Context(), a.Workspace, a.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []*automations.Automation{byName, getAutomation(t, st, a.ID)} {
		if got.ID != a.ID || got.Workspace != a.Workspace || got.Name != a.Name || got.File != a.File ||
			string(got.Source) != string(a.Source) || got.Version != a.Version || got.Trigger != a.Trigger ||
			got.Overlap != a.Overlap || got.Enabled != a.Enabled || got.Reason != a.Reason ||
			!got.NextSlot.Equal(a.NextSlot) || got.HookHash != a.HookHash || !slices.Equal(got.Connections, a.Connections) ||
			got.Primed != a.Primed || !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(a.UpdatedAt) {
			t.Errorf("stored %+v\nwant   %+v", got, a)
		}
	}
}
