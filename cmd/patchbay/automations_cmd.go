package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/store/sqlite"
)

var automationsCmd = &command{
	Name:    "automations",
	Args:    "apply -f FILE | list | show NAME | enable NAME | disable NAME | run NAME [--item JSON] | delete NAME",
	Summary: "apply, list, show, turn on and off, run and delete automations",
	Help: `
automations apply -f FILE creates the automation the YAML file describes, or updates the one of
that name in its workspace (docs/automations.md describes the file; - reads stdin). Every
problem is printed as file:line:col, as validate does, and nothing is stored. The apps it names
are loaded from --apps (default: the apps folder in the data directory). It prints whether it
created or updated the automation, a webhook's URL path with its secret (once, when it is
created: the secret is stored hashed and cannot be shown again) and the next slots of a
schedule.

automations list prints the workspace's automations; show NAME prints one: its trigger, the
connections it uses, whether it is on (or why it is off), the next 5 slots in its time zone and
its last run. enable NAME turns it on (a poll's first poll then only records the items that
exist); disable NAME turns it off. delete NAME deletes it with its runs.

automations run NAME runs it once, in this process, with --item JSON as trigger.item, and
prints the run as patchbay runs show does; the exit status is 1 when the run failed. patchbay
serve runs the automations on their triggers.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &automationsOptions{}
		fs.StringVar(&o.workspace, "workspace", connections.DefaultWorkspace, "the `NAME` of the workspace")
		fs.StringVar(&o.apps, "apps", "", "the `DIR` of the apps automations use (default: <data>/apps)")
		fs.StringVar(&o.file, "f", "", "the automation's YAML `FILE` (apply; - for stdin)")
		fs.StringVar(&o.item, "item", "", "trigger.item of the run, as `JSON` (run)")
		e.netFlags(fs)
		return func(ctx context.Context, args []string) int {
			common := []string{"workspace", "apps"}
			withNet := append(append([]string{}, common...), "item", "deny-private-networks", "allow-network", "map-origin")
			return e.dispatch(ctx, fs, args, []subcommand{
				{"apply", "", append([]string{"f"}, common...), func(ctx context.Context, _ []string) int { return e.automationsApply(ctx, o) }},
				{"list", "", []string{"workspace"}, func(ctx context.Context, _ []string) int { return e.automationsList(ctx, o) }},
				{"show", "NAME", common, func(ctx context.Context, a []string) int { return e.automationsShow(ctx, o, a[0]) }},
				{"enable", "NAME", common, func(ctx context.Context, a []string) int { return e.automationsEnable(ctx, o, a[0]) }},
				{"disable", "NAME", common, func(ctx context.Context, a []string) int { return e.automationsDisable(ctx, o, a[0]) }},
				{"run", "NAME", withNet, func(ctx context.Context, a []string) int { return e.automationsRun(ctx, o, a[0]) }},
				{"delete", "NAME", common, func(ctx context.Context, a []string) int { return e.automationsDelete(ctx, o, a[0]) }},
			})
		}
	},
}

// automationsOptions are the flags of automations.
type automationsOptions struct {
	workspace string
	apps      string
	file      string
	item      string
}

// withService opens the store, loads the catalog of o.apps and runs fn with a Service over
// them (for this command: no scheduler runs). A store or an apps folder that does not open
// fails the command before fn runs.
func (e *env) withService(o *automationsOptions, fn func(st *sqlite.Store, cat *catalog, svc *automations.Service) int) int {
	cat, err := e.loadCatalog(o.apps)
	if err != nil {
		return e.fail(err)
	}
	return e.withStore(func(st *sqlite.Store) int {
		cfg := automations.Config{Store: st, Catalog: cat, Logger: e.lifecycleLog()}
		if e.net.client != nil {
			cfg.HTTPClient = e.httpClient()
		}
		cfg.Connections = connections.NewManager(connections.Config{Store: st, HTTPClient: cfg.HTTPClient, Logger: e.lifecycleLog()})
		return fn(st, cat, automations.New(cfg))
	})
}

func (e *env) automationsApply(ctx context.Context, o *automationsOptions) int {
	if o.file == "" {
		return e.usageError("automations apply needs -f FILE")
	}
	src, err := e.readInputFile(o.file)
	if err != nil {
		return e.fail(fmt.Errorf("-f: %w", err))
	}
	file := o.file
	if file == "-" {
		file = "stdin"
	}
	return e.withService(o, func(_ *sqlite.Store, cat *catalog, svc *automations.Service) int {
		// Parsed first to hold the file to --workspace before anything is stored.
		spec, err := automations.Parse(file, src, cat)
		if err != nil {
			printErrors(e.stderr, err)
			cat.printBroken(e.stderr)
			return exitFailure
		}
		if spec.Workspace != o.workspace {
			return e.fail(fmt.Errorf("%s: the automation is of workspace %q, not %q (give --workspace %s)", file, spec.Workspace, o.workspace, spec.Workspace))
		}
		applied, err := svc.Apply(ctx, file, src)
		if err != nil {
			printErrors(e.stderr, err)
			return exitFailure
		}
		a := applied.Automation
		verb := "updated"
		if applied.Created {
			verb = "created"
		}
		fmt.Fprintf(e.stdout, "%s automation %s (workspace %s, version %d)\n", verb, a.Name, a.Workspace, a.Version)
		if applied.HookSecret != "" {
			fmt.Fprintf(e.stdout, "webhook: POST /hooks/%s\n", applied.HookSecret)
			fmt.Fprintln(e.stderr, "note: the webhook's URL holds its secret and is shown this once; keep it")
		}
		if !a.Enabled {
			fmt.Fprintf(e.stdout, "off: %s\n", a.Reason)
		} else if s := applied.Spec.Trigger.Schedule; s != nil {
			fmt.Fprintf(e.stdout, "next slots: %s\n", strings.Join(slotStrings(s, time.Now(), 3), ", "))
		}
		return exitOK
	})
}

func (e *env) automationsList(ctx context.Context, o *automationsOptions) int {
	return e.withStore(func(st *sqlite.Store) int {
		list, err := st.Automations(ctx, o.workspace)
		if err != nil {
			return e.fail(err)
		}
		if len(list) == 0 {
			fmt.Fprintf(e.stderr, "no automations in workspace %s: add one with patchbay automations apply -f FILE\n", o.workspace)
			return exitOK
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTRIGGER\tSTATUS\tNEXT SLOT\tVERSION\tUPDATED")
		for _, a := range list {
			next := "-"
			if !a.NextSlot.IsZero() {
				next = stamp(a.NextSlot)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", a.Name, a.Trigger, onOff(a), next, a.Version, stamp(a.UpdatedAt))
		}
		tw.Flush()
		return exitOK
	})
}

// onOff is "on", or "off: why".
func onOff(a *automations.Automation) string {
	if a.Enabled {
		return "on"
	}
	return "off: " + a.Reason
}

func (e *env) automationsShow(ctx context.Context, o *automationsOptions, name string) int {
	return e.withService(o, func(st *sqlite.Store, cat *catalog, svc *automations.Service) int {
		a, err := st.Automation(ctx, o.workspace, name)
		if err != nil {
			return e.notFound(err, o.workspace, name)
		}
		// What is stored is shown even when the file no longer checks against the apps (an
		// app changed or is missing from --apps): it says why below.
		_, spec, specErr := svc.Get(ctx, o.workspace, name)
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 1, ' ', 0)
		line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
		line("name", a.Name)
		line("workspace", a.Workspace)
		line("file", a.File)
		line("version", fmt.Sprint(a.Version))
		if spec != nil {
			line("trigger", describeTrigger(spec))
			for _, act := range spec.Actions {
				line("action "+act.ID, describeCall(&act.Call))
			}
		} else {
			line("trigger", a.Trigger)
		}
		line("connections", orDash(strings.Join(a.Connections, ", ")))
		if spec != nil {
			line("overlap", spec.Overlap)
			line("timeout", spec.Timeout.String())
			if spec.Trigger.Schedule != nil {
				line("catch up", spec.CatchUp)
			}
		}
		line("status", onOff(a))
		if spec != nil && spec.Trigger.Schedule != nil && a.Enabled {
			for i, slot := range slotStrings(spec.Trigger.Schedule, time.Now(), 5) {
				k := ""
				if i == 0 {
					k = "next slots:"
				}
				fmt.Fprintf(tw, "%s\t%s\n", k, slot)
			}
		}
		last := "none"
		if r, err := st.LastRun(ctx, a.ID); err == nil {
			last = fmt.Sprintf("%s %s %s", r.ID, r.Status, stamp(r.QueuedAt))
		} else if !errors.Is(err, automations.ErrNotFound) {
			return e.fail(err)
		}
		line("last run", last)
		line("created", stamp(a.CreatedAt))
		line("updated", stamp(a.UpdatedAt))
		tw.Flush()
		if specErr != nil {
			fmt.Fprintf(e.stderr, "warning: the automation does not check against the apps of %s; its runs fail until it does:\n", cat.dir)
			printErrors(e.stderr, specErr)
		}
		return exitOK
	})
}

// describeTrigger says what starts an automation's runs.
func describeTrigger(spec *automations.Spec) string {
	t := spec.Trigger
	switch t.Kind {
	case automations.TriggerSchedule:
		return fmt.Sprintf("schedule %q in %s", t.Schedule.Cron, t.Schedule.TimeZone)
	case automations.TriggerPoll:
		return fmt.Sprintf("poll %s (%q in %s)", describeCall(t.Poll), t.Schedule.Cron, t.Schedule.TimeZone)
	case automations.TriggerWebhook:
		return "webhook: POST /hooks/<secret> (the secret was shown once, when it was created)"
	}
	return t.Kind
}

// describeCall is "app/flow with connection NAME".
func describeCall(c *automations.Call) string {
	s := c.App + "/" + c.Flow
	if c.Connection != "" {
		s += " with connection " + c.Connection
	}
	return s
}

// slotStrings are the next n slots of s after from, in the schedule's zone.
func slotStrings(s *automations.Schedule, from time.Time, n int) []string {
	slots := automations.NextSlots(s, from, n)
	if len(slots) == 0 {
		return []string{"none (the schedule has no more slots)"}
	}
	out := make([]string, len(slots))
	for i, t := range slots {
		out[i] = t.In(s.Location).Format("2006-01-02 15:04:05 MST")
	}
	return out
}

// notFound prints the error of a look-up of an automation by name.
func (e *env) notFound(err error, workspace, name string) int {
	if errors.Is(err, automations.ErrNotFound) {
		return e.fail(fmt.Errorf("no automation named %q in workspace %s (patchbay automations list shows them)", name, workspace))
	}
	printErrors(e.stderr, err)
	return exitFailure
}

func (e *env) automationsEnable(ctx context.Context, o *automationsOptions, name string) int {
	return e.withService(o, func(_ *sqlite.Store, _ *catalog, svc *automations.Service) int {
		a, err := svc.Enable(ctx, o.workspace, name)
		if err != nil {
			return e.notFound(err, o.workspace, name)
		}
		fmt.Fprintf(e.stdout, "enabled %s\n", a.Name)
		return exitOK
	})
}

func (e *env) automationsDisable(ctx context.Context, o *automationsOptions, name string) int {
	return e.withService(o, func(_ *sqlite.Store, _ *catalog, svc *automations.Service) int {
		if err := svc.Disable(ctx, o.workspace, name, "disabled by the user"); err != nil {
			return e.notFound(err, o.workspace, name)
		}
		fmt.Fprintf(e.stdout, "disabled %s\n", name)
		return exitOK
	})
}

func (e *env) automationsDelete(ctx context.Context, o *automationsOptions, name string) int {
	return e.withService(o, func(_ *sqlite.Store, _ *catalog, svc *automations.Service) int {
		if err := svc.Delete(ctx, o.workspace, name); err != nil {
			return e.notFound(err, o.workspace, name)
		}
		fmt.Fprintf(e.stdout, "deleted %s\n", name)
		return exitOK
	})
}

func (e *env) automationsRun(ctx context.Context, o *automationsOptions, name string) int {
	var item json.RawMessage
	if o.item != "" {
		if !json.Valid([]byte(o.item)) {
			var v any
			return e.usageError("--item is not JSON: %v", json.Unmarshal([]byte(o.item), &v))
		}
		item = json.RawMessage(o.item)
	}
	return e.withService(o, func(_ *sqlite.Store, _ *catalog, svc *automations.Service) int {
		r, err := svc.RunNow(ctx, o.workspace, name, item)
		if err != nil && r == nil {
			return e.notFound(err, o.workspace, name)
		}
		e.printRun(r)
		if r.Status != automations.StatusSucceeded {
			return exitFailure
		}
		return exitOK
	})
}
