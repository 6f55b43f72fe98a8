package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/patchbay/patchbay/automations"
	"github.com/patchbay/patchbay/connections"
)

// Metrics are patchbay serve's Prometheus metrics, in a registry of their own (not the
// client library's global one): the runs by final status, their duration, the fire lag, the
// queue depth read from the store at each scrape, the token refreshes and their failures, and
// the Go runtime's and the process's collectors. It is an automations.Observer and a
// connections.Notifier; its methods are safe for concurrent use.
type Metrics struct {
	reg             *prometheus.Registry
	runs            *prometheus.CounterVec
	duration        prometheus.Histogram
	lag             prometheus.Histogram
	refreshes       prometheus.Counter
	refreshFailures prometheus.Counter
}

var (
	_ automations.Observer = (*Metrics)(nil)
	_ connections.Notifier = (*Metrics)(nil)
)

// NewMetrics returns the metrics; the queue depth is read from st at each scrape (nil: not
// served). log gets a line when the store does not answer a scrape.
func NewMetrics(st automations.Store, log *slog.Logger) *Metrics {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "patchbay_runs_total",
			Help: "Runs of automations that ended, by final status (succeeded, failed, timed_out, interrupted, skipped).",
		}, []string{"status"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "patchbay_run_duration_seconds",
			Help:    "How long a run of an automation ran, from its start to its end.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "patchbay_fire_lag_seconds",
			Help:    "How late a scheduled slot's run started: from its slot to its start.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patchbay_token_refreshes_total",
			Help: "Tokens of connections refreshed by this process.",
		}),
		refreshFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "patchbay_token_refresh_failures_total",
			Help: "Token refreshes of this process that failed (a refused refresh disconnects its connection).",
		}),
	}
	m.reg.MustRegister(m.runs, m.duration, m.lag, m.refreshes, m.refreshFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if st != nil {
		m.reg.MustRegister(&queueDepth{st: st, log: log, desc: prometheus.NewDesc("patchbay_queue_depth", "Runs queued in the store, waiting for a worker.", nil, nil)})
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the metrics' registry, for tests and for more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Fired counts a slot's run that started lag after its slot.
func (m *Metrics) Fired(lag time.Duration) { m.lag.Observe(lag.Seconds()) }

// RunEnded counts a run that ended with r.Status after running for d.
func (m *Metrics) RunEnded(r *automations.Run, d time.Duration) {
	m.runs.WithLabelValues(r.Status).Inc()
	if r.Status != automations.StatusSkipped {
		m.duration.Observe(d.Seconds())
	}
}

// Notify counts the refreshes and refresh failures among connection events.
func (m *Metrics) Notify(_ context.Context, e connections.Event) {
	switch e.Kind {
	case "refreshed":
		m.refreshes.Inc()
	case "refresh_failed":
		m.refreshFailures.Inc()
	}
}

// queueDepth is the patchbay_queue_depth gauge, read from the store when scraped. A store
// that does not answer leaves the gauge out of that scrape, with a log line.
type queueDepth struct {
	st   automations.Store
	log  *slog.Logger
	desc *prometheus.Desc
}

func (q *queueDepth) Describe(ch chan<- *prometheus.Desc) { ch <- q.desc }

func (q *queueDepth) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := q.st.QueueDepth(ctx)
	if err != nil {
		q.log.Warn("metrics: read the queue depth", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, float64(n))
}
