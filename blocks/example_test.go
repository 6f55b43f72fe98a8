package blocks_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchbay/patchbay/blocks"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Upper is a custom block: upper: {text: "{{ ... }}", suffix: "!"} outputs the text in capitals.
type Upper struct {
	text, suffix *flows.Value
}

// UpperType registers the block under the key upper.
var UpperType = engine.BlockType{
	Kind:    "upper",
	Summary: "outputs a text in capital letters",
	// The spec is data: the compiler checks bodies against it (unknown keys with a "did you
	// mean", missing required keys, values of the wrong kind) before Compile runs, and the JSON
	// Schema and the reference are generated from it.
	Spec: engine.Spec{
		Fields: []engine.Field{
			{Name: "text", Type: engine.String, Required: true, Doc: "The text to write in capitals."},
			{Name: "suffix", Type: engine.String, Doc: "Appended as it is."},
		},
		Examples: []string{`- upper: {text: "hello {{ app.name }}", suffix: "!"}`},
	},
	Compile: func(c *engine.Compiler, body *engine.Body) (engine.Block, error) {
		// Template compiles {{ templates }} once, at load, with their positions in the file.
		return &Upper{text: c.Template(body.Value("text")), suffix: c.Template(body.Value("suffix"))}, nil
	},
}

// Kind returns "upper".
func (b *Upper) Kind() string { return "upper" }

// Run evaluates the templates in the run's state; it keeps nothing in b, which serves every run.
func (b *Upper) Run(ctx context.Context, st *engine.State) (any, error) {
	text, err := st.EvalString(b.text)
	if err != nil {
		return nil, err
	}
	suffix, err := st.EvalString(b.suffix)
	if err != nil {
		return nil, err
	}
	st.Input(map[string]any{"text": text}) // for the run's trace, redacted there
	return strings.ToUpper(text) + suffix, nil
}

// Example_customBlock writes a block, registers it beside the core blocks and runs a flow that
// uses it.
func Example_customBlock() {
	reg := engine.NewRegistry()
	if err := blocks.Register(reg); err != nil {
		panic(err)
	}
	if err := reg.Register(UpperType); err != nil {
		panic(err)
	}

	load := func(src string) (*engine.Program, error) {
		app, err := flows.Parse("app.yaml", []byte(src))
		if err != nil {
			return nil, err
		}
		return engine.Compile(reg, app)
	}

	prog, err := load(`app: shout
flows:
  greet:
    inputs:
      name: {type: string, required: true}
    steps:
      - id: loud
        upper: {text: "hello {{ input.name }}", suffix: "!"}
    output: "{{ steps.loud }}"
`)
	if err != nil {
		panic(err)
	}
	res, err := prog.Run(context.Background(), "greet", engine.Options{Input: map[string]any{"name": "ada"}})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Output)

	// Mistakes are load errors at file:line:col, before anything runs.
	_, err = load(`app: shout
flows:
  typo:
    steps:
      - upper: {txet: "{{ input.name }}"}
`)
	fmt.Println(err)
	// Output:
	// HELLO ADA!
	// app.yaml:5:16: upper: text is missing
	// app.yaml:5:17: upper: unknown field "txet" (did you mean "text"?)
}
