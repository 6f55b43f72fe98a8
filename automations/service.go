package automations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
)

// Config is what a Service is built from.
type Config struct {
	Store       Store
	Connections *connections.Manager // RunOptions/WorkspaceOptions; Manager.Store() finds connections by name
	Catalog     Catalog
	HTTPClient  *http.Client  // the runs' client (default: the Manager's)
	Limits      engine.Limits // per run (Timeout from the automation)
	Logger      *slog.Logger  // one line per run start and end; never a secret
	Now         func() time.Time
	Node        string        // default host:pid:random
	Workers     int           // default 8
	RunLease    time.Duration // default 30s; renewed every third of it
	Grace       time.Duration // default 30s: how long Serve lets runs finish after ctx ends
	Retention   Retention     // runs kept per automation
	Seen        SeenLimits    // default DefaultSeenLimits
	Observer    Observer      // metrics hooks, may be nil
}

// Retention bounds the ended runs kept per automation: the newest Keep, none older than MaxAge.
type Retention struct {
	Keep   int           // default 1000
	MaxAge time.Duration // default 30 days
}

// DefaultRetention is the retention of a Config that sets none.
var DefaultRetention = Retention{Keep: 1000, MaxAge: 30 * 24 * time.Hour}

// Observer hears of runs, for metrics. Its methods are called from the workers and must not
// block.
type Observer interface {
	Fired(lag time.Duration)          // a slot's run started: slot -> start
	RunEnded(r *Run, d time.Duration) // r.Status final
}

// Service applies automations and runs them: the scheduler, the workers, webhooks' intake.
// It is safe for concurrent use. Several services (processes or nodes) may share one store.
type Service struct {
	store  Store
	conns  *connections.Manager
	cat    Catalog
	client *http.Client
	limits engine.Limits
	log    *slog.Logger
	now    func() time.Time
	node   string
	cfg    Config // defaults filled

	specs  sync.Map      // automation ID -> *cachedSpec: the newest version parsed
	wake   chan struct{} // the scheduler looks again: an automation applied or enabled
	work   chan struct{} // the workers look again: runs were queued here
	hooks  group[*Run]   // webhooks' runs, recorded by group commit
	ends   group[ended]  // the ends of runs, recorded by group commit
	byHook recent        // automations by their webhook secret's hash, briefly
	active activeRuns
}

type cachedSpec struct {
	version int
	spec    *Spec
}

// New returns a Service for cfg with its defaults filled in.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Node == "" {
		cfg.Node = nodeName()
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.RunLease <= 0 {
		cfg.RunLease = 30 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	if cfg.Retention.Keep <= 0 {
		cfg.Retention.Keep = DefaultRetention.Keep
	}
	if cfg.Retention.MaxAge <= 0 {
		cfg.Retention.MaxAge = DefaultRetention.MaxAge
	}
	if cfg.Seen.Keep <= 0 {
		cfg.Seen.Keep = DefaultSeenLimits.Keep
	}
	if cfg.Seen.MaxAge <= 0 {
		cfg.Seen.MaxAge = DefaultSeenLimits.MaxAge
	}
	s := &Service{
		store: cfg.Store, conns: cfg.Connections, cat: cfg.Catalog, client: cfg.HTTPClient,
		limits: cfg.Limits, log: cfg.Logger, now: cfg.Now, node: cfg.Node, cfg: cfg,
		wake: make(chan struct{}, 1), work: make(chan struct{}, 1),
	}
	s.hooks.commit = s.store.EnqueueRuns
	s.ends.commit = s.finishRuns
	s.active.runs = map[string]*activeRun{}
	return s
}

func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + ":" + strconv.Itoa(os.Getpid()) + ":" + hex.EncodeToString(b[:])
}

// Store returns the service's store.
func (s *Service) Store() Store { return s.store }

// Node returns the name the service claims runs under.
func (s *Service) Node() string { return s.node }

// Applied is what Apply did.
type Applied struct {
	Automation *Automation
	Spec       *Spec
	Created    bool
	// HookSecret is the webhook's secret, only when the automation became a webhook one
	// (created, or its trigger changed to webhook): it is stored hashed and shown this once.
	HookSecret string
}

