package blocks_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// ctlLogger returns a logger writing text lines without times into buf, at level and above.
func ctlLogger(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
}

func TestLog(t *testing.T) {
	const src = `app: t
flows:
  main:
    inputs:
      level: {type: string, default: warn}
      token: {type: string, sensitive: true}
    steps:
      - id: plain
        log: "hello {{ 1 + 1 }}"
      - log:
          message: "calling with token={{ input.token }}"
          level: "{{ input.level }}"
          fields: {n: 3, auth: "Bearer {{ input.token }}", list: ["{{ input.token }}"]}
      - log: {message: hidden, level: debug}
    output: "{{ steps.plain }}"
`
	a := ctlLoad(t, src)
	var buf bytes.Buffer
	res, err := a.run("main", engine.Options{
		Input:  map[string]any{"token": "s3cr3t-token"},
		Logger: ctlLogger(&buf, slog.LevelInfo),
	})
	if err != "" {
		t.Fatal(err)
	}
	want := `level=INFO msg="hello 2"
level=WARN msg="calling with token=[redacted]" n=3 auth="Bearer [redacted]" list=[[redacted]]
`
	if got := buf.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if res.Output != "hello 2" {
		t.Errorf("output = %#v, want the message", res.Output)
	}
	if got, want := res.Trace[1].Output, "calling with token=[redacted]"; got != want {
		t.Errorf("trace output = %#v, want %#v", got, want)
	}

	_, err = a.run("main", engine.Options{Input: map[string]any{"level": "loud"}})
	if want := `app.yaml:10:9: step "log@10" (log): level "loud" is not one of debug, info, warn, error`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
}

func TestLogErrors(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - log: {message: x, level: warnn}
      - log: {level: info, field: {}}
`
	want := `app.yaml:5:34: log: level "warnn" is not one of debug, info, warn, error (did you mean "warn"?)
app.yaml:6:14: log: message is missing (message: "...")
app.yaml:6:28: log: unknown field "field" (did you mean "fields"?)`
	if _, err := ctlLoadApp(t, src); err != want {
		t.Errorf("load error:\n%s\nwant:\n%s", err, want)
	}
}
