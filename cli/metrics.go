package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// `stoq run --metrics-addr HOST:PORT` serves Prometheus metrics at
// /metrics with the official client. The engine knows nothing of
// Prometheus: runMetrics is the engine.Observer that counts what it
// reports, and a collector samples engine.Stats and the plugins' own
// metrics (core.MetricsReporter) at each scrape.

// runMetrics is the registry of one `stoq run`.
type runMetrics struct {
	registry       *prometheus.Registry
	payloads       prometheus.Counter
	scans          prometheus.Counter
	responseErrors prometheus.Counter
	scanDuration   prometheus.Histogram
	callDuration   *prometheus.HistogramVec
	pluginErrors   *prometheus.CounterVec
	engine         atomic.Pointer[engine.Stoq] // set once the engine is built

	warned sync.Map // plugin metric names already reported as unusable
	log    io.Writer
}

// callBuckets span plugin calls from a hash of a small payload (tens of
// µs) to an ExifTool run (seconds): ×4 from 50 µs to 13 s.
var callBuckets = prometheus.ExponentialBuckets(50e-6, 4, 10)

func newRunMetrics(log io.Writer) *runMetrics {
	m := &runMetrics{
		registry: prometheus.NewRegistry(),
		payloads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stoq_payloads_scanned_total", Help: "Payloads in the responses of finished scans (extracted payloads included).",
		}),
		scans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stoq_scans_total", Help: "Finished scans: responses handed to the connectors.",
		}),
		responseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stoq_response_errors_total", Help: "Errors recorded in the responses of finished scans.",
		}),
		scanDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "stoq_scan_duration_seconds", Help: "Time from a scan's start to its connectors' last answer.", Buckets: callBuckets,
		}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stoq_plugin_call_duration_seconds", Help: "Duration of plugin calls, by plugin and the class it was called as.", Buckets: callBuckets,
		}, []string{"plugin", "class"}),
		pluginErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stoq_plugin_errors_total", Help: "Plugin calls that failed, by plugin and kind: error (returned one), timeout (abandoned at its deadline), panic.",
		}, []string{"plugin", "kind"}),
		log: log,
	}
	m.registry.MustRegister(m.payloads, m.scans, m.responseErrors, m.scanDuration, m.callDuration, m.pluginErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		engineCollector{m})
	return m
}

// classLabels are the class label values of PluginCalled, made once: it
// runs on every plugin call.
var classLabels = func() map[engine.Class]string {
	out := map[engine.Class]string{}
	for c := engine.ClassWorker; c <= engine.ClassProvider; c <<= 1 {
		out[c] = strings.ToLower(c.String())
	}
	return out
}()

// PluginCalled counts a plugin call.
func (m *runMetrics) PluginCalled(e engine.CallEvent) {
	class, ok := classLabels[e.Class]
	if !ok {
		class = strings.ToLower(e.Class.String())
	}
	m.callDuration.WithLabelValues(e.Plugin, class).Observe(e.Duration.Seconds())
	if e.Outcome != engine.CallOK {
		m.pluginErrors.WithLabelValues(e.Plugin, e.Outcome.String()).Inc()
	}
}

// ScanFinished counts a finished scan.
func (m *runMetrics) ScanFinished(e engine.ScanEvent) {
	m.scans.Inc()
	m.payloads.Add(float64(e.Payloads))
	m.responseErrors.Add(float64(e.Errors))
	m.scanDuration.Observe(e.Duration.Seconds())
}

var _ engine.Observer = (*runMetrics)(nil)

// engineCollector samples the engine at each scrape: its Stats as gauges
// and the metrics its plugins report. It is an unchecked collector (it
// describes nothing up front), since plugins name their metrics.
type engineCollector struct{ m *runMetrics }

var (
	queueDepthDesc    = prometheus.NewDesc("stoq_queue_depth", "Tasks waiting in the run-mode queue (max_queue at most).", nil, nil)
	scansInFlightDesc = prometheus.NewDesc("stoq_scans_in_flight", "Scans started and not yet saved.", nil, nil)
	spoolDesc         = prometheus.NewDesc("stoq_spool_responses", "Responses waiting in the result spool for a connector to take them.", nil, nil)
)

