package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// baseURLBlock outputs the run's base URL, as call_api would resolve it.
type baseURLBlock struct{}

func (baseURLBlock) Kind() string { return "base_url" }
func (baseURLBlock) Run(ctx context.Context, st *engine.State) (any, error) {
	return st.BaseURL()
}

func TestOptionsBaseURL(t *testing.T) {
	dir := t.TempDir()
	src := "app: demo\nbase_url: https://api.example.com/v1\nflows:\n  f:\n    steps:\n      - id: u\n        base_url: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	reg := engine.NewRegistry()
	if err := reg.Register(engine.BlockType{Kind: "base_url", Spec: engine.Spec{Map: &engine.Template}, Compile: func(*engine.Compiler, *engine.Body) (engine.Block, error) { return baseURLBlock{}, nil }}); err != nil {
		t.Fatal(err)
	}
	prog, err := engine.Load(reg, dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, override, want string
	}{
		{"app's", "", "https://api.example.com/v1"},
		{"overridden", "http://127.0.0.1:9999", "http://127.0.0.1:9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := prog.Run(context.Background(), "f", engine.Options{BaseURL: tt.override})
			if err != nil {
				t.Fatal(err)
			}
			if res.Output != tt.want {
				t.Errorf("BaseURL() = %v, want %v", res.Output, tt.want)
			}
		})
	}
}
