package blocks

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"go.yaml.in/yaml/v3"
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
	Compile: compileLog,
}

// LogLevels are the levels a log block may use.
var LogLevels = []string{"debug", "info", "warn", "error"}

func compileLog(c *engine.Compiler, body *yaml.Node) (engine.Block, error) {
	b := &Log{}
	if body != nil && body.Kind == yaml.ScalarNode && body.Tag != "!!null" {
		b.message = c.Template(body)
		return b, nil
	}
	fields := c.Fields(body, "log", "message", "level", "fields")
	if f, ok := fields["message"]; ok {
		b.message = c.Template(f.Value)
	} else {
		missingField(c, body, "log", "message", `message: "..."`)
	}
	if f, ok := fields["level"]; ok {
		b.level = c.Template(f.Value)
		if b.level.IsConst() {
			if _, err := logLevel(b.level.ConstValue()); err != nil {
				c.Errorf(f.Value, "log: %v", err)
			}
		}
	}
	if f, ok := fields["fields"]; ok {
		for _, p := range flows.Pairs(c.File(), f.Value, c.Errs(), "log: fields") {
			b.keys = append(b.keys, p.Key.Value)
			b.fields = append(b.fields, c.Template(p.Value))
		}
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
