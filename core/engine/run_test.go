package engine_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

func TestRunScansPayloadsRequestsAndArchiverTasks(t *testing.T) {
	arch := &memArchiver{stored: map[string][]byte{"k1": []byte("from-archive")}}
	an := register(t, "arch", arch, nil)
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	w := register(t, "w", &fnWorker{}, nil)
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		for i := 0; i < 50; i++ {
			if err := q.PutPayload(ctx, core.NewPayload([]byte(fmt.Sprintf("payload-%d", i)), nil)); err != nil {
				return err
			}
		}
		req := &core.Request{Payloads: []*core.Payload{core.NewPayload([]byte("r1"), nil), core.NewPayload([]byte("r2"), nil)}} // no meta: Run's applies
		if err := q.PutRequest(ctx, req); err != nil {
			return err
		}
		if err := q.PutArchived(ctx, an, map[string]any{"key": "k1"}); err != nil {
			return err
		}
		return q.PutArchived(ctx, an, map[string]any{"key": "missing"})
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn), engine.WithSourceArchivers(an),
		engine.WithSetting("max_queue", "3"), engine.WithSetting("provider_consumers", "4"))
	meta := core.NewRequestMeta()
	meta.Source = "unit-test"
	if err := s.Run(context.Background(), meta, w); err != nil {
		t.Fatalf("Run: %v", err)
	}
	saved := conn.responses()
	if len(saved) != 53 {
		t.Fatalf("saved %d responses, want 50 payloads + 1 request + 2 archiver tasks", len(saved))
	}
	var contents []string
	var archiveErrors int
	for _, r := range saved {
		if r.RequestMeta.Source != "unit-test" {
			t.Errorf("request meta not passed: %+v", r.RequestMeta)
		}
		if len(r.Results) == 0 {
			if len(r.Errors) == 1 && r.Errors[0].PluginName == an && strings.Contains(r.Errors[0].Message, "missing") {
				archiveErrors++
				continue
			}
			t.Errorf("empty response %+v", r.Errors)
		}
		for _, res := range r.Results {
			if !contains(res.PluginsRun.Workers, w) {
				t.Errorf("start dispatch not applied in run mode")
			}
			contents = append(contents, fmt.Sprint(res.Workers[w].(map[string]any)["size"]))
		}
	}
	if archiveErrors != 1 {
		t.Errorf("a failed archiver task must be saved as an error response; got %d", archiveErrors)
	}
	if len(contents) != 53 {
		t.Errorf("scanned %d payloads, want 53", len(contents))
	}
}

func TestRunWithoutProvidersIsAnError(t *testing.T) {
	s := newEngine(t)
	if err := s.Run(context.Background(), nil); !errors.Is(err, engine.ErrNoProviders) {
		t.Fatalf("Run = %v, want ErrNoProviders", err)
	}
}

func TestRunCancelledFinishesAcceptedWork(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	started := make(chan struct{}, 100)
	slow := register(t, "slow", &fnWorker{scan: func(ctx context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		started <- struct{}{}
		time.Sleep(20 * time.Millisecond)
		return &core.WorkerResponse{Results: map[string]any{"ok": true}}, nil
	}}, nil)
	var accepted atomic.Int64
	pn := register(t, "endless", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		for i := 0; ; i++ {
			if err := q.PutPayload(ctx, core.NewPayload([]byte(fmt.Sprint(i)), nil)); err != nil {
				return err // cancelled: stop
			}
			accepted.Add(1)
		}
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn), engine.WithAlwaysDispatch(slow),
		engine.WithSetting("max_queue", "5"), engine.WithSetting("provider_consumers", "2"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, nil) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	saved := conn.responses()
	if int64(len(saved)) != accepted.Load() {
		t.Fatalf("accepted %d payloads but saved %d: work was lost on shutdown", accepted.Load(), len(saved))
	}
	for _, r := range saved {
		if _, ok := r.Results[0].Workers[slow]; !ok {
			t.Fatalf("a saved scan was cut short: %v", errorsOf(r))
		}
	}
}

func TestRunReturnsProviderErrorsAfterDraining(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	pn := register(t, "broken", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		_ = q.PutPayload(ctx, core.NewPayload([]byte("before the failure"), nil))
		return errors.New("source went away")
	}}, nil)
	pp := register(t, "panicky", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error { panic("provider bug") }}, nil)
	s := newEngine(t, engine.WithProviders(pn, pp), engine.WithConnectors(cn))
	err := s.Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "source went away") || !strings.Contains(err.Error(), "panic: provider bug") {
		t.Fatalf("Run = %v, want both provider failures", err)
	}
	if len(conn.responses()) != 1 {
		t.Errorf("the payload queued before the failure was not saved")
	}
}

func TestQueueRefusesEmptyTasksAndLateWrites(t *testing.T) {
	q := core.NewQueue(1)
	if err := q.Put(context.Background(), core.Task{}); err == nil {
		t.Error("empty task accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	_ = q.PutPayload(ctx, core.NewPayload(nil, nil))
	cancel()
	if err := q.PutPayload(ctx, core.NewPayload(nil, nil)); !errors.Is(err, context.Canceled) {
		t.Errorf("Put on a full queue with a cancelled context = %v", err)
	}
}

func TestConcurrentScansAreSafe(t *testing.T) {
	ex := register(t, "extract", extractor("x", "y"), nil)
	w := register(t, "w", &fnWorker{}, nil)
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithConnectors(cn))
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp := scan(t, s, fmt.Sprint("root", i), ex)
			if len(resp.Results) != 3 {
				t.Errorf("scan %d: %d results", i, len(resp.Results))
			}
		}(i)
	}
	wg.Wait()
	ids := map[string]bool{}
	for _, r := range conn.responses() {
		ids[r.ScanID] = true
	}
	if len(ids) != 16 {
		t.Errorf("%d distinct scan ids saved, want 16", len(ids))
	}
	keys := make([]string, 0)
	for k := range ids {
		keys = append(keys, k)
	}
	sort.Strings(keys)
}

