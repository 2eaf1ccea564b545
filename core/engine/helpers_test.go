package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Test plugins: small concrete types whose behaviour is a function, each
// registered under a name unique to the test that uses it.

type scanFunc func(ctx context.Context, p *core.Payload, r *core.Request) (*core.WorkerResponse, error)

type fnWorker struct {
	scan  scanFunc
	calls atomic.Int64
}

func (w *fnWorker) Scan(ctx context.Context, p *core.Payload, r *core.Request) (*core.WorkerResponse, error) {
	w.calls.Add(1)
	if w.scan == nil {
		return &core.WorkerResponse{Results: map[string]any{"size": len(p.Content)}}, nil
	}
	return w.scan(ctx, p, r)
}

type fnDispatcher struct {
	dispatch func(p *core.Payload, r *core.Request) (*core.DispatcherResponse, error)
	calls    atomic.Int64
}

func (d *fnDispatcher) GetDispatches(_ context.Context, p *core.Payload, r *core.Request) (*core.DispatcherResponse, error) {
	d.calls.Add(1)
	return d.dispatch(p, r)
}

type memArchiver struct {
	mu     sync.Mutex
	stored map[string][]byte
}

func (a *memArchiver) Archive(_ context.Context, p *core.Payload, _ *core.Request) (*core.ArchiverResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stored[p.ID()] = p.Content
	return &core.ArchiverResponse{Results: map[string]any{"key": p.ID()}}, nil
}

func (a *memArchiver) Get(_ context.Context, task *core.ArchiverResponse) (*core.Payload, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key, _ := task.Results.(map[string]any)["key"].(string)
	content, ok := a.stored[key]
	if !ok {
		return nil, fmt.Errorf("no archived payload %q", key)
	}
	return core.NewPayload(content, nil), nil
}

// memConnector keeps every response it saved, as JSON.
type memConnector struct {
	mu    sync.Mutex
	saved []*core.StoqResponse
	fail  error
}

func (c *memConnector) Save(_ context.Context, r *core.StoqResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.saved = append(c.saved, r)
	return nil
}

func (c *memConnector) responses() []*core.StoqResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*core.StoqResponse(nil), c.saved...)
}

type fnDecorator struct {
	decorate func(r *core.StoqResponse) (*core.DecoratorResponse, error)
}

func (d *fnDecorator) Decorate(_ context.Context, r *core.StoqResponse) (*core.DecoratorResponse, error) {
	return d.decorate(r)
}

type fnProvider struct {
	ingest func(ctx context.Context, q *core.Queue) error
}

func (p *fnProvider) Ingest(ctx context.Context, q *core.Queue) error { return p.ingest(ctx, q) }

var nameSeq atomic.Int64

// register registers p under a fresh name derived from base and returns the
// name. opts become the manifest's [options].
func register[T any](t testing.TB, base string, p T, opts map[string]string) string {
	t.Helper()
	name := uniq(base)
	registerAs(name, p, opts)
	return name
}

// uniq returns a plugin name no other test uses.
func uniq(base string) string { return fmt.Sprintf("%s-%d", base, nameSeq.Add(1)) }

func registerAs[T any](name string, p T, opts map[string]string) {
	core.Register(name, manifest(name, opts), func(*core.Config, *slog.Logger) (T, error) { return p, nil })
}

func manifest(name string, opts map[string]string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "[Core]\nName = %s\nModule = example.com/%s\n\n[Documentation]\nAuthor = tests\nVersion = 3.0.0\nWebsite = https://example.com\nDescription = test plugin %s\n\n[options]\nmin_stoq_version = 3.0.0\n", name, name, name)
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, opts[k])
	}
	return []byte(b.String())
}

// extractor returns a worker that extracts each of contents once.
func extractor(contents ...string) *fnWorker {
	return &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		resp := &core.WorkerResponse{Results: map[string]any{"extracted": len(contents)}}
		for _, c := range contents {
			resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: []byte(c)})
		}
		return resp, nil
	}}
}

func scan(t testing.TB, s *engine.Stoq, content string, start ...string) *core.StoqResponse {
	t.Helper()
	resp, err := s.Scan(context.Background(), []byte(content), nil, nil, start...)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return resp
}

func newEngine(t testing.TB, opts ...engine.Option) *engine.Stoq {
	t.Helper()
	return stoqtest.Engine(t, opts...)
}

// workersRun lists plugins_run.workers of result i.
func workersRun(r *core.StoqResponse, i int) []string { return r.Results[i].PluginsRun.Workers }

func errorsOf(r *core.StoqResponse) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.PluginName+": "+e.Message)
	}
	return out
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
