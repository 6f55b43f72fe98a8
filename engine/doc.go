// Package engine compiles an app's flows into a Program and runs them: it declares the Block
// interface and the Registry of block types, the Compiler blocks compile their YAML with, the
// State a running block sees, the limits of a run and its trace.
//
// Each BlockType declares its body as data, a Spec (fields with their types, required keys,
// defaults, docs and examples). The compiler checks every body against its Spec before the
// block's Compile reads the checked fields from a Body; Registry.Docs turns the specs into the
// JSON Schema of app.yaml and the block reference (flows.Schema, flows.Reference).
//
// engine imports neither the blocks nor the connections: cmd registers the blocks, and what a
// block needs from a connection reaches it through the Conn interface in the run's Options.
//
//	reg := engine.NewRegistry()
//	blocks.Register(reg)
//	prog, err := engine.Load(reg, "examples/hackernews")
//	if err != nil { ... } // a flows.ErrorList, every problem at file:line:col
//	res, err := prog.Run(ctx, "top_stories", engine.Options{Input: map[string]any{"limit": 5}})
package engine
