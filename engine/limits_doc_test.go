package engine_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestLimitsDocumented: the docs state the default limits the engine has.
func TestLimitsDocumented(t *testing.T) {
	d := engine.DefaultLimits
	thousands := func(n int64) string { return fmt.Sprintf("%d,%03d", n/1000, n%1000) }
	want := []string{
		thousands(d.MaxSteps) + " steps",
		thousands(int64(d.MaxIterations)) + " items in one loop",
		fmt.Sprintf("nested %d deep", d.MaxDepth),
		fmt.Sprintf("a %d MiB response body", d.MaxResponseBytes>>20),
		fmt.Sprintf("%d MiB held at once", d.MaxOutputBytes>>20),
		fmt.Sprintf("cut at %d KiB", d.MaxTraceValueBytes>>10),
	}
	for _, file := range []string{"../docs/app-reference.md", "../docs/cli.md"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(data)), " ") // lines wrap anywhere
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not say %q", file, w)
			}
		}
	}
}
