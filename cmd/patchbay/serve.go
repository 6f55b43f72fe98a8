package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"time"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
	"github.com/patchbay/patchbay/server"
	"github.com/patchbay/patchbay/store/sqlite"
)

var serveCmd = &command{
	Name:    "serve",
	Args:    "[--addr HOST:PORT] [--apps DIR] [flags]",
	Summary: "run the automations: scheduler, workers, webhooks, health and metrics",
	Help: `
Serve runs the automations of the store in the data directory until it is stopped: the
scheduler claims each due slot of a schedule or a poll and records its run, a pool of --workers
runs the queued runs, and an HTTP listener on --addr answers POST /hooks/<secret> (webhooks),
GET /healthz and GET /metrics (Prometheus). It prints the listener's URL when it is ready.
The apps are loaded from --apps (default: the apps folder in the data directory) once, at the
start; an app that does not load is reported with every problem as file:line:col and skipped.

SIGINT or SIGTERM stops it gracefully: the listener stops taking requests, no slot is claimed
any more, runs that are running get --grace to finish and the rest are marked interrupted.
After a crash (kill -9) the next start marks the runs left running interrupted once their lease
(--run-lease) has expired. Ended runs are kept per automation: the newest --keep-runs, none
older than --keep-days.

The runs' requests refuse loopback, private, link-local and cloud metadata addresses, except
the networks of --allow-network (docs/security.md). docs/operations.md describes the metrics,
the health check and the log lines.`,
	Setup: func(fs *flag.FlagSet, e *env) func(context.Context, []string) int {
		o := &serveOptions{}
		fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen on `HOST:PORT` (port 0: any free port)")
		fs.StringVar(&o.apps, "apps", "", "the `DIR` of the apps automations use (default: <data>/apps)")
		fs.IntVar(&o.workers, "workers", 8, "run at most `N` runs at once")
		fs.DurationVar(&o.grace, "grace", 30*time.Second, "on SIGINT or SIGTERM, let running runs finish for `D` before they are marked interrupted")
		fs.DurationVar(&o.lease, "run-lease", 30*time.Second, "a running run's lease `D`, renewed every third of it: after a crash its run is marked interrupted once the lease expired")
		fs.IntVar(&o.keepRuns, "keep-runs", 1000, "keep the newest `N` ended runs of each automation")
		fs.IntVar(&o.keepDays, "keep-days", 30, "delete ended runs older than `D` days")
		fs.Int64Var(&o.maxBody, "max-body", server.DefaultMaxBody, "refuse a webhook whose body is larger than `N` bytes (413)")
		e.serverNetFlags(fs)
		return func(ctx context.Context, args []string) int { return e.serve(ctx, o, args) }
	},
}

// serveOptions are serve's flags.
type serveOptions struct {
	addr     string
	apps     string
	workers  int
	grace    time.Duration
	lease    time.Duration
	keepRuns int
	keepDays int
	maxBody  int64
}

func (e *env) serve(ctx context.Context, o *serveOptions, args []string) int {
	if len(args) > 0 {
		return e.usageError("serve takes no arguments, found %q", args[0])
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"workers", int64(o.workers)}, {"grace", int64(o.grace)}, {"run-lease", int64(o.lease)}, {"keep-runs", int64(o.keepRuns)}, {"keep-days", int64(o.keepDays)}, {"max-body", o.maxBody}} {
		if f.v <= 0 {
			return e.usageError("--%s must be positive", f.name)
		}
	}
	cat, err := e.loadCatalog(o.apps)
	if err != nil {
		return e.fail(err)
	}
	for _, b := range cat.broken {
		fmt.Fprintf(e.stderr, "warning: app %s does not load and is skipped:\n", b.dir)
		printErrors(e.stderr, b.err)
	}
	return e.withStore(func(st *sqlite.Store) int {
		metrics := server.NewMetrics(st, e.log)
		notify := server.Notifiers{metrics}
		client := e.httpClient()
		m := connections.NewManager(connections.Config{Store: st, HTTPClient: client, Logger: e.log, Notifier: &notify})
		svc := automations.New(automations.Config{
			Store: st, Connections: m, Catalog: cat, HTTPClient: client, Logger: e.log,
			Workers: o.workers, RunLease: o.lease, Grace: o.grace,
			Retention: automations.Retention{Keep: o.keepRuns, MaxAge: time.Duration(o.keepDays) * 24 * time.Hour},
			Observer:  metrics,
		})
		notify = append(notify, svc) // a disconnect turns the automations that use it off
		srv := server.New(server.Config{Service: svc, Metrics: metrics, Logger: e.log, MaxBody: o.maxBody})
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			return e.fail(fmt.Errorf("--addr: %w", err))
		}
		fmt.Fprintf(e.stdout, "patchbay serve: listening on http://%s (%d apps from %s)\n", ln.Addr(), len(cat.apps), cat.dir)
		e.log.Info("serving", "addr", ln.Addr().String(), "apps", len(cat.apps), "workers", o.workers)
		// The listener stops first, so a webhook it accepted is recorded before the Service
		// stops; then the Service claims no more and lets its runs finish within the grace.
		srvCtx, stopSrv := context.WithCancel(ctx)
		defer stopSrv()
		svcCtx, stopSvc := context.WithCancel(context.WithoutCancel(ctx))
		defer stopSvc()
		svcDone := make(chan error, 1)
		go func() {
			svcDone <- svc.Serve(svcCtx)
			stopSrv() // a Service that failed stops the listener too
		}()
		srvErr := srv.Serve(srvCtx, ln)
		stopSvc()
		if err := errors.Join(srvErr, <-svcDone); err != nil {
			return e.fail(err)
		}
		e.log.Info("stopped")
		return exitOK
	})
}
