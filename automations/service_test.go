package automations_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
)

// TestDisconnectTurnsOff: the provider revokes the account; a run's refresh is refused, the
// Manager disconnects the connection, and every automation using it is turned off with the
// reason (the other stays on). Reconnecting turns nothing on; enable does, and refused while
// the connection was disconnected.
func TestDisconnectTurnsOff(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.apply(postDoc("uses-work", `schedule: {cron: "0 * * * *", timezone: UTC}`, "x"))
	e.apply(`name: no-connection
trigger:
  webhook: {}
actions:
  - id: greet
    app: demo
    flow: echo
    input: {text: hi}
`)
	e.clock.Advance(10 * time.Minute) // past the refresh's min_interval
	e.api.set(func(a *api) { a.refuse = true })
	r, err := e.svc.RunNow(ctx, "default", "uses-work", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != automations.StatusFailed || !strings.Contains(r.Error, "disconnected") {
		t.Errorf("run %s: %q, want failed, saying the connection is disconnected", r.Status, r.Error)
	}
	off := e.automation("uses-work")
	if off.Enabled || !strings.HasPrefix(off.Reason, "connection work was disconnected: ") || !off.NextSlot.IsZero() {
		t.Errorf("automation using work: enabled %v, reason %q, next slot %s; want off with the reason", off.Enabled, off.Reason, off.NextSlot)
	}
	if !e.automation("no-connection").Enabled {
		t.Errorf("the automation without the connection was turned off")
	}
	if _, err := e.svc.Enable(ctx, "default", "uses-work"); err == nil || !strings.Contains(err.Error(), "connection work was disconnected") {
		t.Errorf("Enable while disconnected = %v, want a refusal naming the connection", err)
	}

	e.api.set(func(a *api) { a.refuse = false })
	if _, err := e.mgr.Connect(ctx, e.cat["api"], connections.ConnectRequest{
		Name: "work", Fields: map[string]string{"username": apiUser, "password": apiPassword},
	}); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	if e.automation("uses-work").Enabled {
		t.Errorf("reconnecting turned the automation on")
	}
	a, err := e.svc.Enable(ctx, "default", "uses-work")
	if err != nil {
		t.Fatalf("Enable after reconnecting: %v", err)
	}
	if !a.Enabled || a.Reason != "" || !a.NextSlot.Equal(time.Date(2026, 3, 23, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("enabled: %v, reason %q, next slot %s; want on at 10:00", a.Enabled, a.Reason, a.NextSlot)
	}
}

// TestApplyWithoutConnection: an automation whose connection does not exist is applied
// turned off, saying so.
func TestApplyWithoutConnection(t *testing.T) {
	e := newEnv(t)
	src := strings.Replace(postDoc("typo", "manual: {}", "x"), "connection: work", "connection: wrok", 1)
	ap := e.apply(src)
	if ap.Automation.Enabled || ap.Automation.Reason != "connection wrok does not exist" {
		t.Errorf("applied: enabled %v, reason %q; want off: connection wrok does not exist", ap.Automation.Enabled, ap.Automation.Reason)
	}
}
