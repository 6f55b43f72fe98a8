package automations

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// StepRecord is one step of a run as its Steps JSON holds it: the action it belongs to
// ("trigger" for a poll's trigger flow) and the step's trace, redacted as patchbay run --trace
// shows it.
type StepRecord struct {
	Action string `json:"action"`
	engine.StepTrace
}

// errShutdown is the cause of a run's context when Serve stopped and the grace passed.
var errShutdown = errors.New("the grace period passed")

// outcome is what running a run gave.
type outcome struct {
	err    error // raw, for the retry classes; never shown
	failed string
	steps  []StepRecord
	output any // redacted
	red    *engine.Redactor
	items  []PollItem // a poll's
}

// Work claims and runs queued runs until none is claimable (a retry's backoff holds it back)
// and returns how many ran. Serve's workers do the same, continuously.
func (s *Service) Work(ctx context.Context) (int, error) {
	total := 0
	for {
		runs, err := s.store.ClaimRuns(ctx, s.node, s.now(), s.cfg.RunLease, s.cfg.Workers)
		if err != nil {
			return total, fmt.Errorf("claim runs: %w", err)
		}
		if len(runs) == 0 {
			return total, nil
		}
		var wg sync.WaitGroup
		for _, r := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.execute(ctx, r)
			}()
		}
		wg.Wait()
		total += len(runs)
	}
}

// execute runs r, which this node holds running, and records its end (and its retry, or a
// poll's new items). It returns r as recorded.
func (s *Service) execute(ctx context.Context, r *Run) *Run {
	s.run(ctx, r, false)
	return r
}

// run runs r, which this node holds running, and records its end (and its retry, or a poll's
// new items). With handOff, an actions run's end is handed to the group commit and run returns
// at once, so the worker takes its next run while the end is being written; the run stays
// among the active ones (its lease renewed) until the end is recorded, and Serve flushes the
// ends before it returns. The store keeps the run running until then, so the next serial run
// of its automation is not claimed before its end is recorded. Without handOff, run returns
// once the end is recorded.
func (s *Service) run(ctx context.Context, r *Run, handOff bool) {
	start := s.now()
	if r.StartedAt.IsZero() {
		r.StartedAt = start
	}
	clock := time.Now()
	runCtx, cancel := context.WithCancelCause(ctx)
	s.active.add(r.ID, cancel)
	done := func() { cancel(nil); s.active.remove(r.ID) }
	if !r.Slot.IsZero() && s.cfg.Observer != nil {
		s.cfg.Observer.Fired(start.Sub(r.Slot))
	}
	s.log.Info("run started", "automation", r.Automation, "workspace", r.Workspace, "run_id", r.ID, "kind", r.Kind, "attempt", r.Attempt)

	var o outcome
	var sp *Spec
	a, err := s.store.AutomationByID(ctx, r.AutomationID)
	if err == nil {
		sp, err = s.spec(a)
	}
	switch {
	case errors.Is(err, ErrNotFound):
		s.log.Info("run ended", "automation", r.Automation, "run_id", r.ID, "status", "dropped", "error", "the automation was deleted")
		done()
		return
	case err != nil:
		o.err = err
	default:
		timeout := sp.Timeout
		if timeout <= 0 {
			timeout = engine.DefaultLimits.Timeout
		}
		tctx, tcancel := context.WithTimeoutCause(runCtx, timeout, engine.ErrRunTimeout)
		if r.Kind == KindPoll {
			o = s.poll(tctx, r, a, sp, timeout)
		} else {
			o = s.actions(tctx, r, a, sp, timeout)
		}
		if errors.Is(context.Cause(tctx), engine.ErrRunTimeout) && o.err != nil {
			o.err = fmt.Errorf("%w after %s: %w", engine.ErrRunTimeout, timeout, o.err)
		}
		tcancel()
	}

	r.EndedAt = s.now()
	r.Status = StatusSucceeded
	var p *flows.Retry
	if sp != nil {
		p = sp.Retry
	}
	switch {
	case o.err == nil:
	case ctx.Err() != nil:
		r.Status, o.err = StatusInterrupted, fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	case errors.Is(o.err, engine.ErrRunTimeout):
		r.Status = StatusTimedOut
	default:
		r.Status = StatusFailed
	}
	if o.err != nil {
		r.Error = o.red.String(o.err.Error())
		r.FailedStep = o.failed
	}
	r.Steps = json.RawMessage("[]")
	if len(o.steps) > 0 {
		r.Steps = marshal(o.steps, "[]")
	}
	r.Output = marshal(o.output, "null")
	var retry *Run
	if o.err != nil {
		retry = retryOf(r, p, o.err, r.EndedAt)
	}
	d := time.Since(clock)
	recorded := func(err error) {
		s.recorded(r, retry, err, d)
		done()
	}
	if handOff && !(r.Kind == KindPoll && r.Status == StatusSucceeded) {
		s.ends.send(ended{r, retry}, recorded)
		return
	}
	recorded(s.finish(ctx, r, retry, o.items))
}

