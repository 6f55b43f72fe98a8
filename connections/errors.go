package connections

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/patchbay/patchbay/engine"
	"golang.org/x/oauth2"
)

// ErrDisconnected is the class of errors of a connection whose provider revoked access: its
// credentials are gone and the user must connect it again.
var ErrDisconnected = errors.New("connection is disconnected")

// DisconnectedError says which connection is disconnected and why.
type DisconnectedError struct {
	Name   string
	Reason string
}

func (e *DisconnectedError) Error() string {
	return fmt.Sprintf("connection %q is disconnected: %s; connect it again with patchbay connect", e.Name, e.Reason)
}

// Is makes errors.Is(err, ErrDisconnected) true.
func (e *DisconnectedError) Is(target error) bool { return target == ErrDisconnected }

// ErrTooSoon is a rejected request right after a refresh, within refresh.min_interval: the
// request fails instead of refreshing again, so a provider that keeps refusing is not hammered.
var ErrTooSoon = errors.New("the provider refused a token refreshed moments ago; not refreshing again within min_interval")

// RevokeError is a connection deleted here whose token could not be revoked at the provider.
type RevokeError struct{ Err error }

func (e *RevokeError) Error() string {
	return "connection deleted, but revoking its token at the provider failed: " + e.Err.Error()
}

func (e *RevokeError) Unwrap() error { return e.Err }

// rejected reports whether a token request's failure means the provider refused the grant or
// the credentials for good (invalid_grant, or 400/401/403 from the token endpoint), rather than
// failing for a while (a timeout, 429, 5xx).
func rejected(err error) bool {
	if errors.Is(err, errNoRefreshToken) {
		return true
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode == "invalid_grant" {
			return true
		}
		return re.Response != nil && rejectedStatus(re.Response.StatusCode)
	}
	var he *engine.HTTPError
	if errors.As(err, &he) {
		return rejectedStatus(he.StatusCode)
	}
	return false
}

// clientRefused reports whether a token request's failure blames the app's auth client, not
// the account's grant (RFC 6749 section 5.2: invalid_client, unauthorized_client,
// unsupported_grant_type): the client's secret is wrong or was rotated at the provider.
func clientRefused(err error) bool {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return false
	}
	switch re.ErrorCode {
	case "invalid_client", "unauthorized_client", "unsupported_grant_type":
		return true
	}
	return false
}

func rejectedStatus(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusUnauthorized || code == http.StatusForbidden
}

// reason is a short account of a token request's failure for a connection's record, with the
// connection's secrets redacted (a provider may echo a token in its error description).
func reason(err error, red *engine.Redactor) string {
	return red.String(rawReason(err))
}

func rawReason(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		s := "the token endpoint answered"
		if re.Response != nil {
			s += " " + re.Response.Status
		}
		if re.ErrorCode != "" {
			s += ": " + re.ErrorCode
		}
		if re.ErrorDescription != "" {
			s += ": " + re.ErrorDescription
		}
		return s
	}
	return err.Error()
}

// transient turns a token endpoint's temporary failure into an error the step's retry policy
// classifies: a status becomes an *engine.HTTPError (so retry on 5xx or 429 applies); timeouts
// and network errors keep their chain.
func transient(err error, red *engine.Redactor) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		he := &engine.HTTPError{Method: "POST", URL: "token endpoint", StatusCode: re.Response.StatusCode, Status: re.Response.Status, Header: re.Response.Header}
		// The provider's words, which an answer in its own shape (token_error_in) may hold at
		// any status: without them a refusal at HTTP 200 reads as "200 OK" and nothing more.
		words := re.ErrorCode
		if re.ErrorDescription != "" {
			words = strings.TrimPrefix(words+": "+re.ErrorDescription, ": ")
		}
		he.Body = red.String(words)
		if req := re.Response.Request; req != nil {
			he.Method, he.URL = req.Method, req.URL.Scheme+"://"+req.URL.Host+req.URL.Path
		}
		return fmt.Errorf("refresh token: %w", he)
	}
	var se *engine.StepError
	if errors.As(err, &se) {
		// The step error is the private flow's. Its position stays in the message, but not in
		// the chain: the run would take it for its own step's and not say which step failed.
		return &refreshError{msg: "refresh token: " + err.Error(), err: se.Err}
	}
	return fmt.Errorf("refresh token: %w", err)
}

// refreshError is a failed token request whose message names the private flow's step; it
// unwraps to that step's cause (a timeout, a network error) for the retry policy.
type refreshError struct {
	msg string
	err error
}

func (e *refreshError) Error() string { return e.msg }
func (e *refreshError) Unwrap() error { return e.err }

var errNoRefreshToken = errors.New("the token expired and the provider gave no refresh token")
