package sqlite

import (
	"slices"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/automations"
)

// TestQueryPlans holds the scheduler's and the workers' queries to their indexes: each reads
// the rows it needs through an index and sorts nothing, so a claim costs the same with 100,000
// automations or a long history as with ten. A query that came to scan a table or sort in a
// temporary b-tree (an index dropped, a term the planner cannot match to a partial index)
// fails here, not in a benchmark.
func TestQueryPlans(t *testing.T) {
	s := open(t, dbPath(t), testKey(t, 1))
	runsOf, _ := runsSQL(automations.RunFilter{Workspace: "w", AutomationID: "a", Status: "failed"}, []any{"t", "id"}, 10)
	runsAll, _ := runsSQL(automations.RunFilter{Workspace: "w"}, []any{"t", "id"}, 10)
	for _, c := range []struct {
		name, query string
		want        []string // in the plan, in order
	}{
		{"NextDue", nextDueSQL, []string{"SEARCH automations USING COVERING INDEX automations_due"}},
		{"ClaimDue", claimDueSQL, []string{"SEARCH a USING INDEX automations_due", "SEARCH r USING INDEX runs_active (automation_id=?)"}},
		{"ClaimRuns", claimRunsSQL, []string{"SEARCH r USING INDEX runs_open (status=?)", "SEARCH o USING INDEX runs_active (automation_id=? AND serial=?)"}},
		{"InterruptExpired", expiredSQL, []string{"SEARCH runs USING INDEX runs_open (status=?)"}},
		{"QueueDepth", queueDepthSQL, []string{"SEARCH runs USING COVERING INDEX runs_open (status=?)"}},
		{"Runs of an automation", runsOf, []string{"SEARCH runs USING INDEX runs_by_automation (automation_id=? AND (queued_at,id)<(?,?))"}},
		{"Runs of a workspace", runsAll, []string{"SEARCH runs USING INDEX runs_by_workspace (workspace=? AND (queued_at,id)<(?,?))"}},
		// Retention ranks every run, but along the index, without sorting them.
		{"PruneRuns", pruneSQL, []string{"SCAN runs USING INDEX runs_by_automation"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := make([]any, strings.Count(c.query, "?"))
			rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.query, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			text := strings.Join(plan, "\n")
			at := 0
			for _, w := range c.want {
				i := strings.Index(text[at:], w)
				if i < 0 {
					t.Errorf("plan lacks %q (in order):\n%s", w, text)
					break
				}
				at += i + len(w)
			}
			for _, line := range plan {
				scan := strings.HasPrefix(line, "SCAN ") && !strings.HasPrefix(line, "SCAN (subquery") &&
					!slices.Contains(c.want, line)
				if scan || strings.Contains(line, "TEMP B-TREE") {
					t.Errorf("plan scans or sorts: %q in\n%s", line, text)
				}
			}
		})
	}
}