// recorded logs r's end once it was recorded (err: the store's error, if any) and tells the
// observer.
func (s *Service) recorded(r, retry *Run, err error, d time.Duration) {
	s.logRecord(r, err)
	attrs := []any{"automation", r.Automation, "workspace", r.Workspace, "run_id", r.ID, "status", r.Status, "duration", d}
	if r.Error != "" {
		attrs = append(attrs, "failed_step", r.FailedStep, "error", r.Error)
	}
	if retry != nil {
		attrs = append(attrs, "retry_at", retry.NotBefore)
	}
	s.log.Info("run ended", attrs...)
	if s.cfg.Observer != nil {
		s.cfg.Observer.RunEnded(r, d)
	}
}

// ended is a run's end and its retry (nil for none), as FinishRuns records them.
type ended struct{ run, retry *Run }

// finish records r's end with its retry, or a succeeded poll's items, under a context that
// outlives the run's (a run interrupted by a shutdown is still recorded), and returns once it
// is recorded. Ends of runs are recorded by group commit, many in one transaction.
func (s *Service) finish(ctx context.Context, r, retry *Run, items []PollItem) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeBudget)
	defer cancel()
	if r.Kind == KindPoll && r.Status == StatusSucceeded {
		started, err := s.store.FinishPoll(ctx, s.node, r, items, s.cfg.Seen)
		if len(started) > 0 {
			s.poke(s.work)
		}
		return err
	}
	return s.ends.add(ctx, ended{r, retry})
}

// logRecord logs the store's error recording r's end, if any.
func (s *Service) logRecord(r *Run, err error) {
	if errors.Is(err, ErrLeaseLost) && !strings.Contains(err.Error(), r.ID) {
		err = nil // another run of the batch lost its lease (the store's error names it): r's end is saved
	}
	switch {
	case errors.Is(err, ErrLeaseLost):
		s.log.Warn("run ended after its lease was lost; its end is not recorded", "automation", r.Automation, "run_id", r.ID, "status", r.Status)
	case err != nil:
		s.log.Error("record the end of a run", "automation", r.Automation, "run_id", r.ID, "error", err)
	}
}

// finishRuns records a batch of runs' ends and their retries in one transaction.
func (s *Service) finishRuns(ctx context.Context, batch []ended) error {
	runs, retries := make([]*Run, len(batch)), make([]*Run, len(batch))
	queued := false
	for i, e := range batch {
		runs[i], retries[i] = e.run, e.retry
		queued = queued || e.retry != nil
	}
	err := s.store.FinishRuns(ctx, s.node, runs, retries)
	if queued {
		s.poke(s.work)
	}
	return err
}

// actions runs the automation's actions in order, each with its inputs evaluated from the
// trigger and the earlier actions' outputs.
func (s *Service) actions(ctx context.Context, r *Run, a *Automation, sp *Spec, timeout time.Duration) outcome {
	var o outcome
	item, err := decodeItem(r.Item)
	if err != nil {
		o.err = err
		return o
	}
	done := map[string]any{}
	env := map[string]any{"trigger": map[string]any{"item": item, "time": s.slotTime(ctx, r, sp)}, "actions": done}
	ev := flows.NewEvaluator(ctx)
	var out any
	for _, act := range sp.Actions {
		res, err := s.call(ctx, a.Workspace, &act.Call, ev, env, timeout, &o)
		o.record(act.ID, res)
		if err != nil {
			o.fail(act.ID, fmt.Errorf("action %s: %w", act.ID, err), res)
			return o
		}
		out = res.Output
		done[act.ID] = map[string]any{"output": out}
	}
	o.output = o.red.Value(out)
	return o
}

