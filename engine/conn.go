package engine

import (
	"context"
	"net/http"
)

// Conn is what a block may ask of the run's connection; the connections package implements it.
// One Conn may serve many runs and requests at once: its methods are safe for concurrent use.
type Conn interface {
	// Authorize adds the connection's credentials to req (header, query or signature). It may
	// refresh an expiring token first, and refuses (an error) a request to an origin the
	// credentials may not go to. call_api calls it for each hop of a request at the request's
	// own origin, on a copy of that hop, so that the HTTP client holds no credential to copy to
	// a redirect's target; a hop at another origin is sent without calling it.
	Authorize(ctx context.Context, req *http.Request) error
	// Retry is called after a response whose status may mean the credentials went stale. It
	// refreshes at most once and reports whether to send the request again; the caller then
	// calls Authorize on a fresh copy of the request and sends it once more, never twice.
	Retry(ctx context.Context, resp *http.Response) (bool, error)
}

type retryKey struct{}

// RetryContext marks ctx as the context of a request's one retry after Conn.Retry said yes.
// call_api sends the retry with it, and hands the retry's response to Conn.Retry as well, so
// the connection learns that a fresh token was refused; Retry then returns false.
func RetryContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, retryKey{}, true)
}

// IsRetry reports whether ctx is the context of a retried request.
func IsRetry(ctx context.Context) bool {
	v, _ := ctx.Value(retryKey{}).(bool)
	return v
}

type runKey struct{}

// AddSecrets adds secrets to the redactor of the run whose context ctx is (a step's context,
// or one derived from it), so that its trace, outputs shown and errors never show them. A Conn
// calls it with each credential it puts on a request: a token refreshed during the run is not
// among the Options.Secrets the run began with, and a call_api output such as the URL of the
// response may carry it. Outside a run, and for secrets the run knows already, it does nothing.
func AddSecrets(ctx context.Context, secrets ...string) {
	if r, _ := ctx.Value(runKey{}).(*run); r != nil {
		r.addSecrets(secrets...)
	}
}

// addSecrets makes secrets redacted for the rest of the run.
func (r *run) addSecrets(secrets ...string) {
	for {
		old := r.redact.Load()
		if old.knows(secrets) {
			return
		}
		if r.redact.CompareAndSwap(old, old.With(secrets...)) {
			return
		}
	}
}

// RunRedactor returns the redactor of the run whose context ctx is (a step's context, or one
// derived from it, such as a request's), as it is at the call: a run's redactor grows as its
// steps obtain secrets. Outside a run it returns nil, which redacts nothing. replay.Recorder,
// under a run's HTTP client, redacts what it writes with it.
func RunRedactor(ctx context.Context) *Redactor {
	r, _ := ctx.Value(runKey{}).(*run)
	if r == nil {
		return nil
	}
	return r.redact.Load()
}

// knows reports whether every non-empty one of secrets is redacted by r already.
func (r *Redactor) knows(secrets []string) bool {
	for _, s := range secrets {
		if s != "" && (r == nil || !r.secrets[s]) {
			return false
		}
	}
	return true
}

// ConnValue is a Conn whose template value connection may change during a run: a refresh
// brings new connection.extra values. A run whose Conn is one reads Connection before each
// template it evaluates, in place of Options.Connection, so the step after a refresh sees what
// the refresh brought. Connection must return a value that is never modified afterwards.
type ConnValue interface {
	Conn
	Connection() map[string]any
}