// Apply parses an automation document against the catalog and stores it: created, or updated
// by name. A webhook automation gets its secret when it is created. An automation whose
// connection does not exist or is disconnected is stored turned off, with the reason.
func (s *Service) Apply(ctx context.Context, file string, src []byte) (*Applied, error) {
	sp, err := Parse(file, src, s.cat)
	if err != nil {
		return nil, err
	}
	a := &Automation{
		Workspace: sp.Workspace, Name: sp.Name, File: file, Source: src,
		Trigger: sp.Trigger.Kind, Overlap: sp.Overlap, Connections: sp.Connections(), Enabled: true,
	}
	prev, err := s.store.Automation(ctx, sp.Workspace, sp.Name)
	switch {
	case errors.Is(err, ErrNotFound):
		prev = nil
	case err != nil:
		return nil, fmt.Errorf("apply automation %s: %w", sp.Name, err)
	}
	if prev != nil && !prev.Enabled {
		// Applying again changes the definition, not whether it is on: enable does that.
		a.Enabled, a.Reason = false, prev.Reason
	}
	if a.Enabled {
		if why, err := s.unusable(ctx, sp); err != nil {
			return nil, fmt.Errorf("apply automation %s: %w", sp.Name, err)
		} else if why != "" {
			a.Enabled, a.Reason = false, why
		}
	}
	if a.Enabled {
		a.NextSlot = s.firstSlot(sp, prev)
		a.Primed = prev != nil && prev.Primed && prev.Enabled
	}
	secret := ""
	if sp.Trigger.Kind == TriggerWebhook && (prev == nil || prev.HookHash == "") {
		if secret, err = newSecret(); err != nil {
			return nil, fmt.Errorf("apply automation %s: %w", sp.Name, err)
		}
		a.HookHash = HookHash(secret)
	}
	created, err := s.store.ApplyAutomation(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("apply automation %s: %w", sp.Name, err)
	}
	s.specs.Store(a.ID, &cachedSpec{version: a.Version, spec: sp})
	s.forget()
	s.poke(s.wake)
	return &Applied{Automation: a, Spec: sp, Created: created, HookSecret: secret}, nil
}

// firstSlot is the next slot of an automation being applied: the stored one while the
// schedule's slots are unchanged, else the schedule's first after now.
func (s *Service) firstSlot(sp *Spec, prev *Automation) time.Time {
	sched := sp.Trigger.Schedule
	if sched == nil {
		return time.Time{}
	}
	if prev != nil && prev.Enabled && !prev.NextSlot.IsZero() {
		// A slot due but not claimed yet is kept, not lost to the new definition.
		if old, err := s.spec(prev); err == nil && old.Trigger.Schedule != nil &&
			old.Trigger.Schedule.Cron == sched.Cron && old.Trigger.Schedule.TimeZone == sched.TimeZone {
			return prev.NextSlot
		}
	}
	return sched.Next(s.now())
}

// unusable says why sp cannot run now ("" when it can): a connection it uses does not exist
// or is disconnected.
func (s *Service) unusable(ctx context.Context, sp *Spec) (string, error) {
	for _, name := range sp.Connections() {
		rec, err := s.conns.Store().Connection(ctx, sp.Workspace, name)
		if errors.Is(err, connections.ErrNotFound) {
			return fmt.Sprintf("connection %s does not exist", name), nil
		}
		if err != nil {
			return "", fmt.Errorf("connection %s: %w", name, err)
		}
		if rec.Status == connections.StatusDisconnected {
			return disconnectedReason(name, rec.Reason), nil
		}
	}
	return "", nil
}

func disconnectedReason(name, reason string) string {
	return fmt.Sprintf("connection %s was disconnected: %s", name, reason)
}

