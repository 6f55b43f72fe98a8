package blocks

import (
	"context"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
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
	Compile: compileFail,
}

func compileFail(c *engine.Compiler, body *yaml.Node) (engine.Block, error) {
	b := &Fail{}
	if body != nil && body.Kind == yaml.ScalarNode && body.Tag != "!!null" {
		b.message = c.Template(body)
		return b, nil
	}
	fields := c.Fields(body, "fail", "message", "code")
	if f, ok := fields["message"]; ok {
		b.message = c.Template(f.Value)
	} else {
		missingField(c, body, "fail", "message", `message: "..."`)
	}
	if f, ok := fields["code"]; ok {
		b.code = c.Template(f.Value)
	}
	return b, nil
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