// call runs one flow of an app with its connection (or the workspace's vault for an app
// without one) and the inputs c's templates give in env. o's redactor grows with the flow's
// secrets: a later action's trace may show an earlier action's output.
func (s *Service) call(ctx context.Context, workspace string, c *Call, ev *flows.Evaluator, env map[string]any, timeout time.Duration, o *outcome) (*engine.Result, error) {
	prog := s.cat.App(c.App)
	if prog == nil {
		return nil, fmt.Errorf("app %s is not loaded", c.App)
	}
	in, err := c.Inputs(ev, env)
	if err != nil {
		return nil, err
	}
	var opts engine.Options
	if c.Connection != "" {
		rec, err := s.conns.Store().Connection(ctx, workspace, c.Connection)
		if err != nil {
			return nil, fmt.Errorf("connection %s: %w", c.Connection, err)
		}
		opts, err = s.conns.RunOptions(ctx, prog, rec)
		if err != nil {
			return nil, err
		}
	} else if opts, err = s.conns.WorkspaceOptions(ctx, workspace, prog); err != nil {
		return nil, err
	}
	if o.red != nil {
		opts.Redactor = o.red // the engine adds this flow's vault and secrets to it
	}
	opts.Input = in
	opts.Trace = true
	opts.Limits = s.limits
	opts.Limits.Timeout = timeout
	if s.client != nil {
		opts.HTTPClient = s.client
	}
	res, err := prog.Run(ctx, c.Flow, opts)
	if res != nil {
		o.redactWith(res.Redactor)
	}
	return res, err
}

// record appends a flow's trace to the run's steps under action.
func (o *outcome) record(action string, res *engine.Result) {
	if res == nil {
		return
	}
	if o.steps == nil {
		o.steps = make([]StepRecord, 0, len(res.Trace))
	}
	for _, tr := range res.Trace {
		o.steps = append(o.steps, StepRecord{Action: action, StepTrace: *tr})
	}
}

// fail records err as the run's failure, at the innermost failed step of res's trace (the
// action itself when no step failed: its inputs, its connection).
func (o *outcome) fail(action string, err error, res *engine.Result) {
	o.err = err
	o.failed = action
	if res == nil {
		return
	}
	var at *engine.StepTrace
	for _, tr := range res.Trace {
		if tr.Status == engine.StatusFailed && (at == nil || tr.Depth > at.Depth) {
			at = tr
		}
	}
	if at != nil {
		o.failed = action + "/" + at.Path
	}
}

// redactWith makes red the run's redactor. When it knows secrets the steps recorded before
// it did not (a later action's connection), those steps are redacted again.
func (o *outcome) redactWith(red *engine.Redactor) {
	if red == o.red || red == nil {
		return
	}
	before := o.red
	o.red = red
	if before == nil {
		return
	}
	for i := range o.steps {
		st := &o.steps[i].StepTrace
		st.Input, st.Output, st.Error = red.Value(st.Input), red.Value(st.Output), red.String(st.Error)
	}
}

// slotTime is trigger.time: the run's slot in the schedule's zone, RFC 3339; "" for a run
// without one. A retry's is its first attempt's; a poll's item run's is its poll's slot, which
// it is queued at (poll).
func (s *Service) slotTime(ctx context.Context, r *Run, sp *Spec) string {
	first := r
	for n := 0; first.RetryOf != "" && n < r.Attempt; n++ {
		prev, err := s.store.Run(ctx, first.RetryOf)
		if err != nil {
			return "" // pruned: the slot is forgotten
		}
		first = prev
	}
	slot := first.Slot
	if slot.IsZero() && first.Trigger == TriggerPoll && first.Kind == KindActions {
		slot = first.QueuedAt
	}
	if slot.IsZero() {
		return ""
	}
	if sc := sp.Trigger.Schedule; sc != nil && sc.Location != nil {
		slot = slot.In(sc.Location)
	}
	return slot.Format(time.RFC3339)
}

func decodeItem(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("trigger item: %w", err)
	}
	return v, nil
}

// marshal encodes a redacted value for a run's record; a value that cannot be encoded is
// recorded as empty, which never happens with the engine's values.
func marshal(v any, empty string) json.RawMessage {
	if v == nil {
		return json.RawMessage(empty)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(empty)
	}
	return b
}
