package blocks

import (
	"bytes"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/url"
	"regexp"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"golang.org/x/oauth2"
)

// The errors of oauth2_token: what a token endpoint's refusal, or an answer that is no token,
// says to the run, and TokenErrorCode for callers that tell a revoked grant from a failure
// that passes.

// oauthTokenError is a token request the endpoint refused or answered with something other
// than a token: a message fit to show (no body beyond a short redacted excerpt) over the error
// of x/oauth2, a *oauth2.RetrieveError when the endpoint sent an error response.
type oauthTokenError struct {
	msg string
	err error
}

func (e *oauthTokenError) Error() string { return "token request: " + e.msg }

func (e *oauthTokenError) Unwrap() error { return e.err }

// withoutQuery returns err with the query left out of the URL a *url.Error in it shows: with
// method GET, the query holds the client secret, the code or the refresh token.
func withoutQuery(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	if perr != nil {
		return ue.Err
	}
	u.RawQuery, u.User = "", nil
	return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
}

// oauthTokenErr turns an error of x/oauth2 into the step's error; resp is the last response
// the endpoint sent, nil when none came.
func oauthTokenErr(red *engine.Redactor, resp *oauthResponse, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status, ctype, body := "error response", "", re.Body
		if re.Response != nil {
			status = re.Response.Status
			ctype, _, _ = mime.ParseMediaType(re.Response.Header.Get("Content-Type"))
		}
		var msg string
		if code, desc := oauthErrorFields(re); code != "" || desc != "" {
			msg = status
			for _, s := range []string{code, oauthExcerpt("", []byte(desc))} {
				if s != "" {
					msg += ": " + s
				}
			}
		} else {
			msg = status + ": " + oauthDescribeBody(ctype, body)
		}
		return &oauthTokenError{msg: red.String(msg), err: re}
	}
	if le := (*engine.LimitError)(nil); errors.As(err, &le) && resp != nil {
		// Not x/oauth2's "unexpected end of JSON input": the endpoint's status and the limit.
		return fmt.Errorf("token request: %s: %w", resp.status, le)
	}
	if resp == nil || resp.code < 200 || resp.code > 299 {
		return fmt.Errorf("token request: %w", withoutQuery(err))
	}
	if oauthIsHTML(resp.ctype, resp.body) {
		return &oauthTokenError{msg: red.String(resp.status + ": not a token: " + oauthDescribeBody(resp.ctype, resp.body)), err: err}
	}
	if fields, ok := oauthParseBodyOK(resp.ctype, resp.body); ok {
		if s, _ := fields["access_token"].(string); s == "" {
			names := oauthSortedKeys(fields)
			if len(names) > 10 {
				names = append(names[:10], "…")
			}
			msg := "token response has no access_token"
			if len(names) > 0 {
				msg += " (fields: " + strings.Join(names, ", ") + ")"
			}
			return &oauthTokenError{msg: red.String(msg), err: err}
		}
	}
	return fmt.Errorf("token request: %s: %w", resp.status, err)
}

// TokenErrorCode reports the HTTP status and OAuth error code ("invalid_grant") of the token
// endpoint's error response that err carries: the error of an oauth2_token step, or anything
// wrapping a *oauth2.RetrieveError. The code is RetrieveError.ErrorCode or, when x/oauth2
// could not read it (JSON sent as text/plain), the body's error field; it is "" when the
// response had none (an HTML 503 page). ok is true when the endpoint sent an error status or
// an error field; it is false for a timeout, a network error, or a 2xx answer that was not a
// token.
//
// A caller tells a revoked grant (code invalid_grant, or status 400 or 401) from a transient
// failure (!ok, status 429 or 5xx) with it.
func TokenErrorCode(err error) (status int, code string, ok bool) {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return 0, "", false
	}
	if re.Response != nil {
		status = re.Response.StatusCode
	}
	code, _ = oauthErrorFields(re)
	return status, code, true
}

// oauthErrorFields returns the OAuth error code and description of an error response: those
// x/oauth2 read, or else the body's error fields (JSON sent as text/plain, or the reverse).
func oauthErrorFields(re *oauth2.RetrieveError) (code, desc string) {
	if re.ErrorCode != "" || re.ErrorDescription != "" {
		return re.ErrorCode, re.ErrorDescription
	}
	var ctype string
	if re.Response != nil {
		ctype, _, _ = mime.ParseMediaType(re.Response.Header.Get("Content-Type"))
	}
	other := "application/json"
	if ctype == "application/json" || ctype == "" {
		other = "application/x-www-form-urlencoded"
	}
	for _, ct := range []string{ctype, other} {
		fields := oauthParseBody(ct, re.Body)
		if code, _ := fields["error"].(string); oauthCodeRE.MatchString(code) {
			desc, _ := fields["error_description"].(string)
			return code, desc
		}
	}
	return "", ""
}

// oauthCodeRE matches an OAuth error code (RFC 6749 5.2 allows printable ASCII; real codes are
// words joined by underscores).
var oauthCodeRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)

// oauthIsHTML reports an HTML page, whatever its content type says.
func oauthIsHTML(ctype string, body []byte) bool {
	if ctype == "text/html" || ctype == "application/xhtml+xml" {
		return true
	}
	b := bytes.TrimSpace(body)
	return len(b) > 0 && b[0] == '<'
}

// oauthDescribeBody says what a response that is not a token was: its content type and a
// short excerpt.
func oauthDescribeBody(ctype string, body []byte) string {
	ex := oauthExcerpt(ctype, body)
	what := "response"
	if ctype != "" {
		what = ctype + " response"
	}
	if ex == "" {
		return "empty " + what
	}
	return fmt.Sprintf("%s %q", what, ex)
}

var (
	oauthScriptRE = regexp.MustCompile(`(?is)<(script|style)\b.*?</(script|style)\s*>`)
	oauthTagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
)

// oauthExcerptLen bounds the body excerpt in an error, in characters.
const oauthExcerptLen = 120

// oauthExcerpt returns the start of a body for an error: HTML reduced to its text, spaces
// collapsed, at most oauthExcerptLen characters.
func oauthExcerpt(ctype string, body []byte) string {
	s := strings.ToValidUTF8(string(body), "")
	if oauthIsHTML(ctype, body) {
		s = oauthScriptRE.ReplaceAllString(s, " ")
		s = html.UnescapeString(oauthTagRE.ReplaceAllString(s, " "))
	}
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > oauthExcerptLen {
		s = string(r[:oauthExcerptLen]) + "…"
	}
	return s
}
