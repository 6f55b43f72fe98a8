package flows

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds one app file; larger files are refused before parsing.
const MaxFileSize = 4 << 20

var appKeyRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// LoadApp reads the app in dir: app.yaml and every other *.yaml file beside it, which may hold
// more flows under a top-level flows: key. Every problem is returned in one ErrorList.
func LoadApp(dir string) (*App, error) {
	file := filepath.Join(dir, "app.yaml")
	src, err := readFile(file)
	if err != nil {
		return nil, err
	}
	app, err := Parse(file, src)
	if app == nil {
		return nil, err
	}
	app.Dir = dir
	var errs ErrorList
	errs.Append(Pos{File: file}, err)
	extra, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sort.Strings(extra)
	for _, f := range extra {
		if filepath.Base(f) == "app.yaml" {
			continue
		}
		src, err := readFile(f)
		if err != nil {
			errs.Append(Pos{File: f}, err)
			continue
		}
		errs.Append(Pos{File: f}, ParseFlowFile(app, f, src))
	}
	return app, errs.Err()
}

// ParseDoc parses src into its document's root node, as every YAML file of patchbay is read
// (apps, flow files, automations): one document (a second one, after ---, would be ignored by
// yaml.Unmarshal, and what it holds silently lost), not empty, its aliases within
// MaxExpandedNodes. Its errors are an ErrorList.
func ParseDoc(file string, src []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, ErrorList{syntaxError(file, src, err)}
	}
	if emptyDoc(&doc) {
		return nil, ErrorList{{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "file is empty"}}
	}
	if err := checkAliases(file, doc.Content[0]); err != nil {
		return nil, ErrorList{err}
	}
	for {
		var next yaml.Node
		err := dec.Decode(&next)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, ErrorList{syntaxError(file, src, err)}
		}
		if !emptyDoc(&next) {
			return nil, ErrorList{{Pos: NodePos(file, next.Content[0]), Msg: "a second YAML document: a file holds one (remove the --- before this line)"}}
		}
	}
	return doc.Content[0], nil
}

// syntaxError is SyntaxError for src. yaml reports bytes that are not UTF-8, and characters YAML
// does not allow, without a line: such an error is placed at the first of them.
func syntaxError(file string, src []byte, err error) *Error {
	e := SyntaxError(file, err)
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil && m[1] != "" {
		return e
	}
	if p, ok := firstBadChar(file, src); ok {
		e.Pos = p
	}
	return e
}

