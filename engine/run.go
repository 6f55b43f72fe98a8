package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/flows"
)

// Run runs the flow called name with opts and returns its result. The result is returned on
// failure too, with the trace so far; the error then says which step failed and why.
func (p *Program) Run(ctx context.Context, name string, opts Options) (*Result, error) {
	f := p.flows[name]
	if f == nil {
		return nil, fmt.Errorf("app %s has no flow %q%s", p.App.Key, name, flows.Suggest(name, p.App.FlowNames()))
	}
	r := &run{prog: p, opts: opts, limits: opts.Limits.withDefaults(), log: opts.Logger}
	if r.log == nil {
		r.log = discardLogger
	}
	red := opts.Redactor
	if len(opts.Vault)+len(opts.Secrets) > 0 {
		red = red.With(append(vaultSecrets(opts.Vault), opts.Secrets...)...)
	}
	r.redact.Store(red)
	r.app = p.appEnv
	if opts.Trace {
		r.trace = make([]*StepTrace, 0, len(f.Steps))
	}
	res := &Result{Flow: name, Start: time.Now()}
	ctx, cancel := context.WithTimeoutCause(ctx, r.limits.Timeout, ErrRunTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, runKey{}, r) // for AddSecrets
	ctx = flows.WithSecretSink(ctx, r.addSecrets)
	out, err := r.runFlow(ctx, f, opts.Input, 0, "")
	if err == nil {
		err = r.checkResult(out) // a called flow's output is its caller's step's
	}
	res.Duration = time.Since(res.Start)
	res.Output = out
	res.Trace = r.trace
	res.Redactor = r.redact.Load()
	if err != nil {
		return res, redactErr(res.Redactor, err)
	}
	return res, nil
}

// vaultSecrets lists the vault's values, with room for the run's other secrets.
func vaultSecrets(v map[string]any) []string {
	out := make([]string, 0, len(v)+8)
	for _, x := range v {
		out = append(out, flows.Stringify(x))
	}
	return out
}

// runFlow runs f with the given inputs at call depth depth, recovering a panic into an error.
func (r *run) runFlow(ctx context.Context, f *Flow, given map[string]any, depth int, path string) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic in run", "flow", f.Def.Name, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			out, err = nil, fmt.Errorf("flow %s: internal error: %v", f.Def.Name, p)
		}
	}()
	in, err := flows.ResolveInputs(f.Def, given)
	if err != nil {
		return nil, err
	}
	var secrets []string
	for _, d := range f.Def.Inputs {
		if d.Sensitive && in[d.Name] != nil {
			secrets = append(secrets, SecretStrings(in[d.Name])...)
		}
	}
	if len(secrets) > 0 {
		st := &State{r: r}
		st.AddSecrets(secrets...)
	}
	fs := &struct { // one allocation for the two
		st State
		sl slots
	}{}
	st := &fs.st
	*st = State{r: r, flow: f, steps: make(map[string]any, len(f.Steps)), vars: map[string]any{}, slots: &fs.sl, depth: depth, path: path, nest: strings.Count(path, ".")}
	defer r.release(st.slots) // the flow's steps and vars go with it
	st.env = map[string]any{
		"input": in, "steps": st.steps, "vars": st.vars,
		"connection": r.opts.Connection, "app": r.app, "vault": r.opts.Vault,
	}
	// A long evaluation ends with the run, or with the step that called this flow.
	st.ev = flows.NewEvaluator(ctx)
	last, err := st.RunSteps(ctx, f.Steps)
	if ret := asReturn(err); ret != nil {
		return ret.value, nil
	}
	if err != nil {
		return nil, err
	}
	if f.Output == nil {
		return last, nil
	}
	out, err = st.Eval(f.Output)
	if err != nil {
		return nil, fmt.Errorf("flow %s: output: %w", f.Def.Name, err)
	}
	return out, nil
}

