package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/redis/v3/internal/redistest"
)

// Test doubles the engine tests use beside the redis plugin.
const (
	sizeWorker   = "redistest-size"   // results {"size": N, "content": TEXT}
	slowWorker   = "redistest-slow"   // waits until released
	flakySaver   = "redistest-flaky"  // a connector failing its first saves
	testArchiver = "redistest-arch"   // a source archiver serving {"key": K}
	panicWorker  = "redistest-panics" // a worker that panics on every payload
)

func testManifest(name string) []byte {
	return fmt.Appendf(nil, "[Core]\nName = %s\nModule = example.com/%s\n\n[Documentation]\nAuthor = tests\nVersion = 3.0.0\nWebsite = https://example.com\nDescription = test double %s\n\n[options]\nmin_stoq_version = 3.0.0\n", name, name, name)
}

type sizer struct{}

func (sizer) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"size": len(p.Content), "content": string(p.Content)}}, nil
}

// slow blocks each scan until release is closed; started receives one
// value per scan begun.
type slow struct {
	started chan struct{}
	release chan struct{}
}

var theSlow = &slow{started: make(chan struct{}, 100), release: make(chan struct{})}

func (s *slow) Scan(ctx context.Context, _ *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	s.started <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &core.WorkerResponse{Results: map[string]any{"slow": true}}, nil
}

// flaky fails while failures remain.
type flaky struct{ failures atomic.Int64 }

var theFlaky = &flaky{}

func (f *flaky) Save(context.Context, *core.StoqResponse) error {
	if f.failures.Add(-1) >= 0 {
		return errors.New("flaky connector: down")
	}
	return nil
}

// memArchive is a source archiver over a map.
type memArchive struct {
	mu     sync.Mutex
	stored map[string][]byte
}

var theArchive = &memArchive{stored: map[string][]byte{}}

func (a *memArchive) Get(_ context.Context, task *core.ArchiverResponse) (*core.Payload, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m, _ := task.Results.(map[string]any)
	key, _ := m["key"].(string)
	content, ok := a.stored[key]
	if !ok {
		return nil, fmt.Errorf("no payload %q", key)
	}
	return core.NewPayload(content, nil), nil
}

type panicker struct{}

func (panicker) Scan(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
	panic("worker bug")
}

func init() {
	core.Register(sizeWorker, testManifest(sizeWorker), func(*core.Config, *slog.Logger) (sizer, error) { return sizer{}, nil })
	core.Register(slowWorker, testManifest(slowWorker), func(*core.Config, *slog.Logger) (*slow, error) { return theSlow, nil })
	core.Register(flakySaver, testManifest(flakySaver), func(*core.Config, *slog.Logger) (*flaky, error) { return theFlaky, nil })
	core.Register(testArchiver, testManifest(testArchiver), func(*core.Config, *slog.Logger) (*memArchive, error) { return theArchive, nil })
	core.Register(panicWorker, testManifest(panicWorker), func(*core.Config, *slog.Logger) (panicker, error) { return panicker{}, nil })
}

// harness is a redis-server and the redis plugin's options for it.
type harness struct {
	t    testing.TB
	srv  *redistest.Server
	rdb  *redis.Client
	opts map[string]string
}

// newHarness starts a server. The options make tests quick: short reads
// and a short claim_idle_ms; extra overrides them.
func newHarness(t testing.TB, extra map[string]string) *harness {
	t.Helper()
	srv := redistest.Start(t)
	opts := map[string]string{"redis_url": srv.URL, "block_ms": "100", "claim_idle_ms": "400", "consumer": "worker-1"}
	maps.Copy(opts, extra)
	return &harness{t: t, srv: srv, rdb: srv.Client, opts: opts}
}

// plugin is a redis plugin with the harness's options.
func (h *harness) plugin() *Plugin { return stoqtest.New[*Plugin](h.t, "redis", h.opts) }

// engine runs redis as provider and connector (and more with opts).
func (h *harness) engine(opts ...engine.Option) *engine.Stoq {
	return stoqtest.Engine(h.t, append([]engine.Option{
		engine.WithProviders("redis"), engine.WithConnectors("redis"),
		engine.WithPluginOptions(map[string]map[string]string{"redis": h.opts}),
	}, opts...)...)
}

// run starts s.Run; stop cancels it and, once it returned, closes the
// engine (as the stoq command does: the last acknowledgements are sent
// then) and returns Run's error.
func (h *harness) run(s *engine.Stoq, start ...string) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, nil, start...) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				h.t.Fatalf("Run did not return within a minute of being stopped")
			}
			if cerr := s.Close(); cerr != nil && err == nil {
				err = cerr
			}
		})
		return err
	}
	h.t.Cleanup(func() { _ = stop() })
	return stop
}

func (h *harness) ctx() context.Context { return context.Background() }

// add queues a task with fields on the task stream and returns its id.
func (h *harness) add(fields ...any) string {
	h.t.Helper()
	id, err := h.rdb.XAdd(h.ctx(), &redis.XAddArgs{Stream: h.opt("stream", "stoq:tasks"), Values: fields}).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *harness) opt(key, def string) string {
	if v, ok := h.opts[key]; ok {
		return v
	}
	return def
}

// savedResult is one entry of the results stream.
type savedResult struct {
	scanID   string
	response *core.StoqResponse
}

// results reads the results stream.
func (h *harness) results() []savedResult {
	h.t.Helper()
	msgs, err := h.rdb.XRange(h.ctx(), h.opt("results_stream", "stoq:results"), "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]savedResult, 0, len(msgs))
	for _, m := range msgs {
		var resp core.StoqResponse
		if err := json.Unmarshal([]byte(m.Values["response"].(string)), &resp); err != nil {
			h.t.Fatalf("result %s is not a response: %v", m.ID, err)
		}
		if m.Values["scan_id"] != resp.ScanID {
			h.t.Fatalf("result %s: field scan_id %v, response's %s", m.ID, m.Values["scan_id"], resp.ScanID)
		}
		out = append(out, savedResult{scanID: resp.ScanID, response: &resp})
	}
	return out
}

// deadLetters reads the dead-letter stream.
func (h *harness) deadLetters() []redis.XMessage {
	h.t.Helper()
	msgs, err := h.rdb.XRange(h.ctx(), h.opt("dead_letter_stream", "stoq:tasks:dead"), "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return msgs
}

// pending is the group's pending count, all consumers.
func (h *harness) pending() int64 {
	h.t.Helper()
	p, err := h.rdb.XPending(h.ctx(), h.opt("stream", "stoq:tasks"), h.opt("group", "stoq")).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return p.Count
}

func (h *harness) streamLen(stream string) int64 {
	h.t.Helper()
	n, err := h.rdb.XLen(h.ctx(), stream).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// workerResult returns worker name's results in the response's first
// payload.
func workerResult(t testing.TB, r *core.StoqResponse, name string) map[string]any {
	t.Helper()
	if len(r.Results) == 0 {
		t.Fatalf("response %s has no payload: errors %v", r.ScanID, r.Errors)
	}
	m, ok := r.Results[0].Workers[name].(map[string]any)
	if !ok {
		t.Fatalf("response %s has no %s results: %v (errors %v)", r.ScanID, name, r.Results[0].Workers, r.Errors)
	}
	return m
}