func (engineCollector) Describe(chan<- *prometheus.Desc) {}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.engine.Load()
	if s == nil {
		return
	}
	st := s.Stats()
	ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(st.QueueDepth))
	ch <- prometheus.MustNewConstMetric(scansInFlightDesc, prometheus.GaugeValue, float64(st.ScansInFlight))
	ch <- prometheus.MustNewConstMetric(spoolDesc, prometheus.GaugeValue, float64(st.SpooledResponses))
	for _, pm := range s.PluginMetrics() {
		if metric, err := constMetric(pm.Metric); err != nil {
			c.m.warnOnce(pm, err)
		} else {
			ch <- metric
		}
	}
}

// constMetric turns a plugin's sample into a Prometheus one.
func constMetric(pm core.Metric) (prometheus.Metric, error) {
	var vt prometheus.ValueType
	switch pm.Kind {
	case core.Counter:
		vt = prometheus.CounterValue
	case core.Gauge:
		vt = prometheus.GaugeValue
	default:
		return nil, fmt.Errorf("kind %d is neither core.Counter nor core.Gauge", pm.Kind)
	}
	names := slices.Sorted(maps.Keys(pm.Labels))
	values := make([]string, len(names))
	for i, k := range names {
		values[i] = pm.Labels[k]
	}
	return prometheus.NewConstMetric(prometheus.NewDesc(pm.Name, pm.Help, names, nil), vt, pm.Value, values...)
}

// warnOnce reports, once per metric name, a plugin metric that cannot be
// served.
func (m *runMetrics) warnOnce(pm engine.PluginMetric, err error) {
	if _, seen := m.warned.LoadOrStore(pm.Name, true); !seen {
		fmt.Fprintf(m.log, "stoq: warning: plugin %s reports metric %q that cannot be served: %v\n", pm.Plugin, pm.Name, err)
	}
}

// metricsServer is the HTTP server of --metrics-addr.
type metricsServer struct {
	srv  *http.Server
	addr net.Addr
	done chan error
}

// serveMetrics listens on addr and serves m at /metrics until stop.
func serveMetrics(addr string, m *runMetrics) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "stoq: metrics at /metrics")
	})
	s := &metricsServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second},
		addr: ln.Addr(),
		done: make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// URL is where the metrics are served.
func (s *metricsServer) URL() string { return "http://" + s.addr.String() + "/metrics" }

// stop lets scrapes in progress finish (for a few seconds at most) and
// closes the listener.
func (s *metricsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if serr := <-s.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// metricsFlag is stoq run's --metrics-addr and what it starts.
type metricsFlag struct {
	addr    string
	metrics *runMetrics
}

func (f *metricsFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.addr, "metrics-addr", "", "Serve Prometheus metrics at http://HOST:PORT/metrics while running (HOST:PORT, port 0 picks a free one)")
}

// serve starts the metrics server when --metrics-addr is set, saying
// where on stderr; stop shuts it down.
func (f *metricsFlag) serve(env *Env) (stop func(), err error) {
	if f.addr == "" {
		return func() {}, nil
	}
	f.metrics = newRunMetrics(env.Stderr)
	srv, err := serveMetrics(f.addr, f.metrics)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(env.Stderr, "stoq: serving metrics at %s\n", srv.URL())
	return func() {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(env.Stderr, "stoq: stopping the metrics server:", err)
		}
	}, nil
}

// engineOptions has the engine report to the metrics, when they are on.
func (f *metricsFlag) engineOptions() []engine.Option {
	if f.metrics == nil {
		return nil
	}
	return []engine.Option{engine.WithObserver(f.metrics)}
}

// attach lets the metrics sample the engine.
func (f *metricsFlag) attach(s *engine.Stoq) {
	if f.metrics != nil {
		f.metrics.engine.Store(s)
	}
}
