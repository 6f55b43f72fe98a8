package automations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// maxBatch is the most records one group commit writes.
const maxBatch = 256

// group writes records by group commit: the records that arrive while a commit is under way
// are written together by the next one, in one transaction. A record that finds no commit
// under way starts one at once: nothing waits for a timer. Webhooks' runs are recorded this
// way (Hook), and the ends of runs.
type group[T any] struct {
	commit  func(ctx context.Context, batch []T) error
	mu      sync.Mutex
	waiting []*pending[T]
	busy    bool           // a committer is running
	pending sync.WaitGroup // records handed over by send and not yet committed
}

type pending[T any] struct {
	v    T
	done chan error
	then func(error) // send's: called by the committer instead of done
}

// add writes v with the others waiting and returns once its batch committed (the batch's
// error), or when ctx ends (v may be written still).
func (g *group[T]) add(ctx context.Context, v T) error {
	p := &pending[T]{v: v, done: make(chan error, 1)}
	g.enqueue(p)
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// send hands v to the committer and returns at once; then is called with the error of v's
// batch once it committed, on the committer's goroutine (it must not block). flush waits for
// every record sent.
func (g *group[T]) send(v T, then func(error)) {
	g.pending.Add(1)
	g.enqueue(&pending[T]{v: v, then: then})
}

// flush returns once every record handed to send before it was called is committed and its
// then has returned.
func (g *group[T]) flush() { g.pending.Wait() }

func (g *group[T]) enqueue(p *pending[T]) {
	g.mu.Lock()
	g.waiting = append(g.waiting, p)
	start := !g.busy
	g.busy = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
}

// run commits what is waiting, up to maxBatch records per transaction, until nothing is.
func (g *group[T]) run() {
	for {
		g.mu.Lock()
		n := min(len(g.waiting), maxBatch)
		if n == 0 {
			g.busy = false
			g.waiting = nil
			g.mu.Unlock()
			return
		}
		batch := make([]*pending[T], n)
		copy(batch, g.waiting)
		g.waiting = g.waiting[n:]
		g.mu.Unlock()

		vs := make([]T, n)
		for i, p := range batch {
			vs[i] = p.v
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeBudget)
		err := g.commit(ctx, vs)
		cancel()
		for _, p := range batch {
			if p.then == nil {
				p.done <- err
				continue
			}
			p.then(err)
			g.pending.Done()
		}
	}
}

// Hook records a run of the webhook automation whose secret is secret, with item as
// trigger.item, and returns it once it is recorded durably (queued; a worker runs it). Its
// error wraps ErrNotFound for an unknown secret or an automation that is off. Concurrent calls
// are recorded together (group commit).
func (s *Service) Hook(ctx context.Context, secret string, item json.RawMessage) (*Run, error) {
	hash := HookHash(secret)
	a, err := s.byHook.get(hash, func() (*Automation, error) { return s.store.AutomationByHook(ctx, hash) })
	if errors.Is(err, ErrNotFound) || (err == nil && (!a.Enabled || a.Trigger != TriggerWebhook)) {
		return nil, fmt.Errorf("hook: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("hook: %w", err)
	}
	r := newRun(a, KindActions, item, s.now())
	if err := s.hooks.add(ctx, r); err != nil {
		return nil, fmt.Errorf("hook of automation %s: record run: %w", a.Name, err)
	}
	s.poke(s.work)
	return r, nil
}

// RunNow records a run of the automation with item as trigger.item, runs it in this process
// (whether the automation is on or not: the user asked) and returns it ended.
func (s *Service) RunNow(ctx context.Context, workspace, name string, item json.RawMessage) (*Run, error) {
	a, err := s.store.Automation(ctx, workspace, name)
	if err != nil {
		return nil, fmt.Errorf("run automation %s: %w", name, err)
	}
	now := s.now()
	r := newRun(a, KindActions, item, now)
	r.Status, r.Node, r.LeaseExpires, r.StartedAt = StatusRunning, s.node, now.Add(s.cfg.RunLease), now
	if err := s.store.EnqueueRuns(ctx, []*Run{r}); err != nil {
		return nil, fmt.Errorf("run automation %s: %w", name, err)
	}
	// Serve renews the leases of the runs it runs; this one may run without it (the command
	// line), so it keeps its own lease.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(s.cfg.RunLease / 3)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				s.renew(ctx, []string{r.ID})
			}
		}
	}()
	return s.execute(ctx, r), nil
}
