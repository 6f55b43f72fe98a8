package blocks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"github.com/patchbay/patchbay/flows"
	"golang.org/x/oauth2"
)

// The token request shapes of providers that do not follow RFC 6749 to the letter, which
// oauth2_token takes as fields (headers, body, token_in, keep, error_in, client_auth
// basic_raw and none). Each is done around golang.org/x/oauth2 rather than instead of it:
// x/oauth2 still builds the request's form and parses the answer.

var oauthBodies = []string{"form", "json"}

// oauthShape is how one token request and its answer differ from RFC 6749's.
type oauthShape struct {
	headers map[string]string // set on the request
	json    bool              // send the form as a JSON object
	rawID   *[2]string        // client_auth basic_raw: id and secret, not form-encoded
	tokenIn []string          // the path of the object in the answer that holds the token
	errorIn []string          // the path of the provider's error in the answer
	origin  string            // scheme://host of the first request: headers and rawID go there only
}

// oauthPath splits a dot path ("authed_user", "data.token", "errors.0.message").
func oauthPath(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ".")
}

// oauthCheckPath reports a dot path with an empty part.
func oauthCheckPath(key, s string) error {
	if s != "" && !flows.IsDotPath(s) {
		return fmt.Errorf("%s %q is not a dot path (a.b.c)", key, s)
	}
	return nil
}

// oauthPathField compiles a dot path field, checking a constant at load.
func oauthPathField(c *engine.Compiler, in *engine.Body, what, key string) *flows.Value {
	n := in.Value(key)
	if n == nil {
		return nil
	}
	v := c.Template(n)
	if v != nil && v.IsConst() {
		if err := oauthCheckPath(key, flows.Stringify(v.ConstValue())); err != nil {
			c.Errorf(n, "%s: %v", what, err)
		}
	}
	return v
}

// strMap evaluates a mapping of names to text, leaving out null and empty values.
func (e *oauthEval) strMap(st *engine.State, key string, v *flows.Value) map[string]string {
	x := e.value(st, key, v)
	if e.err != nil || x == nil {
		return nil
	}
	m, ok := x.(map[string]any)
	if !ok {
		e.err = fmt.Errorf("%s must be a mapping, found %s", key, oauthDescribe(x))
		return nil
	}
	out := make(map[string]string, len(m))
	for _, k := range oauthSortedKeys(m) {
		switch m[k].(type) {
		case map[string]any, []any:
			e.err = fmt.Errorf("%s.%s must be a string, number or boolean, found %s", key, k, oauthDescribe(m[k]))
			return nil
		}
		if s := flows.Stringify(m[k]); s != "" {
			out[k] = s
		}
	}
	return out
}

// prepare applies the shape to a token request x/oauth2 built: headers, the raw basic
// credentials, the form as JSON. x/oauth2 sends every token request as a form and encodes the
// client's id and secret before basic auth (RFC 6749 section 2.3.1), so these are done here.
// The headers and credentials go to the token endpoint's origin only: the first request's,
// which a redirect hop to another origin does not share.
func (s *oauthShape) prepare(req *http.Request, form url.Values) {
	origin := req.URL.Scheme + "://" + req.URL.Host
	if s.origin == "" {
		s.origin = origin
	}
	if origin == s.origin {
		for _, k := range oauthSortedKeys(s.headers) {
			req.Header.Set(k, s.headers[k])
		}
		if s.rawID != nil {
			req.SetBasicAuth(s.rawID[0], s.rawID[1])
		}
	}
	if !s.json || req.Method != http.MethodPost {
		return
	}
	obj := make(map[string]any, len(form))
	for k, vs := range form {
		if len(vs) == 1 {
			obj[k] = vs[0]
		} else {
			obj[k] = vs
		}
	}
	body, _ := json.Marshal(obj) // strings and lists of strings: cannot fail
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
}

