package engine

import (
	"context"
	"net/http"
)

// Conn is what a block may ask of the run's connection; the connections package implements it.
// One Conn may serve many runs and requests at once: its methods are safe for concurrent use.
type Conn interface {
	// Authorize adds the connection's credentials to req (header, query or signature). It may
	// refresh an expiring token first.
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
