package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// credentialBlock does what a Conn does with a token refreshed during a run: it tells the run
// with engine.AddSecrets, then outputs (or fails with) a text that shows it.
type credentialBlock struct{ fail bool }

const lateSecret = "tok-refreshed-mid-run"

func (credentialBlock) Kind() string { return "credential" }
func (b credentialBlock) Run(ctx context.Context, st *engine.State) (any, error) {
	engine.AddSecrets(ctx, lateSecret)
	engine.AddSecrets(ctx, lateSecret) // known already: nothing changes
	if b.fail {
		return nil, errors.New("GET https://api.example.com/x?session=" + lateSecret + ": 500")
	}
	return map[string]any{"url": "https://api.example.com/x?session=" + lateSecret}, nil
}

func TestAddSecrets(t *testing.T) {
	dir := t.TempDir()
	src := "app: demo\nflows:\n  ok:\n    steps:\n      - id: c\n        credential: {}\n  bad:\n    steps:\n      - id: c\n        credential: {fail: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	err := reg.Register(engine.BlockType{Kind: "credential", Spec: engine.Spec{Map: &engine.Template}, Compile: func(_ *engine.Compiler, n *engine.Body) (engine.Block, error) {
		var b struct{ Fail bool }
		n.Node.Decode(&b)
		return credentialBlock{fail: b.Fail}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := engine.Load(reg, dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		flow    string
		wantErr string
	}{
		{flow: "ok"},
		{flow: "bad", wantErr: `step "c" (credential): GET https://api.example.com/x?session=[redacted]: 500`},
	}
	for _, tt := range tests {
		t.Run(tt.flow, func(t *testing.T) {
			res, err := prog.Run(context.Background(), tt.flow, engine.Options{Trace: true})
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.HasSuffix(err.Error(), tt.wantErr)) {
				t.Errorf("Run: %v, want an error ending in %s", err, tt.wantErr)
			}
			trace, _ := json.Marshal(res.Trace)
			if strings.Contains(string(trace), lateSecret) || !strings.Contains(string(trace), "[redacted]") {
				t.Errorf("trace = %s, want the secret redacted", trace)
			}
			if got := res.Redactor.String(lateSecret); got != engine.Redacted {
				t.Errorf("Result.Redactor.String(secret) = %q, want %q", got, engine.Redacted)
			}
		})
	}
	engine.AddSecrets(context.Background(), lateSecret) // outside a run: nothing to do, no panic
}
