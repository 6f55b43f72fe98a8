package flows

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestCheckInput(t *testing.T) {
	tests := []struct {
		typ     string
		in      any
		want    any
		wantErr string
	}{
		{"string", "x", "x", ""},
		{"string", "", "", ""},
		{"string", 42, "42", ""},
		{"string", 2.5, "2.5", ""},
		{"string", 3.0, "3", ""},
		{"string", true, "true", ""},
		{"string", []any{"a"}, nil, "want a string, found an array"},
		{"string", map[string]any{}, nil, "want a string, found an object"},
		{"integer", 7, 7, ""},
		{"integer", int64(7), 7, ""},
		{"integer", 7.0, 7, ""},
		{"integer", json.Number("12"), 12, ""},
		{"integer", "42", 42, ""},
		{"integer", " -3 ", -3, ""},
		{"integer", "4.5", nil, `"4.5" is not an integer`},
		{"integer", "ten", nil, `"ten" is not an integer`},
		{"integer", 7.5, nil, "want an integer, found a number"},
		{"integer", 1e300, nil, "want an integer, found a number"},
		{"integer", true, nil, "want an integer, found a boolean"},
		{"number", 2.5, 2.5, ""},
		{"number", 2, 2.0, ""},
		{"number", int64(2), 2.0, ""},
		{"number", json.Number("1.25"), 1.25, ""},
		{"number", "1e3", 1000.0, ""},
		{"number", "x", nil, `"x" is not a number`},
		{"number", false, nil, "want a number, found a boolean"},
		{"boolean", true, true, ""},
		{"boolean", "false", false, ""},
		{"boolean", "1", true, ""},
		{"boolean", "yes", nil, `"yes" is not true or false`},
		{"boolean", 1, nil, "want a boolean, found an integer"},
		{"object", map[string]any{"a": 1}, map[string]any{"a": 1}, ""},
		{"object", `{"a": [1]}`, map[string]any{"a": []any{1.0}}, ""},
		{"object", `[1]`, nil, "not a JSON object: json: cannot unmarshal array into Go value of type map[string]interface {}"},
		{"object", `{`, nil, "not a JSON object: unexpected end of JSON input"},
		{"object", []any{}, nil, "want an object, found an array"},
		{"array", []any{1, "a"}, []any{1, "a"}, ""},
		{"array", `[1, "a"]`, []any{1.0, "a"}, ""},
		{"array", `{}`, nil, "not a JSON array: json: cannot unmarshal object into Go value of type []interface {}"},
		{"array", map[string]any{}, nil, "want an array, found an object"},
		{"array", 3, nil, "want an array, found an integer"},
		{"string", nil, nil, ""},
		{"integer", nil, nil, ""},
		{"string", struct{}{}, nil, "want a string, found struct {}"},
	}
	for _, tt := range tests {
		in := &Input{Name: "x", Type: tt.typ}
		got, err := CheckInput(in, tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if gotErr != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("CheckInput(%s, %#v) = %#v, %q; want %#v, %q", tt.typ, tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestResolveInputs(t *testing.T) {
	flow := &Flow{Name: "search", Inputs: []*Input{
		{Name: "query", Type: "string", Required: true},
		{Name: "limit", Type: "integer", Default: 10},
		{Name: "exact", Type: "boolean"},
		{Name: "tags", Type: "array"},
		{Name: "filter", Type: "object", Required: true, Default: map[string]any{"open": true}},
	}}
	tests := []struct {
		name    string
		flow    *Flow
		given   map[string]any
		want    map[string]any
		wantErr string
		fields  []string // InputError.Field of each problem
	}{
		{
			name:  "defaults and nil for the rest",
			given: map[string]any{"query": "go"},
			want:  map[string]any{"query": "go", "limit": 10, "exact": nil, "tags": nil, "filter": map[string]any{"open": true}},
		},
		{
			name:  "strings from a command line are coerced",
			given: map[string]any{"query": "go", "limit": "25", "exact": "true", "tags": `["a","b"]`, "filter": `{"open":false}`},
			want:  map[string]any{"query": "go", "limit": 25, "exact": true, "tags": []any{"a", "b"}, "filter": map[string]any{"open": false}},
		},
		{
			name:  "a nil value takes the default",
			given: map[string]any{"query": "go", "limit": nil},
			want:  map[string]any{"query": "go", "limit": 10, "exact": nil, "tags": nil, "filter": map[string]any{"open": true}},
		},
		{
			name:    "required input missing",
			given:   map[string]any{"limit": 5},
			wantErr: "flow search: input query: required input is missing",
			fields:  []string{"query"},
		},
		{
			name:    "required input nil",
			given:   map[string]any{"query": nil},
			wantErr: "flow search: input query: required input is missing",
			fields:  []string{"query"},
		},
		{
			name:    "unknown input with did you mean",
			given:   map[string]any{"query": "go", "limt": 5},
			wantErr: `flow search: input limt: unknown input (did you mean "limit"?)`,
			fields:  []string{"limt"},
		},
		{
			name:    "every problem, unknown inputs first",
			given:   map[string]any{"zzz": 1, "aaa": 2, "limit": "many", "exact": "maybe"},
			wantErr: "flow search: input aaa: unknown input\nflow search: input zzz: unknown input\nflow search: input query: required input is missing\nflow search: input limit: \"many\" is not an integer\nflow search: input exact: \"maybe\" is not true or false",
			fields:  []string{"aaa", "zzz", "query", "limit", "exact"},
		},
		{
			name:    "a flow without inputs",
			flow:    &Flow{Name: "list"},
			given:   map[string]any{"page": 2},
			wantErr: "flow list: input page: unknown input: the flow takes none",
			fields:  []string{"page"},
		},
		{
			name: "a flow without inputs, none given",
			flow: &Flow{Name: "list"},
			want: map[string]any{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.flow
			if f == nil {
				f = flow
			}
			got, err := ResolveInputs(f, tt.given)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ResolveInputs(%v) error =\n%v\nwant\n%s", tt.given, err, tt.wantErr)
				}
				var fields []string
				var list InputErrors
				if errors.As(err, &list) {
					for _, e := range list {
						var ie *InputError
						if errors.As(e, &ie) {
							fields = append(fields, ie.Field)
						}
					}
				} else {
					var ie *InputError
					if errors.As(err, &ie) {
						fields = append(fields, ie.Field)
					}
				}
				if !reflect.DeepEqual(fields, tt.fields) {
					t.Errorf("ResolveInputs(%v) fields = %v, want %v", tt.given, fields, tt.fields)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveInputs(%v): %v", tt.given, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ResolveInputs(%v) = %#v, want %#v", tt.given, got, tt.want)
			}
		})
	}
}

// TestInputDefaults: a default is checked and coerced at load, like a given value.
func TestInputDefaults(t *testing.T) {
	app, err := Parse("app.yaml", []byte(`app: d
flows:
  f:
    inputs:
      n: {type: integer, default: "7"}
      x: {type: number, default: 2}
      l: {type: array, default: [a, 1]}
      o: {type: object, default: {k: v}}
      s: {type: string, default: 5}
      b: {type: boolean, default: true}
    output: 1
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": 7, "x": 2.0, "l": []any{"a", 1}, "o": map[string]any{"k": "v"}, "s": "5", "b": true}
	for _, in := range app.Flow("f").Inputs {
		if !reflect.DeepEqual(in.Default, want[in.Name]) {
			t.Errorf("input %s default = %#v, want %#v", in.Name, in.Default, want[in.Name])
		}
	}
}

// TestResolveInputsSensitiveValueNotInError: a sensitive input given a value of the wrong form
// failed with the value in the message ("12x34-secret" is not an integer), before the run knew
// it for a secret.
func TestResolveInputsSensitiveValueNotInError(t *testing.T) {
	f := &Flow{Name: "f", Inputs: []*Input{
		{Name: "pin", Type: "integer", Sensitive: true},
		{Name: "key", Type: "object", Sensitive: true},
		{Name: "plain", Type: "integer"},
	}}
	_, err := ResolveInputs(f, map[string]any{"pin": "12x34-secret", "key": "s3cret-not-json", "plain": "x1"})
	want := "flow f: input pin: the value given is not an integer (not shown: the input is sensitive)\n" +
		"flow f: input key: the value given is not an object (not shown: the input is sensitive)\n" +
		`flow f: input plain: "x1" is not an integer`
	if err == nil || err.Error() != want {
		t.Errorf("ResolveInputs error =\n%v\nwant\n%s", err, want)
	}
}
