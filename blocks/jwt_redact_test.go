package blocks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/engine"
)

// TestSignedJWTRedacted: a JWT signed by jwt_sign is a credential (a bearer assertion, good
// until its exp) but was shown as it was in the trace, the outputs shown and errors: run --trace
// of an exchange flow printed it. Its value is now a secret of the run from the moment it is made.
func TestSignedJWTRedacted(t *testing.T) {
	a := ctlLoad(t, `app: demo
flows:
  sign:
    steps:
      - id: assertion
        set: {jwt: "{{ jwt_sign('HS256', 'shared-secret', {sub: 'svc', aud: 'https://token.example'}) }}"}
      - id: form
        set: {body: "grant_type=jwt-bearer&assertion={{ vars.jwt }}"}
      - id: boom
        fail: "refused {{ vars.jwt }}"
`)
	res, errText := a.run("sign", engine.Options{})
	if res == nil || len(res.Trace) < 2 {
		t.Fatalf("run: %v, %s", res, errText)
	}
	jwt, _ := res.Trace[0].Output.(map[string]any)["jwt"].(string)
	if jwt != "[redacted]" {
		t.Errorf("trace of set shows the signed JWT as %q, want [redacted]", jwt)
	}
	trace, _ := json.Marshal(res.Trace)
	if strings.Count(string(trace), "eyJ") > 0 {
		t.Errorf("trace holds a JWT: %s", trace)
	}
	if strings.Contains(errText, "eyJ") || !strings.Contains(errText, "refused [redacted]") {
		t.Errorf("error = %q, want the JWT redacted", errText)
	}
}
