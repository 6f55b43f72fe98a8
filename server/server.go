package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/patchbay/patchbay/automations"
)

// DefaultMaxBody bounds a webhook's body: a larger one is refused with 413.
const DefaultMaxBody = 1 << 20

// The http.Server's timeouts. A webhook's handler returns once its run is recorded (a group
// commit), so a write never waits for a run to end.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	// shutdownTimeout bounds how long Serve waits for requests in flight once its context ends.
	shutdownTimeout = 10 * time.Second
)

// Service is what the server needs of the automations: *automations.Service.
type Service interface {
	// Hook records a run of the webhook automation whose secret is secret, with item as
	// trigger.item, and returns it once it is recorded durably; automations.ErrNotFound when
	// no enabled automation has that secret.
	Hook(ctx context.Context, secret string, item json.RawMessage) (*automations.Run, error)
	// Store is the automations' store: /healthz asks it.
	Store() automations.Store
}

// Config is what a Server is built from.
type Config struct {
	Service Service  // required
	Metrics *Metrics // served at /metrics (nil: no /metrics)
	// Logger gets one line per request at debug level (error level for 5xx answers and panics);
	// never a secret. Default: discard.
	Logger *slog.Logger
	// MaxBody bounds a webhook's body in bytes (default DefaultMaxBody).
	MaxBody int64
}

// Server answers patchbay serve's HTTP requests.
type Server struct {
	svc     Service
	metrics *Metrics
	log     *slog.Logger
	maxBody int64
	mux     *http.ServeMux
}

// New returns a Server with its routes.
func New(cfg Config) *Server {
	s := &Server{svc: cfg.Service, metrics: cfg.Metrics, log: cfg.Logger, maxBody: cfg.MaxBody, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBody
	}
	s.mux.HandleFunc("POST /hooks/{secret}", s.hook)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	if s.metrics != nil {
		s.mux.Handle("GET /metrics", s.metrics.Handler())
	}
	return s
}

// Handler returns the server's routes behind its middleware.
func (s *Server) Handler() http.Handler { return s.logged(s.recovered(s.mux)) }

// Serve answers requests on ln until ctx ends, then stops taking new ones and waits for those
// in flight (at most shutdownTimeout). It closes ln. It returns nil after a shutdown that ctx
// asked for.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests in flight keep their context when the server shuts down: a webhook being
		// recorded finishes recording.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}

// healthz answers 200 {"status":"ok"} when the store answers, 503 otherwise.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.svc.Store().QueueDepth(ctx); err != nil {
		s.log.Error("health check: the store does not answer", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "the store does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// apiError is the body of every error answer. ID is set for a server error and is in its log
// line too.
type apiError struct {
	Error string `json:"error"`
	ID    string `json:"id,omitempty"`
}

// fail answers an error of the client.
func fail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// internalError logs err with a new id and answers 500 with the id only.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, err error) {
	id := newID()
	s.log.Error("request failed", "id", id, "method", r.Method, "path", logPath(r.URL.Path), "error", err)
	writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error", ID: id})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// logPath is a request's path as a log line may show it: a webhook's secret is its path.
func logPath(p string) string {
	if strings.HasPrefix(p, "/hooks/") {
		return "/hooks/[redacted]"
	}
	return p
}

// statusWriter remembers the status and size of an answer for the log line.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logged writes one line per request: method, path (a hook's secret redacted), status, size
// and duration; at debug level, or error level for a 5xx answer. The query is left out: it
// may carry a token.
func (s *Server) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelError
		}
		if !s.log.Enabled(r.Context(), level) {
			return
		}
		s.log.LogAttrs(r.Context(), level, "http request",
			slog.String("method", r.Method), slog.String("path", logPath(r.URL.Path)),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes),
			slog.Duration("duration", time.Since(start)), slog.String("remote", r.RemoteAddr))
	})
}

// recovered turns a handler's panic into a 500 answer and an error line with the stack.
func (s *Server) recovered(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler { //nolint:errorlint // the sentinel net/http itself compares
				panic(v)
			}
			id := newID()
			s.log.Error("panic in handler", "id", id, "method", r.Method, "path", logPath(r.URL.Path), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); !ok || sw.status == 0 {
				writeJSON(w, http.StatusInternalServerError, apiError{Error: "internal error", ID: id})
			}
		}()
		next.ServeHTTP(w, r)
	})
}
