package automations

import (
	"time"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"github.com/robfig/cron/v3"
)

// Catalog gives the apps automations may use, by key.
type Catalog interface {
	// App returns the loaded app with key, or nil.
	App(key string) *engine.Program
}

// Spec is a parsed automation, checked against the apps of a catalog: every app, flow and
// input it names exists, every template compiled. Parse makes one.
type Spec struct {
	Name      string
	Workspace string // default connections.DefaultWorkspace
	File      string
	Trigger   Trigger
	Actions   []*Action
	Overlap   string        // OverlapSkip (default) or OverlapQueue
	Timeout   time.Duration // per run (default engine.DefaultLimits.Timeout)
	Retry     *flows.Retry  // failed runs retried; nil: not retried
	CatchUp   string        // CatchUpOnce (default) or CatchUpNone
}

// Trigger is what starts an automation's runs.
type Trigger struct {
	Kind     string    // TriggerSchedule, TriggerPoll, TriggerWebhook, TriggerManual
	Schedule *Schedule // schedule and poll
	Poll     *Call     // poll: the app's trigger flow
	Pos      flows.Pos
}

// Call is a flow of an app run with a connection and inputs.
type Call struct {
	App        string
	Flow       string
	Connection string // the connection's name in the workspace; "" for an app without credentials
	// Input holds the flow's inputs as templates compiled in the scope of the automation's
	// templates: trigger (item, time) and actions (<id>.output of earlier actions).
	Input map[string]*flows.Value
	Pos   flows.Pos
}

// Action is one action of an automation: a call with an id that later actions' templates
// name as actions.<id>.output.
type Action struct {
	ID string
	Call
}

// Schedule is a cron expression in a time zone. Its slots are wall-clock times in that zone:
// Next gives each slot once, daylight-saving days included (a slot that does not exist runs at
// the first instant after it, a slot that exists twice at its first occurrence). ParseSchedule
// makes one.
type Schedule struct {
	Cron     string         // as written: 5 fields, 6 with seconds, or a descriptor (@every 5m, @hourly)
	TimeZone string         // IANA name (default UTC)
	Location *time.Location // TimeZone loaded

	spec  *cron.SpecSchedule // the cron fields, matched against wall times; nil for @every
	every time.Duration      // @every: the delay after the time Next is given
}
