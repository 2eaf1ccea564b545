package core

// MetricKind says how a Metric's value behaves.
type MetricKind uint8

const (
	// Counter is a total that only grows while the plugin lives (entries
	// claimed, tasks dead-lettered).
	Counter MetricKind = iota + 1
	// Gauge is a value that goes up and down (entries pending).
	Gauge
)

// Metric is one sample a plugin reports about itself for monitoring. The
// stoq command serves them with its own (stoq run --metrics-addr) in
// Prometheus's text format; a plugin never imports a metrics library.
type Metric struct {
	// Name follows Prometheus's conventions: stoq_PLUGIN_WHAT, snake_case,
	// a unit suffix where there is a unit (_seconds, _bytes), and _total
	// for a Counter. Samples of one Name share one Help, one Kind and one
	// set of label names.
	Name string
	Help string
	Kind MetricKind
	// Labels tell apart the samples of one Name (stream, group); nil for
	// none. Keep their values few: each distinct set is a time series.
	Labels map[string]string
	Value  float64
}

// MetricsReporter is implemented by plugins that report metrics of their
// own. Metrics is called at every scrape, concurrently with the plugin's
// other methods: it must be quick (read counters kept as the plugin works,
// not query a server) and safe for concurrent use.
type MetricsReporter interface {
	Metrics() []Metric
}
