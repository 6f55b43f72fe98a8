// Package storetest holds contract tests of connections.Store that every store runs, as
// testing/fstest.TestFS does for file systems: the SQLite store now, PostgreSQL later, keep one
// promise.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
)

// Opener opens a new, empty store for t that reads the time from now: the store stamps lease
// expiries with it. The store is closed when t ends.
type Opener func(t *testing.T, now func() time.Time) connections.Store

// clock reads a start time moved forward by what advance added; safe for concurrent use.
type clock struct {
	start time.Time
	moved atomic.Int64
}

func (c *clock) Now() time.Time          { return c.start.Add(time.Duration(c.moved.Load())) }
func (c *clock) Advance(d time.Duration) { c.moved.Add(int64(d)) }

const leaseFor = time.Minute

// Lease tests the refresh lease of connections.Store: TakeLease and ReleaseLease.
func Lease(t *testing.T, open Opener) {
	setup := func(t *testing.T) (connections.Store, *clock, *connections.Record) {
		clk := &clock{start: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
		st := open(t, clk.Now)
		rec := &connections.Record{Workspace: connections.DefaultWorkspace, App: "acme", Name: "work", Type: "oauth2",
			Status: connections.StatusConnected, Label: "me@example.com",
			Creds: connections.Credentials{Token: &connections.Token{AccessToken: "at-0", RefreshToken: "rt-0"}}}
		if err := st.CreateConnection(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		return st, clk, rec
	}

	t.Run("take returns the record", func(t *testing.T) {
		st, _, rec := setup(t)
		got, err := st.TakeLease(t.Context(), rec.ID, "a", leaseFor)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != rec.ID || got.Label != rec.Label || got.Creds.Token.RefreshToken != "rt-0" {
			t.Errorf("TakeLease = %+v, want the stored record", got)
		}
	})

	t.Run("held by another is refused with holder and expiry", func(t *testing.T) {
		st, clk, rec := setup(t)
		take(t, st, rec.ID, "a")
		want := clk.Now().Add(leaseFor)
		clk.Advance(leaseFor - time.Second)
		wantHeld(t, st, rec.ID, "b", "a", want)
		// The holder may take its own lease again.
		take(t, st, rec.ID, "a")
	})

	t.Run("expired can be taken", func(t *testing.T) {
		st, clk, rec := setup(t)
		take(t, st, rec.ID, "dead")
		clk.Advance(leaseFor + time.Second)
		take(t, st, rec.ID, "b")
		wantHeld(t, st, rec.ID, "c", "b", clk.Now().Add(leaseFor))
	})

	t.Run("release checks the holder", func(t *testing.T) {
		st, clk, rec := setup(t)
		wantLost(t, st, rec.ID, "a") // free
		take(t, st, rec.ID, "a")
		wantLost(t, st, rec.ID, "b") // another's
		clk.Advance(leaseFor + time.Second)
		take(t, st, rec.ID, "b")
		wantLost(t, st, rec.ID, "a") // expired and taken by b
		wantHeld(t, st, rec.ID, "c", "b", clk.Now().Add(leaseFor))
		got := get(t, st, rec.ID)
		if got.Creds.Token.RefreshToken != "rt-0" || got.RefreshCount != 0 {
			t.Errorf("a lost lease changed the record: %+v", got)
		}
	})

	t.Run("expired but not taken is still held", func(t *testing.T) {
		st, clk, rec := setup(t)
		take(t, st, rec.ID, "a")
		clk.Advance(leaseFor + time.Second)
		if _, err := st.ReleaseLease(t.Context(), rec.ID, "a", rotate("rt-1")); err != nil {
			t.Errorf("release of an expired lease no one took = %v, want nil", err)
		}
		if got := get(t, st, rec.ID); got.Creds.Token.RefreshToken != "rt-1" {
			t.Errorf("refresh token %q, want rt-1", got.Creds.Token.RefreshToken.Reveal())
		}
	})

	t.Run("save and release at once", func(t *testing.T) {
		st, _, rec := setup(t)
		take(t, st, rec.ID, "a")
		saved, err := st.ReleaseLease(t.Context(), rec.ID, "a", rotate("rt-1"))
		if err != nil {
			t.Fatal(err)
		}
		got := get(t, st, rec.ID)
		if saved.Creds.Token.RefreshToken != "rt-1" || got.Creds.Token.RefreshToken != "rt-1" || got.RefreshCount != 1 {
			t.Errorf("ReleaseLease saved %+v, stored %+v; want the rotated token, count 1", saved, got)
		}
		take(t, st, rec.ID, "b") // released: free at once, before the expiry
	})

	t.Run("release without a record", func(t *testing.T) {
		st, _, rec := setup(t)
		take(t, st, rec.ID, "a")
		errFn := errors.New("refreshed meanwhile")
		called := false
		got, err := st.ReleaseLease(t.Context(), rec.ID, "a", func(cur *connections.Record) (*connections.Record, error) {
			called = true
			return nil, errFn
		})
		if !called || !errors.Is(err, errFn) || got == nil || got.Creds.Token.RefreshToken != "rt-0" {
			t.Errorf("ReleaseLease = %v, %v (fn called %v); want the record as read and fn's error", got, err, called)
		}
		take(t, st, rec.ID, "b")
		if _, err := st.ReleaseLease(t.Context(), rec.ID, "b", nil); err != nil {
			t.Errorf("ReleaseLease with a nil fn = %v", err)
		}
		take(t, st, rec.ID, "c")
	})

	t.Run("saved with an error", func(t *testing.T) {
		st, _, rec := setup(t)
		take(t, st, rec.ID, "a")
		errFn := errors.New("invalid_grant")
		_, err := st.ReleaseLease(t.Context(), rec.ID, "a", func(cur *connections.Record) (*connections.Record, error) {
			cur.Status, cur.Creds = connections.StatusDisconnected, connections.Credentials{}
			return cur, errFn
		})
		if !errors.Is(err, errFn) {
			t.Errorf("ReleaseLease = %v, want fn's error", err)
		}
		if got := get(t, st, rec.ID); got.Status != connections.StatusDisconnected || got.Creds.Token != nil {
			t.Errorf("stored status %q, token %v; want disconnected without a token", got.Status, got.Creds.Token != nil)
		}
		take(t, st, rec.ID, "b")
	})

	t.Run("other writes go on and fn sees them", func(t *testing.T) {
		st, _, rec := setup(t)
		take(t, st, rec.ID, "a")
		cur := get(t, st, rec.ID)
		cur.Label = "changed while leased"
		if err := st.UpdateConnection(t.Context(), cur); err != nil {
			t.Fatalf("UpdateConnection while leased: %v", err)
		}
		if _, err := st.Locked(t.Context(), rec.ID, func(cur *connections.Record) (*connections.Record, error) {
			cur.Reason = "locked while leased"
			return cur, nil
		}); err != nil {
			t.Fatalf("Locked while leased: %v", err)
		}
		wantHeld(t, st, rec.ID, "b", "a", time.Time{})
		_, err := st.ReleaseLease(t.Context(), rec.ID, "a", func(cur *connections.Record) (*connections.Record, error) {
			if cur.Label != "changed while leased" || cur.Reason != "locked while leased" {
				t.Errorf("fn got label %q, reason %q; want the writes made while leased", cur.Label, cur.Reason)
			}
			return rotate("rt-1")(cur)
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := get(t, st, rec.ID); got.Label != "changed while leased" || got.Creds.Token.RefreshToken != "rt-1" {
			t.Errorf("stored label %q, refresh token %q", got.Label, got.Creds.Token.RefreshToken.Reveal())
		}
	})

	t.Run("one of many takes it", func(t *testing.T) {
		st, _, rec := setup(t)
		const n = 16
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, refused := 0, 0
		for i := range n {
			wg.Go(func() {
				_, err := st.TakeLease(context.Background(), rec.ID, fmt.Sprint("h", i), leaseFor)
				var held *connections.LeaseHeldError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.As(err, &held):
					refused++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if won != 1 || refused != n-1 {
			t.Errorf("%d of %d holders took the lease and %d were refused, want 1 and %d", won, n, refused, n-1)
		}
	})

	t.Run("missing connection", func(t *testing.T) {
		st, _, _ := setup(t)
		if _, err := st.TakeLease(t.Context(), "nope", "a", leaseFor); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("TakeLease of a missing connection = %v, want ErrNotFound", err)
		}
		if _, err := st.ReleaseLease(t.Context(), "nope", "a", nil); !errors.Is(err, connections.ErrNotFound) {
			t.Errorf("ReleaseLease of a missing connection = %v, want ErrNotFound", err)
		}
	})
}

// rotate is a ReleaseLease fn that saves a refresh: a new token with refresh token rt.
func rotate(rt string) func(cur *connections.Record) (*connections.Record, error) {
	return func(cur *connections.Record) (*connections.Record, error) {
		cur.Creds.Token = &connections.Token{AccessToken: connections.Secret("at-" + rt), RefreshToken: connections.Secret(rt)}
		cur.RefreshCount++
		return cur, nil
	}
}

func take(t *testing.T, st connections.Store, id, holder string) {
	t.Helper()
	if _, err := st.TakeLease(t.Context(), id, holder, leaseFor); err != nil {
		t.Fatalf("TakeLease(%s) = %v", holder, err)
	}
}

// wantHeld checks that holder is refused the lease because by holds it until expires (any
// expiry when it is zero).
func wantHeld(t *testing.T, st connections.Store, id, holder, by string, expires time.Time) {
	t.Helper()
	_, err := st.TakeLease(t.Context(), id, holder, leaseFor)
	var held *connections.LeaseHeldError
	if !errors.As(err, &held) || held.Holder != by || (!expires.IsZero() && !held.Expires.Equal(expires)) {
		t.Fatalf("TakeLease(%s) = %v, want held by %s until %v", holder, err, by, expires)
	}
}

// wantLost checks that holder's release is refused with ErrLeaseLost and calls no fn.
func wantLost(t *testing.T, st connections.Store, id, holder string) {
	t.Helper()
	_, err := st.ReleaseLease(t.Context(), id, holder, func(*connections.Record) (*connections.Record, error) {
		t.Errorf("ReleaseLease(%s) called fn without the lease", holder)
		return nil, nil
	})
	if !errors.Is(err, connections.ErrLeaseLost) {
		t.Fatalf("ReleaseLease(%s) = %v, want ErrLeaseLost", holder, err)
	}
}

func get(t *testing.T, st connections.Store, id string) *connections.Record {
	t.Helper()
	rec, err := st.ConnectionByID(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
