package blocks

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"
)

// TestSchemaCallAPIFields: the committed schema (callAPIBody in flows/schema_blocks_test.go)
// offers exactly the keys call_api and its paginate read, so an editor completes them all and
// flags no key the block takes.
func TestSchemaCallAPIFields(t *testing.T) {
	src, err := os.ReadFile("../schema/app.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	type object struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var schema struct {
		Defs struct {
			Step struct {
				Properties struct {
					CallAPI object `json:"call_api"`
				} `json:"properties"`
			} `json:"step"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(src, &schema); err != nil {
		t.Fatal(err)
	}
	call := schema.Defs.Step.Properties.CallAPI.Properties
	var pg object
	if err := json.Unmarshal(call["paginate"], &pg); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what   string
		schema map[string]json.RawMessage
		fields []string
	}{
		{"call_api", call, callAPIFields},
		{"paginate", pg.Properties, paginateFields},
	} {
		got := slices.Sorted(maps.Keys(tc.schema))
		want := slices.Sorted(slices.Values(tc.fields))
		if !slices.Equal(got, want) {
			t.Errorf("schema's %s keys %v, the block's %v (edit flows/schema_blocks_test.go and run go test ./flows -update)", tc.what, got, want)
		}
	}
}
