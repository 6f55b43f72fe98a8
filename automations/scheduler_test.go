package automations_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// TestScheduleDaylightSaving steps a fake clock every 10 minutes through the days around both
// of Berlin's 2026 clock changes, one scheduler pass per step: the 02:30 slot runs once a day,
// at 03:00 on the day it does not exist and at its first occurrence on the day it exists twice.
func TestScheduleDaylightSaving(t *testing.T) {
	tests := []struct {
		name       string
		from, to   time.Time
		wantPosted []string
	}{
		{
			name: "spring forward",
			from: time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC), to: time.Date(2026, 3, 30, 12, 0, 0, 0, time.UTC),
			wantPosted: []string{"2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"},
		},
		{
			name: "fall back",
			from: time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC), to: time.Date(2026, 10, 26, 12, 0, 0, 0, time.UTC),
			wantPosted: []string{"2026-10-24T02:30:00+02:00", "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.clock.Set(tt.from)
			e.apply(postDoc("nightly", `schedule: {cron: "30 2 * * *", timezone: Europe/Berlin}`, "{{ trigger.time }}"))
			for e.clock.Now().Before(tt.to) {
				e.clock.Advance(10 * time.Minute)
				e.tick()
			}
			if got := e.api.posted(); !slices.Equal(got, tt.wantPosted) {
				t.Errorf("posted %q, want %q", got, tt.wantPosted)
			}
			for _, r := range e.runs("nightly") {
				if r.Status != automations.StatusSucceeded {
					t.Errorf("run of slot %s: %s (%s), want succeeded", r.Slot, r.Status, r.Error)
				}
			}
		})
	}
}

// TestCatchUp: patchbay is down from 10:15 to 11:05:30 while a schedule has a slot every ten
// minutes. catch_up: once records one run for the five slots missed, with the first; none
// records nothing for them; both go on with 11:10.
func TestCatchUp(t *testing.T) {
	tests := []struct {
		catchUp   string
		wantSlots []string // of the runs, in order
	}{
		{"once", []string{"10:10", "10:20", "11:10"}},
		{"none", []string{"10:10", "11:10"}},
	}
	for _, tt := range tests {
		t.Run(tt.catchUp, func(t *testing.T) {
			e := newEnv(t)
			e.clock.Set(time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC))
			e.apply(postDoc("every10", `schedule: {cron: "*/10 * * * *", timezone: UTC}`, "{{ trigger.time }}", "catch_up: "+tt.catchUp))
			e.clock.Set(time.Date(2026, 3, 23, 10, 10, 0, 0, time.UTC))
			e.tick()
			e.clock.Set(time.Date(2026, 3, 23, 11, 5, 30, 0, time.UTC)) // back after the downtime
			e.tick()
			if next := e.automation("every10").NextSlot; !next.Equal(time.Date(2026, 3, 23, 11, 10, 0, 0, time.UTC)) {
				t.Errorf("next slot after the downtime %s, want 11:10", next)
			}
			e.clock.Set(time.Date(2026, 3, 23, 11, 10, 0, 0, time.UTC))
			e.tick()
			var got []string
			for _, r := range e.runs("every10") {
				got = append(got, r.Slot.UTC().Format("15:04"))
			}
			if !slices.Equal(got, tt.wantSlots) {
				t.Errorf("runs of slots %q, want %q", got, tt.wantSlots)
			}
			if posts := len(e.api.posted()); posts != len(tt.wantSlots) {
				t.Errorf("%d actions ran, want %d", posts, len(tt.wantSlots))
			}
		})
	}
}

// TestCatchUpNoneRunsSlotWithinGrace: a slot less than automations.LateGrace old when the
// scheduler comes back is not missed: it runs; the ones before it do not.
func TestCatchUpNoneRunsSlotWithinGrace(t *testing.T) {
	e := newEnv(t)
	e.clock.Set(time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC))
	e.apply(postDoc("every10", `schedule: {cron: "*/10 * * * *", timezone: UTC}`, "{{ trigger.time }}", "catch_up: none"))
	e.clock.Set(time.Date(2026, 3, 23, 11, 0, 30, 0, time.UTC))
	e.tick()
	runs := e.runs("every10")
	if len(runs) != 1 || !runs[0].Slot.Equal(time.Date(2026, 3, 23, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("runs %v, want one of the 11:00 slot", runs)
	}
}

// TestOverlap: a slot comes while the previous slot's run is still queued. skip records it as
// a skipped run; queue records it and runs it after the first, in slot order.
func TestOverlap(t *testing.T) {
	tests := []struct {
		overlap      string
		wantStatuses []string
		wantPosted   []string
	}{
		{"skip", []string{"succeeded", "skipped"}, []string{"2026-03-23T10:10:00Z"}},
		{"queue", []string{"succeeded", "succeeded"}, []string{"2026-03-23T10:10:00Z", "2026-03-23T10:20:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.overlap, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			e.clock.Set(time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC))
			e.apply(postDoc("every10", `schedule: {cron: "*/10 * * * *", timezone: UTC}`, "{{ trigger.time }}", "overlap: "+tt.overlap))
			for _, at := range []time.Time{time.Date(2026, 3, 23, 10, 10, 0, 0, time.UTC), time.Date(2026, 3, 23, 10, 20, 0, 0, time.UTC)} {
				e.clock.Set(at)
				if _, err := e.svc.Tick(ctx); err != nil { // no worker runs the first meanwhile
					t.Fatal(err)
				}
			}
			if _, err := e.svc.Work(ctx); err != nil {
				t.Fatal(err)
			}
			runs := e.runs("every10")
			if got := statuses(runs); !slices.Equal(got, tt.wantStatuses) {
				t.Errorf("statuses %q, want %q", got, tt.wantStatuses)
			}
			if got := e.api.posted(); !slices.Equal(got, tt.wantPosted) {
				t.Errorf("posted %q, want %q", got, tt.wantPosted)
			}
		})
	}
}
