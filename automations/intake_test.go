package automations_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/patchbay/patchbay/automations"
)

// TestHookBurst: 200 concurrent webhooks are each recorded once, every caller with its own
// run, and every run then runs once.
func TestHookBurst(t *testing.T) {
	const n = 200
	counted := &countingStore{}
	var started sync.WaitGroup
	started.Add(n)
	counted.first = func() { started.Wait() } // the first commit is under way while the others arrive
	e := newEnv(t, func(c *automations.Config) { counted.Store = c.Store; c.Store = counted })
	ap := e.apply(postDoc("hooked", "webhook: {}", "{{ trigger.item.n }}"))
	if ap.HookSecret == "" || ap.Automation.HookHash != automations.HookHash(ap.HookSecret) {
		t.Fatalf("applied webhook automation: secret %q, hash %q", ap.HookSecret, ap.Automation.HookHash)
	}
	ctx := context.Background()
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			r, err := e.svc.Hook(ctx, ap.HookSecret, json.RawMessage(fmt.Sprintf(`{"n":"%d"}`, i)))
			if err != nil {
				t.Errorf("Hook %d: %v", i, err)
				return
			}
			ids[i] = r.ID
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i, id := range ids {
		if id == "" || seen[id] {
			t.Fatalf("hook %d got run id %q (empty or another's)", i, id)
		}
		seen[id] = true
	}
	if runs := e.runs("hooked"); len(runs) != n {
		t.Fatalf("%d runs recorded, want %d", len(runs), n)
	}
	if c := counted.enqueues.Load(); c >= n {
		t.Errorf("%d transactions recorded %d webhooks' runs, want them batched (group commit)", c, n)
	}
	if ran, err := e.svc.Work(ctx); err != nil || ran != n {
		t.Fatalf("Work = %d, %v; want %d", ran, err, n)
	}
	posted := map[string]int{}
	for _, s := range e.api.posted() {
		posted[s]++
	}
	for i := range n {
		if c := posted[fmt.Sprint(i)]; c != 1 {
			t.Errorf("item %d posted %d times, want once", i, c)
		}
	}
}

// TestHookNotFound: an unknown secret and the secret of an automation that is off are
// ErrNotFound, and record nothing.
func TestHookNotFound(t *testing.T) {
	e := newEnv(t)
	ap := e.apply(postDoc("hooked", "webhook: {}", "x"))
	ctx := context.Background()
	if _, err := e.svc.Hook(ctx, "not-a-secret", nil); !errors.Is(err, automations.ErrNotFound) {
		t.Errorf("Hook(unknown) = %v, want ErrNotFound", err)
	}
	if err := e.svc.Disable(ctx, "default", "hooked", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Hook(ctx, ap.HookSecret, nil); !errors.Is(err, automations.ErrNotFound) {
		t.Errorf("Hook(disabled) = %v, want ErrNotFound", err)
	}
	if runs := e.runs("hooked"); len(runs) != 0 {
		t.Errorf("%d runs recorded, want none", len(runs))
	}
	again := e.apply(postDoc("hooked", "webhook: {}", "y"))
	if again.HookSecret != "" || again.Created {
		t.Errorf("applying again gave a secret %q (created %v): the secret is shown once", again.HookSecret, again.Created)
	}
}

// countingStore is the real store, counting EnqueueRuns transactions; first runs before the
// first one.
type countingStore struct {
	automations.Store
	first    func()
	once     sync.Once
	enqueues atomic.Int64
}

func (c *countingStore) EnqueueRuns(ctx context.Context, runs []*automations.Run) error {
	c.once.Do(c.first)
	c.enqueues.Add(1)
	return c.Store.EnqueueRuns(ctx, runs)
}
