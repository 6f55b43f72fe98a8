package automations_test

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// TestPollDedupe: the first poll after an automation is turned on records the items that exist
// and starts nothing; the same page again starts nothing; a page with one new item starts one
// run, whose trigger.item is that item.
func TestPollDedupe(t *testing.T) {
	e := newEnv(t)
	page := []map[string]any{{"id": "a", "name": "first"}, {"id": "b", "name": "second"}}
	e.api.set(func(a *api) { a.items = page })
	e.clock.Set(time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC))
	e.apply(postDoc("watch",
		`poll: {app: api, flow: list, connection: work, cron: "*/5 * * * *", timezone: UTC}`,
		"new: {{ trigger.item.name }} at {{ trigger.time }}"))

	step := func() {
		t.Helper()
		e.clock.Advance(5 * time.Minute)
		e.tick()
	}
	step() // primes
	if got := e.api.posted(); len(got) != 0 {
		t.Fatalf("the first poll started runs for %q, want none", got)
	}
	if !e.automation("watch").Primed {
		t.Errorf("not primed after the first poll")
	}
	step() // the same page
	if got := e.api.posted(); len(got) != 0 {
		t.Fatalf("a page seen before started runs for %q, want none", got)
	}
	e.api.set(func(a *api) { a.items = append(page, map[string]any{"id": "c", "name": "third"}) })
	step()
	step() // and once more: c is seen now
	if got, want := e.api.posted(), []string{"new: third at 2026-03-23T10:15:00Z"}; !slices.Equal(got, want) {
		t.Errorf("posted %q, want %q (trigger.time: the slot of the poll that found it)", got, want)
	}
	kinds := map[string]int{}
	for _, r := range e.runs("watch") {
		kinds[r.Kind+" "+r.Status]++
	}
	if want := map[string]int{"poll succeeded": 4, "actions succeeded": 1}; !maps.Equal(kinds, want) {
		t.Errorf("runs %v, want %v", kinds, want)
	}
}
