package connections

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/patchbay/patchbay/flows"
)

// tokenKeys are the fields of an exchange or refresh flow's output that make the token; the
// rest is kept as Token.Extra.
var tokenKeys = map[string]bool{
	"access_token": true, "refresh_token": true, "token_type": true, "scope": true,
	"expires_in": true, "expires_at": true, "token_secret": true,
}

// errNoAccessToken is an exchange or refresh whose output has no access_token.
var errNoAccessToken = errors.New("token response has no access_token")

// tokenFromOutput reads a private flow's output into a Token obtained at now. A token without
// a stated expiry gets assume (when not zero) as its lifetime.
func tokenFromOutput(out any, now time.Time, assume time.Duration) (*Token, error) {
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("token flow output must be a mapping with access_token, found %T", out)
	}
	at := flows.Stringify(m["access_token"])
	if at == "" {
		return nil, errNoAccessToken
	}
	t := &Token{
		AccessToken:  Secret(at),
		RefreshToken: Secret(flows.Stringify(m["refresh_token"])),
		TokenSecret:  Secret(flows.Stringify(m["token_secret"])),
		TokenType:    flows.Stringify(m["token_type"]),
		Scope:        flows.Stringify(m["scope"]),
		ObtainedAt:   now,
	}
	// A positive expires_in wins over expires_at: it is counted on the manager's clock from now,
	// as ObtainedAt is, while an expires_at (oauth2_token outputs both) was stamped by another
	// clock, to the second. Mixing the two would skew the lifetime refreshDue halves.
	if v := m["expires_in"]; v != nil && v != "" {
		secs, err := number(v)
		if err != nil {
			return nil, fmt.Errorf("token expires_in: %w", err)
		}
		if secs > 0 {
			t.Expiry = now.Add(time.Duration(secs * float64(time.Second)))
		}
	}
	if v := m["expires_at"]; t.Expiry.IsZero() && v != nil && v != "" {
		exp, err := parseExpiresAt(v)
		if err != nil {
			return nil, err
		}
		t.Expiry = exp
	}
	if t.Expiry.IsZero() && assume > 0 {
		t.Expiry = now.Add(assume)
	}
	for k, v := range m {
		if !tokenKeys[k] {
			if t.Extra == nil {
				t.Extra = map[string]any{}
			}
			t.Extra[k] = v
		}
	}
	return t, nil
}

func number(v any) (float64, error) {
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case float64:
		return n, nil
	case json.Number:
		return n.Float64()
	case string:
		return strconv.ParseFloat(n, 64)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

func parseExpiresAt(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		if t, err := time.Parse(time.RFC3339, x); err == nil {
			return t, nil
		}
		if n, err := strconv.ParseFloat(x, 64); err == nil {
			return time.Unix(int64(n), 0), nil
		}
		return time.Time{}, fmt.Errorf("token expires_at %q is neither RFC 3339 nor seconds since 1970", x)
	}
	n, err := number(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("token expires_at: %w", err)
	}
	return time.Unix(int64(n), 0), nil
}

// refreshDue reports whether t should be refreshed at now: it expires within before, a margin
// capped at half of its lifetime (so a 60-second token is refreshed after 30 s, not always).
// A token with no expiry is never due: it is refreshed only after a rejected request.
func refreshDue(t *Token, now time.Time, before time.Duration) bool {
	if t == nil || t.Expiry.IsZero() {
		return false
	}
	margin := before
	if !t.ObtainedAt.IsZero() {
		if half := t.Expiry.Sub(t.ObtainedAt) / 2; half < margin {
			margin = half
		}
	}
	return !now.Before(t.Expiry.Add(-margin))
}