type sickPlugin struct{ fnWorker }

func (*sickPlugin) HealthCheck(context.Context) error { return errors.New("backend unreachable") }

func TestHealthCheckReportsUnhealthyPlugins(t *testing.T) {
	sick := register(t, "sick", &sickPlugin{}, nil)
	healthy := register(t, "healthy", &fnWorker{}, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(sick, healthy))
	got := s.HealthCheck(context.Background())
	if len(got) != 1 || got[sick] == nil || !strings.Contains(got[sick].Error(), "unreachable") {
		t.Errorf("HealthCheck = %v", got)
	}
}

func TestRunAbandonsAProviderThatIgnoresCancellation(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	stuck := make(chan struct{})
	defer close(stuck)
	queued := make(chan struct{})
	pn := register(t, "stubborn", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		if err := q.PutPayload(ctx, core.NewPayload([]byte("accepted"), nil)); err != nil {
			return err
		}
		close(queued)
		<-stuck // ignores ctx
		return nil
	}}, map[string]string{"timeout": "0.1"})
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, nil) }()
	<-queued
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "abandoned") {
			t.Errorf("Run = %v, want the stuck provider reported", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a provider ignoring cancellation kept Run from returning")
	}
	if len(conn.responses()) != 1 {
		t.Error("the payload the provider queued before getting stuck was not saved")
	}
}

// openTask is a task queued by reference: content is loaded by Open, and
// released is closed once the engine is done with it.
type openTask struct {
	content  []byte
	err      error
	slow     time.Duration
	opened   atomic.Int64
	released chan struct{}
	maxSeen  atomic.Int64
}

func (o *openTask) open(ctx context.Context, maxSize int64) (*core.Payload, func(), error) {
	o.opened.Add(1)
	o.maxSeen.Store(maxSize)
	if o.slow > 0 {
		time.Sleep(o.slow)
	}
	if o.err != nil {
		return nil, nil, o.err
	}
	return core.NewPayload(o.content, nil), func() { close(o.released) }, nil
}

func TestRunLoadsTasksQueuedByReference(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	w := register(t, "w", &fnWorker{}, nil)
	ok := &openTask{content: []byte("by reference"), released: make(chan struct{})}
	failing := &openTask{err: errors.New("permission denied"), released: make(chan struct{})}
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		if err := q.Put(ctx, core.Task{Open: ok.open}); err != nil {
			return err
		}
		return q.Put(ctx, core.Task{Open: failing.open})
	}}, nil)
	var releasedBeforeSave atomic.Bool
	watch := register(t, "watch", connectorFunc(func(r *core.StoqResponse) error {
		if len(r.Results) > 0 {
			select {
			case <-ok.released:
				releasedBeforeSave.Store(true)
			default:
			}
		}
		return nil
	}), nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn, watch), engine.WithAlwaysDispatch(w),
		engine.WithSetting("max_payload_size", "1000"), engine.WithSetting("provider_consumers", "1"))
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ok.released:
	default:
		t.Error("the loaded payload was never released")
	}
	if releasedBeforeSave.Load() {
		t.Error("the payload was released before its response was saved")
	}
	if ok.maxSeen.Load() != 1000 {
		t.Errorf("Open got maxSize %d, want max_payload_size 1000", ok.maxSeen.Load())
	}
	saved := conn.responses()
	if len(saved) != 2 {
		t.Fatalf("%d responses, want 2", len(saved))
	}
	if saved[0].Results[0].Size != len("by reference") || len(saved[0].Results[0].PluginsRun.Workers) != 1 {
		t.Errorf("first response %+v", saved[0].Results)
	}
	if len(saved[1].Results) != 0 || len(saved[1].Errors) != 1 || saved[1].Errors[0].Message != "provider:failed to load task: permission denied" || saved[1].Errors[0].PluginName != pn {
		t.Errorf("second response: results %v, errors %+v: want only the load failure", saved[1].Results, saved[1].Errors)
	}
}

func TestRunReleasesAnOpenAbandonedAtItsDeadline(t *testing.T) {
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	late := &openTask{content: []byte("late"), slow: 300 * time.Millisecond, released: make(chan struct{})}
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		return q.Put(ctx, core.Task{Open: late.open})
	}}, map[string]string{"timeout": "50ms"})
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn))
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-late.released:
	case <-time.After(10 * time.Second):
		t.Fatal("the late Open's payload was never released")
	}
	saved := conn.responses()
	if len(saved) != 1 || len(saved[0].Errors) != 1 || !strings.Contains(saved[0].Errors[0].Message, "timed out") {
		t.Errorf("responses %v, want one recording the timeout", saved)
	}
}

type connectorFunc func(r *core.StoqResponse) error

func (f connectorFunc) Save(_ context.Context, r *core.StoqResponse) error { return f(r) }
