package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	requests    *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	items       *prometheus.CounterVec
	duplicates  prometheus.Counter
	batches     prometheus.Counter
	storeErrors *prometheus.CounterVec
	rematch     prometheus.Histogram
	findings    *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulkhead_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "bulkhead_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route", "method"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulkhead_ingest_items_total",
			Help: "Ingested items stored, by type."}, []string{"type"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulkhead_ingest_duplicate_items_total",
			Help: "Ingested items skipped as already stored (redelivery)."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Name: "bulkhead_ingest_batches_total",
			Help: "Ingest batches stored."}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulkhead_store_errors_total",
			Help: "Store operations that failed, by operation."}, []string{"op"}),
		rematch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "bulkhead_rematch_duration_seconds",
			Help: "Duration of re-matches of all stored packages.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "bulkhead_rematch_findings_total",
			Help: "Findings changed by re-matches, by change (new, resolved)."}, []string{"change"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.items, m.duplicates, m.batches, m.storeErrors, m.rematch, m.findings,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// instrument counts and times requests by route pattern and logs them
// (method, path, status, duration and the caller's actor name — never a
// header or token).
func (s *Server) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.code)).Inc()
		s.metrics.latency.WithLabelValues(route, r.Method).Observe(d.Seconds())
		level := s.log.Debug
		if sw.code >= 500 {
			level = s.log.Warn
		}
		level("request", "method", r.Method, "route", route, "status", sw.code, "duration", d.Round(time.Microsecond))
	})
}
