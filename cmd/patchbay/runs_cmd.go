package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/store/sqlite"
)

var runsCmd = &command{
	Name:    "runs",
	Args:    "list [--automation NAME] [--status S] [--limit N] | show ID",
	Summary: "list the runs of automations and show one",
	Help: `
runs list prints the workspace's runs, newest first: id, automation, trigger, status, attempt,
slot, start, duration and error. --automation, --status (queued, running, succeeded, failed,
timed_out, interrupted, skipped) and --limit narrow it.

runs show ID prints one run: the failing step and its error first, then the automation, the
trigger and its slot or item, the attempt (and the run it retries), the times, and each step
with its status, timing and its input and output, redacted as patchbay run --trace shows them.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &runsOptions{}
		fs.StringVar(&o.workspace, "workspace", connections.DefaultWorkspace, "the `NAME` of the workspace")
		fs.StringVar(&o.automation, "automation", "", "only the runs of the automation `NAME` (list)")
		fs.StringVar(&o.status, "status", "", "only the runs whose status is `S` (list)")
		fs.IntVar(&o.limit, "limit", 50, "print at most `N` runs (list; at most 1000)")
		return func(ctx context.Context, args []string) int {
			return e.dispatch(ctx, fs, args, []subcommand{
				{"list", "", []string{"workspace", "automation", "status", "limit"}, func(ctx context.Context, _ []string) int { return e.runsList(ctx, o) }},
				{"show", "ID", []string{"workspace"}, func(ctx context.Context, a []string) int { return e.runsShow(ctx, o, a[0]) }},
			})
		}
	},
}

// runsOptions are the flags of runs.
type runsOptions struct {
	workspace  string
	automation string
	status     string
	limit      int
}

// runStatuses are the statuses --status takes.
var runStatuses = []string{automations.StatusQueued, automations.StatusRunning, automations.StatusSucceeded, automations.StatusFailed,
	automations.StatusTimedOut, automations.StatusInterrupted, automations.StatusSkipped}

func (e *env) runsList(ctx context.Context, o *runsOptions) int {
	if o.status != "" && !slices.Contains(runStatuses, o.status) {
		return e.usageError("--status %q is not one of %s", o.status, strings.Join(runStatuses, ", "))
	}
	if o.limit <= 0 || o.limit > 1000 {
		return e.usageError("--limit must be between 1 and 1000")
	}
	return e.withStore(func(st *sqlite.Store) int {
		f := automations.RunFilter{Workspace: o.workspace, Status: o.status, Limit: o.limit}
		if o.automation != "" {
			a, err := st.Automation(ctx, o.workspace, o.automation)
			if err != nil {
				return e.notFound(err, o.workspace, o.automation)
			}
			f.AutomationID = a.ID
		}
		runs, err := st.Runs(ctx, f)
		if err != nil {
			return e.fail(err)
		}
		if len(runs) == 0 {
			fmt.Fprintln(e.stderr, "no runs")
			return exitOK
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tAUTOMATION\tTRIGGER\tSTATUS\tATTEMPT\tSLOT\tSTARTED\tDURATION\tERROR")
		for _, r := range runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Automation, r.Trigger, r.Status, r.Attempt,
				stampOrDash(r.Slot), stampOrDash(r.StartedAt), runDuration(r), orDash(oneLine(r.Error)))
		}
		tw.Flush()
		return exitOK
	})
}

func (e *env) runsShow(ctx context.Context, o *runsOptions, id string) int {
	return e.withStore(func(st *sqlite.Store) int {
		r, err := st.Run(ctx, id)
		if err == nil && r.Workspace != o.workspace {
			err = automations.ErrNotFound // another workspace's run is not this one's to see
		}
		if errors.Is(err, automations.ErrNotFound) {
			return e.fail(fmt.Errorf("no run %q in workspace %s (patchbay runs list shows them)", id, o.workspace))
		}
		if err != nil {
			return e.fail(err)
		}
		e.printRun(r)
		return exitOK
	})
}

// stepRecord is one step of a run's Steps: automations.StepRecord, read back.
type stepRecord struct {
	Action string `json:"action"`
	engine.StepTrace
}

// printRun prints a run: the failing step and its error first, then its facts, each step with
// its redacted input and output, and the run's output.
func (e *env) printRun(r *automations.Run) {
	w := e.stdout
	if r.Error != "" {
		if r.FailedStep != "" {
			fmt.Fprintf(w, "failed at step %s: %s\n\n", r.FailedStep, r.Error)
		} else {
			fmt.Fprintf(w, "error: %s\n\n", r.Error)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	line("run", r.ID)
	line("automation", r.Automation)
	line("trigger", r.Trigger)
	line("status", r.Status)
	attempt := fmt.Sprint(r.Attempt)
	if r.RetryOf != "" {
		attempt += " (retry of " + r.RetryOf + ")"
	}
	line("attempt", attempt)
	if !r.Slot.IsZero() {
		line("slot", stamp(r.Slot))
	}
	line("queued", stamp(r.QueuedAt))
	line("started", stampOrDash(r.StartedAt))
	line("ended", stampOrDash(r.EndedAt))
	line("duration", runDuration(r))
	tw.Flush()
	if len(r.Item) > 0 && string(r.Item) != "null" {
		fmt.Fprintf(w, "item: %s\n", indentJSON(r.Item, ""))
	}
	var steps []stepRecord
	if len(r.Steps) > 0 {
		if err := json.Unmarshal(r.Steps, &steps); err != nil {
			fmt.Fprintf(w, "steps: not readable: %v\n", err)
		}
	}
	if len(steps) > 0 {
		fmt.Fprintln(w, "steps:")
		p := &stepPrinter{w: w, trace: true, ascii: e.getenv("TERM") == "dumb"}
		for i := range steps {
			s := &steps[i]
			tr := s.StepTrace
			tr.Path = s.Action + "/" + tr.Path
			tr.Depth++
			var b bytes.Buffer
			p.line(&b, &tr)
			w.Write(b.Bytes())
		}
	}
	if len(r.Output) > 0 && string(r.Output) != "null" {
		fmt.Fprintf(w, "output: %s\n", indentJSON(r.Output, ""))
	}
}

// indentJSON indents a JSON value, its lines after the first starting with prefix.
func indentJSON(raw json.RawMessage, prefix string) string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return string(raw)
	}
	return traceValue(v, prefix)
}

// runDuration is how long a run ran (so far), or "-".
func runDuration(r *automations.Run) string {
	switch {
	case r.StartedAt.IsZero():
		return "-"
	case r.EndedAt.IsZero():
		return duration(time.Since(r.StartedAt)) + " so far"
	}
	return duration(r.EndedAt.Sub(r.StartedAt))
}

// stampOrDash is stamp, or "-" for the zero time.
func stampOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return stamp(t)
}
