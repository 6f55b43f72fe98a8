package sqlite

import (
	"testing"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/connections/storetest"
)

// TestLease runs the lease contract every connections.Store keeps.
func TestLease(t *testing.T) {
	storetest.Lease(t, func(t *testing.T, now func() time.Time) connections.Store {
		return open(t, dbPath(t), testKey(t, 1), WithClock(now))
	})
}
