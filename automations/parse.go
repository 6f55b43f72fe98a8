package automations

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
)

// AppKeys is what a Catalog may also offer: the keys of its apps, from which Parse suggests
// the app meant when an automation names one the catalog does not have.
type AppKeys interface {
	Keys() []string
}

// Apps is a Catalog of apps loaded beforehand, by key.
type Apps map[string]*engine.Program

// App returns the app with key, or nil.
func (a Apps) App(key string) *engine.Program { return a[key] }

// Keys returns the apps' keys, sorted.
func (a Apps) Keys() []string { return slices.Sorted(maps.Keys(a)) }

// The keys of an automation file and of its parts (docs/automations.md).
var (
	specFields     = []string{"name", "workspace", "trigger", "actions", "overlap", "timeout", "retry", "catch_up"}
	triggerKinds   = []string{TriggerSchedule, TriggerPoll, TriggerWebhook, TriggerManual}
	scheduleFields = []string{"cron", "timezone"}
	callFields     = []string{"app", "flow", "connection", "input"}
	pollFields     = append(slices.Clone(callFields), scheduleFields...)
	actionFields   = append([]string{"id"}, callFields...)
)

// The names an automation's templates may use, and what they hold.
const (
	nameTrigger = "trigger" // item, time
	nameActions = "actions" // <id>.output
)

var triggerMembers = []string{"item", "time"}

// Parse parses an automation file and checks it against the apps of cat: every app, flow,
// connection and input it names, every template compiled. Every problem is reported in one
// sorted flows.ErrorList, each at file:line:col. cat must not be nil.
func Parse(file string, src []byte, cat Catalog) (*Spec, error) {
	if len(src) > flows.MaxFileSize {
		return nil, flows.ErrorList{{Pos: flows.Pos{File: file, Line: 1, Col: 1}, Msg: fmt.Sprintf("file is %d bytes, more than the limit of %d", len(src), flows.MaxFileSize)}}
	}
	root, err := flows.ParseDoc(file, src)
	if err != nil {
		return nil, err
	}
	var errs flows.ErrorList
	p := &parser{file: file, src: src, cat: cat, errs: &errs}
	sp := &Spec{
		File: file, Workspace: connections.DefaultWorkspace, Overlap: OverlapSkip,
		Timeout: engine.DefaultLimits.Timeout, CatchUp: CatchUpOnce,
	}
	fields := flows.Fields(file, root, &errs, "automation", specFields...)
	if f, ok := fields["name"]; ok {
		sp.Name = p.name(f.Value, "name")
	} else if root.Kind == yaml.MappingNode {
		errs.Addf(flows.NodePos(file, root), "automation: name is missing (name: my-automation)")
	}
	if f, ok := fields["workspace"]; ok {
		sp.Workspace = p.name(f.Value, "workspace")
	}
	if f, ok := fields["trigger"]; ok {
		sp.Trigger = p.trigger(f.Value)
	} else if root.Kind == yaml.MappingNode {
		errs.Addf(flows.NodePos(file, root), "automation: trigger is missing (schedule, poll, webhook or manual)")
	}
	if f, ok := fields["actions"]; ok {
		sp.Actions = p.actions(f.Value)
	} else if root.Kind == yaml.MappingNode {
		errs.Addf(flows.NodePos(file, root), "automation: actions is missing (a list of at least one)")
	}
	if f, ok := fields["overlap"]; ok {
		sp.Overlap = p.oneOf(f.Value, "overlap", OverlapSkip, OverlapQueue)
	}
	if f, ok := fields["timeout"]; ok {
		before := len(errs)
		if sp.Timeout = flows.Duration(file, f.Value, &errs, "timeout"); sp.Timeout <= 0 && len(errs) == before {
			errs.Addf(flows.NodePos(file, f.Value), "timeout must be positive")
		}
	}
	if f, ok := fields["retry"]; ok {
		sp.Retry = flows.ParseRetry(file, f.Value, &errs)
	}
	if f, ok := fields["catch_up"]; ok {
		sp.CatchUp = p.oneOf(f.Value, "catch_up", CatchUpOnce, CatchUpNone)
	}
	if len(errs) > 0 {
		return nil, errs.Err()
	}
	return sp, nil
}

