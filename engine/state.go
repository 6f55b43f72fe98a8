package engine

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/patchbay/patchbay/flows"
)

// Limits bound one run. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	Timeout          time.Duration // the run's deadline
	MaxSteps         int64         // steps executed in the run, nested steps and called flows included
	MaxIterations    int           // items of one loop
	MaxDepth         int           // nested call_flow
	MaxResponseBytes int64         // one HTTP response body
	// MaxOutputBytes bounds what the run holds at once, estimated as JSON: every step's
	// current output and every variable, a loop's outputs so far. A value replaced, or a called
	// flow's that returned, no longer counts.
	MaxOutputBytes int64
	// MaxTraceValueBytes bounds one step's input or output in a trace (Options.Trace), estimated
	// as JSON; a larger value is cut, and says so.
	MaxTraceValueBytes int64
}

// DefaultLimits are the limits of a run that sets none.
var DefaultLimits = Limits{
	Timeout:            5 * time.Minute,
	MaxSteps:           10_000,
	MaxIterations:      10_000,
	MaxDepth:           8,
	MaxResponseBytes:   10 << 20,
	MaxOutputBytes:     64 << 20,
	MaxTraceValueBytes: 16 << 10,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.Timeout > 0 {
		d.Timeout = l.Timeout
	}
	if l.MaxSteps > 0 {
		d.MaxSteps = l.MaxSteps
	}
	if l.MaxIterations > 0 {
		d.MaxIterations = l.MaxIterations
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxResponseBytes > 0 {
		d.MaxResponseBytes = l.MaxResponseBytes
	}
	if l.MaxOutputBytes > 0 {
		d.MaxOutputBytes = l.MaxOutputBytes
	}
	if l.MaxTraceValueBytes > 0 {
		d.MaxTraceValueBytes = l.MaxTraceValueBytes
	}
	return d
}

// Options are what one run is given.
type Options struct {
	// Input holds the flow's inputs; they are checked and defaulted against the flow's declaration.
	Input map[string]any
	// Conn signs the run's requests; nil sends them as written.
	Conn Conn
	// Connection is the template value connection (params, label, extra token fields). A Conn
	// that is a ConnValue gives it instead, read anew for each template.
	Connection map[string]any
	// Vault is the template value vault: named secrets, always redacted.
	Vault map[string]any
	// Secrets are more values to redact wherever a value is shown (tokens, sensitive fields).
	Secrets []string
	// Redactor, when set, redacts some or all of Secrets and Vault already: built once with
	// NewRedactor for options that many runs reuse, it spares each run building its own. The
	// run adds what it lacks.
	Redactor *Redactor
	// HTTPClient sends call_api requests (default: a client with http.DefaultTransport, which
	// reaches every address; cmd gives one of internal/netpolicy, held to the network policy).
	HTTPClient *http.Client
	// Limits bound the run.
	Limits Limits
	// Logger gets a debug line per step (default: discard).
	Logger *slog.Logger
	// Trace asks for each step's input and output in its trace, redacted and cut at
	// Limits.MaxTraceValueBytes, and for every step's trace in Result.Trace. Without it the run
	// keeps nothing of a step that ended.
	Trace bool
	// OnStep is called when a step ends, from the goroutine that ran it, with its redacted trace:
	// its input and output only with Trace. The trace is the callee's to keep.
	OnStep func(*StepTrace)
	// BaseURL, when set, replaces the app's base_url for this run (a sandbox or a test server).
	BaseURL string
}

// Step statuses in a trace.
const (
	StatusOK        = "ok"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
	StatusContinued = "continued" // failed, and on_error: continue went on
)

// StepTrace is the record of one step of a run. Input, Output and Error are redacted; Input and
// Output are set only when the run keeps a trace (Options.Trace), each cut to a bounded size.
type StepTrace struct {
	Path     string        `json:"path"` // the step's id, prefixed by its parents': loop[2].fetch
	ID       string        `json:"id"`
	Block    string        `json:"block"`
	Pos      flows.Pos     `json:"-"`
	Depth    int           `json:"depth"`
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status"`
	Attempts int           `json:"attempts,omitempty"`
	Input    any           `json:"input,omitempty"`
	Output   any           `json:"output,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// Result is the outcome of a run. Output is not redacted: callers that show it use Redactor.
type Result struct {
	Flow   string
	Output any
	// Trace has every step, in the order they started, when Options.Trace asked for it.
	Trace    []*StepTrace
	Start    time.Time
	Duration time.Duration
	Redactor *Redactor
}

// run is what all states of one run share.
type run struct {
	prog   *Program
	opts   Options
	limits Limits
	redact atomic.Pointer[Redactor]
	log    *slog.Logger
	app    map[string]any
	steps  atomic.Int64
	live   atomic.Int64 // what the run holds now; see live.go
	over   atomic.Bool  // the run has held more than its limit

	mu    sync.Mutex
	trace []*StepTrace // with Options.Trace
}

// State is one flow's running state: its environment (input, steps, vars ...) and the run it
// belongs to. A State is used by one goroutine; a loop running iterations at once forks one
// per worker.
type State struct {
	r     *run
	flow  *Flow
	env   map[string]any
	steps map[string]any
	vars  map[string]any
	slots *slots       // the sizes of steps' and vars' values
	held  atomic.Int64 // what the running step keeps, from Hold
	depth int          // call_flow nesting
	nest  int          // block nesting, for the trace
	path  string       // prefix of the trace path of the steps run here; see prefix
	// up, when set, is the state whose running step's body this is, as iteration index of a
	// loop: path is not made yet.
	up    *State
	index int
	cur   *StepTrace
	// scratch is the trace of the step running here when the run keeps none and gives none to
	// OnStep: a run's steps then allocate none.
	scratch StepTrace
	ev      *flows.Evaluator // the goroutine's: shared by Bind, new for Fork
}

var defaultClient = &http.Client{}

// Eval evaluates a compiled value in the state's environment.
func (st *State) Eval(v *flows.Value) (any, error) { return st.ev.Eval(v, st.liveEnv()) }

// EvalString evaluates a value as text.
func (st *State) EvalString(v *flows.Value) (string, error) {
	return st.ev.EvalString(v, st.liveEnv())
}

// liveEnv returns the state's environment with the connection's current value, which a
// refresh during the run may have changed (ConnValue). A state's env is used by one goroutine.
func (st *State) liveEnv() map[string]any {
	if cv, ok := st.r.opts.Conn.(ConnValue); ok {
		st.env["connection"] = cv.Connection()
	}
	return st.env
}

// Var returns a variable set by a set block.
func (st *State) Var(name string) any { return st.vars[name] }

// StepOutput returns the output of a step that has run (nil otherwise).
func (st *State) StepOutput(id string) any { return st.steps[id] }

// HTTPClient returns the client call_api sends requests with.
func (st *State) HTTPClient() *http.Client {
	if c := st.r.opts.HTTPClient; c != nil {
		return c
	}
	return defaultClient
}

// Conn returns the run's connection, or nil.
func (st *State) Conn() Conn { return st.r.opts.Conn }

// Limits returns the run's limits with defaults filled in.
func (st *State) Limits() Limits { return st.r.limits }

// Logger returns the run's logger.
func (st *State) Logger() *slog.Logger { return st.r.log }

// Redactor returns the run's redactor.
func (st *State) Redactor() *Redactor { return st.r.redact.Load() }

// AddSecrets makes more values redacted for the rest of the run (a token a step obtained).
func (st *State) AddSecrets(secrets ...string) { st.r.addSecrets(secrets...) }

// App returns the app being run.
func (st *State) App() *flows.App { return st.r.prog.App }

// BaseURLOption returns Options.BaseURL: the base_url that replaces the app's in this run, or "".
func (st *State) BaseURLOption() string { return st.r.opts.BaseURL }

// BaseURL returns Options.BaseURL when set, else evaluates the app's base_url ("" when it has none).
func (st *State) BaseURL() (string, error) {
	if u := st.r.opts.BaseURL; u != "" {
		return u, nil
	}
	if st.r.prog.App.BaseURL == nil {
		return "", nil
	}
	return st.EvalString(st.r.prog.App.BaseURL)
}

// Input records the step's evaluated input for the trace (redacted and cut there), when the
// run keeps one.
func (st *State) Input(v any) {
	if st.cur != nil && st.r.opts.Trace {
		st.cur.Input = st.r.shown(v)
	}
}

// CheckIterations fails when a loop over n items would pass the iteration limit.
func (st *State) CheckIterations(n int) error {
	if max := st.r.limits.MaxIterations; n > max {
		return &LimitError{Limit: "iterations", Max: int64(max), What: fmt.Sprintf("a loop over %d items", n)}
	}
	return nil
}

// Bind returns a state for the body of a loop iteration or a branch, with name bound to value
// in templates (none when name is ""). It shares steps and vars with st; label extends the
// trace path ("[2]"). A state used by another goroutine must come from Fork.
func (st *State) Bind(label string, names []string, values []any) *State {
	c := st.child(label)
	c.steps, c.vars, c.slots = st.steps, st.vars, st.slots
	c.ev = st.ev
	if len(names) == 0 {
		c.env = st.env // the same names and values: a branch need not copy them
		return c
	}
	c.bindEnv(st.env, names, values)
	return c
}

// Fork is Bind for a body that runs at the same time as others (a loop with concurrency): the
// copy has its own steps and vars, seeded from st's; what it sets is not seen by st. Release
// it when its steps have run.
func (st *State) Fork(label string, names []string, values []any) *State {
	c := st.child(label)
	c.slots = &slots{}
	c.steps, c.vars = maps.Clone(st.steps), maps.Clone(st.vars)
	c.bindEnv(st.env, names, values)
	c.ev = st.ev.Fork()
	return c
}

// Refork makes sub, a state that st.Fork returned with the same names and that has been
// released, the state of the next iteration: its own steps and vars seeded anew from st's,
// names bound to values, label in the trace path. It reuses sub, its environment and its
// evaluator, not the maps of steps and vars, which the output of the iteration before may
// hold ({{ vars }}). Like Fork it reads st, which must not change meanwhile; unlike Fork it may
// be called from the goroutine that runs sub.
func (st *State) Refork(sub *State, label string, names []string, values []any) {
	sub.path = st.childPath(label)
	sub.cur = nil
	sub.steps, sub.vars = maps.Clone(st.steps), maps.Clone(st.vars)
	sub.env["steps"], sub.env["vars"] = sub.steps, sub.vars
	for i, n := range names {
		sub.env[n] = values[i]
	}
}

// Rebind makes sub, a state that st.Bind returned with the same names and whose steps have
// run, the state of iteration index of a loop: names bound to values, IterationLabel(index) in
// the trace path. It reuses sub and its environment, where Bind would copy st's environment
// again; what st's environment holds does not change while its step runs. The trace path is
// made only when a trace or a log line needs it.
func (st *State) Rebind(sub *State, index int, names []string, values []any) {
	sub.up, sub.index = st, index
	sub.cur = nil
	for i, n := range names {
		sub.env[n] = values[i]
	}
}

func (st *State) child(label string) *State {
	return &State{r: st.r, flow: st.flow, depth: st.depth, nest: st.nest + 1, path: st.childPath(label)}
}

// childPath is the trace path prefix of the steps of a body of st's running step.
func (st *State) childPath(label string) string {
	if st.cur != nil {
		return st.stepPath(st.cur) + label + "."
	}
	return st.prefix()
}

// prefix returns the trace path prefix of the steps run here, made now if Rebind left it to
// be. A state that Fork copies, or whose steps' paths its forks read, has made it: Fork calls
// it in the goroutine that owns st.
func (st *State) prefix() string {
	if st.up != nil {
		st.path = st.up.childPath(IterationLabel(st.index))
		st.up = nil
	}
	return st.path
}

// IterationLabel is the trace path label of iteration i of a loop: [2].
func IterationLabel(i int) string { return "[" + strconv.Itoa(i) + "]" }

func (st *State) bindEnv(parent map[string]any, names []string, values []any) {
	env := make(map[string]any, len(parent)+len(names))
	for k, v := range parent {
		env[k] = v
	}
	env["steps"], env["vars"] = st.steps, st.vars
	for i, n := range names {
		env[n] = values[i]
	}
	st.env = env
}