// firstBadChar finds the first byte of src that is not UTF-8, or the first character YAML does
// not allow (control characters), as yaml's reader checks them. UTF-16 (which starts with its
// byte order mark) is not checked.
func firstBadChar(file string, src []byte) (Pos, bool) {
	if bytes.HasPrefix(src, []byte{0xFF, 0xFE}) || bytes.HasPrefix(src, []byte{0xFE, 0xFF}) {
		return Pos{}, false
	}
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	line, col := 1, 1
	for len(src) > 0 {
		r, size := utf8.DecodeRune(src)
		if r == utf8.RuneError && size <= 1 || !yamlChar(r) {
			return Pos{File: file, Line: line, Col: col}, true
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		src = src[size:]
	}
	return Pos{}, false
}

// yamlChar reports whether YAML allows r in a file (YAML 1.2, c-printable).
func yamlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0x7E || r == 0x85 ||
		r >= 0xA0 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// emptyDoc reports whether doc holds nothing: no node, or an empty plain scalar (a lone ---).
func emptyDoc(doc *yaml.Node) bool {
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return true
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Style == 0
}

var appFields = []string{"app", "name", "version", "description", "docs_url", "base_url", "connection", "flows"}

// Parse parses app.yaml's bytes. It returns the app as far as it could be read together with
// every problem found (an ErrorList); the app is nil only when the file is not YAML at all.
func Parse(file string, src []byte) (*App, error) {
	root, err := ParseDoc(file, src)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	app := &App{File: file, Files: map[string][]byte{file: src}, Pos: NodePos(file, root)}
	fields := Fields(file, root, &errs, "app", appFields...)
	if f, ok := fields["app"]; ok {
		app.Key = String(file, f.Value, &errs, "app")
		if app.Key != "" && !appKeyRE.MatchString(app.Key) {
			errs.Addf(NodePos(file, f.Value), "app key %q must be letters and digits, starting with a letter", app.Key)
		}
	} else if root.Kind == yaml.MappingNode {
		errs.Addf(app.Pos, "app: the app's key is missing (app: myapp)")
	}
	if f, ok := fields["name"]; ok {
		app.Name = String(file, f.Value, &errs, "name")
	} else {
		app.Name = app.Key
	}
	if f, ok := fields["version"]; ok {
		before := len(errs)
		if app.Version = Int(file, f.Value, &errs, "version"); app.Version < 1 && len(errs) == before {
			errs.Addf(NodePos(file, f.Value), "version must be positive")
		}
	}
	app.Description = String(file, fields["description"].Value, &errs, "description")
	app.DocsURL = String(file, fields["docs_url"].Value, &errs, "docs_url")
	scope := NewScope(file, src, &errs, ConnectionNames...)
	if f, ok := fields["base_url"]; ok {
		app.BaseURL = stringTemplate(scope, f.Value, "base_url")
	}
	if f, ok := fields["connection"]; ok {
		app.Connection = parseConnection(scope, f.Value)
	}
	if f, ok := fields["flows"]; ok {
		parseFlows(app, file, src, f.Value, &errs)
	}
	return app, errs.Err()
}

// stringTemplate compiles a field that must be a string with templates; a value of another kind
// is reported once, as the field's, and yields nil.
func stringTemplate(s *Scope, n *yaml.Node, what string) *Value {
	before := len(*s.Errs)
	String(s.File, n, s.Errs, what)
	if len(*s.Errs) > before {
		return nil
	}
	return s.Compile(n)
}

// ParseFlowFile adds the flows of an extra file (a top-level flows: mapping) to app.
func ParseFlowFile(app *App, file string, src []byte) error {
	root, err := ParseDoc(file, src)
	if err != nil {
		return err
	}
	app.Files[file] = src
	var errs ErrorList
	fields := Fields(file, root, &errs, "flow file", "flows", "description")
	if f, ok := fields["flows"]; ok {
		parseFlows(app, file, src, f.Value, &errs)
	} else if root.Kind == yaml.MappingNode {
		errs.Addf(NodePos(file, root), "flow file: no flows: mapping")
	}
	return errs.Err()
}

func parseFlows(app *App, file string, src []byte, n *yaml.Node, errs *ErrorList) {
	for _, f := range Pairs(file, n, errs, "flows") {
		name := f.Key.Value
		if !IsIdent(name) {
			errs.Addf(NodePos(file, f.Key), "flow name %q must be letters, digits and underscores", name)
			continue
		}
		if prev := app.Flow(name); prev != nil {
			errs.Addf(NodePos(file, f.Key), "flow %q is defined twice (first at %s)", name, prev.Pos)
			continue
		}
		app.Flows = append(app.Flows, parseFlow(file, src, name, f, errs))
	}
}

var flowFields = []string{"kind", "description", "inputs", "steps", "output", "dedupe"}

func parseFlow(file string, src []byte, name string, kv Field, errs *ErrorList) *Flow {
	fl := &Flow{Name: name, File: file, Src: src, Pos: NodePos(file, kv.Key), Kind: KindAction}
	if slices.Contains(PrivateFlowNames, name) {
		fl.Kind = KindPrivate
	}
	fields := Fields(file, kv.Value, errs, "flow "+name, flowFields...)
	if f, ok := fields["kind"]; ok {
		k := String(file, f.Value, errs, "kind")
		kinds := []string{KindAction, KindTrigger, KindPrivate}
		if k != "" && !slices.Contains(kinds, k) {
			errs.Addf(NodePos(file, f.Value), "kind %q is not one of %s%s", k, strings.Join(kinds, ", "), Suggest(k, kinds))
		} else if k != "" {
			fl.Kind = k
		}
	}
	fl.Description = String(file, fields["description"].Value, errs, "description")
	fl.Inputs = parseInputs(file, fields["inputs"].Value, errs)
	if f, ok := fields["steps"]; ok {
		fl.Steps = ParseSteps(file, src, f.Value, errs)
	}
	fl.Output = fields["output"].Value
	if f, ok := fields["dedupe"]; ok {
		fl.Dedupe = String(file, f.Value, errs, "dedupe")
		if fl.Kind != KindTrigger {
			errs.Addf(NodePos(file, f.Key), "dedupe is for triggers; flow %q is %s %s flow (set kind: trigger)", name, article(fl.Kind), fl.Kind)
		}
	}
	if _, ok := fields["steps"]; !ok && fl.Output == nil && kv.Value.Kind == yaml.MappingNode {
		errs.Addf(fl.Pos, "flow %q has no steps and no output", name)
	}
	return fl
}

var inputFields = []string{"type", "required", "default", "description", "sensitive", "label"}

func parseInputs(file string, n *yaml.Node, errs *ErrorList) []*Input {
	var out []*Input
	for _, f := range Pairs(file, n, errs, "inputs") {
		in := &Input{Name: f.Key.Value, Type: "string", Pos: NodePos(file, f.Key)}
		if !IsIdent(in.Name) {
			errs.Addf(in.Pos, "input name %q must be letters, digits and underscores", in.Name)
		}
		fields := Fields(file, f.Value, errs, "input "+in.Name, inputFields...)
		if t, ok := fields["type"]; ok {
			in.Type = String(file, t.Value, errs, "type")
			if !slices.Contains(InputTypes, in.Type) {
				errs.Addf(NodePos(file, t.Value), "type %q is not one of %s%s", in.Type, strings.Join(InputTypes, ", "), Suggest(in.Type, InputTypes))
				in.Type = "string"
			}
		}
		in.Required = Bool(file, fields["required"].Value, errs, "required")
		in.Sensitive = Bool(file, fields["sensitive"].Value, errs, "sensitive")
		in.Description = String(file, fields["description"].Value, errs, "description")
		if in.Label = String(file, fields["label"].Value, errs, "label"); in.Label == "" {
			in.Label = in.Name
		}
		if d, ok := fields["default"]; ok {
			var v any
			if err := d.Value.Decode(&v); err != nil {
				errs.Addf(NodePos(file, d.Value), "default: %v", err)
			} else if cv, err := CheckInput(in, v); err != nil {
				errs.Addf(NodePos(file, d.Value), "default: %v", err)
			} else {
				in.Default = cv
			}
		}
		out = append(out, in)
	}
	return out
}

var stepFields = []string{"id", "description", "when", "retry", "timeout", "on_error"}

// StepFields are the keys every step may have besides its block.
func StepFields() []string { return append([]string(nil), stepFields...) }

// ParseSteps reads a list of steps (a flow's, or a block's nested steps).
func ParseSteps(file string, src []byte, n *yaml.Node, errs *ErrorList) []*Step {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		errs.Addf(NodePos(file, n), "steps must be a list, found %s", Describe(n))
		return nil
	}
	out := make([]*Step, 0, len(n.Content))
	for _, sn := range n.Content {
		if s := parseStep(file, src, sn, errs); s != nil {
			out = append(out, s)
		}
	}
	return out
}

