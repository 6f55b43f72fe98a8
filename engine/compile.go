package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// Program is an app compiled for running: every flow's steps resolved to blocks and every
// template compiled. It is immutable and serves any number of concurrent runs.
type Program struct {
	App    *flows.App
	flows  map[string]*Flow
	appEnv map[string]any // the template value app, made once: templates cannot change it
}

// Flow is a compiled flow.
type Flow struct {
	Def    *flows.Flow
	Steps  []*Step
	Output *flows.Value // nil: the last step's output
	nslots int          // its steps, nested ones included: Step.slot is below
}

// Step is a compiled step.
type Step struct {
	ID      string
	Kind    string
	Pos     flows.Pos
	Block   Block
	When    *flows.Value
	Retry   *flows.Retry
	Timeout time.Duration
	OnError string
	slot    int // the step's place among its flow's, for the size of its output (live.go)
}

// Flow returns the compiled flow called name, or nil.
func (p *Program) Flow(name string) *Flow { return p.flows[name] }

// Compile compiles every flow of app with the blocks of reg. All problems are returned together
// as a flows.ErrorList, sorted by position.
func Compile(reg *Registry, app *flows.App) (*Program, error) {
	p := &Program{App: app, flows: map[string]*Flow{}, appEnv: appEnv(app)}
	var errs flows.ErrorList
	for _, def := range app.Flows {
		p.flows[def.Name] = compileFlow(reg, app, def, &errs)
	}
	return p, errs.Err()
}

// Load reads the app in dir and compiles it: flows.LoadApp, then Compile.
func Load(reg *Registry, dir string) (*Program, error) {
	app, err := flows.LoadApp(dir)
	if app == nil {
		return nil, err
	}
	var errs flows.ErrorList
	errs.Append(flows.Pos{File: app.File}, err)
	p, err := Compile(reg, app)
	errs.Append(flows.Pos{File: app.File}, err)
	return p, errs.Err()
}

// Compiler compiles one flow's steps; block types use it to compile their bodies, their
// templates and their nested steps. It is used by one goroutine at load time only.
type Compiler struct {
	reg      *Registry
	app      *flows.App
	flow     *flows.Flow
	file     string
	src      []byte
	errs     *flows.ErrorList
	scope    *flows.Scope
	declared map[string]flows.Pos // every step id of the flow, by where it is
	nslots   *int                 // the flow's steps so far
}

func compileFlow(reg *Registry, app *flows.App, def *flows.Flow, errs *flows.ErrorList) *Flow {
	scope := flows.NewScope(def.File, def.Src, errs, flows.FlowNames...)
	scope.Steps = map[string]bool{}
	scope.Inputs = map[string]bool{}
	for _, in := range def.Inputs {
		scope.Inputs[in.Name] = true
	}
	f := &Flow{Def: def}
	c := &Compiler{reg: reg, app: app, flow: def, file: def.File, src: def.Src, errs: errs, scope: scope, declared: map[string]flows.Pos{}, nslots: &f.nslots}
	f.Steps = c.compileSteps(def.Steps)
	if def.Output != nil {
		f.Output = c.scope.Compile(def.Output)
	}
	c.resolveRefs()
	return f
}

// resolveRefs reports references to steps that were not visible where they were made.
func (c *Compiler) resolveRefs() {
	ids := make([]string, 0, len(c.declared))
	for id := range c.declared {
		ids = append(ids, id)
	}
	for _, r := range *c.scope.Refs {
		if at, ok := c.declared[r.ID]; ok {
			c.errs.Addf(r.Pos, "step %q has not run here: it is defined later, at line %d", r.ID, at.Line)
			continue
		}
		c.errs.Addf(r.Pos, "unknown step %q%s", r.ID, flows.Suggest(r.ID, ids))
	}
}

// File returns the file being compiled.
func (c *Compiler) File() string { return c.file }

// App returns the app being compiled.
func (c *Compiler) App() *flows.App { return c.app }

// Flow returns the flow being compiled.
func (c *Compiler) Flow() *flows.Flow { return c.flow }

// Pos returns the position of n.
func (c *Compiler) Pos(n *yaml.Node) flows.Pos { return flows.NodePos(c.file, n) }

// Errs returns the error list problems go to, for flows' node helpers (flows.String and so on).
func (c *Compiler) Errs() *flows.ErrorList { return c.errs }

