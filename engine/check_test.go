package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// probeBlock records the body the compiler handed to Compile.
type probeBlock struct{}

func (probeBlock) Kind() string                                    { return "probe" }
func (probeBlock) Run(context.Context, *engine.State) (any, error) { return nil, nil }

// probeType has a field of every type; got receives each body Compile sees.
func probeType(got *[]*engine.Body) engine.BlockType {
	return engine.BlockType{
		Kind: "probe",
		Spec: engine.Spec{
			Short: "text",
			Fields: []engine.Field{
				{Name: "text", Type: engine.String, Required: true, Missing: `text: "..."`, Doc: "d"},
				{Name: "n", Type: engine.IntRange(1, 5), Doc: "d"},
				{Name: "fixed", Type: engine.Int, Const: true, Doc: "d"},
				{Name: "wait", Type: engine.Duration, Doc: "d"},
				{Name: "on", Type: engine.Bool, Doc: "d"},
				{Name: "mode", Type: engine.EnumFold("fast", "slow"), Doc: "d"},
				{Name: "map", Type: engine.Mapping, Doc: "d"},
				{Name: "list", Type: engine.List(engine.String), Hint: "names", Doc: "d"},
				{Name: "any", Type: engine.Template, Doc: "d"},
				{Name: "scopes", Type: engine.OneOf(engine.List(engine.String), engine.String), Doc: "d"},
				{Name: "cases", Type: engine.List(engine.Object("probe case",
					engine.Field{Name: "when", Type: engine.Template, Required: true, Doc: "d"},
				)), Doc: "d"},
				{Name: "page", Type: engine.Object("probe page",
					engine.Field{Name: "size", Type: engine.Int, Doc: "d"},
				), Doc: "d"},
			},
		},
		Compile: func(c *engine.Compiler, body *engine.Body) (engine.Block, error) {
			*got = append(*got, body)
			return probeBlock{}, nil
		},
	}
}

// pairType has rules over its fields: a or b, not both; c or d, at least one.
var pairType = engine.BlockType{
	Kind: "pair",
	Spec: engine.Spec{
		Fields: []engine.Field{
			{Name: "a", Type: engine.String, Doc: "d"}, {Name: "b", Type: engine.String, Doc: "d"},
			{Name: "c", Type: engine.String, Doc: "d"}, {Name: "d", Type: engine.String, Doc: "d"},
		},
		Groups: []engine.Group{
			{Keys: []string{"a", "b"}, Exclusive: true, Why: "a reason"},
			{Keys: []string{"c", "d"}, Need: true, Missing: "c: x"},
		},
	},
	Compile: func(*engine.Compiler, *engine.Body) (engine.Block, error) { return probeBlock{}, nil },
}

func compileProbe(t *testing.T, body string) ([]*engine.Body, string) {
	t.Helper()
	var got []*engine.Body
	reg := engine.NewRegistry()
	if err := reg.Register(probeType(&got)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(pairType); err != nil {
		t.Fatal(err)
	}
	src := "app: t\nflows:\n  f:\n    steps:\n      - probe: " + body + "\n"
	app, err := flows.Parse("app.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, err = engine.Compile(reg, app)
	if err != nil {
		return got, err.Error()
	}
	return got, ""
}

// TestCheckBody: the compiler checks a body against its block's spec before Compile runs, and
// reports every problem at its position (the body starts at line 5, column 16).
func TestCheckBody(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"valid", `{text: a, n: 3, fixed: 1, wait: 5s, on: true, mode: FAST, map: {a: 1}, list: [a, 1], any: [{}], scopes: a, cases: [{when: x}]}`, ""},
		{"templates", `{text: "{{ 1 }}", n: "{{ 9 }}", wait: "{{ 1 }}", on: "{{ true }}", mode: "{{ 'x' }}", map: "{{ {} }}", list: "{{ [] }}"}`, ""},
		{"short form", `hello`, ""},
		{"unknown key", `{text: a, mdoe: fast}`, `app.yaml:5:26: probe: unknown field "mdoe" (did you mean "mode"?)`},
		{"repeated key", `{text: a, text: b}`, `app.yaml:5:26: probe: key "text" appears twice (first at line 5)`},
		{"missing required", `{n: 1}`, `app.yaml:5:16: probe: text is missing (text: "...")`},
		{"not a mapping", `[a]`, `app.yaml:5:16: probe must be a mapping, found a list`},
		{"null body", ``, `app.yaml:5:15: probe must be a mapping, found nothing`},
		{"string", `{text: [a]}`, `app.yaml:5:23: probe: text must be a string, found a list`},
		{"int", `{text: a, n: many}`, `app.yaml:5:29: probe: n must be an integer, found the string "many"`},
		{"int range", `{text: a, n: 6}`, `app.yaml:5:29: probe: n must be between 1 and 5, found 6`},
		{"const", `{text: a, fixed: "{{ 1 }}"}`, `app.yaml:5:33: probe: fixed must be an integer, found the string "{{ 1 }}"`},
		{"duration", `{text: a, wait: {}}`, `app.yaml:5:32: probe: wait must be a duration such as 30s or 5m, found a mapping`},
		{"bool", `{text: a, on: yes please}`, `app.yaml:5:30: probe: on must be true or false, found the string "yes please"`},
		{"enum", `{text: a, mode: fsat}`, `app.yaml:5:32: probe: mode "fsat" is not one of fast, slow (did you mean "fast"?)`},
		{"mapping", `{text: a, map: [a]}`, `app.yaml:5:31: probe: map must be a mapping, found a list`},
		{"list item with hint", `{text: a, list: [a, {b: 1}]}`, `app.yaml:5:36: probe: list item must be a string, found a mapping (names)`},
		{"one of", `{text: a, scopes: {a: 1}}`, `app.yaml:5:34: probe: scopes must be a list of strings or a string, found a mapping`},
		{"one of, inside the list", `{text: a, scopes: [a, [b]]}`, `app.yaml:5:38: probe: scopes item must be a string, found a list`},
		{"list of objects", `{text: a, cases: [{whne: x}]}`, "app.yaml:5:34: probe case: when is missing\napp.yaml:5:35: probe case: unknown field \"whne\" (did you mean \"when\"?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileProbe(t, tt.body)
			if err != tt.want {
				t.Errorf("Compile(%s) error =\n%s\nwant\n%s", tt.body, err, tt.want)
			}
		})
	}
}

