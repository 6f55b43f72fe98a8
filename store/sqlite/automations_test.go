package sqlite

import (
	"testing"

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
