package blocks

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
)

// Log writes a line to the run's logger:
//
//	log: "fetched {{ len(steps.list.body.data) }} tasks"
//	log:
//	  message: "task created"
//	  level: warn                 # debug, info (default), warn or error
//	  fields: {task: "{{ steps.create.body.gid }}"}
//
// The message and the fields are redacted before they are written: a secret never reaches the
// log. The output is the redacted message.
type Log struct {
	message *flows.Value
	level   *flows.Value // nil: info
	keys    []string
	fields  []*flows.Value
}

var _ engine.Block = (*Log)(nil)

// LogType is the log block.
var LogType = engine.BlockType{
	Kind:    "log",
	Summary: "writes a message with fields to the run's log, secrets redacted",
	Spec: engine.Spec{
		Short: "message",
		Doc:   "The message and the fields are redacted before they are written: a secret never reaches the log. The output is the redacted message.",
		Fields: []engine.Field{
			{Name: "message", Type: engine.String, Required: true, Missing: `message: "..."`, Doc: "The line to log; it may hold templates."},
			{Name: "level", Type: engine.EnumFold(LogLevels...), Default: "info", Doc: "The level, in any case."},
			{Name: "fields", Type: engine.Mapping, Const: true, Doc: "Attributes of the line, by name; values may hold templates."},
		},
		Examples: []string{`- log: "starting"`, `- log:
    message: "task created"
    level: warn
    fields: {app: "{{ app.name }}"}`},
	},
	Compile: compileLog,
}

// LogLevels are the levels a log block may use.
var LogLevels = []string{"debug", "info", "warn", "error"}

func compileLog(c *engine.Compiler, in *engine.Body) (engine.Block, error) {
	b := &Log{message: c.Template(in.Value("message")), level: c.Template(in.Value("level"))}
	for _, p := range flows.Pairs(c.File(), in.Value("fields"), c.Errs(), "log: fields") {
		b.keys = append(b.keys, p.Key.Value)
		b.fields = append(b.fields, c.Template(p.Value))
	}
	return b, nil
}

func logLevel(v any) (slog.Level, error) {
	switch s := flows.Stringify(v); strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	default:
		return 0, fmt.Errorf("level %q is not one of %s%s", s, strings.Join(LogLevels, ", "), flows.Suggest(s, LogLevels))
	}
}

// Kind returns "log".
func (b *Log) Kind() string { return "log" }

// Run evaluates the message, level and fields, redacts them and logs them.
func (b *Log) Run(ctx context.Context, st *engine.State) (any, error) {
	red := st.Redactor()
	msg, err := st.EvalString(b.message)
	if err != nil {
		return nil, err
	}
	msg = red.String(msg)
	level := slog.LevelInfo
	if b.level != nil {
		v, err := st.Eval(b.level)
		if err != nil {
			return nil, err
		}
		if level, err = logLevel(v); err != nil {
			return nil, err
		}
	}
	attrs := make([]slog.Attr, 0, len(b.keys))
	for i, k := range b.keys {
		v, err := st.Eval(b.fields[i])
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", k, err)
		}
		attrs = append(attrs, slog.Any(k, red.Value(v)))
	}
	st.Logger().LogAttrs(ctx, level, msg, attrs...)
	return msg, nil
}
