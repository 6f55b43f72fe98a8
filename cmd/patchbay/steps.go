package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/patchbay/patchbay/engine"
)

// maxTraceLines bounds one value printed by --trace; --json-trace prints values as the engine
// keeps them (cut at engine.Limits.MaxTraceValueBytes).
const maxTraceLines = 40

// stepPrinter prints each step as it ends. Steps of a loop with concurrency end on several
// goroutines at once, so writes are serialized.
type stepPrinter struct {
	w     io.Writer
	trace bool // values under each line
	json  bool // one JSON object per step instead
	ascii bool // no ✓ and ✗
	// origins is --map-origin: a step's requests to a mapped origin say where they were sent.
	origins *originMap

	mu sync.Mutex
}

// jsonStep is a step as --json-trace prints it: the engine's trace plus the step's position.
type jsonStep struct {
	*engine.StepTrace
	Pos    string   `json:"pos"`
	SentTo []string `json:"sent_to,omitempty"`
}

func (p *stepPrinter) step(tr *engine.StepTrace) {
	var b bytes.Buffer
	if p.json {
		data, err := json.Marshal(jsonStep{tr, tr.Pos.String(), p.sentTo(tr)})
		if err != nil {
			data, _ = json.Marshal(map[string]string{"path": tr.Path, "error": "trace not printable: " + err.Error()})
		}
		b.Write(data)
		b.WriteByte('\n')
	} else {
		p.line(&b, tr)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.w.Write(b.Bytes())
}

// line writes "✓ path  block  142ms", indented by the step's depth, and with --trace its input
// and output below.
func (p *stepPrinter) line(b *bytes.Buffer, tr *engine.StepTrace) {
	indent := strings.Repeat("  ", tr.Depth)
	mark, detail := p.mark(tr.Status), duration(tr.Duration)
	switch tr.Status {
	case engine.StatusFailed:
		detail = oneLine(tr.Error)
	case engine.StatusSkipped:
		detail = "skipped"
	case engine.StatusContinued:
		detail = "continued after: " + oneLine(tr.Error)
	}
	if tr.Attempts > 1 {
		detail += fmt.Sprintf(" (%d attempts)", tr.Attempts)
	}
	fmt.Fprintf(b, "%s%s %s  %s  %s\n", indent, mark, tr.Path, tr.Block, detail)
	if !p.trace {
		return
	}
	for _, kv := range []struct {
		name string
		v    any
	}{{"input", tr.Input}, {"output", tr.Output}} {
		if kv.v == nil {
			continue
		}
		fmt.Fprintf(b, "%s    %s: %s\n", indent, kv.name, traceValue(kv.v, indent+"    "))
	}
	for _, u := range p.sentTo(tr) {
		fmt.Fprintf(b, "%s    sent to: %s (--map-origin)\n", indent, u)
	}
}

// sentTo returns where --map-origin sent the step's requests: the URL of its trace input and
// of each redirect it followed (call_api's trace lists them), with the origin it was mapped to;
// nil when none was mapped.
func (p *stepPrinter) sentTo(tr *engine.StepTrace) []string {
	if p.origins == nil || len(p.origins.from) == 0 {
		return nil
	}
	var urls []string
	add := func(v any) {
		if m, ok := v.(map[string]any); ok {
			if s, ok := m["url"].(string); ok {
				if u, mapped := p.origins.mapURL(s); mapped {
					urls = append(urls, u)
				}
			}
		}
	}
	add(tr.Input)
	if in, ok := tr.Input.(map[string]any); ok {
		if hops, ok := in["redirects"].([]any); ok {
			for _, h := range hops {
				add(h)
			}
		}
	}
	return urls
}

func (p *stepPrinter) mark(status string) string {
	marks := map[string][2]string{
		engine.StatusOK:        {"✓", "ok"},
		engine.StatusFailed:    {"✗", "FAIL"},
		engine.StatusSkipped:   {"-", "skip"},
		engine.StatusContinued: {"!", "cont"},
	}
	m, ok := marks[status]
	if !ok {
		return status
	}
	if p.ascii {
		return m[1]
	}
	return m[0]
}

// traceValue formats v as indented JSON whose lines after the first start with prefix, cut
// after maxTraceLines lines.
func traceValue(v any, prefix string) string {
	data, err := json.MarshalIndent(v, prefix, "  ")
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > maxTraceLines {
		more := len(lines) - maxTraceLines
		lines = append(lines[:maxTraceLines], fmt.Sprintf("%s... (%d more lines; --json-trace prints all)", prefix, more))
	}
	return strings.Join(lines, "\n")
}

// duration rounds d for a step line: 85µs, 142ms, 1.25s.
func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

// maxDetail bounds an error on a step line; the full error ends the run's output.
const maxDetail = 160

// oneLine folds an error message onto one line and shortens it.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxDetail {
		s = string(r[:maxDetail]) + "…"
	}
	return s
}