// RunSteps runs steps in order and returns the output of the last one that ran. A return
// block's signal passes through as an error the flow turns into its output.
func (st *State) RunSteps(ctx context.Context, steps []*Step) (any, error) {
	var last any
	for _, s := range steps {
		out, err := st.runStep(ctx, s)
		if err != nil {
			return nil, err
		}
		last = out
	}
	return last, nil
}

// CallFlow runs another flow of the app with input, one level deeper, in this run.
func (st *State) CallFlow(ctx context.Context, name string, input map[string]any) (any, error) {
	f := st.r.prog.flows[name]
	if f == nil {
		return nil, fmt.Errorf("no flow %q", name)
	}
	if st.depth+1 > st.r.limits.MaxDepth {
		return nil, &LimitError{Limit: "depth", Max: int64(st.r.limits.MaxDepth), What: fmt.Sprintf("call_flow %s nested too deep", name)}
	}
	prefix := st.prefix()
	if st.cur != nil {
		prefix = st.stepPath(st.cur) + ">" + name + "."
	}
	return st.r.runFlow(ctx, f, input, st.depth+1, prefix)
}

func (st *State) runStep(ctx context.Context, s *Step) (any, error) {
	r := st.r
	var tr *StepTrace
	switch {
	case r.opts.Trace || r.opts.OnStep != nil:
		tr = new(StepTrace)
		*tr = StepTrace{Path: st.prefix() + s.ID, ID: s.ID, Block: s.Kind, Pos: s.Pos, Depth: st.nest, Start: time.Now()}
	case r.log.Enabled(ctx, slog.LevelDebug):
		tr = &st.scratch
		*tr = StepTrace{Path: st.prefix() + s.ID, ID: s.ID, Block: s.Kind, Pos: s.Pos, Depth: st.nest, Start: time.Now()}
	default:
		// Nobody sees this trace: the next step of st reuses it, and it has neither path (see
		// stepPath) nor times.
		tr = &st.scratch
		*tr = StepTrace{ID: s.ID, Block: s.Kind, Pos: s.Pos, Depth: st.nest}
	}
	if r.opts.Trace {
		r.mu.Lock()
		r.trace = append(r.trace, tr)
		r.mu.Unlock()
	}
	if n := r.steps.Add(1); n > r.limits.MaxSteps {
		err := &LimitError{Limit: "steps", Max: r.limits.MaxSteps, What: "too many steps in one run"}
		return nil, st.finish(tr, s, nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, st.finish(tr, s, nil, context.Cause(ctx))
	}
	if s.When != nil {
		ok, err := st.Eval(s.When)
		if err != nil {
			return nil, st.finish(tr, s, nil, fmt.Errorf("when: %w", err))
		}
		if !Truthy(ok) {
			if err := st.setOutput(s, nil); err != nil {
				return nil, st.finish(tr, s, nil, err)
			}
			tr.Status = StatusSkipped
			st.end(tr)
			return nil, nil
		}
	}
	var out any
	var err error
	for attempt := 1; ; attempt++ {
		tr.Attempts = attempt
		out, err = st.attempt(ctx, s, tr)
		if err == nil || !st.shouldRetry(ctx, s, attempt, err) {
			break
		}
		wait := Backoff(s.Retry, attempt, err)
		r.log.Warn("step failed, retrying", "step", st.stepPath(tr), "attempt", attempt, "wait", wait, "error", r.redact.Load().String(err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, st.finish(tr, s, nil, context.Cause(ctx))
		case <-t.C:
		}
	}
	if ret := asReturn(err); ret != nil {
		tr.Status = StatusOK
		tr.Output = r.shown(ret.value)
		st.end(tr)
		return nil, err
	}
	if err != nil && s.OnError == "continue" && continuable(ctx, err) {
		out = errorOutput(err, st.Redactor())
		if serr := st.setOutput(s, out); serr != nil {
			return nil, st.finish(tr, s, nil, serr)
		}
		tr.Status = StatusContinued
		tr.Error = st.Redactor().String(err.Error())
		tr.Output = r.shown(out)
		st.end(tr)
		return out, nil
	}
	return out, st.finish(tr, s, out, err)
}

// attempt runs the step's block once, bounded by the step's timeout.
func (st *State) attempt(ctx context.Context, s *Step, tr *StepTrace) (any, error) {
	if s.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, s.Timeout, errStepTimeout)
		defer cancel()
	}
	st.cur = tr
	out, err := st.runBlock(ctx, s.Block)
	st.cur = tr
	st.letGo() // what the block held is its output now, or gone
	if err != nil && ctx.Err() != nil && errors.Is(context.Cause(ctx), errStepTimeout) && !errors.Is(err, errStepTimeout) {
		err = fmt.Errorf("%w after %s: %w", errStepTimeout, s.Timeout, err)
	}
	return out, err
}

