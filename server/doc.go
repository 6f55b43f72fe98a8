// Package server is the HTTP side of patchbay serve: the webhooks of automations
// (POST /hooks/{secret}), a health check (GET /healthz) and Prometheus metrics (GET /metrics).
// The JSON API (/api/v1) and the pages of a later issue are routes of the same mux, behind the
// same middleware: a request log line that never holds a secret (a hook's path is logged as
// /hooks/[redacted]), panic recovery, and the http.Server's timeouts.
//
//	srv := server.New(server.Config{Service: svc, Metrics: m, Logger: log})
//	err := srv.Serve(ctx, ln) // until ctx ends, then a graceful shutdown
//
// The server imports automations and connections, never a store or a block: cmd/patchbay
// wires it to a Service built on a store.
package server
