package flows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// nearLimit compiles v of a file where v is a list that, through aliases of aliases, stands for
// 2·8^6 copies of leaf: the file is just under MaxExpandedNodes.
func nearLimit(t *testing.T, leaf string) *Value {
	t.Helper()
	var b strings.Builder
	prev := ""
	for i := range 6 {
		items := make([]string, 8)
		for j := range items {
			items[j] = leaf
			if prev != "" {
				items[j] = "*" + prev
			}
		}
		name := fmt.Sprintf("l%d", i)
		fmt.Fprintf(&b, "%s: &%s [%s]\n", name, name, strings.Join(items, ", "))
		prev = name
	}
	fmt.Fprintf(&b, "v: [*%s, *%s]\n", prev, prev)
	root, err := ParseDoc("t.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var errs ErrorList
	v := NewScope("t.yaml", nil, &errs, FlowNames...).Compile(root.Content[len(root.Content)-1])
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return v
}

// TestAliasesChargedAtRunTime: a value that stands for almost MaxExpandedNodes through its
// aliases loads, and evaluating it counts every list it builds: past the memory budget, or past
// the context's end, it stops instead of copying on.
func TestAliasesChargedAtRunTime(t *testing.T) {
	_, err := NewEvaluator(context.Background()).Eval(nearLimit(t, `"{{ repeat('x', 15) }}"`), map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "memory budget exceeded") {
		t.Errorf("Eval = %v, want a memory budget error", err)
	}

	stop := errors.New("run timed out")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(stop)
	_, err = NewEvaluator(ctx).Eval(nearLimit(t, `"{{ 1 }}"`), map[string]any{})
	if !errors.Is(err, stop) {
		t.Errorf("Eval after the end = %v, want %v", err, stop)
	}
	if want := "t.yaml:"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Eval after the end = %v, want it at its position", err)
	}
}
