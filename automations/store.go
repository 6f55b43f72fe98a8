package automations

import (
	"context"
	"errors"
	"time"
)

// Storage errors. Stores return these (wrapped) so callers can tell them apart.
var (
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost is FinishRuns' error for a run that is no longer the node's: its lease
	// expired and it was marked interrupted (or claimed again) meanwhile.
	ErrLeaseLost = errors.New("run lease lost")
)

// Store keeps automations, their runs and their poll triggers' dedupe keys. Every method is
// one short transaction (no network call inside one) and safe for concurrent use by several
// processes sharing the store. Times passed in are the caller's clock (a fake one in tests);
// stores keep them in UTC with nanoseconds.
type Store interface {
	// ApplyAutomation creates the automation (workspace, name) or updates the stored one: on
	// update it keeps ID, CreatedAt and HookHash when a.HookHash is "", bumps Version when
	// Source changed, and sets every other column from a. It sets a's ID, Version, CreatedAt
	// and UpdatedAt, and reports whether it created it.
	ApplyAutomation(ctx context.Context, a *Automation) (created bool, err error)
	// Automation returns the automation of workspace called name, or ErrNotFound.
	Automation(ctx context.Context, workspace, name string) (*Automation, error)
	// AutomationByID returns the automation with id, or ErrNotFound.
	AutomationByID(ctx context.Context, id string) (*Automation, error)
	// AutomationByHook returns the automation whose HookHash is hash, or ErrNotFound.
	AutomationByHook(ctx context.Context, hash string) (*Automation, error)
	// Automations lists the automations of a workspace by name.
	Automations(ctx context.Context, workspace string) ([]*Automation, error)
	// DeleteAutomation deletes an automation with its runs and dedupe keys (ErrNotFound when
	// there is none). Its runs still running finish without a record.
	DeleteAutomation(ctx context.Context, id string) error
	// SetEnabled turns an automation on (next: its next slot, zero for none; Primed and its
	// dedupe keys are cleared, so the first poll records what exists) or off (reason: why;
	// NextSlot is cleared).
	SetEnabled(ctx context.Context, id string, enabled bool, reason string, next time.Time) error
	// DisableUsing turns off every enabled automation of workspace whose Connections include
	// connection, with reason, and returns them as they are now.
	DisableUsing(ctx context.Context, workspace, connection, reason string) ([]*Automation, error)

	// NextDue returns the earliest NextSlot of the enabled automations (zero when none has
	// one): when the scheduler must look again.
	NextDue(ctx context.Context) (time.Time, error)
	// ClaimDue claims up to limit enabled automations whose NextSlot is at or before now,
	// earliest first, skipping any another transaction holds (FOR UPDATE SKIP LOCKED). For
	// each, plan is called inside the transaction with the automation and whether it has a
	// serial or slot run queued or running (active); plan must not block. ClaimDue records the
	// Run plan returns (its ID, QueuedAt filled when empty; a run whose (AutomationID, Slot)
	// exists already is dropped, not an error) and sets NextSlot to Next, all in one
	// transaction, and returns the runs it recorded.
	ClaimDue(ctx context.Context, now time.Time, limit int, plan func(a *Automation, active bool) Claim) ([]*Run, error)

	// EnqueueRuns records runs (queued or, for a skipped slot, skipped) in one transaction: a
	// webhook's, a manual start's, a retry. It fills ID and QueuedAt when empty. All or none:
	// a run with an (AutomationID, Slot) that exists fails them all.
	EnqueueRuns(ctx context.Context, runs []*Run) error
	// ClaimRuns moves up to limit queued runs whose NotBefore has passed to running, for
	// node, with a lease until now+lease, oldest first, skipping any another transaction
	// holds, and returns them. A Serial run is not claimed while another Serial run of its
	// automation is running or an older one is queued.
	ClaimRuns(ctx context.Context, node string, now time.Time, lease time.Duration, limit int) ([]*Run, error)
	// ExtendLeases moves the lease of node's running runs ids to until.
	ExtendLeases(ctx context.Context, node string, ids []string, until time.Time) error
	// FinishRuns saves the end of runs (Status, EndedAt, Error, FailedStep, Steps, Output)
	// that node runs, and records each non-nil retry (a new queued run) with it, in one
	// transaction. A run that is no longer running for node is left as it is and its retry
	// not recorded; FinishRuns then returns an error wrapping ErrLeaseLost naming it, after
	// saving the others. A run that is gone (its automation was deleted) finishes without a
	// record or an error. retries is nil or as long as runs.
	FinishRuns(ctx context.Context, node string, runs []*Run, retries []*Run) error
	// FinishPoll ends a poll run (as FinishRuns does, one run) and, in the same transaction,
	// records the keys of items not seen before for its automation and, when the automation
	// was primed already, enqueues their runs; an unprimed automation is primed (by a poll
	// that succeeded: one that failed primes nothing) and starts none. A key is seen at the
	// poll's EndedAt, again each time a poll returns it. Keys past limits are deleted. A poll
	// whose automation was deleted finishes without a record. It returns the runs it enqueued.
	FinishPoll(ctx context.Context, node string, poll *Run, items []PollItem, limits SeenLimits) ([]*Run, error)
	// InterruptExpired marks interrupted every running run whose lease expired at now (its
	// node died or stopped), with an error saying so, and records the retry retry returns for
	// each (nil: none), in one transaction per batch. It returns the runs it marked.
	InterruptExpired(ctx context.Context, now time.Time, retry func(r *Run) *Run) ([]*Run, error)

	// Run returns the run with id, or ErrNotFound.
	Run(ctx context.Context, id string) (*Run, error)
	// Runs lists runs newest first (QueuedAt, then ID), filtered; Steps and Output are left
	// empty in a listing.
	Runs(ctx context.Context, f RunFilter) ([]*Run, error)
	// LastRun returns the newest run of an automation (ErrNotFound when it has none).
	LastRun(ctx context.Context, automationID string) (*Run, error)
	// QueueDepth counts the queued runs.
	QueueDepth(ctx context.Context) (int, error)
	// PruneRuns deletes up to batch ended runs that are older than before or not among the
	// newest keep runs of their automation, and returns how many it deleted: callers repeat
	// it while it returns batch, so no transaction holds the store for long.
	PruneRuns(ctx context.Context, keep int, before time.Time, batch int) (int, error)
}