// parser holds what the parts of one automation file are read with.
type parser struct {
	file string
	src  []byte
	cat  Catalog
	errs *flows.ErrorList
}

func (p *parser) pos(n *yaml.Node) flows.Pos { return flows.NodePos(p.file, n) }

// name reads the name of an automation or a workspace: letters, digits, - and _, not starting
// with - (it would read as a flag on a command line).
func (p *parser) name(n *yaml.Node, what string) string {
	return p.checked(n, what, nameRE.MatchString, "letters, digits, - and _, not starting with -")
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// connectionName reads the name of a connection, by the rule connections.Manager makes them
// with: a name it refuses can never be connected.
func (p *parser) connectionName(n *yaml.Node) string {
	valid := func(s string) bool { return flows.IsIdent(strings.ReplaceAll(s, "-", "_")) }
	return p.checked(n, "connection", valid, "letters, digits, - and _, not starting with a digit")
}

// checked reads a string that valid accepts; rule says which it accepts.
func (p *parser) checked(n *yaml.Node, what string, valid func(string) bool, rule string) string {
	before := len(*p.errs)
	s := flows.String(p.file, n, p.errs, what)
	if len(*p.errs) == before && !valid(s) {
		p.errs.Addf(p.pos(n), "%s %q must be %s", what, s, rule)
	}
	return s
}

// oneOf reads a string that must be one of allowed; the first is the default when it is wrong.
func (p *parser) oneOf(n *yaml.Node, what string, allowed ...string) string {
	before := len(*p.errs)
	s := flows.String(p.file, n, p.errs, what)
	if len(*p.errs) > before {
		return allowed[0]
	}
	if !slices.Contains(allowed, s) {
		p.errs.Addf(p.pos(n), "%s must be %s, found %q%s", what, strings.Join(allowed, " or "), s, flows.Suggest(s, allowed))
		return allowed[0]
	}
	return s
}

// trigger reads the trigger: a mapping with exactly one of its kinds. Of several, the first
// in the file is read and the others reported.
func (p *parser) trigger(n *yaml.Node) Trigger {
	var tr Trigger
	fields := flows.Fields(p.file, n, p.errs, "trigger", triggerKinds...)
	var set []flows.Field
	for _, kind := range triggerKinds {
		if f, ok := fields[kind]; ok {
			set = append(set, f)
		}
	}
	if len(set) == 0 {
		if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
			p.errs.Addf(p.pos(n), "trigger: one of schedule, poll, webhook or manual is missing")
		}
		return tr
	}
	slices.SortFunc(set, func(a, b flows.Field) int { return a.Key.Line*1e6 + a.Key.Column - b.Key.Line*1e6 - b.Key.Column })
	for _, f := range set[1:] {
		p.errs.Addf(p.pos(f.Key), "trigger: %s and %s are both set: use one", set[0].Key.Value, f.Key.Value)
	}
	f := set[0]
	tr.Kind, tr.Pos = f.Key.Value, p.pos(f.Key)
	switch tr.Kind {
	case TriggerSchedule:
		tr.Schedule = p.schedule(flows.Fields(p.file, f.Value, p.errs, "schedule", scheduleFields...), f)
	case TriggerPoll:
		pf := flows.Fields(p.file, f.Value, p.errs, "poll", pollFields...)
		tr.Schedule = p.schedule(pf, f)
		tr.Poll = p.call(pf, f.Value, "poll", flows.KindTrigger, p.pollScope())
	case TriggerWebhook, TriggerManual:
		if f.Value.Tag != "!!null" { // webhook: {} or webhook: with nothing
			flows.Fields(p.file, f.Value, p.errs, tr.Kind)
		}
	}
	return tr
}

