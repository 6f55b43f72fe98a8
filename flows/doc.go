// Package flows is patchbay's app model: it reads app.yaml and the flow files beside it into
// Apps, Flows and Steps, every problem as an Error at file:line:col, and compiles the
// {{ templates }} in them with expr.
//
// flows does not know block kinds: a step's block body stays a *yaml.Node until the engine
// compiles it with the block type registered for its key.
//
//	app, err := flows.LoadApp("examples/hackernews")
//	if err != nil {
//		fmt.Println(err) // examples/hackernews/app.yaml:12:9: unknown field "stpes" (did you mean "steps"?)
//	}
//	scope := flows.NewScope("app.yaml", src, &errs, flows.FlowNames...)
//	v := scope.Compile(node)              // compiled once, at load
//	ev := flows.NewEvaluator(ctx)         // one per goroutine: VM, budget, deadline
//	out, err := ev.Eval(v, env)           // run many times
package flows