// runBlock runs b, turning a panic into a *panicError. A block may run on a goroutine of its own
// (a loop's worker), outside runFlow's recover, where a panic would end the process.
func (st *State) runBlock(ctx context.Context, b Block) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			st.r.log.Error("panic in a step", "step", st.stepPath(st.cur), "panic", st.Redactor().String(fmt.Sprint(p)), "stack", string(debug.Stack()))
			out, err = nil, &panicError{value: p}
		}
	}()
	return b.Run(ctx, st)
}

// panicError is a block's panic: a bug, which fails the run whatever on_error and retry say.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("internal error: %v", e.value) }

// finish ends a step's trace and wraps its error with where the step is. A step that succeeded
// stores its output, and fails when the run then holds more than its limit.
func (st *State) finish(tr *StepTrace, s *Step, out any, err error) error {
	if err == nil {
		err = st.setOutput(s, out)
	}
	if err == nil {
		tr.Status = StatusOK
		tr.Output = st.r.shown(out)
		st.end(tr)
		return nil
	}
	tr.Status = StatusFailed
	tr.Error = st.Redactor().String(err.Error())
	st.end(tr)
	var se *StepError
	if errors.As(err, &se) {
		return err // a nested step already said where it is
	}
	return &StepError{Pos: s.Pos, Step: s.ID, Block: s.Kind, Err: err}
}

func (st *State) end(tr *StepTrace) {
	if tr.Start.IsZero() {
		return // nobody sees it
	}
	tr.Duration = time.Since(tr.Start)
	if st.r.log.Enabled(context.Background(), slog.LevelDebug) {
		st.r.log.Debug("step ended", "step", tr.Path, "block", tr.Block, "status", tr.Status, "duration", tr.Duration)
	}
	if st.r.opts.OnStep != nil {
		st.r.opts.OnStep(tr)
	}
}

// stepPath is the path of the step of st whose trace is tr: tr.Path, or made now when the
// trace has none, which spares a step that nobody sees making it.
func (st *State) stepPath(tr *StepTrace) string {
	if tr.Path != "" {
		return tr.Path
	}
	return st.prefix() + tr.ID
}

// continuable reports whether on_error: continue may swallow err: not a limit, not the run's
// end, not a panic.
func continuable(ctx context.Context, err error) bool {
	var le *LimitError
	var pe *panicError
	return ctx.Err() == nil && !errors.As(err, &le) && !errors.As(err, &pe)
}

func (st *State) shouldRetry(ctx context.Context, s *Step, attempt int, err error) bool {
	if s.Retry == nil || attempt >= s.Retry.MaxAttempts || !continuable(ctx, err) {
		return false
	}
	return Retryable(s.Retry, err)
}