// schedule reads the cron and timezone keys of a schedule or a poll (kv).
func (p *parser) schedule(fields map[string]flows.Field, kv flows.Field) *Schedule {
	zone, zoneOK := "UTC", true
	if f, ok := fields["timezone"]; ok {
		before := len(*p.errs)
		if zone = flows.String(p.file, f.Value, p.errs, "timezone"); len(*p.errs) == before {
			if _, err := loadZone(zone); err != nil {
				p.errs.Add(p.pos(f.Value), err.Error())
				zoneOK = false
			}
		}
	}
	f, ok := fields["cron"]
	if !ok {
		if kv.Value.Kind == yaml.MappingNode {
			p.errs.Addf(p.pos(kv.Key), "%s: cron is missing (cron: \"0 9 * * *\")", kv.Key.Value)
		}
		return nil
	}
	before := len(*p.errs)
	expr := flows.String(p.file, f.Value, p.errs, "cron")
	if len(*p.errs) > before {
		return nil
	}
	if !zoneOK {
		zone = "UTC" // reported: the expression is still checked
	}
	s, err := ParseSchedule(expr, zone)
	if err != nil {
		p.errs.Add(p.pos(f.Value), err.Error())
		return nil
	}
	if !zoneOK {
		return nil
	}
	return s
}

