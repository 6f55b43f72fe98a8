package engine

import (
	"fmt"
	"math"
	"reflect"
)

// The output limit (Limits.MaxOutputBytes) bounds what a run holds at once: the current output
// of each step and the value of each variable, in every flow that is running (a called flow's
// until it returns) and in every iteration of a loop running several at once, and what a block
// keeps while it runs (a loop's outputs so far). A value is measured, as JSON would show it,
// when it is stored; the value it replaces, and whatever a called flow or an iteration held,
// stop counting when they go. Nothing is measured twice unless it is stored twice, so a run's
// accounting costs one walk of each value stored, and a walk stops once it passes the limit.

// slots holds the sizes of the values in one pair of steps and vars maps: a flow's, which the
// states from Bind share, or the copies a Fork works on. It is used by one goroutine.
type slots struct {
	steps []int64        // by Step.slot
	vars  []varSize      // in the order they were first set
	index map[string]int // vars by name, once there are many
	total int64
}

type varSize struct {
	name string
	size int64
}

// manyVars is the number of variables past which they are found through an index.
const manyVars = 16

// step returns where the size of the output of step s is kept; a flow has nslots steps.
func (sl *slots) step(s *Step, nslots int) *int64 {
	if sl.steps == nil {
		sl.steps = make([]int64, nslots)
	}
	return &sl.steps[s.slot]
}

// variable returns where the size of the variable name is kept.
func (sl *slots) variable(name string) *int64 {
	if sl.index != nil {
		if i, ok := sl.index[name]; ok {
			return &sl.vars[i].size
		}
	} else {
		for i := range sl.vars {
			if sl.vars[i].name == name {
				return &sl.vars[i].size
			}
		}
	}
	sl.vars = append(sl.vars, varSize{name: name})
	switch {
	case sl.index != nil:
		sl.index[name] = len(sl.vars) - 1
	case len(sl.vars) > manyVars:
		sl.index = make(map[string]int, 2*len(sl.vars))
		for i, v := range sl.vars {
			sl.index[v.name] = i
		}
	}
	return &sl.vars[len(sl.vars)-1].size
}

// store counts v as the value whose size is kept at size, in place of the one there before. A
// run that goes past its limit is over for good: a value measured only in part (the walk
// stopped past the limit) would count less than it holds when it is replaced.
func (r *run) store(sl *slots, size *int64, v any) {
	old := *size
	n := sizeUpTo(v, r.room(old))
	*size = n
	sl.total += n - old
	if r.live.Add(n-old) > r.limits.MaxOutputBytes {
		r.over.Store(true)
	}
}

// room is what the run has left for a value that replaces one of size old. A walk of the value
// stops once it passes that: a value may hold one list many times over, and show as far more
// than it takes in memory.
func (r *run) room(old int64) int64 { return r.limits.MaxOutputBytes - r.live.Load() + old }

// release stops counting what sl held: its flow or iteration has ended.
func (r *run) release(sl *slots) {
	r.live.Add(-sl.total)
	clear(sl.steps) // kept for the iteration that reuses sl (Refork)
	*sl = slots{steps: sl.steps}
}

// checkLive fails when the run holds, or has held, more than its limit.
func (r *run) checkLive() error {
	if r.over.Load() {
		return r.outputLimit()
	}
	return nil
}

// checkResult is checkLive for the value the run returns, once its flow's steps and vars are gone.
func (r *run) checkResult(v any) error {
	if err := r.checkLive(); err != nil {
		return err
	}
	if left := r.room(0); sizeUpTo(v, left) > left {
		return r.outputLimit()
	}
	return nil
}

func (r *run) outputLimit() error {
	return &LimitError{Limit: "output_bytes", Max: r.limits.MaxOutputBytes, What: "the values the run holds are too large"}
}

// setOutput stores the output of step s as steps.<id> and fails when the run now holds too much.
func (st *State) setOutput(s *Step, v any) error {
	st.steps[s.ID] = v
	st.r.store(st.slots, st.slots.step(s, st.flow.nslots), v)
	return st.r.checkLive()
}

// SetVar assigns a variable, visible as vars.<name> to the steps that follow. The value counts
// toward the run's output limit; the step that set it fails when the run holds too much.
func (st *State) SetVar(name string, v any) {
	st.vars[name] = v
	st.r.store(st.slots, st.slots.variable(name), v)
}

// Hold counts v, a value the running step keeps until it ends (a loop's outputs so far), toward
// the run's output limit, and fails when the run holds too much. The step's end, or its next
// attempt, gives it back. Hold may be called from several goroutines at once.
func (st *State) Hold(v any) error {
	r := st.r
	n := sizeUpTo(v, r.room(0))
	st.held.Add(n)
	if r.live.Add(n) > r.limits.MaxOutputBytes {
		r.over.Store(true)
	}
	return r.checkLive()
}

// letGo gives back what the running step held with Hold.
func (st *State) letGo() {
	if n := st.held.Swap(0); n != 0 {
		st.r.live.Add(-n)
	}
}

// Release gives back what a state from Fork holds (the steps and vars it set) to the run's
// output limit. Call it once the fork's steps have run; the state is not used after.
func (st *State) Release() { st.r.release(st.slots) }

// SizeOf estimates the bytes of a value as JSON, without encoding it.
func SizeOf(v any) int { return int(sizeUpTo(v, math.MaxInt64)) }

// sizeUpTo is SizeOf, except that it stops counting, and walking, once the size passes max.
func sizeUpTo(v any, max int64) int64 {
	switch x := v.(type) {
	case nil:
		return 4
	case string:
		return int64(len(x)) + 2
	case bool:
		return 5
	case int, int64, float64:
		return 8
	case map[string]any:
		n := int64(2)
		for k, e := range x {
			if n += int64(len(k)) + 4 + sizeUpTo(e, max-n); n > max {
				return n
			}
		}
		return n
	case []any:
		n := int64(2)
		for _, e := range x {
			if n += 1 + sizeUpTo(e, max-n); n > max {
				return n
			}
		}
		return n
	case []int:
		return 2 + 9*int64(len(x)) // a range, 1..n
	}
	return reflectSize(v, max)
}

// reflectSize measures the lists and mappings of other types that templates make (fromPairs
// makes a map[any]any, a range of floats a []float64); anything else counts 16 bytes.
func reflectSize(v any, max int64) int64 {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := int64(2)
		for i := range rv.Len() {
			if n += 1 + sizeUpTo(rv.Index(i).Interface(), max-n); n > max {
				return n
			}
		}
		return n
	case reflect.Map:
		n := int64(2)
		for it := rv.MapRange(); it.Next(); {
			if n += int64(len(keyText(it.Key().Interface()))) + 4 + sizeUpTo(it.Value().Interface(), max-n); n > max {
				return n
			}
		}
		return n
	}
	return 16
}

// keyText is a mapping key as JSON writes it.
func keyText(k any) string {
	if s, ok := k.(string); ok {
		return s
	}
	return fmt.Sprint(k)
}
