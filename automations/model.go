package automations

import (
	"encoding/json"
	"time"
)

// Trigger kinds.
const (
	TriggerSchedule = "schedule" // a cron expression in a time zone
	TriggerPoll     = "poll"     // an app's trigger flow run on a schedule; new items start runs
	TriggerWebhook  = "webhook"  // POST /hooks/<secret>
	TriggerManual   = "manual"   // patchbay automations run NAME
)

// Overlap policies: what a schedule's or a poll's slot does while the automation's previous
// slot run is still queued or running.
const (
	OverlapSkip  = "skip"  // the slot is recorded as a skipped run (the default)
	OverlapQueue = "queue" // the slot's run waits for the previous one to end
)

// Catch-up policies: what happens to the slots missed while patchbay was not running.
const (
	CatchUpOnce = "once" // one run for all missed slots, recorded with the first (the default)
	CatchUpNone = "none" // missed slots do not run
)

// Run statuses.
const (
	StatusQueued      = "queued"
	StatusRunning     = "running"
	StatusSucceeded   = "succeeded"
	StatusFailed      = "failed"
	StatusTimedOut    = "timed_out"
	StatusInterrupted = "interrupted" // its process stopped or died while it ran
	StatusSkipped     = "skipped"     // overlap: skip, while the previous slot's run was active
)

// Run kinds.
const (
	KindActions = "actions" // runs the automation's actions once, with trigger.item
	KindPoll    = "poll"    // runs a poll trigger's flow; each new item starts a KindActions run
)

// Automation is a stored automation. Source is the YAML document as applied, parsed again
// (and cached by ID and Version) wherever its spec is needed; the columns beside it are what
// the store must query without parsing it.
type Automation struct {
	ID        string // 16 random bytes, hex; set by ApplyAutomation on create
	Workspace string
	Name      string // unique per workspace
	File      string // the file it was applied from, for positions in errors
	Source    []byte // the YAML document as applied
	Version   int    // 1 when created, +1 on each apply that changes Source
	Trigger   string // TriggerSchedule, ...
	Overlap   string // OverlapSkip or OverlapQueue

	// Enabled automations are scheduled (schedule, poll) and take webhooks. Reason says why a
	// disabled one is off: "disabled by the user", "connection work was disconnected: ...".
	Enabled bool
	Reason  string
	// NextSlot is the next slot to claim (schedule and poll triggers, when enabled); zero
	// otherwise.
	NextSlot time.Time
	// HookHash is the hex SHA-256 of the webhook secret (webhook triggers); the secret itself is
	// shown once, when the automation is created, and never stored.
	HookHash string
	// Connections are the names of the connections its trigger and actions use, in its
	// workspace: a disconnect of one turns the automation off (DisableUsing).
	Connections []string
	// Primed is set once a poll trigger's first poll recorded the items that existed; turning
	// the automation on again clears it.
	Primed bool

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Run is one run of an automation: a slot of its schedule, an item of its poll, a webhook
// call or a manual start.
type Run struct {
	ID           string // 16 bytes, hex, unique (a store may make them time-ordered); set by the store when empty
	AutomationID string
	Workspace    string
	Automation   string // the automation's name when the run was recorded
	Trigger      string // the automation's trigger kind
	Kind         string // KindActions or KindPoll
	// Slot is the schedule's slot the run is for (schedule, and a poll's KindPoll run); zero
	// for others. (AutomationID, Slot) is unique among runs with a slot.
	Slot time.Time
	// Item is trigger.item as JSON: a poll's item, a webhook's body and headers, a manual
	// start's --item; null when none.
	Item json.RawMessage
	// Serial runs of one automation run one at a time, in slot order: the slot runs of an
	// automation with overlap: queue.
	Serial bool

	Status  string
	Attempt int // 1 for the first attempt; a retry is a new run with Attempt+1 and RetryOf
	RetryOf string
	// NotBefore holds a queued retry back until its backoff has passed.
	NotBefore time.Time

	// Node and LeaseExpires: who runs it and until when its lease holds; a running run whose
	// lease expired (its process died) is marked interrupted.
	Node         string
	LeaseExpires time.Time

	QueuedAt  time.Time
	StartedAt time.Time // zero until it runs
	EndedAt   time.Time // zero until it ends

	// Error is why it failed, redacted; FailedStep the path of the step that failed
	// ("post/send": the action's id, then the step's path in its flow).
	Error      string
	FailedStep string
	// Steps is the JSON array of the run's steps ([]StepRecord), redacted as patchbay run
	// --trace shows them; Output the JSON of the last action's output, redacted.
	Steps  json.RawMessage
	Output json.RawMessage
}

// Ended reports whether a run's status is final.
func (r *Run) Ended() bool {
	switch r.Status {
	case StatusQueued, StatusRunning:
		return false
	}
	return true
}

// Claim is what a due automation's planner decides, inside ClaimDue's transaction: the run to
// record for its due slot (nil: none, the slot is dropped: catch_up: none) and the next slot.
type Claim struct {
	Run  *Run
	Next time.Time // zero: no next slot (the schedule has none left)
}

// PollItem is one item a poll returned: its dedupe key and the run it starts when the key is
// new.
type PollItem struct {
	Key string
	Run *Run
}

// SeenLimits bound the dedupe keys kept per automation: the newest Keep keys, none older than
// MaxAge. A key dropped is a key that may start a run again if the provider sends it again.
type SeenLimits struct {
	Keep   int
	MaxAge time.Duration
}

// DefaultSeenLimits are the limits of the dedupe keys a poll keeps (docs/automations.md).
var DefaultSeenLimits = SeenLimits{Keep: 10000, MaxAge: 30 * 24 * time.Hour}

// RunFilter selects runs for a listing, newest first.
type RunFilter struct {
	Workspace    string // required
	AutomationID string // "" for all
	Status       string // "" for all
	Limit        int    // at most this many (the store caps it at 1000)
	// Before is a cursor: only runs older than the run with this ID (by QueuedAt, then ID).
	Before string
}
