package blocks

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestSchemaCallAPIFields: the committed schema offers, inside call_api's body and inside each
// mapping nested in paginate, exactly the keys call_api's spec declares, so an editor completes
// them at any depth and flags a key the block refuses (a nested object whose keys the schema
// dropped would leave paginate free-form).
func TestSchemaCallAPIFields(t *testing.T) {
	src, err := os.ReadFile("../schema/app.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs struct {
			Step struct {
				Properties struct {
					CallAPI json.RawMessage `json:"call_api"`
				} `json:"properties"`
			} `json:"step"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(src, &schema); err != nil {
		t.Fatal(err)
	}
	var walk func(what string, raw json.RawMessage, fields []engine.Field)
	walk = func(what string, raw json.RawMessage, fields []engine.Field) {
		var obj struct {
			Properties           map[string]json.RawMessage `json:"properties"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := slices.Sorted(maps.Keys(obj.Properties))
		var want []string
		for _, f := range fields {
			want = append(want, f.Name)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) || obj.AdditionalProperties == nil || *obj.AdditionalProperties {
			t.Errorf("schema's %s keys %v (additionalProperties %v), the spec's %v (run go test ./blocks -update)", what, got, obj.AdditionalProperties, want)
		}
		for _, f := range fields {
			if f.Type.Kind == engine.KindObject {
				walk(what+"."+f.Name, obj.Properties[f.Name], f.Type.Fields)
			}
		}
	}
	walk("call_api", schema.Defs.Step.Properties.CallAPI, callAPISpec.Fields)
}
