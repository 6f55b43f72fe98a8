package automations

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/patchbay/patchbay/flows"
)

// poll runs a poll trigger's flow for its slot. The flow's output must be a list; each item's
// dedupe field is its key. The items, redacted, become the runs that FinishPoll enqueues for
// the keys it has not seen.
func (s *Service) poll(ctx context.Context, r *Run, a *Automation, sp *Spec, timeout time.Duration) outcome {
	var o outcome
	c := sp.Trigger.Poll
	if c == nil {
		o.err = fmt.Errorf("automation %s has no poll trigger", a.Name)
		return o
	}
	env := map[string]any{"trigger": map[string]any{"item": nil, "time": s.slotTime(ctx, r, sp)}, "actions": map[string]any{}}
	res, err := s.call(ctx, a.Workspace, c, flows.NewEvaluator(ctx), env, timeout, &o)
	o.record("trigger", res)
	if err != nil {
		o.fail("trigger", fmt.Errorf("trigger %s.%s: %w", c.App, c.Flow, err), res)
		return o
	}
	field := ""
	if f := s.cat.App(c.App).Flow(c.Flow); f != nil {
		field = f.Def.Dedupe
	}
	list, ok := res.Output.([]any)
	switch {
	case field == "":
		o.fail("trigger", fmt.Errorf("trigger %s.%s declares no dedupe field", c.App, c.Flow), nil)
		return o
	case !ok && res.Output != nil:
		o.fail("trigger", fmt.Errorf("trigger %s.%s: output is %T, want a list of items", c.App, c.Flow, res.Output), nil)
		return o
	}
	o.items = make([]PollItem, 0, len(list))
	for i, it := range list {
		m, _ := it.(map[string]any)
		key := flows.Stringify(m[field])
		if key == "" {
			o.fail("trigger", fmt.Errorf("trigger %s.%s: item %d has no %s (its dedupe field)", c.App, c.Flow, i, field), nil)
			o.items = nil
			return o
		}
		b, err := json.Marshal(o.red.Value(it))
		if err != nil {
			o.fail("trigger", fmt.Errorf("trigger %s.%s: item %d: %w", c.App, c.Flow, i, err), nil)
			o.items = nil
			return o
		}
		// The item's run is queued at its poll's slot: its trigger.time (slotTime).
		o.items = append(o.items, PollItem{Key: key, Run: newRun(a, KindActions, b, r.Slot)})
	}
	o.output = map[string]any{"items": len(list)}
	return o
}