func parseStep(file string, src []byte, n *yaml.Node, errs *ErrorList) *Step {
	st := &Step{File: file, Src: src, Pos: NodePos(file, n), OnError: "fail"}
	pairs := Pairs(file, n, errs, "step")
	if pairs == nil {
		return nil
	}
	for _, f := range pairs {
		switch f.Key.Value {
		case "id":
			st.IDNode = f.Value
			st.ID = String(file, f.Value, errs, "id")
			if st.ID != "" && !IsIdent(st.ID) {
				errs.Addf(NodePos(file, f.Value), "step id %q must be letters, digits and underscores, starting with a letter", st.ID)
			}
		case "description":
			st.Description = String(file, f.Value, errs, "description")
		case "when":
			st.When = f.Value
		case "timeout":
			st.Timeout = Duration(file, f.Value, errs, "timeout")
		case "on_error":
			before := len(*errs)
			st.OnError = String(file, f.Value, errs, "on_error")
			if st.OnError != "fail" && st.OnError != "continue" && len(*errs) == before {
				errs.Addf(NodePos(file, f.Value), "on_error must be fail or continue, found %q", st.OnError)
			}
		case "retry":
			st.Retry = ParseRetry(file, f.Value, errs)
		default:
			st.Blocks = append(st.Blocks, f)
		}
	}
	if len(st.Blocks) == 0 {
		errs.Addf(st.Pos, "step has no block (a key such as call_api, set or if)")
		return nil
	}
	if st.ID == "" {
		st.ID = fmt.Sprintf("%s@%d", st.Blocks[0].Key.Value, n.Line)
	}
	return st
}

var retryFields = []string{"max_attempts", "backoff", "max_backoff", "jitter", "on"}

var retryClasses = []string{"timeout", "network", "any", "1xx", "2xx", "3xx", "4xx", "5xx"}

// ParseRetry reads a retry policy (a step's; an automation's runs use the same shape), with the
// defaults of Retry for the keys it leaves out.
func ParseRetry(file string, n *yaml.Node, errs *ErrorList) *Retry {
	r := &Retry{MaxAttempts: 3, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff, Jitter: true}
	fields := Fields(file, n, errs, "retry", retryFields...)
	if f, ok := fields["max_attempts"]; ok {
		before := len(*errs)
		if r.MaxAttempts = Int(file, f.Value, errs, "max_attempts"); (r.MaxAttempts < 1 || r.MaxAttempts > MaxRetryAttempts) && len(*errs) == before {
			errs.Addf(NodePos(file, f.Value), "max_attempts must be between 1 and %d", MaxRetryAttempts)
		}
	}
	if f, ok := fields["backoff"]; ok {
		r.Backoff = Duration(file, f.Value, errs, "backoff")
	}
	if f, ok := fields["max_backoff"]; ok {
		r.MaxBackoff = Duration(file, f.Value, errs, "max_backoff")
	}
	if f, ok := fields["jitter"]; ok {
		r.Jitter = Bool(file, f.Value, errs, "jitter")
	}
	if f, ok := fields["on"]; ok {
		for i, s := range Strings(file, f.Value, errs, "on") {
			if !validRetryOn(s) {
				pos := NodePos(file, f.Value)
				if f.Value.Kind == yaml.SequenceNode {
					pos = NodePos(file, f.Value.Content[i])
				}
				errs.Addf(pos, "retry on %q: want a status code (429), a class (5xx), timeout, network or any%s", s, Suggest(s, retryClasses))
				continue
			}
			r.On = append(r.On, s)
		}
	} else {
		r.On = []string{"429", "5xx", "timeout", "network"}
	}
	return r
}

func validRetryOn(s string) bool {
	if slices.Contains(retryClasses, s) {
		return true
	}
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' {
		return true
	}
	return false
}

// Retry defaults and bounds.
const (
	DefaultBackoff    = 1_000_000_000  // 1s
	DefaultMaxBackoff = 30_000_000_000 // 30s
	MaxRetryAttempts  = 20
)
