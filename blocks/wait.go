package blocks

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// Wait pauses the run for a while or until a time:
//
//	wait: 30s
//	wait: {duration: "{{ steps.get.headers['Retry-After'] }}"}   # a duration or seconds
//	wait: {until: "{{ steps.job.body.eta }}"}                    # RFC 3339, or a time
//
// A duration is a Go duration ("1m30s") or a number of seconds; a time in the past does not
// wait. The wait ends early, with the context's cause as the error, when the step's timeout or
// the run's deadline passes: a wait longer than the run has left fails at the deadline. The
// output is the time waited, as a duration ("30s").
type Wait struct {
	duration *flows.Value
	until    *flows.Value
}

var _ engine.Block = (*Wait)(nil)

// WaitType is the wait block.
var WaitType = engine.BlockType{
	Kind:    "wait",
	Summary: "pauses the run for a duration or until a time",
	Spec: engine.Spec{
		Short: "duration",
		Doc: "A time in the past does not wait; " +
			"a wait longer than the run has left fails at its deadline. The output is the time waited, as a duration (\"30s\").",
		Groups: []engine.Group{{Keys: []string{"duration", "until"}, Exclusive: true, Need: true, Missing: "duration: 5s"}},
		Fields: []engine.Field{
			{Name: "duration", Type: engine.Duration, Doc: "How long to wait: a Go duration (1m30s) or a number of seconds; it may be a template."},
			{Name: "until", Type: engine.String, Doc: "A time to wait until, RFC 3339 (2025-01-02T15:04:05Z); it may be a template."},
		},
		Examples: []string{`- wait: 1s`, `- wait: {duration: "{{ 2 }}"}`, `- wait: {until: "2025-01-02T15:04:05Z"}`},
	},
	Compile: compileWait,
}

func compileWait(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &Wait{}
	d, hasD := in.Field("duration")
	u, hasU := in.Field("until")
	switch {
	case in.Has("duration") && in.Has("until"): // reported by the compiler (the spec's groups)
	case hasD:
		b.duration = compileWaitDuration(c, d.Value)
	case hasU:
		b.until = c.Template(u.Value)
		if b.until.IsConst() {
			if _, err := waitTime(b.until.ConstValue()); err != nil {
				c.Errorf(u.Value, "wait: until: %v", err)
			}
		}
	}
	return b, nil
}

// compileWaitDuration compiles a duration; a constant one is checked now.
func compileWaitDuration(c *engine.Compiler, n *yaml.Node) *flows.Value {
	v := c.Template(n)
	if v.IsConst() {
		if _, err := waitDuration(v.ConstValue()); err != nil {
			c.Errorf(n, "wait: %v", err)
		}
	}
	return v
}

// maxSeconds is the most seconds a time.Duration holds.
const maxSeconds = math.MaxInt64 / int64(time.Second)

// waitDuration reads a duration: a Go duration, a number of seconds, or a time.Duration.
func waitDuration(v any) (time.Duration, error) {
	var d time.Duration
	switch x := v.(type) {
	case time.Duration:
		d = x
	case int:
		return waitDuration(int64(x))
	case int64:
		if x > maxSeconds || x < -maxSeconds {
			return 0, fmt.Errorf("duration %d is out of range", x)
		}
		d = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || math.Abs(x) > math.MaxInt64/float64(time.Second) {
			return 0, fmt.Errorf("duration %v is out of range", x)
		}
		d = time.Duration(x * float64(time.Second))
	case string:
		s := strings.TrimSpace(x)
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			secs, e := strconv.ParseFloat(s, 64)
			if e != nil {
				return 0, fmt.Errorf("duration %q must be a duration such as 30s or 5m, or a number of seconds", x)
			}
			return waitDuration(secs)
		}
	default:
		return 0, fmt.Errorf("duration must be a duration such as 30s or a number of seconds, found %s", describeValue(v))
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %s is negative", d)
	}
	return d, nil
}

// waitTime reads a time: a time.Time or RFC 3339 text.
func waitTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(x))
		if err != nil {
			return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2025-01-02T15:04:05Z", x)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 time, found %s", describeValue(v))
}

// Kind returns "wait".
func (b *Wait) Kind() string { return "wait" }

// Run waits for the duration, or until the time, or until ctx is done.
func (b *Wait) Run(ctx context.Context, st *engine.State) (any, error) {
	var d time.Duration
	if b.until != nil {
		v, err := st.Eval(b.until)
		if err != nil {
			return nil, err
		}
		t, err := waitTime(v)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		st.Input(map[string]any{"until": t.Format(time.RFC3339)})
		d = max(time.Until(t), 0)
	} else {
		v, err := st.Eval(b.duration)
		if err != nil {
			return nil, err
		}
		if d, err = waitDuration(v); err != nil {
			return nil, err
		}
		st.Input(map[string]any{"duration": d.String()})
	}
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-t.C:
		}
	}
	return d.String(), nil
}