// actions reads the list of actions: at least one, ids unique.
func (p *parser) actions(n *yaml.Node) []*Action {
	if n.Kind != yaml.SequenceNode {
		p.errs.Addf(p.pos(n), "actions must be a list, found %s", flows.Describe(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errs.Addf(p.pos(n), "actions is empty: an automation runs at least one")
		return nil
	}
	// Every id first, so a template naming a later action says it runs later.
	declared := map[string]*yaml.Node{}
	ids := make([]string, len(n.Content))
	for i, an := range n.Content {
		if an.Kind != yaml.MappingNode {
			continue
		}
		for j := 0; j+1 < len(an.Content); j += 2 {
			if k, v := an.Content[j], an.Content[j+1]; k.Value == "id" && v.Kind == yaml.ScalarNode && flows.IsIdent(v.Value) {
				if first, dup := declared[v.Value]; dup {
					p.errs.Addf(p.pos(v), "action id %q appears twice (first at line %d)", v.Value, first.Line)
				} else {
					declared[v.Value], ids[i] = v, v.Value
				}
				break
			}
		}
	}
	out := make([]*Action, 0, len(n.Content))
	for i, an := range n.Content {
		fields := flows.Fields(p.file, an, p.errs, "action", actionFields...)
		if an.Kind != yaml.MappingNode {
			continue
		}
		a := &Action{}
		if f, ok := fields["id"]; ok {
			before := len(*p.errs)
			a.ID = flows.String(p.file, f.Value, p.errs, "id")
			if len(*p.errs) == before && !flows.IsIdent(a.ID) {
				p.errs.Addf(p.pos(f.Value), "action id %q must be letters, digits and underscores, starting with a letter", a.ID)
			}
		} else {
			p.errs.Addf(p.pos(an), "action: id is missing (id: send)")
		}
		scope := p.actionScope(ids[:i], ids[i], declared)
		if c := p.call(fields, an, "action", flows.KindAction, scope); c != nil {
			a.Call = *c
		}
		out = append(out, a)
	}
	return out
}

// refCheck checks one name's references in a template: path is name.a.b… without name.
type refCheck func(path []string, pos flows.Pos)

// callScope is where a call's inputs are compiled: the names they may use and how their
// references are checked.
type callScope struct {
	names  []string
	checks map[string]refCheck
}

// pollScope is the scope of a poll's inputs: trigger.time only (no item yet, no action run).
func (p *parser) pollScope() callScope {
	return callScope{names: []string{nameTrigger}, checks: map[string]refCheck{nameTrigger: func(path []string, pos flows.Pos) {
		if len(path) == 1 && path[0] != "time" {
			p.errs.Addf(pos, "a poll's input may read trigger.time only, not trigger.%s: the poll finds the items", path[0])
		}
	}}}
}

// actionScope is the scope of an action's inputs: trigger.item, trigger.time and the output
// of the actions before it (earlier); self is its own id.
func (p *parser) actionScope(earlier []string, self string, declared map[string]*yaml.Node) callScope {
	all := slices.Sorted(maps.Keys(declared))
	return callScope{names: []string{nameTrigger, nameActions}, checks: map[string]refCheck{
		nameTrigger: func(path []string, pos flows.Pos) {
			if len(path) == 1 && !slices.Contains(triggerMembers, path[0]) {
				p.errs.Addf(pos, "trigger has no %q: it holds item and time%s", path[0], flows.Suggest(path[0], triggerMembers))
			}
		},
		nameActions: func(path []string, pos flows.Pos) {
			id := path[0]
			switch {
			case len(path) == 1 && id == self && id != "":
				p.errs.Addf(pos, "action %q has not run here: it is this action", id)
			case len(path) == 1 && slices.Contains(earlier, id):
			case len(path) == 1 && declared[id] != nil:
				p.errs.Addf(pos, "action %q has not run here: it is defined later, at line %d", id, declared[id].Line)
			case len(path) == 1:
				p.errs.Addf(pos, "unknown action %q%s", id, flows.Suggest(id, all))
			case len(path) == 2 && path[1] != "output" && declared[id] != nil:
				p.errs.Addf(pos, "actions.%s has no %q: it holds output%s", id, path[1], flows.Suggest(path[1], []string{"output"}))
			}
		},
	}}
}

// call reads the app, flow, connection and input of a poll or an action (n, its mapping) and
// checks them against the catalog: the flow is of kind, the connection given when the app
// needs one, the inputs the flow's, their templates compiled in scope.
func (p *parser) call(fields map[string]flows.Field, n *yaml.Node, what, kind string, scope callScope) *Call {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	c := &Call{Pos: p.pos(n)}
	required := func(key, example string) (flows.Field, bool) {
		f, ok := fields[key]
		if !ok {
			p.errs.Addf(c.Pos, "%s: %s is missing (%s: %s)", what, key, key, example)
		}
		return f, ok
	}
	var prog *engine.Program
	if f, ok := required("app", "hackernews"); ok {
		before := len(*p.errs)
		if c.App = flows.String(p.file, f.Value, p.errs, "app"); len(*p.errs) == before {
			if prog = p.cat.App(c.App); prog == nil {
				var keys []string
				if l, ok := p.cat.(AppKeys); ok {
					keys = l.Keys()
				}
				p.errs.Addf(p.pos(f.Value), "unknown app %q%s", c.App, flows.Suggest(c.App, keys))
			}
		}
	}
	var flow *flows.Flow
	if f, ok := required("flow", "top_stories"); ok {
		before := len(*p.errs)
		if c.Flow = flows.String(p.file, f.Value, p.errs, "flow"); len(*p.errs) == before && prog != nil {
			flow = p.flow(prog, c.Flow, f.Value, what, kind)
		}
	}
	if prog != nil {
		p.connection(c, prog, fields, what)
	}
	if f, ok := fields["input"]; ok || flow != nil {
		c.Input = p.inputs(f, n, flow, scope)
	}
	return c
}

// flow finds the flow called name in prog and checks its kind (a poll's trigger flow must
// declare dedupe).
func (p *parser) flow(prog *engine.Program, name string, n *yaml.Node, what, kind string) *flows.Flow {
	app := prog.App
	var def *flows.Flow
	if f := prog.Flow(name); f != nil {
		def = f.Def
	}
	if def == nil {
		var names []string
		for _, f := range app.Flows {
			if f.Kind == kind {
				names = append(names, f.Name)
			}
		}
		p.errs.Addf(p.pos(n), "app %s has no flow %q%s", app.Key, name, flows.Suggest(name, names))
		return nil
	}
	if def.Kind != kind {
		p.errs.Addf(p.pos(n), "flow %s of app %s is %s %s flow: %s runs %s %s flow", name, app.Key, article(def.Kind), def.Kind, articled(what), article(kind), kind)
		return nil
	}
	if kind == flows.KindTrigger && def.Dedupe == "" {
		p.errs.Addf(p.pos(n), "trigger flow %s of app %s declares no dedupe: a poll needs it to tell new items from those it has seen", name, app.Key)
	}
	return def
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func articled(word string) string { return article(word) + " " + word }

// connection reads the connection of a call: given exactly when the app connects with
// credentials (its connection type is not none).
func (p *parser) connection(c *Call, prog *engine.Program, fields map[string]flows.Field, what string) {
	app := prog.App
	needs := app.Connection != nil && app.Connection.Type != flows.ConnNone
	f, given := fields["connection"]
	switch {
	case given && !needs:
		p.errs.Addf(p.pos(f.Key), "%s: app %s needs no connection (its connection type is none): remove connection", what, app.Key)
	case given:
		c.Connection = p.connectionName(f.Value)
	case needs:
		p.errs.Addf(c.Pos, "%s: connection is missing: app %s connects with %s (name a connection made with patchbay connect)", what, app.Key, app.Connection)
	}
}

// inputs compiles the input mapping f of a call (n) for flow (nil: unknown, inputs only
// compiled) and checks it: names the flow declares, constants of their types, required inputs
// given.
func (p *parser) inputs(f flows.Field, n *yaml.Node, flow *flows.Flow, cs callScope) map[string]*flows.Value {
	scope := flows.NewScope(p.file, p.src, p.errs, cs.names...)
	out := map[string]*flows.Value{}
	var known []string
	if flow != nil {
		for _, in := range flow.Inputs {
			known = append(known, in.Name)
		}
	}
	given := map[string]bool{}
	var pairs []flows.Field
	empty := f.Value == nil || f.Value.Tag == "!!null" // no input:, or input: with nothing
	if !empty {
		pairs = flows.Pairs(p.file, f.Value, p.errs, "input")
	}
	for _, kv := range pairs {
		name := kv.Key.Value
		given[name] = true
		var in *flows.Input
		if flow != nil {
			if in = flow.Input(name); in == nil && len(known) == 0 {
				p.errs.Addf(p.pos(kv.Key), "input: flow %s takes no inputs", flow.Name)
				continue
			} else if in == nil {
				p.errs.Addf(p.pos(kv.Key), "input: flow %s takes no input %q%s", flow.Name, name, flows.Suggest(name, known))
				continue
			}
		}
		before := len(*p.errs)
		v := scope.Compile(kv.Value)
		if len(*p.errs) > before {
			continue
		}
		for name, check := range cs.checks {
			v.Refs(name, check)
		}
		if in != nil && v.IsConst() {
			cv, err := flows.CheckInput(in, v.ConstValue())
			if err == nil && cv == nil && in.Required && in.Default == nil {
				p.errs.Addf(p.pos(kv.Value), "input %s of flow %s is required, found nothing", name, flow.Name)
				continue
			}
			if err != nil {
				msg := err.Error()
				if in.Sensitive { // the message may quote the value, and it is a secret
					msg = fmt.Sprintf("the value given is not %s (not shown: the input is sensitive)", articled(in.Type))
				}
				p.errs.Addf(p.pos(kv.Value), "input %s: %s", name, msg)
				continue
			}
			pos := v.Pos
			v = flows.Const(cv)
			v.Pos = pos
		}
		out[name] = v
	}
	if flow != nil && (empty || f.Value.Kind == yaml.MappingNode) { // not a mapping: reported
		at := p.pos(n)
		if f.Key != nil {
			at = p.pos(f.Key)
		}
		for _, in := range flow.Inputs {
			if !given[in.Name] && in.Required && in.Default == nil {
				p.errs.Addf(at, "input %s of flow %s is required", in.Name, flow.Name)
			}
		}
	}
	return out
}

// Connections returns the names of the connections the automation's trigger and actions use,
// sorted, each once.
func (s *Spec) Connections() []string {
	var out []string
	if s.Trigger.Poll != nil && s.Trigger.Poll.Connection != "" {
		out = append(out, s.Trigger.Poll.Connection)
	}
	for _, a := range s.Actions {
		if a.Connection != "" {
			out = append(out, a.Connection)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Inputs evaluates the call's inputs in env: {"trigger": {"item": any, "time": string (RFC 3339
// in the schedule's zone, "" when the run has no slot)}, "actions": {"<id>": {"output": any}}}.
// The flow checks their types when it runs. Values without templates are shared: the caller
// must not modify them.
func (c *Call) Inputs(ev *flows.Evaluator, env map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(c.Input))
	for _, name := range slices.Sorted(maps.Keys(c.Input)) {
		v, err := ev.Eval(c.Input[name], env)
		if err != nil {
			return nil, fmt.Errorf("input %s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}
