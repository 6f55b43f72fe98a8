package blocks

import (
	"context"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Fail ends the run with an error of the author's making (an *engine.FailError):
//
//	fail: "no task named {{ input.name }}"
//	fail: {message: "quota exceeded", code: "{{ steps.get.body.error.code }}"}
//
// The code, optional, is for whoever reads the run's record: a step with on_error: continue
// sees it as steps.<id>.error.code. A fail is never retried.
type Fail struct {
	message, code *flows.Value
}

var _ engine.Block = (*Fail)(nil)

// FailType is the fail block.
var FailType = engine.BlockType{
	Kind:    "fail",
	Summary: "fails the run with a message and an optional code",
	Spec: engine.Spec{
		Short: "message",
		Doc:   "A fail is never retried.",
		Fields: []engine.Field{
			{Name: "message", Type: engine.String, Required: true, Missing: `message: "..."`, Doc: "The error's message; it may hold templates."},
			{Name: "code", Type: engine.String, Doc: "A code for whoever reads the run's record: a step with on_error: continue sees it as steps.<id>.error.code."},
		},
		Examples: []string{`- fail: "no task named {{ app.name }}"`, `- fail: {message: "quota exceeded", code: over_quota}`},
	},
	Compile: compileFail,
}

func compileFail(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	return &Fail{message: c.Template(in.Value("message")), code: c.Template(in.Value("code"))}, nil
}

// Kind returns "fail".
func (b *Fail) Kind() string { return "fail" }

// Run evaluates the message and code and returns them as an *engine.FailError.
func (b *Fail) Run(ctx context.Context, st *engine.State) (any, error) {
	msg, err := st.EvalString(b.message)
	if err != nil {
		return nil, err
	}
	code, err := st.EvalString(b.code)
	if err != nil {
		return nil, err
	}
	return nil, &engine.FailError{Message: msg, Code: code}
}
