package automations_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/robfig/cron/v3"
)

// The daylight-saving days of the cases (2026):
//   - Europe/Berlin: 03-29 02:00 CET -> 03:00 CEST (02:xx does not exist); 10-25 03:00 CEST ->
//     02:00 CET (02:xx twice).
//   - America/New_York: 03-08 02:00 EST -> 03:00 EDT; 11-01 02:00 EDT -> 01:00 EST (01:xx twice).
//   - Australia/Lord_Howe (a 30-minute shift): 04-05 02:00 +11 -> 01:30 +10:30 (01:30-01:59
//     twice); 10-04 02:00 +10:30 -> 02:30 +11 (02:00-02:29 does not exist).
//   - Pacific/Apia skipped 2011-12-30 whole, moving from -10 to +14.
func TestScheduleNext(t *testing.T) {
	tests := []struct {
		name, cron, zone string
		after            string   // RFC 3339
		want             []string // the next slots, RFC 3339 in the zone
	}{
		{"berlin daily 02:30 spring forward", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"}},
		{"berlin daily 02:30 fall back", "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"berlin daily 02:30 after its first occurrence", "30 2 * * *", "Europe/Berlin", "2026-10-25T02:30:00+02:00",
			[]string{"2026-10-26T02:30:00+01:00"}},
		{"berlin daily 02:30 from inside the repeated hour", "30 2 * * *", "Europe/Berlin", "2026-10-25T02:15:00+01:00",
			[]string{"2026-10-26T02:30:00+01:00"}},
		{"berlin hourly spring forward", "0 * * * *", "Europe/Berlin", "2026-03-29T00:30:00+01:00",
			[]string{"2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"}},
		{"berlin hourly fall back", "0 * * * *", "Europe/Berlin", "2026-10-25T00:30:00+02:00",
			[]string{"2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00", "2026-10-25T04:00:00+01:00"}},
		{"berlin @hourly fall back", "@hourly", "Europe/Berlin", "2026-10-25T01:30:00+02:00",
			[]string{"2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00"}},
		{"berlin every 15 minutes spring forward", "*/15 * * * *", "Europe/Berlin", "2026-03-29T01:40:00+01:00",
			[]string{"2026-03-29T01:45:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:15:00+02:00"}},
		{"berlin every 15 minutes fall back", "*/15 * * * *", "Europe/Berlin", "2026-10-25T02:50:00+02:00",
			[]string{"2026-10-25T03:00:00+01:00", "2026-10-25T03:15:00+01:00"}},
		{"berlin @every across spring forward", "@every 90m", "Europe/Berlin", "2026-03-29T01:30:00+01:00",
			[]string{"2026-03-29T04:00:00+02:00", "2026-03-29T05:30:00+02:00"}},
		{"berlin @every drops the fraction of a second", "@every 1m", "Europe/Berlin", "2026-10-25T02:59:30.25+02:00",
			[]string{"2026-10-25T02:00:30+01:00", "2026-10-25T02:01:30+01:00"}},

		{"new york daily 02:30 spring forward", "30 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"new york seconds 02:00:30 spring forward", "30 0 2 * * *", "America/New_York", "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-09T02:00:30-04:00"}},
		{"new york daily 01:30 fall back", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"new york hourly fall back", "0 * * * *", "America/New_York", "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T03:00:00-05:00"}},
		{"new york every 15 minutes from inside the repeated hour", "*/15 * * * *", "America/New_York", "2026-11-01T01:10:00-05:00",
			[]string{"2026-11-01T02:00:00-05:00", "2026-11-01T02:15:00-05:00"}},
		{"new york seconds every 20s spring forward", "*/20 * * * * *", "America/New_York", "2026-03-08T01:59:40-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:00:20-04:00"}},

		{"lord howe daily 02:15 spring forward", "15 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00"}},
		{"lord howe hourly spring forward", "0 * * * *", "Australia/Lord_Howe", "2026-10-04T01:30:00+10:30",
			[]string{"2026-10-04T02:30:00+11:00", "2026-10-04T03:00:00+11:00"}},
		{"lord howe every 15 minutes fall back", "*/15 * * * *", "Australia/Lord_Howe", "2026-04-05T01:20:00+11:00",
			[]string{"2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00", "2026-04-05T02:00:00+10:30", "2026-04-05T02:15:00+10:30"}},
		{"lord howe daily 01:45 fall back", "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T12:00:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},

		{"apia daily noon across the day that was skipped", "0 12 * * *", "Pacific/Apia", "2011-12-29T00:00:00-10:00",
			[]string{"2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00"}},

		{"utc daily 02:30", "30 2 * * *", "UTC", "2026-03-29T02:30:00Z",
			[]string{"2026-03-30T02:30:00Z", "2026-03-31T02:30:00Z"}},
		{"utc hourly from a fraction of a second", "0 * * * *", "", "2026-01-01T00:00:00.5Z",
			[]string{"2026-01-01T01:00:00Z"}},
		{"utc seconds", "*/20 * * * * *", "UTC", "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
		{"utc @every", "@every 5m", "UTC", "2026-01-01T00:00:01Z",
			[]string{"2026-01-01T00:05:01Z", "2026-01-01T00:10:01Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := automations.ParseSchedule(tt.cron, tt.zone)
			if err != nil {
				t.Fatalf("ParseSchedule(%q, %q): %v", tt.cron, tt.zone, err)
			}
			after, err := time.Parse(time.RFC3339Nano, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, slot := range automations.NextSlots(s, after, len(tt.want)) {
				got = append(got, slot.Format(time.RFC3339Nano))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("NextSlots(%q in %s, %s) =\n  %v\nwant\n  %v", tt.cron, tt.zone, tt.after, got, tt.want)
			}
		})
	}
}

func TestParseScheduleZone(t *testing.T) {
	s, err := automations.ParseSchedule("0 9 * * *", "")
	if err != nil {
		t.Fatal(err)
	}
	if s.TimeZone != "UTC" || s.Location != time.UTC {
		t.Errorf("ParseSchedule with no zone: TimeZone %q, Location %v; want UTC", s.TimeZone, s.Location)
	}
	if s.Cron != "0 9 * * *" {
		t.Errorf("Cron = %q, want it as written", s.Cron)
	}
}

func TestParseScheduleErrors(t *testing.T) {
	tests := []struct{ cron, zone, want string }{
		{"", "UTC", "cron expression is empty"},
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "UTC", `cron "CRON_TZ=Europe/Berlin 0 9 * * *": a CRON_TZ= prefix is not allowed: set timezone instead`},
		{"TZ=UTC", "UTC", `cron "TZ=UTC": a TZ= prefix is not allowed: set timezone instead`},
		{"0 25 * * *", "UTC", `cron "0 25 * * *": hour "25": end of range (25) above maximum (23): 25`},
		{"0 0 9 * * MON-FRX", "UTC", `cron "0 0 9 * * MON-FRX": day of week "MON-FRX": failed to parse int from FRX: strconv.Atoi: parsing "FRX": invalid syntax`},
		{"* * *", "UTC", `cron "* * *": want 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), found 3`},
		{"0 0 0 0 0 0 0", "UTC", `cron "0 0 0 0 0 0 0": want 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), found 7`},
		{"@fortnightly", "UTC", `cron "@fortnightly": unrecognized descriptor: @fortnightly (descriptors: @yearly, @monthly, @weekly, @daily, @hourly, @every 5m)`},
		{"@every 500ms", "UTC", `cron "@every 500ms": @every takes a whole number of seconds, at least 1s`},
		{"@every 1.5s", "UTC", `cron "@every 1.5s": @every takes a whole number of seconds, at least 1s`},
		{"@every -1m", "UTC", `cron "@every -1m": @every takes a whole number of seconds, at least 1s`},
		{"@every soon", "UTC", `cron "@every soon": @every takes a duration such as 5m or 1h30m`},
		{"0 0 30 2 *", "UTC", `cron "0 0 30 2 *": no day matches it`},
		{"0 9 * * *", "Europe/Berln", `unknown time zone "Europe/Berln": want an IANA zone such as Europe/Berlin or UTC`},
		{"0 9 * * *", "Local", `time zone "Local" is the server's zone: name an IANA zone such as Europe/Berlin`},
	}
	for _, tt := range tests {
		s, err := automations.ParseSchedule(tt.cron, tt.zone)
		if err == nil {
			t.Errorf("ParseSchedule(%q, %q) = %+v, want error %q", tt.cron, tt.zone, s, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseSchedule(%q, %q) error\n  %s\nwant\n  %s", tt.cron, tt.zone, err, tt.want)
		}
	}
}

// TestScheduleEveryWallSlotOnce walks a year of slots with Next and checks them against the
// wall clock itself, read with time.Time.In: each wall slot that exists comes once, at its first
// occurrence; each that does not exist comes at the first instant whose wall time is past it;
// no other instant comes; and the slots increase. Next from instants between slots (inside
// repeated hours too) gives the first slot after them.
func TestScheduleEveryWallSlotOnce(t *testing.T) {
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"}
	crons := []string{"30 2 * * *", "0 * * * *", "5,35 * * * *", "45 1 * * *", "10,40 0-3 * * SUN"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, zone := range zones {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		// The zone's offsets over the year, read every hour: a wall time w is at w minus one
		// of them, if anywhere.
		var offsets []int
		for at := start.Add(-24 * time.Hour); at.Before(end.Add(24 * time.Hour)); at = at.Add(time.Hour) {
			if _, off := at.In(loc).Zone(); !slices.Contains(offsets, off) {
				offsets = append(offsets, off)
			}
		}
		// first returns the first instant whose wall time is w, or, when no instant has it,
		// the first instant whose wall time is past it (minute by minute).
		first := func(w time.Time) time.Time {
			var found time.Time
			for _, off := range offsets {
				at := w.Add(-time.Duration(off) * time.Second)
				if wall(at.In(loc)).Equal(w) && (found.IsZero() || at.Before(found)) {
					found = at
				}
			}
			if found.IsZero() {
				for found = w.Add(-14 * time.Hour); !wall(found.In(loc)).After(w); found = found.Add(time.Minute) {
				}
			}
			return found
		}
		// near reports whether the clocks change within 3 hours of at.
		near := func(at time.Time) bool {
			_, before := at.Add(-3 * time.Hour).In(loc).Zone()
			_, after := at.Add(3 * time.Hour).In(loc).Zone()
			return before != after
		}
		for _, expr := range crons {
			t.Run(zone+"/"+expr, func(t *testing.T) {
				s, err := automations.ParseSchedule(expr, zone)
				if err != nil {
					t.Fatal(err)
				}
				// The wall slots of the year: the cron fields matched on wall times (robfig in UTC,
				// where no clock jumps), each placed by the wall clock read above.
				spec, err := cron.ParseStandard(expr)
				if err != nil {
					t.Fatal(err)
				}
				want := map[time.Time]bool{}
				for w := spec.Next(wall(start.In(loc))); ; w = spec.Next(w) {
					at := first(w)
					if !at.After(start) {
						continue
					}
					if !at.Before(end) {
						break
					}
					want[at] = true
				}
				var got []time.Time
				for at := s.Next(start); at.Before(end); at = s.Next(at) {
					if n := len(got); n > 0 && !at.After(got[n-1]) {
						t.Fatalf("Next(%s) = %s: not after it", got[n-1], at)
					}
					if !want[at.UTC()] {
						t.Errorf("Next gave %s (wall %s), which is no slot's", at.In(loc), wall(at.In(loc)).Format("2006-01-02 15:04"))
					}
					got = append(got, at)
				}
				if len(got) != len(want) {
					missing := []string{}
					for at := range want {
						if !slices.ContainsFunc(got, at.Equal) {
							missing = append(missing, at.In(loc).Format(time.RFC3339))
						}
					}
					slices.Sort(missing)
					t.Errorf("%d slots, want %d; missing %s", len(got), len(want), strings.Join(missing, ", "))
				}
				// From any instant, not only from a slot: the first slot after it. Every 7 minutes
				// near a change of the clocks (inside a repeated hour too), every 3 hours elsewhere.
				sorted := slices.SortedFunc(maps.Keys(want), time.Time.Compare)
				for at := start; at.Before(sorted[len(sorted)-1]); at = at.Add(step(near(at))) {
					i, _ := slices.BinarySearchFunc(sorted, at, func(slot, at time.Time) int {
						if slot.After(at) {
							return 1
						}
						return -1
					})
					if next := s.Next(at); !next.Equal(sorted[i]) {
						t.Fatalf("Next(%s) = %s, want %s", at.In(loc), next, sorted[i].In(loc))
					}
				}
			})
		}
	}
}

func step(near bool) time.Duration {
	if near {
		return 7*time.Minute + 11*time.Second
	}
	return 3 * time.Hour
}

// wall returns t's wall clock written as UTC.
func wall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}

func TestNextSlots(t *testing.T) {
	s, err := automations.ParseSchedule("0 9 * * MON-FRI", "Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC) // a Friday
	got := automations.NextSlots(s, from, 3)
	want := []string{"2026-12-07T09:00:00+01:00", "2026-12-08T09:00:00+01:00", "2026-12-09T09:00:00+01:00"}
	if len(got) != len(want) {
		t.Fatalf("NextSlots = %v, want %v", got, want)
	}
	for i := range got {
		if got[i].Format(time.RFC3339) != want[i] {
			t.Errorf("NextSlots[%d] = %s, want %s", i, got[i].Format(time.RFC3339), want[i])
		}
	}
	if got := automations.NextSlots(s, from, 0); len(got) != 0 {
		t.Errorf("NextSlots(0) = %v, want none", got)
	}
}

// BenchmarkScheduleNext: the cost of one slot, which the scheduler pays per claim.
func BenchmarkScheduleNext(b *testing.B) {
	for _, expr := range []string{"*/15 * * * *", "30 2 * * *", "@every 1m"} {
		b.Run(expr, func(b *testing.B) {
			s, err := automations.ParseSchedule(expr, "Europe/Berlin")
			if err != nil {
				b.Fatal(err)
			}
			at := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for b.Loop() {
				at = s.Next(at)
			}
		})
	}
}

// FuzzParseSchedule: whatever the expression, ParseSchedule returns a schedule or an error and
// never panics, and the schedule's slots increase.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"30 2 * * *", "*/20 * * * * *", "@every 90m", "@hourly", "0 9 1 * MON", "CRON_TZ=UTC 0 9 * * *", "TZ=UTC", "0 0 30 2 *", "0-59/7 1,2 */3 JAN-MAR ?"} {
		f.Add(s, uint8(0))
	}
	zones := []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Apia"}
	f.Fuzz(func(t *testing.T, expr string, zone uint8) {
		s, err := automations.ParseSchedule(expr, zones[int(zone)%len(zones)])
		if err != nil {
			return
		}
		at := time.Date(2026, 3, 28, 23, 59, 0, 0, time.UTC)
		for range 50 {
			next := s.Next(at)
			if next.IsZero() {
				return
			}
			if !next.After(at) {
				t.Fatalf("ParseSchedule(%q).Next(%s) = %s, not after it", expr, at, next)
			}
			at = next
		}
	})
}
