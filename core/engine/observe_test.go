package engine_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// recorder is an Observer keeping every event.
type recorder struct {
	mu    sync.Mutex
	calls []engine.CallEvent
	scans []engine.ScanEvent
}

func (r *recorder) PluginCalled(e engine.CallEvent) {
	r.mu.Lock()
	r.calls = append(r.calls, e)
	r.mu.Unlock()
}
func (r *recorder) ScanFinished(e engine.ScanEvent) {
	r.mu.Lock()
	r.scans = append(r.scans, e)
	r.mu.Unlock()
}

// outcomes counts the calls of plugin by class and outcome.
func (r *recorder) outcomes(plugin string) map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, c := range r.calls {
		if c.Plugin == plugin {
			out[fmt.Sprintf("%s/%s", c.Class, c.Outcome)]++
		}
	}
	return out
}

// Every plugin call is reported with the class it was called as and how
// it ended; every response with its payload and error counts.
func TestObserverSeesCallsAndScans(t *testing.T) {
	w := register(t, "w", &fnWorker{scan: func(ctx context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		switch string(p.Content) {
		case "fail":
			return nil, errors.New("bad payload")
		case "panic":
			panic("worker bug")
		case "slow":
			<-ctx.Done()
			time.Sleep(10 * time.Millisecond) // ignore the deadline: abandoned
		}
		return &core.WorkerResponse{Results: map[string]any{}}, nil
	}}, map[string]string{"timeout": "0.05"})
	d := register(t, "d", &fnDispatcher{dispatch: func(*core.Payload, *core.Request) (*core.DispatcherResponse, error) {
		return &core.DispatcherResponse{PluginNames: []string{w}}, nil
	}}, nil)
	c := register(t, "c", &memConnector{}, nil)
	rec := &recorder{}
	s := newEngine(t, engine.WithObserver(rec), engine.WithDispatchers(d), engine.WithConnectors(c))
	for _, content := range []string{"ok", "fail", "panic", "slow"} {
		scan(t, s, content)
	}
	want := map[string]int{"Worker/ok": 1, "Worker/error": 1, "Worker/panic": 1, "Worker/timeout": 1}
	if got := rec.outcomes(w); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("worker calls %v, want %v", got, want)
	}
	// Dispatchers run every round: the worker's round, then the round that
	// finds nothing left to run.
	if got := rec.outcomes(d); fmt.Sprint(got) != fmt.Sprint(map[string]int{"Dispatcher/ok": 8}) {
		t.Errorf("dispatcher calls %v", got)
	}
	if got := rec.outcomes(c); fmt.Sprint(got) != fmt.Sprint(map[string]int{"Connector/ok": 4}) {
		t.Errorf("connector calls %v", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var errs []int
	for _, sc := range rec.scans {
		if sc.Payloads != 1 || sc.Duration <= 0 {
			t.Errorf("scan event %+v, want 1 payload and a duration", sc)
		}
		errs = append(errs, sc.Errors)
	}
	if !slices.Equal(errs, []int{0, 1, 1, 1}) {
		t.Errorf("errors per scan %v, want [0 1 1 1]", errs)
	}
}

// Stats show the scans in flight and the run's queue while they are
// there, and nothing once the run is over.
func TestStatsDuringARun(t *testing.T) {
	started, release := make(chan struct{}, 8), make(chan struct{})
	w := register(t, "w", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		started <- struct{}{}
		<-release
		return &core.WorkerResponse{}, nil
	}}, nil)
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		for i := range 5 {
			if err := q.PutPayload(ctx, core.NewPayload([]byte(fmt.Sprint(i)), nil)); err != nil {
				return err
			}
		}
		return nil
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithSetting("provider_consumers", "2"), engine.WithSetting("max_queue", "10"),
		engine.WithConnectors(register(t, "c", &memConnector{}, nil)))
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), nil, w) }()
	<-started
	<-started
	// Both consumers hold a scan; the other 3 tasks wait once the provider
	// queued them all.
	var st engine.Stats
	for {
		st = s.Stats()
		if st.QueueDepth == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if st.ScansInFlight != 2 {
		t.Errorf("Stats %+v, want 2 scans in flight", st)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st != (engine.Stats{}) {
		t.Errorf("Stats after the run %+v, want zeros", st)
	}
}

// Spooled responses are counted over every connector.
func TestStatsCountSpooledResponses(t *testing.T) {
	c := register(t, "down", &memConnector{fail: errors.New("down")}, nil)
	s := newEngine(t, engine.WithConnectors(c), engine.WithSetting("spool_dir", t.TempDir()))
	for i := range 3 {
		scan(t, s, fmt.Sprint(i))
	}
	if got := s.Stats().SpooledResponses; got != 3 {
		t.Errorf("SpooledResponses %d, want 3", got)
	}
}

// metricsPlugin reports metrics of its own.
type metricsPlugin struct {
	memConnector
	panics bool
}

func (m *metricsPlugin) Metrics() []core.Metric {
	if m.panics {
		panic("metrics bug")
	}
	return []core.Metric{{Name: "stoq_test_things_total", Help: "Things.", Kind: core.Counter, Value: 7}}
}

// PluginMetrics gathers the metrics of the loaded plugins that report
// some, skipping one that panics.
func TestPluginMetrics(t *testing.T) {
	good := register(t, "good", &metricsPlugin{}, nil)
	bad := register(t, "bad", &metricsPlugin{panics: true}, nil)
	s := newEngine(t, engine.WithConnectors(good, bad))
	got := s.PluginMetrics()
	if len(got) != 1 || got[0].Plugin != good || got[0].Name != "stoq_test_things_total" || got[0].Value != 7 {
		t.Fatalf("PluginMetrics %+v, want the one metric of %s", got, good)
	}
}

// WithoutRoles loads nothing at New: a program can ask for one plugin.
func TestWithoutRolesLoadsNoPlugin(t *testing.T) {
	s := newEngine(t, engine.WithConnectors("no-such-plugin"), engine.WithoutRoles())
	if got := s.Settings().Connectors; !slices.Equal(got, []string{"no-such-plugin"}) {
		t.Errorf("settings %v: roles must still be resolved", got)
	}
	c := register(t, "c", &memConnector{}, nil)
	if _, err := s.LoadPlugin(c); err != nil {
		t.Errorf("LoadPlugin: %v", err)
	}
}
