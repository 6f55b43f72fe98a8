package automations

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads 5 fields (minute, hour, day of month, month, day of week), 6 with seconds
// first, and descriptors (@hourly, @daily, @every 5m ...): the parser of cron.WithSeconds with
// the seconds optional.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// fieldParsers check one field each, to name the field a bad expression has wrong.
var fieldParsers = []struct {
	name   string
	parser cron.Parser
}{
	{"second", cron.NewParser(cron.Second)},
	{"minute", cron.NewParser(cron.Minute)},
	{"hour", cron.NewParser(cron.Hour)},
	{"day of month", cron.NewParser(cron.Dom)},
	{"month", cron.NewParser(cron.Month)},
	{"day of week", cron.NewParser(cron.Dow)},
}

// ParseSchedule parses a cron expression (5 fields, 6 with seconds first, or a descriptor such
// as @hourly or @every 5m) whose slots are wall-clock times in timeZone, an IANA zone name (""
// is UTC). A CRON_TZ= or TZ= prefix is refused: the zone is timeZone.
func ParseSchedule(expr, timeZone string) (*Schedule, error) {
	s := &Schedule{Cron: expr, TimeZone: timeZone}
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	loc, err := loadZone(s.TimeZone)
	if err != nil {
		return nil, err
	}
	s.Location = loc
	e := strings.TrimSpace(expr)
	switch {
	case e == "":
		return nil, errors.New("cron expression is empty")
	case strings.HasPrefix(e, "CRON_TZ=") || strings.HasPrefix(e, "TZ="):
		return nil, fmt.Errorf("cron %q: a %s prefix is not allowed: set timezone instead", expr, e[:strings.IndexByte(e, '=')+1])
	case strings.HasPrefix(e, "@every "):
		d, err := time.ParseDuration(strings.TrimSpace(strings.TrimPrefix(e, "@every ")))
		if err != nil {
			return nil, fmt.Errorf("cron %q: @every takes a duration such as 5m or 1h30m", expr)
		}
		if d < time.Second || d%time.Second != 0 {
			return nil, fmt.Errorf("cron %q: @every takes a whole number of seconds, at least 1s", expr)
		}
		s.every = d
		return s, nil
	}
	parsed, err := cronParser.Parse(e)
	if err != nil {
		return nil, fmt.Errorf("cron %q: %s", expr, describeCronError(e, err))
	}
	spec, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("cron %q: not a cron schedule", expr)
	}
	spec.Location = time.UTC // matched against wall times, written as UTC (Next)
	s.spec = spec
	// A day that never comes (0 0 30 2 *): robfig gives up after five years; any slot at all
	// comes within five years of any instant, so one look is enough.
	if s.spec.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("cron %q: no day matches it", expr)
	}
	return s, nil
}

// loadZone loads an IANA zone. "Local" is refused: it is whatever the server's zone is.
func loadZone(name string) (*time.Location, error) {
	if name == "Local" {
		return nil, errors.New(`time zone "Local" is the server's zone: name an IANA zone such as Europe/Berlin`)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA zone such as Europe/Berlin or UTC", name)
	}
	return loc, nil
}

// describeCronError names the field of a 5- or 6-field expression that the parser refused.
func describeCronError(expr string, err error) string {
	fields := strings.Fields(expr)
	if strings.HasPrefix(expr, "@") || len(fields) < 5 || len(fields) > 6 {
		if strings.HasPrefix(expr, "@") {
			return err.Error() + " (descriptors: @yearly, @monthly, @weekly, @daily, @hourly, @every 5m)"
		}
		return fmt.Sprintf("want 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), found %d", len(fields))
	}
	parsers := fieldParsers
	if len(fields) == 5 {
		parsers = parsers[1:]
	}
	for i, f := range fields {
		if _, ferr := parsers[i].parser.Parse(f); ferr != nil {
			return fmt.Sprintf("%s %q: %v", parsers[i].name, f, ferr)
		}
	}
	return err.Error()
}

// Next returns the schedule's first slot strictly after after, in the schedule's zone; the
// zero time when there is none.
//
// Slots are wall-clock times in the zone. On a daylight-saving day a slot whose wall time does
// not exist (02:30 when clocks jump from 02:00 to 03:00) comes at the first instant after the
// gap, the jump itself, once for all the gap's slots; a wall time that exists twice (clocks
// going back) comes at its first occurrence only. So Next is strictly increasing and gives each
// wall slot once. robfig/cron's SpecSchedule.Next, run in the zone, skips the first and repeats
// the second (robfig/cron#541); here it runs on wall times written as UTC, where no clock jumps,
// and the wall time it finds is then placed in the zone.
//
// @every D is a constant delay: after plus D (its fraction of a second dropped), whatever the
// zone's clocks do.
func (s *Schedule) Next(after time.Time) time.Time {
	loc := s.Location
	if s.every > 0 {
		return cron.ConstantDelaySchedule{Delay: s.every}.Next(after).In(loc)
	}
	a := after.In(loc)
	from := wallTime(a)
	if start, _ := a.ZoneBounds(); !start.IsZero() {
		_, off := a.Zone()
		_, prevOff := start.Add(-time.Nanosecond).Zone()
		if back := time.Duration(prevOff-off) * time.Second; back > 0 && a.Before(start.Add(back)) {
			// The clocks went back at start and after is in the wall times they repeat, whose
			// first occurrences are past: look from the end of those wall times.
			from = wallTime(start.Add(-time.Nanosecond))
		}
	}
	w := s.spec.Next(from)
	if w.IsZero() {
		return time.Time{}
	}
	return instant(w, loc)
}

// wallTime returns t's wall clock in its zone written as a UTC time.
func wallTime(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// instant places the wall time w (written as UTC) in loc: at its first occurrence when it
// exists twice, at the end of the gap when it does not exist.
func instant(w time.Time, loc *time.Location) time.Time {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), loc)
	start, end := t.ZoneBounds()
	switch tw := wallTime(t); {
	case tw.Before(w): // w is in a gap after t's zone period: it ends where the period ends
		return end
	case tw.After(w): // w is in the gap that starts t's zone period
		return start
	}
	if !start.IsZero() {
		_, off := t.Zone()
		_, prevOff := start.Add(-time.Nanosecond).Zone()
		if first := t.Add(-time.Duration(prevOff-off) * time.Second); prevOff > off && first.Before(start) {
			return first // w came before, in the period the clocks went back from
		}
	}
	return t
}

// NextSlots returns the next n slots of s strictly after from (fewer when the schedule ends).
func NextSlots(s *Schedule, from time.Time, n int) []time.Time {
	out := make([]time.Time, 0, max(n, 0))
	for range n {
		next := s.Next(from)
		if next.IsZero() {
			break
		}
		out = append(out, next)
		from = next
	}
	return out
}
