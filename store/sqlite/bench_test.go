package sqlite

import (
	"testing"
	"time"
)

// BenchmarkLocked measures Locked (dedicated connection, BEGIN IMMEDIATE, read, decrypt,
// save, commit) against UpdateConnection (one immediate transaction that seals and writes),
// interleaved in one loop, and reports their ratio.
func BenchmarkLocked(b *testing.B) {
	s := open(b, dbPath(b), testKey(b, 1))
	rec := record("asana", "work")
	if err := s.CreateConnection(b.Context(), rec); err != nil {
		b.Fatal(err)
	}
	var update, locked time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := s.UpdateConnection(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Locked(b.Context(), rec.ID, increment); err != nil {
			b.Fatal(err)
		}
		update, locked = update+t1.Sub(t0), locked+time.Since(t1)
	}
	b.ReportMetric(float64(update.Microseconds())/float64(b.N), "update-µs/op")
	b.ReportMetric(float64(locked.Microseconds())/float64(b.N), "locked-µs/op")
	b.ReportMetric(float64(locked)/float64(update), "locked/update")
}