// HookHash returns the hex SHA-256 of a webhook secret, as the store keeps it.
func HookHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func newSecret() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate webhook secret: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Get returns the automation of workspace called name and its parsed spec (cached by ID and
// version).
func (s *Service) Get(ctx context.Context, workspace, name string) (*Automation, *Spec, error) {
	a, err := s.store.Automation(ctx, workspace, name)
	if err != nil {
		return nil, nil, fmt.Errorf("automation %s: %w", name, err)
	}
	sp, err := s.spec(a)
	if err != nil {
		return a, nil, err
	}
	return a, sp, nil
}

// spec returns a's parsed spec, parsing its source when the cache has not this version.
func (s *Service) spec(a *Automation) (*Spec, error) {
	if sp, ok := s.cachedSpec(a); ok {
		return sp, nil
	}
	sp, err := Parse(a.File, a.Source, s.cat)
	if err != nil {
		return nil, fmt.Errorf("automation %s: %w", a.Name, err)
	}
	s.specs.Store(a.ID, &cachedSpec{version: a.Version, spec: sp})
	return sp, nil
}

func (s *Service) cachedSpec(a *Automation) (*Spec, bool) {
	if c, ok := s.specs.Load(a.ID); ok && c.(*cachedSpec).version == a.Version {
		return c.(*cachedSpec).spec, true
	}
	return nil, false
}

// Enable turns an automation on; it refuses while a connection it uses is disconnected or
// missing, saying which. A poll's first poll after it records what exists and starts nothing.
func (s *Service) Enable(ctx context.Context, workspace, name string) (*Automation, error) {
	a, sp, err := s.Get(ctx, workspace, name)
	if err != nil {
		return nil, fmt.Errorf("enable: %w", err)
	}
	if a.Enabled {
		return a, nil // on already: its next slot and its poll's keys stay as they are
	}
	why, err := s.unusable(ctx, sp)
	if err != nil {
		return nil, fmt.Errorf("enable automation %s: %w", name, err)
	}
	if why != "" {
		return nil, fmt.Errorf("enable automation %s: %s", name, why)
	}
	var next time.Time
	if sched := sp.Trigger.Schedule; sched != nil {
		next = sched.Next(s.now())
	}
	if err := s.store.SetEnabled(ctx, a.ID, true, "", next); err != nil {
		return nil, fmt.Errorf("enable automation %s: %w", name, err)
	}
	s.forget()
	s.poke(s.wake)
	a, err = s.store.AutomationByID(ctx, a.ID)
	if err != nil {
		return nil, fmt.Errorf("enable automation %s: %w", name, err)
	}
	return a, nil
}

// Disable turns an automation off with reason (default "disabled by the user").
func (s *Service) Disable(ctx context.Context, workspace, name, reason string) error {
	a, err := s.store.Automation(ctx, workspace, name)
	if err != nil {
		return fmt.Errorf("disable automation %s: %w", name, err)
	}
	if reason == "" {
		reason = "disabled by the user"
	}
	if err := s.store.SetEnabled(ctx, a.ID, false, reason, time.Time{}); err != nil {
		return fmt.Errorf("disable automation %s: %w", name, err)
	}
	s.forget()
	return nil
}

// Delete deletes an automation with its runs.
func (s *Service) Delete(ctx context.Context, workspace, name string) error {
	a, err := s.store.Automation(ctx, workspace, name)
	if err != nil {
		return fmt.Errorf("delete automation %s: %w", name, err)
	}
	if err := s.store.DeleteAutomation(ctx, a.ID); err != nil {
		return fmt.Errorf("delete automation %s: %w", name, err)
	}
	s.specs.Delete(a.ID)
	s.forget()
	return nil
}

// Notify hears connection events (connections.Notifier): a "disconnected" connection turns off
// every automation of its workspace that uses it. Reconnecting turns nothing on.
func (s *Service) Notify(ctx context.Context, e connections.Event) {
	if e.Kind != "disconnected" {
		return
	}
	off, err := s.store.DisableUsing(context.WithoutCancel(ctx), e.Workspace, e.Name, disconnectedReason(e.Name, e.Reason))
	s.forget()
	if err != nil {
		s.log.Error("turn off automations of a disconnected connection", "workspace", e.Workspace, "connection", e.Name, "error", err)
		return
	}
	for _, a := range off {
		s.log.Warn("automation turned off", "workspace", a.Workspace, "automation", a.Name, "reason", a.Reason)
	}
}

var _ connections.Notifier = (*Service)(nil)

// poke wakes whoever waits on ch without blocking.
func (s *Service) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
