package sqlite

import (
	"testing"
	"time"
)

// BenchmarkLocked measures Locked (dedicated connection, BEGIN IMMEDIATE, read, decrypt,
// save, commit) and a refresh's two lease transactions (TakeLease, then ReleaseLease saving)
// against UpdateConnection (one immediate transaction that seals and writes), interleaved in
// one loop, and reports their ratios.
func BenchmarkLocked(b *testing.B) {
	s := open(b, dbPath(b), testKey(b, 1))
	rec := record("asana", "work")
	if err := s.CreateConnection(b.Context(), rec); err != nil {
		b.Fatal(err)
	}
	var update, locked, lease time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := s.UpdateConnection(b.Context(), rec); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Locked(b.Context(), rec.ID, increment); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := s.TakeLease(b.Context(), rec.ID, "bench", time.Minute); err != nil {
			b.Fatal(err)
		}
		if _, err := s.ReleaseLease(b.Context(), rec.ID, "bench", increment); err != nil {
			b.Fatal(err)
		}
		update, locked, lease = update+t1.Sub(t0), locked+t2.Sub(t1), lease+time.Since(t2)
	}
	b.ReportMetric(float64(update.Microseconds())/float64(b.N), "update-µs/op")
	b.ReportMetric(float64(locked.Microseconds())/float64(b.N), "locked-µs/op")
	b.ReportMetric(float64(lease.Microseconds())/float64(b.N), "lease-µs/op")
	b.ReportMetric(float64(locked)/float64(update), "locked/update")
	b.ReportMetric(float64(lease)/float64(update), "lease/update")
}
