package server

import (
	"context"

	"github.com/patchbay/patchbay/connections"
)

// Notifiers is a connections.Notifier that tells each of its notifiers in turn: the metrics and
// the automations' Service hear of the same connection events.
type Notifiers []connections.Notifier

// Notify tells each notifier of e.
func (ns Notifiers) Notify(ctx context.Context, e connections.Event) {
	for _, n := range ns {
		n.Notify(ctx, e)
	}
}
