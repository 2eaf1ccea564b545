// Package stoqtest is the test kit for stoq plugins: it builds configured
// plugin instances, payloads, requests and engines the way the engine does,
// so that every plugin's tests read alike.
package stoqtest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
	"github.com/stoq-go/stoq/core/v3/internal/response"
)

// Config returns the configuration the engine would give the registered
// plugin name when opts are passed on the command line: its embedded
// manifest options, overridden by opts.
func Config(t testing.TB, name string, opts map[string]string) *core.Config {
	t.Helper()
	info, ok := engine.Lookup(name)
	if !ok {
		t.Fatalf("stoqtest: plugin %q is not registered (is its package imported?)", name)
	}
	return core.NewConfig(name, "",
		core.ConfigLayer{Source: "embedded manifest", Values: info.Manifest.Options},
		core.ConfigLayer{Source: "test options", Values: opts})
}

// New constructs the registered plugin name with opts, failing the test when
// the constructor fails, and closes it (if it is a core.Closer) at cleanup.
func New[T any](t testing.TB, name string, opts map[string]string) T {
	t.Helper()
	p, err := TryNew(t, name, opts)
	if err != nil {
		t.Fatalf("stoqtest: constructing %s: %v", name, err)
	}
	typed, ok := p.(T)
	if !ok {
		t.Fatalf("stoqtest: plugin %s is a %T, not the type asked for", name, p)
	}
	return typed
}

// TryNew constructs the registered plugin name with opts and returns the
// constructor's error, for tests of bad configuration.
func TryNew(t testing.TB, name string, opts map[string]string) (any, error) {
	t.Helper()
	entry, ok := registry.Lookup(name)
	if !ok {
		t.Fatalf("stoqtest: plugin %q is not registered", name)
	}
	newPlugin := entry.New.(func(*core.Config, *slog.Logger) (any, error))
	p, err := newPlugin(Config(t, name, opts), Logger(t))
	if err == nil {
		if c, ok := p.(core.Closer); ok {
			t.Cleanup(func() { _ = c.Close() })
		}
	}
	return p, err
}

// Payload wraps content with default PayloadMeta and the given extra data.
func Payload(content []byte, extra map[string]any) *core.Payload {
	meta := core.NewPayloadMeta()
	for k, v := range extra {
		meta.ExtraData[k] = v
	}
	return core.NewPayload(content, meta)
}

// Response builds the response a connector receives for payloads, as the
// engine builds it after a scan: a scan id, the current time, default
// request meta, no errors or decorator results.
func Response(payloads ...*core.Payload) *core.StoqResponse {
	return response.New(core.NewRequest(payloads, nil))
}

// Request wraps payloads in a request with default RequestMeta.
func Request(payloads ...*core.Payload) *core.Request {
	return core.NewRequest(payloads, nil)
}

// Scan runs worker w on content the way the engine does and fails the test
// when it returns an error.
func Scan(t testing.TB, w core.Worker, content []byte) *core.WorkerResponse {
	t.Helper()
	p := Payload(content, nil)
	resp, err := w.Scan(context.Background(), p, Request(p))
	if err != nil {
		t.Fatalf("stoqtest: Scan: %v", err)
	}
	return resp
}

// Ingest runs provider p until it returns or ctx is done and returns every
// task it queued, in order, with the error Ingest returned. The queue is
// drained as p fills it, so a provider that queues more than max_queue
// tasks never blocks.
func Ingest(ctx context.Context, p core.Provider) ([]core.Task, error) {
	q := core.NewQueue(16)
	done := make(chan error, 1)
	go func() { done <- p.Ingest(ctx, q) }()
	var tasks []core.Task
	for {
		select {
		case task := <-q.Tasks():
			tasks = append(tasks, task)
		case err := <-done:
			for q.Len() > 0 {
				tasks = append(tasks, <-q.Tasks())
			}
			return tasks, err
		}
	}
}

// Engine builds an engine whose logs go to the test log, closed at cleanup.
func Engine(t testing.TB, opts ...engine.Option) *engine.Stoq {
	t.Helper()
	s, err := engine.New(append([]engine.Option{engine.WithLogger(Logger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("stoqtest: engine.New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Logger logs to the test's log (visible with -v or on failure).
// Lines logged after the test ended (by a goroutine a plugin left behind)
// are dropped rather than failing the run.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() { w.done.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	t    testing.TB
	done atomic.Bool
}

func (w *testWriter) Write(b []byte) (int, error) {
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// Discard is a logger that drops everything, for benchmarks.
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// JSON round-trips v through encoding/json into a generic value, to compare
// results as a connector would see them.
func JSON(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("stoqtest: marshal: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("stoqtest: unmarshal: %v", err)
	}
	return out
}
