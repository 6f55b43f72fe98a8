package flows

import (
	"strings"
	"testing"
)

// TestReferenceBlocks: the reference lists each block with every key of its body (type,
// default, required), what its body is, and its examples. The committed reference is
// generated and compared by blocks' TestReference, which has the registry.
func TestReferenceBlocks(t *testing.T) {
	got := Reference([]BlockDoc{{
		Kind:    "upper",
		Summary: "outputs a text in capital letters",
		Body:    map[string]any{"type": "object"},
		Doc:     "A string body is the text.",
		Fields: []FieldDoc{
			{Key: "text", Type: "string", Required: true, Doc: "The text."},
			{Key: "mode", Type: "`a`, `b`", Default: "a", Doc: "A mode | another."},
		},
		Examples: []string{"- upper: hello\n"},
	}})
	for _, want := range []string{
		"| [`upper`](#upper) | outputs a text in capital letters |\n",
		"### upper\n\n`upper` outputs a text in capital letters. A string body is the text.\n\n",
		"| key | type | default | description |\n| --- | --- | --- | --- |\n" +
			"| `text` | string |  | **Required.** The text. |\n" +
			"| `mode` | `a`, `b` | `a` | A mode \\| another. |\n\n",
		"```yaml\n- upper: hello\n```\n\n## Templates",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Reference does not contain\n%s", want)
		}
	}
}