// Errorf reports a problem at n.
func (c *Compiler) Errorf(n *yaml.Node, format string, args ...any) {
	c.errs.Addf(c.Pos(n), format, args...)
}

// Template compiles a value that may hold templates; nil for a nil node.
func (c *Compiler) Template(n *yaml.Node) *flows.Value { return c.scope.Compile(n) }

// With returns a compiler whose templates may also use names (a loop's item). It shares
// everything else with c.
func (c *Compiler) With(names ...string) *Compiler {
	n := *c
	for _, name := range names {
		if c.scope.Has(name) {
			c.errs.Addf(flows.Pos{File: c.file}, "name %q is already in use", name)
		}
	}
	n.scope = c.scope.With(names...)
	return &n
}

// HasName reports whether templates here may use name.
func (c *Compiler) HasName(name string) bool { return c.scope.Has(name) }

// CompileSteps compiles a nested list of steps (an if's then, a loop's body).
func (c *Compiler) CompileSteps(n *yaml.Node) []*Step {
	return c.compileSteps(flows.ParseSteps(c.file, c.src, n, c.errs))
}

func (c *Compiler) compileSteps(defs []*flows.Step) []*Step {
	out := make([]*Step, 0, len(defs))
	for _, d := range defs {
		if s := c.compileStep(d); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func (c *Compiler) compileStep(d *flows.Step) *Step {
	if d.IDNode != nil {
		if at, dup := c.declared[d.ID]; dup {
			c.errs.Addf(c.Pos(d.IDNode), "step id %q is used twice (first at line %d)", d.ID, at.Line)
		} else {
			c.declared[d.ID] = c.Pos(d.IDNode)
		}
	}
	s := &Step{ID: d.ID, Pos: d.Pos, Retry: d.Retry, Timeout: d.Timeout, OnError: d.OnError, slot: *c.nslots}
	*c.nslots++
	if d.When != nil {
		s.When = c.scope.Compile(d.When)
	}
	var kinds []string
	var body *yaml.Node
	var bt BlockType
	for _, f := range d.Blocks {
		if t, ok := c.reg.Lookup(f.Key.Value); ok {
			kinds = append(kinds, f.Key.Value)
			if body == nil {
				body, bt = f.Value, t
			}
			continue
		}
		candidates := append(c.reg.Kinds(), flows.StepFields()...)
		if len(d.Blocks) == 1 {
			c.errs.Addf(c.Pos(f.Key), "unknown block %q%s", f.Key.Value, suggestOrList(f.Key.Value, c.reg.Kinds()))
		} else {
			c.errs.Addf(c.Pos(f.Key), "step: unknown field %q%s", f.Key.Value, flows.Suggest(f.Key.Value, candidates))
		}
	}
	if len(kinds) > 1 {
		c.errs.Addf(d.Pos, "step %q has more than one block: %s", d.ID, strings.Join(kinds, ", "))
	}
	if body == nil {
		c.markDone(d)
		return nil
	}
	s.Kind = bt.Kind
	if d.IDNode == nil {
		s.ID = fmt.Sprintf("%s@%d", bt.Kind, d.Pos.Line)
	}
	checked, ok := c.checkBody(bt.Kind, &bt.Spec, body)
	if !ok {
		c.markDone(d)
		return nil
	}
	b, err := bt.Compile(c, checked)
	if err != nil {
		c.errs.Append(c.Pos(body), err)
	}
	s.Block = b
	c.markDone(d)
	if b == nil {
		return nil
	}
	return s
}

// markDone makes a step visible to the templates that follow it.
func (c *Compiler) markDone(d *flows.Step) {
	if d.IDNode != nil {
		c.scope.Steps[d.ID] = true
	}
}

func suggestOrList(s string, kinds []string) string {
	if sug := flows.Suggest(s, kinds); sug != "" {
		return sug
	}
	if len(kinds) == 0 {
		return ""
	}
	return " (blocks: " + strings.Join(kinds, ", ") + ")"
}

// FlowNamed reports whether the app has a flow called name, for call_flow's load-time check.
func (c *Compiler) FlowNamed(name string) *flows.Flow { return c.app.Flow(name) }

// FlowNames lists the app's flows, for suggestions.
func (c *Compiler) FlowNames() []string {
	names := c.app.FlowNames()
	slices.Sort(names)
	return names
}
