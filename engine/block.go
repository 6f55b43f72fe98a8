package engine

import (
	"context"
	"fmt"
	"sort"
)

// A Block is one compiled step. One program serves many runs at once: Run must not modify the
// block, and keeps per-run data in st.
type Block interface {
	// Kind returns the block's key, as registered ("call_api").
	Kind() string
	// Run executes the block once and returns its output, the step's steps.<id>. It is called from
	// the run's goroutine (or a loop's worker), with ctx bounded by the step's timeout.
	Run(ctx context.Context, st *State) (output any, err error)
}

// A BlockType compiles a step's YAML body at load. The compiler first checks the body against
// Spec and reports what is wrong; Compile then reads the checked fields from body, reports what
// the spec cannot say (two fields that exclude each other, a value's content) through c, with
// positions, and may return a nil Block when it found any problem.
type BlockType struct {
	Kind    string // "call_api"
	Summary string // one line, for the docs and the JSON Schema
	Spec    Spec   // the body's fields, for the checker, the JSON Schema and the reference
	Compile func(c *Compiler, body *Body) (Block, error)
}

// Registry holds the block types a program may use. It is filled before loading apps and only
// read afterwards; it is not safe for concurrent Register calls.
type Registry struct {
	types map[string]BlockType
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{types: map[string]BlockType{}} }

// Register adds a block type; registering a kind twice is an error.
func (r *Registry) Register(t BlockType) error {
	if t.Kind == "" || t.Compile == nil {
		return fmt.Errorf("register block: kind and compile function are required")
	}
	if _, dup := r.types[t.Kind]; dup {
		return fmt.Errorf("register block %q: already registered", t.Kind)
	}
	if err := t.Spec.check(); err != nil {
		return fmt.Errorf("register block %q: %w", t.Kind, err)
	}
	r.types[t.Kind] = t
	return nil
}

// Lookup returns the block type of kind.
func (r *Registry) Lookup(kind string) (BlockType, bool) {
	t, ok := r.types[kind]
	return t, ok
}

// Kinds returns the registered kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.types))
	for k := range r.types {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Types returns the registered block types sorted by kind.
func (r *Registry) Types() []BlockType {
	out := make([]BlockType, 0, len(r.types))
	for _, k := range r.Kinds() {
		out = append(out, r.types[k])
	}
	return out
}
