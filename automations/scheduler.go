package automations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// LateGrace is how late a slot may be claimed and still run as any slot does. A slot older
// than that was missed (patchbay was not running, or far behind): catch_up decides whether it
// runs. The scheduler looks at least once a second, so a slot is only this late when it was
// missed.
const LateGrace = time.Minute

// claimBatch is how many due automations one ClaimDue transaction claims.
const claimBatch = 256

// errInterrupted is the error of a run that was running when its node stopped or died.
var errInterrupted = errors.New("interrupted: patchbay stopped before the run ended")

// Tick is one scheduler pass at Now(): it marks interrupted the runs whose node's lease
// expired (queuing their retries), then claims every due slot, recording its run, and moves
// each automation to its next slot. It returns how many runs it recorded (skipped ones too).
func (s *Service) Tick(ctx context.Context) (int, error) {
	if err := s.interruptExpired(ctx, s.now()); err != nil {
		return 0, err
	}
	return s.claimDue(ctx)
}

func (s *Service) claimDue(ctx context.Context) (int, error) {
	now := s.now()
	total := 0
	for {
		claimed := 0
		var broken []*Automation
		var brokenErr []error
		runs, err := s.store.ClaimDue(ctx, now, claimBatch, func(a *Automation, active bool) Claim {
			claimed++
			c, err := s.plan(now, a, active)
			if err != nil {
				broken, brokenErr = append(broken, a), append(brokenErr, err)
			}
			return c
		})
		if err != nil {
			return total, fmt.Errorf("claim due slots: %w", err)
		}
		total += len(runs)
		for i, a := range broken {
			// Its apps changed under it: it has no next slot now; say why it is off.
			reason := fmt.Sprintf("it no longer loads: %v", brokenErr[i])
			if err := s.store.SetEnabled(ctx, a.ID, false, reason, time.Time{}); err != nil {
				s.log.Error("turn off an automation that no longer loads", "automation", a.Name, "error", err)
			} else {
				s.log.Error("automation turned off", "workspace", a.Workspace, "automation", a.Name, "reason", reason)
			}
		}
		for _, r := range runs {
			if r.Status == StatusSkipped {
				s.log.Info("run skipped", "automation", r.Automation, "run_id", r.ID, "slot", r.Slot, "reason", r.Error)
				if s.cfg.Observer != nil {
					s.cfg.Observer.RunEnded(r, 0)
				}
			}
		}
		if len(runs) > 0 {
			s.poke(s.work)
		}
		if claimed < claimBatch {
			return total, nil
		}
	}
}

// plan decides what a due automation's slot records, inside ClaimDue's transaction: its run
// (skipped when overlap is skip and the previous one is active; serial when queue; none for
// missed slots with catch_up: none) and its next slot. It reads no store.
func (s *Service) plan(now time.Time, a *Automation, active bool) (Claim, error) {
	sp, err := s.spec(a)
	if err != nil {
		return Claim{}, err
	}
	sched := sp.Trigger.Schedule
	if sched == nil {
		return Claim{}, fmt.Errorf("automation %s has a slot but its %s trigger has no schedule", a.Name, sp.Trigger.Kind)
	}
	slot := a.NextSlot
	next := sched.Next(slot)
	if now.Sub(slot) > LateGrace {
		switch sp.CatchUp {
		case CatchUpNone:
			// The missed slots record nothing; a slot within the grace still runs.
			recent := sched.Next(now.Add(-LateGrace - time.Nanosecond))
			if recent.IsZero() || recent.After(now) {
				return Claim{Next: recent}, nil
			}
			slot, next = recent, sched.Next(recent)
		default:
			// One run for every slot missed, recorded with the first; the next slot is the
			// first to come.
			next = sched.Next(now)
		}
	}
	r := newRun(a, KindActions, nil, now)
	r.Slot = slot
	if sp.Trigger.Kind == TriggerPoll {
		r.Kind = KindPoll
	}
	r.Serial = a.Overlap == OverlapQueue
	if active && !r.Serial {
		r.Status = StatusSkipped
		r.EndedAt = now
		r.Error = "skipped: the previous slot's run was still queued or running (overlap: skip)"
	}
	return Claim{Run: r, Next: next}, nil
}

// newRun is a queued first attempt of a run of a.
func newRun(a *Automation, kind string, item []byte, now time.Time) *Run {
	if item == nil {
		item = []byte("null")
	}
	return &Run{
		AutomationID: a.ID, Workspace: a.Workspace, Automation: a.Name, Trigger: a.Trigger,
		Kind: kind, Item: item, Status: StatusQueued, Attempt: 1, QueuedAt: now,
	}
}

// retryOf returns the retry of the ended run r when the automation's retry p wants one: the
// same work as a new queued run, attempt+1, held back by the backoff. An interruption is
// retried whenever attempts are left (it is not the flow's failure, so no class describes it);
// a failure when p's classes cover err.
func retryOf(r *Run, p *flows.Retry, err error, now time.Time) *Run {
	if p == nil || r.Attempt >= p.MaxAttempts {
		return nil
	}
	if !errors.Is(err, errInterrupted) && !engine.Retryable(p, err) {
		return nil
	}
	return &Run{
		AutomationID: r.AutomationID, Workspace: r.Workspace, Automation: r.Automation, Trigger: r.Trigger,
		Kind: r.Kind, Item: r.Item, Serial: r.Serial, Status: StatusQueued,
		Attempt: r.Attempt + 1, RetryOf: r.ID, NotBefore: now.Add(engine.Backoff(p, r.Attempt, err)), QueuedAt: now,
	}
}

// interruptExpired marks interrupted the running runs whose lease expired at now, with their
// retries. The retry is decided inside the store's transaction from the spec this process has
// cached; for an automation it has not parsed yet (a restart after a crash), the retry is
// recorded in a second transaction right after.
func (s *Service) interruptExpired(ctx context.Context, now time.Time) error {
	var later []*Run
	seen := map[string]bool{}
	runs, err := s.store.InterruptExpired(ctx, now, func(r *Run) *Run {
		c, ok := s.specs.Load(r.AutomationID)
		if !ok {
			if !seen[r.ID] {
				seen[r.ID] = true
				later = append(later, r)
			}
			return nil
		}
		return retryOf(r, c.(*cachedSpec).spec.Retry, errInterrupted, now)
	})
	if err != nil {
		return fmt.Errorf("interrupt runs of dead nodes: %w", err)
	}
	for _, r := range runs {
		s.log.Warn("run interrupted", "automation", r.Automation, "run_id", r.ID, "node", r.Node, "status", r.Status, "error", r.Error)
		if s.cfg.Observer != nil {
			s.cfg.Observer.RunEnded(r, r.EndedAt.Sub(r.StartedAt))
		}
	}
	var retries []*Run
	for _, r := range later {
		a, err := s.store.AutomationByID(ctx, r.AutomationID)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return fmt.Errorf("retry interrupted run %s: %w", r.ID, err)
		}
		sp, err := s.spec(a)
		if err != nil {
			s.log.Error("retry interrupted run", "automation", a.Name, "run_id", r.ID, "error", err)
			continue
		}
		if rt := retryOf(r, sp.Retry, errInterrupted, now); rt != nil {
			retries = append(retries, rt)
		}
	}
	if len(retries) > 0 {
		if err := s.store.EnqueueRuns(ctx, retries); err != nil {
			return fmt.Errorf("retry interrupted runs: %w", err)
		}
		s.poke(s.work)
	}
	return nil
}