// Retryable reports whether p's classes (on: status codes, 5xx, timeout, network, any) cover
// err, a failed step's or run's error; attempts are the caller's to count. A limit, a panic, a
// fail block and a return are never retried. Steps' retry and automations' retry of failed runs
// share it.
func Retryable(p *flows.Retry, err error) bool {
	if p == nil || err == nil {
		return false
	}
	var le *LimitError
	var pe *panicError
	var ret *returnSignal
	var fe *FailError
	if errors.As(err, &le) || errors.As(err, &pe) || errors.As(err, &ret) || errors.As(err, &fe) {
		return false
	}
	class := ErrorClass(err)
	var he *HTTPError
	status := ""
	if errors.As(err, &he) {
		status = strconv.Itoa(he.StatusCode)
	}
	for _, on := range p.On {
		switch {
		case on == "any":
			return true
		case on == class:
			return true
		case status != "" && (on == status || (strings.HasSuffix(on, "xx") && on[0] == status[0])):
			return true
		}
	}
	return false
}

// ErrorClass names the class of a step error: "timeout", "network", "http" or "error".
func ErrorClass(err error) string {
	var he *HTTPError
	if errors.As(err, &he) {
		return "http"
	}
	if errors.Is(err, errStepTimeout) || errors.Is(err, ErrRunTimeout) || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return "timeout"
		}
		return "network"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "network"
	}
	return "error"
}

// Backoff is the wait before attempt+1 of a step or an automation's run: p.Backoff doubled
// per attempt, capped at p.MaxBackoff, jittered; a Retry-After header in seconds of err's
// HTTPError is honoured up to the cap.
func Backoff(p *flows.Retry, attempt int, err error) time.Duration {
	d := p.Backoff
	for i := 1; i < attempt && d < p.MaxBackoff; i++ {
		d *= 2
	}
	if p.MaxBackoff > 0 && d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	var he *HTTPError
	if errors.As(err, &he) && he.Header != nil {
		if secs, e := strconv.Atoi(he.Header.Get("Retry-After")); e == nil && secs >= 0 && int64(secs) <= math.MaxInt64/int64(time.Second) {
			ra := time.Duration(secs) * time.Second
			if p.MaxBackoff <= 0 || ra <= p.MaxBackoff {
				return ra
			}
		}
	}
	if p.Jitter && d > 0 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// errorOutput is a continued step's output: steps.<id>.error.{message, class, status, code}.
func errorOutput(err error, red *Redactor) map[string]any {
	e := map[string]any{"message": red.String(innerMessage(err)), "class": ErrorClass(err)}
	var he *HTTPError
	if errors.As(err, &he) {
		e["status"] = he.StatusCode
		e["body"] = red.String(he.Body)
	}
	var fe *FailError
	if errors.As(err, &fe) {
		e["code"] = fe.Code
		e["message"] = red.String(fe.Message)
	}
	return map[string]any{"error": e}
}

func innerMessage(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	return err.Error()
}

// Truthy reports whether a condition's value counts as true: false, nil, 0, "" and empty
// lists and mappings are false; "false" is false too, since YAML authors write it.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	return true
}

// redactErr returns err with every secret replaced in its message.
func redactErr(red *Redactor, err error) error {
	if red.Empty() {
		return err
	}
	msg := err.Error()
	if red.String(msg) == msg {
		return err
	}
	return &redactedError{msg: red.String(msg), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps errors.As working for callers that branch on the class (HTTPError, LimitError);
// their fields may hold secrets, so show Error(), not the fields.
func (e *redactedError) Unwrap() error { return e.err }

// appEnv is the template value app.
func appEnv(app *flows.App) map[string]any {
	return map[string]any{"key": app.Key, "name": app.Name, "version": app.Version}
}

// discardLogger is the logger of a run given none, made once: runs are many.
var discardLogger = slog.New(slog.DiscardHandler)

// asReturn returns the return block's signal in err, or nil. It checks err for nil first, so
// the hot path of a step that succeeded allocates nothing for errors.As.
func asReturn(err error) *returnSignal {
	if err == nil {
		return nil
	}
	var ret *returnSignal
	if errors.As(err, &ret) {
		return ret
	}
	return nil
}

// Return is the error a return block gives to end the flow with value as its output.
func Return(value any) error { return &returnSignal{value: value} }
