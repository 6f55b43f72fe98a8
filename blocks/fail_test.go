package blocks_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

func TestFail(t *testing.T) {
	const src = `app: t
flows:
  scalar:
    inputs:
      name: {type: string}
    steps:
      - id: nope
        fail: "no task named {{ input.name }}"
  coded:
    steps:
      - id: quota
        retry: {on: any}
        fail: {message: quota exceeded, code: "{{ 'Q' + string(42) }}"}
  continued:
    steps:
      - id: quota
        on_error: continue
        fail: {message: quota exceeded, code: Q42}
    output: "{{ steps.quota.error }}"
`
	a := ctlLoad(t, src)
	res, err := a.run("scalar", engine.Options{Input: map[string]any{"name": "x"}})
	if want := `app.yaml:7:9: step "nope" (fail): failed: no task named x`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	res, err = a.run("coded", engine.Options{})
	if want := `app.yaml:11:9: step "quota" (fail): failed: quota exceeded (code Q42)`; err != want {
		t.Errorf("error:\n%s\nwant:\n%s", err, want)
	}
	if got := res.Trace[0].Attempts; got != 1 {
		t.Errorf("a fail was attempted %d times, want once despite retry: {on: any}", got)
	}
	_, rerr := a.prog.Run(t.Context(), "coded", engine.Options{})
	var fe *engine.FailError
	if !errors.As(rerr, &fe) || fe.Code != "Q42" || fe.Message != "quota exceeded" {
		t.Errorf("error %v: want an *engine.FailError with its code and message", rerr)
	}
	res, err = a.run("continued", engine.Options{})
	if err != "" {
		t.Fatal(err)
	}
	want := map[string]any{"message": "quota exceeded", "code": "Q42", "class": "error"}
	if !reflect.DeepEqual(res.Output, want) {
		t.Errorf("output = %#v, want %#v", res.Output, want)
	}
}

func TestFailErrors(t *testing.T) {
	const src = `app: t
flows:
  main:
    steps:
      - fail: {code: X}
      - fail: {mesage: x}
      - fail:
`
	want := `app.yaml:5:15: fail: message is missing (message: "...")
app.yaml:6:15: fail: message is missing (message: "...")
app.yaml:6:16: fail: unknown field "mesage" (did you mean "message"?)
app.yaml:7:14: fail must be a mapping, found nothing`
	if _, err := ctlLoadApp(t, src); err != want {
		t.Errorf("load error:\n%s\nwant:\n%s", err, want)
	}
}
