package connections

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// TestRefreshDueAndMinInterval pins the two timing rules of DESIGN.md section 5: a token is due
// within before_expiry of its expiry, capped at half its lifetime; min_interval is capped the
// same way, except for a token issued already expired, which keeps the whole interval so that
// it is not refreshed at every request.
func TestRefreshDueAndMinInterval(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := func(life time.Duration) *Token { return &Token{ObtainedAt: t0, Expiry: t0.Add(life)} }
	due := []struct {
		name   string
		tok    *Token
		at     time.Duration
		before time.Duration
		want   bool
	}{
		{"60s token, 29s in", tok(time.Minute), 29 * time.Second, 30 * time.Minute, false},
		{"60s token, 30s in", tok(time.Minute), 30 * time.Second, 30 * time.Minute, true},
		{"1h token, 29m in", tok(time.Hour), 29 * time.Minute, 30 * time.Minute, false},
		{"1h token, 30m in", tok(time.Hour), 30 * time.Minute, 30 * time.Minute, true},
		{"2h token, 1h29m in", tok(2 * time.Hour), 89 * time.Minute, 30 * time.Minute, false},
		{"2h token, 1h30m in", tok(2 * time.Hour), 90 * time.Minute, 30 * time.Minute, true},
		{"no expiry", &Token{ObtainedAt: t0}, 100 * time.Hour, 30 * time.Minute, false},
		{"no token", nil, 0, 30 * time.Minute, false},
	}
	for _, tc := range due {
		if got := refreshDue(tc.tok, t0.Add(tc.at), tc.before); got != tc.want {
			t.Errorf("refreshDue(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	intervals := []struct {
		name string
		tok  *Token
		want time.Duration
	}{
		{"1h token keeps 1m", tok(time.Hour), time.Minute},
		{"60s token: 30s", tok(time.Minute), 30 * time.Second},
		{"no expiry keeps 1m", &Token{ObtainedAt: t0}, time.Minute},
		{"issued expired keeps 1m", tok(-time.Minute), time.Minute},
		{"issued at its expiry keeps 1m", tok(0), time.Minute},
	}
	for _, tc := range intervals {
		if got := minInterval(tc.tok, time.Minute); got != tc.want {
			t.Errorf("minInterval(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestConnectionTemplatesHaveBudget: the connection's own templates (URLs, inject, request
// defaults, label) are bounded as a run's are: many small pieces that add up past
// flows.MaxTemplateBytes fail instead of taking the process's memory.
func TestConnectionTemplatesHaveBudget(t *testing.T) {
	var errs flows.ErrorList
	scope := flows.NewScope("app.yaml", nil, &errs, flows.ConnectionNames...)
	v := scope.Compile(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "{{ len(map(1..100000, repeat('x', 1000))) }}", Line: 1, Column: 1})
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	_, err := newTemplates(context.Background(), map[string]any{}, &flows.App{Key: "a"}, map[string]any{}).eval(v)
	if err == nil || !strings.Contains(err.Error(), "memory budget exceeded") {
		t.Errorf("Eval = %v, want a memory budget error", err)
	}
}
