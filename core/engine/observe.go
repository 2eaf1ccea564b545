package engine

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

// What the engine tells a program about its work, for metrics: events
// pushed to an Observer as they happen (plugin calls, finished scans), and
// values a program samples when it wants them (Stats, PluginMetrics). The
// engine imports no metrics library; the stoq command turns both into
// Prometheus metrics (stoq run --metrics-addr).

// Observer is told what the engine does, as it happens. Its methods are
// called from the engine's goroutines, concurrently: they must be quick
// and safe for concurrent use. Embed NopObserver to implement only some.
type Observer interface {
	// PluginCalled is told of every call into a plugin made for a scan or
	// a run: worker scans, dispatches, archiving and loading, decorating,
	// saving (spooled results re-sent included).
	PluginCalled(CallEvent)
	// ScanFinished is told of every response once its connectors had it,
	// including the response recording that a provider's task could not
	// be loaded.
	ScanFinished(ScanEvent)
}

// NopObserver ignores every event: embed it in an Observer to implement
// only the methods wanted.
type NopObserver struct{}

// PluginCalled does nothing.
func (NopObserver) PluginCalled(CallEvent) {}

// ScanFinished does nothing.
func (NopObserver) ScanFinished(ScanEvent) {}

// WithObserver has the engine report its work to o.
func WithObserver(o Observer) Option { return func(opts *options) { opts.observer = o } }

// WithoutRoles makes New load no plugin: the roles of the settings are
// resolved (Settings lists them) but nothing is constructed until
// LoadPlugin asks. For programs that want one plugin's configuration or
// instance, such as the commands plugins contribute, rather than scans.
func WithoutRoles() Option { return func(opts *options) { opts.noRoles = true } }

// CallOutcome is how a plugin call ended.
type CallOutcome uint8

const (
	CallOK      CallOutcome = iota // returned without an error
	CallError                      // returned an error (or was cancelled)
	CallTimeout                    // outlived its deadline and was abandoned
	CallPanic                      // panicked
)

var outcomeNames = [...]string{"ok", "error", "timeout", "panic"}

// String is the outcome's name: ok, error, timeout or panic.
func (o CallOutcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("CallOutcome(%d)", uint8(o))
}

// outcomeOf classifies the error of a call.
func outcomeOf(err error) CallOutcome {
	var pe *PanicError
	switch {
	case err == nil:
		return CallOK
	case errors.As(err, &pe):
		return CallPanic
	case errors.Is(err, ErrTimeout):
		return CallTimeout
	}
	return CallError
}

// CallEvent is one plugin call.
type CallEvent struct {
	Plugin string
	// Class is the class the plugin was called as: one of ClassWorker,
	// ClassDispatcher, ClassArchiver, ClassConnector, ClassDecorator.
	Class    Class
	Duration time.Duration
	Outcome  CallOutcome
}

// ScanEvent is one finished response.
type ScanEvent struct {
	Payloads int           // entries of its results
	Errors   int           // entries of its errors
	Duration time.Duration // from the scan's start to the connectors' last answer
}

// observed is what the engine counts for Stats.
type observed struct {
	scansInFlight atomic.Int64
	queue         atomic.Pointer[core.Queue] // the queue of the Run in progress
}

// observeCall reports a plugin call that started at start.
func (s *Stoq) observeCall(p *plugin, class Class, start time.Time, err error) {
	if class == 0 {
		return
	}
	s.observer.PluginCalled(CallEvent{Plugin: p.name, Class: class, Duration: time.Since(start), Outcome: outcomeOf(err)})
}

// scanStarted counts a scan in flight; the returned func, called with its
// response once the connectors had it, ends it.
func (s *Stoq) scanStarted() func(*core.StoqResponse) {
	s.observed.scansInFlight.Add(1)
	start := time.Now()
	return func(resp *core.StoqResponse) {
		s.observed.scansInFlight.Add(-1)
		if s.observer != nil && resp != nil {
			s.observer.ScanFinished(ScanEvent{Payloads: len(resp.Results), Errors: len(resp.Errors), Duration: time.Since(start)})
		}
	}
}

// Stats are values of the engine at one moment.
type Stats struct {
	// QueueDepth is the number of tasks waiting in run mode's queue (0
	// outside Run).
	QueueDepth int
	// ScansInFlight is the number of scans between their start and their
	// connectors' last answer.
	ScansInFlight int
	// SpooledResponses is the number of responses waiting in the result
	// spool, over every configured connector.
	SpooledResponses int
}

// Stats samples the engine's values now. It reads the spool folders, so a
// program calls it when it needs the values (a metrics scrape), not per
// scan.
func (s *Stoq) Stats() Stats {
	st := Stats{ScansInFlight: int(s.observed.scansInFlight.Load())}
	if q := s.observed.queue.Load(); q != nil {
		st.QueueDepth = q.Len()
	}
	st.SpooledResponses = s.spooledCount()
	return st
}

// spooledCount counts the response files of every connector's spool.
func (s *Stoq) spooledCount() int {
	if s.settings.SpoolDir == "" {
		return 0
	}
	n := 0
	for _, p := range s.connectors {
		names, _ := spooledFiles(filepath.Join(s.settings.SpoolDir, p.name))
		n += len(names)
	}
	return n
}

// PluginMetric is a sample a loaded plugin reported (core.MetricsReporter).
type PluginMetric struct {
	Plugin string
	core.Metric
}

// PluginMetrics gathers the metrics of every loaded plugin that reports
// its own (core.MetricsReporter), in plugin name order. A plugin whose
// Metrics panics is logged and skipped.
func (s *Stoq) PluginMetrics() []PluginMetric {
	var out []PluginMetric
	for _, p := range s.plugins.all() {
		r, ok := p.instance.(core.MetricsReporter)
		if !ok {
			continue
		}
		var ms []core.Metric
		err := protect(func() error { ms = r.Metrics(); return nil })
		if err != nil {
			logPanic(p, err)
			continue
		}
		for _, m := range ms {
			out = append(out, PluginMetric{Plugin: p.name, Metric: m})
		}
	}
	return out
}