// TestCheckGroups: two exclusive keys are reported at the later one, a needed group that has
// none at the body (which starts at line 5, column 15).
func TestCheckGroups(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{c: x, a: 1}`, ""},
		{`{d: x, b: 1, a: 2}`, `app.yaml:5:28: pair: b and a are both set: a reason`},
		{`{a: 1}`, `app.yaml:5:15: pair: c or d is missing (c: x)`},
	} {
		reg := engine.NewRegistry()
		if err := reg.Register(pairType); err != nil {
			t.Fatal(err)
		}
		app, err := flows.Parse("app.yaml", []byte("app: t\nflows:\n  f:\n    steps:\n      - pair: "+tt.body+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		msg := ""
		if _, err := engine.Compile(reg, app); err != nil {
			msg = err.Error()
		}
		if msg != tt.want {
			t.Errorf("Compile(%s) error =\n%s\nwant\n%s", tt.body, msg, tt.want)
		}
	}
}

// TestCheckBodyReads: Compile reads the checked fields; a field of the wrong kind is written
// (Has) but has no value, a short form is its field, and list items are bodies of their own.
func TestCheckBodyReads(t *testing.T) {
	got, _ := compileProbe(t, `{text: a, n: 9, cases: [{when: x}, {when: y}], page: {size: 3}}`)
	if len(got) != 1 {
		t.Fatalf("Compile ran %d times, want 1", len(got))
	}
	b := got[0]
	if v := b.Value("text"); v == nil || v.Value != "a" {
		t.Errorf("Value(text) = %v, want a", v)
	}
	if !b.Has("n") || b.Value("n") != nil {
		t.Errorf("n of the wrong kind: Has = %v, Value = %v; want true, nil", b.Has("n"), b.Value("n"))
	}
	if b.Has("wait") || b.Key("wait") != nil {
		t.Errorf("Has(wait) = true for a field not written")
	}
	items := b.Items("cases")
	if len(items) != 2 || items[1].Value("when").Value != "y" {
		t.Errorf("Items(cases) = %v, want two bodies, the second with when y", items)
	}
	if p := b.Object("page"); p == nil || p.Value("size").Value != "3" {
		t.Errorf("Object(page) = %v, want a body with size 3", p)
	}
	if b.Object("cases") != nil || b.Object("text") != nil {
		t.Errorf("Object of a field that is no object is not nil")
	}

	got, _ = compileProbe(t, `hello`)
	if len(got) != 1 || !got[0].Short || got[0].Value("text").Value != "hello" {
		t.Errorf("short form: got %+v, want Short with text hello", got)
	}

	got, _ = compileProbe(t, `[a]`)
	if len(got) != 0 {
		t.Errorf("Compile ran on a body of the wrong shape")
	}
}

// TestRegisterChecksSpec: a spec that cannot work is refused when the block is registered.
func TestRegisterChecksSpec(t *testing.T) {
	compile := func(*engine.Compiler, *engine.Body) (engine.Block, error) { return probeBlock{}, nil }
	f := engine.Field{Name: "a", Type: engine.String, Doc: "d"}
	tests := []struct {
		name string
		spec engine.Spec
		want string
	}{
		{"no fields", engine.Spec{}, "no fields and no map"},
		{"repeated field", engine.Spec{Fields: []engine.Field{f, f}}, `field "a" is empty or repeated`},
		{"no doc", engine.Spec{Fields: []engine.Field{{Name: "a", Type: engine.String}}}, `field "a" needs a type and a doc`},
		{"short not a field", engine.Spec{Short: "b", Fields: []engine.Field{f}}, `short form "b" is not a field`},
		{"fields and map", engine.Spec{Map: &engine.Template, Fields: []engine.Field{f}}, "fields and map both set"},
		{"group of one key", engine.Spec{Fields: []engine.Field{f}, Groups: []engine.Group{{Keys: []string{"a"}, Need: true}}}, "needs two keys and a rule"},
		{"group key not a field", engine.Spec{Fields: []engine.Field{f}, Groups: []engine.Group{{Keys: []string{"a", "z"}, Need: true}}}, `group key "z" is not a field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := engine.NewRegistry().Register(engine.BlockType{Kind: "x", Spec: tt.spec, Compile: compile})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Register = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