// lift returns the answer with the object at tokenIn moved to its top level, so that x/oauth2,
// which reads access_token, refresh_token and expires_in at the top only, finds a token given
// under a nested object (a user token beside a bot token). Anything else comes back as it was.
func (s *oauthShape) lift(ctype string, body []byte) []byte {
	if len(s.tokenIn) == 0 || (ctype != "application/json" && ctype != "") {
		return body
	}
	var top map[string]any
	if json.Unmarshal(body, &top) != nil || top == nil {
		return body
	}
	parent, ok := oauthAt(top, s.tokenIn[:len(s.tokenIn)-1]).(map[string]any)
	if !ok {
		return body
	}
	leaf := s.tokenIn[len(s.tokenIn)-1]
	inner, ok := parent[leaf].(map[string]any)
	if !ok {
		return body
	}
	delete(parent, leaf) // the token is not kept twice, once as an extra value
	maps.Copy(top, inner)
	out, err := json.Marshal(top)
	if err != nil {
		return body
	}
	return out
}

// providerError reads the provider's error at errorIn in an answer: nil when there is none
// (the path is missing, null, false or empty). A text that reads as an OAuth error code is the
// code, other text the description; an object gives its code (code, type or error) and its
// description (message, error_description or description).
func (s *oauthShape) providerError(resp *oauthResponse) *oauth2.RetrieveError {
	if len(s.errorIn) == 0 || resp == nil {
		return nil
	}
	v := oauthAt(oauthParseBody(resp.ctype, resp.raw), s.errorIn)
	re := &oauth2.RetrieveError{
		Response: &http.Response{StatusCode: resp.code, Status: resp.status, Header: resp.header},
		Body:     resp.raw,
	}
	switch x := v.(type) {
	case nil, bool:
		if x != true {
			return nil
		}
		re.ErrorCode = "error"
	case string:
		if x == "" {
			return nil
		}
		if oauthCodeRE.MatchString(x) {
			re.ErrorCode = x
		} else {
			re.ErrorDescription = x
		}
	case map[string]any:
		for _, k := range []string{"code", "type", "error"} {
			if c := flows.Stringify(x[k]); c != "" && oauthCodeRE.MatchString(c) {
				re.ErrorCode = c
				break
			}
		}
		for _, k := range []string{"message", "error_description", "description"} {
			if d, ok := x[k].(string); ok && d != "" {
				re.ErrorDescription = d
				break
			}
		}
		if re.ErrorCode == "" && re.ErrorDescription == "" {
			re.ErrorDescription = oauthExcerpt("", mustJSON(x))
		}
	default:
		re.ErrorDescription = oauthExcerpt("", mustJSON(x))
	}
	return re
}

// oauthAt returns the value at path in v (mappings by key, lists by index); nil when absent.
func oauthAt(v any, path []string) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// oauthKeep is the output of a block with keep: the token's normalized fields of out, and each
// name of keep with the value at its path in the answer as the provider sent it.
func oauthKeep(out map[string]any, resp *oauthResponse, keep map[string]string) map[string]any {
	kept := map[string]any{}
	for _, k := range []string{"access_token", "refresh_token", "token_type", "scope", "expires_in", "expires_at"} {
		if v, ok := out[k]; ok {
			kept[k] = v
		}
	}
	var answer map[string]any
	if resp != nil {
		answer = oauthParseBody(resp.ctype, resp.raw)
	}
	for name, path := range keep {
		if v := oauthAt(answer, oauthPath(path)); v != nil {
			kept[name] = v
		}
	}
	return kept
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// keep's names must not be the token's own fields, which the block sets.
func oauthCheckKeep(keep map[string]string) error {
	for _, name := range oauthSortedKeys(keep) {
		if tokenOutputKeys[name] {
			return fmt.Errorf("keep.%s: the token's own field cannot be kept under its name", name)
		}
		if err := oauthCheckPath("keep."+name, keep[name]); err != nil {
			return err
		}
	}
	return nil
}

// tokenOutputKeys are the output fields the block normalizes.
var tokenOutputKeys = map[string]bool{"access_token": true, "refresh_token": true, "token_type": true, "scope": true, "expires_in": true, "expires_at": true}
