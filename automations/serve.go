package automations

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Intervals of Serve's loops.
const (
	maxSleep    = time.Second     // the scheduler and the workers look at least this often
	reapEvery   = 5 * time.Second // runs of dead nodes are looked for this often
	retainEvery = 5 * time.Minute // old runs are pruned this often
	pruneBatch  = 500             // runs one pruning transaction deletes
	// storeBudget bounds a write that must happen after the caller is gone: a run's end, a
	// webhook's batch.
	storeBudget = 30 * time.Second
)

// activeRuns are the runs running in this process: their leases are renewed, and a shutdown
// past its grace cancels them.
type activeRuns struct {
	mu   sync.Mutex
	runs map[string]*activeRun
}

type activeRun struct{ cancel context.CancelCauseFunc }

func (a *activeRuns) add(id string, cancel context.CancelCauseFunc) {
	a.mu.Lock()
	a.runs[id] = &activeRun{cancel: cancel}
	a.mu.Unlock()
}

func (a *activeRuns) remove(id string) {
	a.mu.Lock()
	delete(a.runs, id)
	a.mu.Unlock()
}

func (a *activeRuns) ids() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.runs))
	for id := range a.runs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Serve runs the scheduler, the workers (Config.Workers at once), lease renewal, the reaper
// of dead nodes' runs and retention until ctx ends. Then it stops claiming, lets the running
// runs finish for Config.Grace, cancels the rest and records them interrupted, waits until
// every run's end is recorded, and returns.
// No goroutine it started outlives it.
func (s *Service) Serve(ctx context.Context) error {
	runCtx, stopRuns := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stopRuns(nil)
	leaseCtx, stopLeases := context.WithCancel(context.WithoutCancel(ctx))
	var loops, leases, workers sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); s.scheduleLoop(ctx) }()
	go func() { defer loops.Done(); s.retainLoop(ctx) }()
	leases.Add(1)
	go func() { defer leases.Done(); s.leaseLoop(leaseCtx) }()
	s.dispatch(ctx, runCtx, &workers)
	loops.Wait()

	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	if n := len(s.active.ids()); n > 0 {
		s.log.Info("stopping: letting runs finish", "runs", n, "grace", s.cfg.Grace)
	}
	t := time.NewTimer(s.cfg.Grace)
	select {
	case <-done:
		t.Stop()
	case <-t.C:
		s.log.Warn("stopping: grace period passed; interrupting runs", "runs", len(s.active.ids()))
		stopRuns(errShutdown)
		<-done
	}
	s.ends.flush() // the ends handed to the group commit by the workers
	stopLeases()
	leases.Wait()
	return nil
}

// dispatch claims queued runs while workers are free and runs each on its own goroutine,
// until ctx ends. It looks again when runs were queued here, when a worker is freed, and at
// least every second (runs queued by other nodes, retries whose backoff passed).
func (s *Service) dispatch(ctx, runCtx context.Context, workers *sync.WaitGroup) {
	sem := make(chan struct{}, s.cfg.Workers)
	freed := make(chan struct{}, 1)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		if free := cap(sem) - len(sem); free > 0 {
			runs, err := s.store.ClaimRuns(ctx, s.node, s.now(), s.cfg.RunLease, free)
			if err != nil && ctx.Err() == nil {
				s.log.Error("claim runs", "error", err)
			}
			for _, r := range runs {
				sem <- struct{}{}
				workers.Add(1)
				go func() {
					defer workers.Done()
					s.run(runCtx, r, true)
					<-sem
					s.poke(freed)
				}()
			}
			if len(runs) == free && ctx.Err() == nil {
				continue // maybe more
			}
		}
		t.Reset(maxSleep)
		select {
		case <-ctx.Done():
			return
		case <-s.work:
		case <-freed:
		case <-t.C:
		}
	}
}

// scheduleLoop claims due slots until ctx ends: it sleeps until the earliest next slot in the
// store (at most a second: another node may have added one) or until an automation here is
// applied or enabled.
func (s *Service) scheduleLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	var reaped time.Time
	for ctx.Err() == nil {
		if now := s.now(); now.Sub(reaped) >= reapEvery || now.Before(reaped) {
			reaped = now
			if err := s.interruptExpired(ctx, now); err != nil && ctx.Err() == nil {
				s.log.Error("scheduler", "error", err)
			}
		}
		if _, err := s.claimDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("scheduler", "error", err)
		}
		wait := maxSleep
		if next, err := s.store.NextDue(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Error("scheduler", "error", err)
			}
		} else if !next.IsZero() {
			// A due slot another node holds is looked at again a millisecond later, not in a
			// busy loop.
			wait = min(max(next.Sub(s.now()), time.Millisecond), maxSleep)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
		case <-s.wake:
		case <-t.C:
		}
	}
}

// leaseLoop renews the leases of the runs running here every third of the lease, until ctx
// ends (after the last run ended).
func (s *Service) leaseLoop(ctx context.Context) {
	tk := time.NewTicker(s.cfg.RunLease / 3)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		s.renew(ctx, s.active.ids())
	}
}

func (s *Service) renew(ctx context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	if err := s.store.ExtendLeases(ctx, s.node, ids, s.now().Add(s.cfg.RunLease)); err != nil && ctx.Err() == nil {
		s.log.Error("renew run leases", "runs", len(ids), "error", err)
	}
}

// retainLoop prunes ended runs past the retention every few minutes, in small batches, each
// its own short transaction, so the scheduler and the workers are never held up for long.
func (s *Service) retainLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("prune runs", "error", err)
		}
		t.Reset(retainEvery)
	}
}

// Prune deletes the ended runs past the retention (Config.Retention), in batches, and returns
// how many it deleted.
func (s *Service) Prune(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.store.PruneRuns(ctx, s.cfg.Retention.Keep, s.now().Add(-s.cfg.Retention.MaxAge), pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
