package engine

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/patchbay/patchbay/flows"
)

// StepError is a step's failure: where the step is, which it is, and why.
type StepError struct {
	Pos   flows.Pos
	Step  string
	Block string
	Err   error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s: step %q (%s): %v", e.Pos, e.Step, e.Block, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// HTTPError is a response whose status the step did not accept. Body is an excerpt of at most
// BodyExcerpt bytes, redacted.
type HTTPError struct {
	Method     string
	URL        string // without query secrets: redacted
	StatusCode int
	Status     string
	Body       string
	Header     http.Header
}

// BodyExcerpt bounds the body kept in an HTTPError.
const BodyExcerpt = 512

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("%s %s: %s", e.Method, e.URL, e.Status)
	if b := strings.TrimSpace(e.Body); b != "" {
		s += ": " + b
	}
	return s
}

// LimitError is a run that went past one of its limits.
type LimitError struct {
	Limit string // "steps", "iterations", "depth", "response_bytes", "output_bytes"
	Max   int64
	What  string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("limit exceeded: %s (at most %d %s)", e.What, e.Max, e.Limit)
}

// FailError is a flow's deliberate failure, from the fail block.
type FailError struct {
	Message string
	Code    string
}

func (e *FailError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("failed: %s (code %s)", e.Message, e.Code)
	}
	return "failed: " + e.Message
}

// ErrRunTimeout is the cause of a run's context when the run's deadline passes.
var ErrRunTimeout = errors.New("run timed out")

// errStepTimeout is the cause of a step's context when its timeout passes.
var errStepTimeout = errors.New("step timed out")

// returnSignal carries a return block's value up to the flow.
type returnSignal struct{ value any }

func (r *returnSignal) Error() string { return "return outside of a flow" }
