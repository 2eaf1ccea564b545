package stoqtest

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
	"github.com/stoq-go/stoq/core/v3/plugincheck"
)

// What plugin authors test beyond one call: a dispatcher's answer, where a
// scan sends payloads (to fake workers, so the real ones need not be
// linked), and that stoq install will accept the plugin folder.

// Dispatch runs dispatcher d on content the way the engine does (default
// payload and request meta) and fails the test when it returns an error.
func Dispatch(t testing.TB, d core.Dispatcher, content []byte) *core.DispatcherResponse {
	t.Helper()
	p := Payload(content, nil)
	resp, err := d.GetDispatches(context.Background(), p, Request(p))
	if err != nil {
		t.Fatalf("stoqtest: GetDispatches: %v", err)
	}
	if resp == nil {
		resp = &core.DispatcherResponse{}
	}
	return resp
}

// ScanThrough scans content with an engine built from opts (such as
// engine.WithDispatchers("mydispatcher"), engine.WithAlwaysDispatch(...),
// engine.WithPluginOptions(...)), its logs in the test log, and fails the
// test when the scan fails. startDispatch are the workers of the first
// round (stoq scan -s).
func ScanThrough(t testing.TB, content []byte, opts []engine.Option, startDispatch ...string) *core.StoqResponse {
	t.Helper()
	s := Engine(t, opts...)
	resp, err := s.Scan(context.Background(), content, nil, nil, startDispatch...)
	if err != nil {
		t.Fatalf("stoqtest: Scan: %v", err)
	}
	return resp
}

// FakeWorker is a worker registered under a name for tests (FakeWorkers):
// it records every payload sent to it and answers with the results set by
// Returns ({"fake": NAME} by default). It is safe for concurrent use, as
// the engine calls workers of a round concurrently.
type FakeWorker struct {
	name     string
	mu       sync.Mutex
	payloads []*core.Payload
	results  map[string]any
}

// Name is the plugin name the fake is registered as.
func (f *FakeWorker) Name() string { return f.name }

// Returns sets the results the fake answers every payload with.
func (f *FakeWorker) Returns(results map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results = results
}

// Payloads are the payloads the fake was sent, in the order of the calls.
func (f *FakeWorker) Payloads() []*core.Payload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*core.Payload(nil), f.payloads...)
}

// Contents are the contents of the payloads the fake was sent, as strings,
// sorted (calls of one round have no order).
func (f *FakeWorker) Contents() []string {
	var out []string
	for _, p := range f.Payloads() {
		out = append(out, string(p.Content))
	}
	sort.Strings(out)
	return out
}

// Scan records the payload and returns the fake's results.
func (f *FakeWorker) Scan(_ context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payloads = append(f.payloads, payload)
	results := f.results
	if results == nil {
		results = map[string]any{"fake": f.name}
	}
	return &core.WorkerResponse{Results: results}, nil
}

func (f *FakeWorker) reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payloads, f.results = nil, nil
}

var _ core.Worker = (*FakeWorker)(nil)

var (
	fakesMu sync.Mutex
	fakes   = map[string]*FakeWorker{}
)

// FakeWorkers registers a FakeWorker under each name, for a dispatcher (or
// a worker's dispatch_to) to send payloads to without linking the real
// plugins, and returns them by name, emptied for this test (and again at
// its end). A name is registered once per test binary; a name a real plugin
// of the binary already uses fails the test. Tests sharing a fake must not
// run in parallel.
func FakeWorkers(t testing.TB, names ...string) map[string]*FakeWorker {
	t.Helper()
	fakesMu.Lock()
	defer fakesMu.Unlock()
	out := make(map[string]*FakeWorker, len(names))
	for _, name := range names {
		f, ok := fakes[name]
		if !ok {
			if _, taken := registry.Lookup(name); taken {
				t.Fatalf("stoqtest: FakeWorkers: a real plugin %s is linked into this test binary", name)
			}
			if !core.ValidPluginName(name) {
				t.Fatalf("stoqtest: FakeWorkers: %q is not a plugin name", name)
			}
			f = &FakeWorker{name: name}
			core.Register(name, fakeManifest(name), func(*core.Config, *slog.Logger) (*FakeWorker, error) { return f, nil })
			fakes[name] = f
		}
		f.reset()
		t.Cleanup(f.reset)
		out[name] = f
	}
	return out
}

func fakeManifest(name string) []byte {
	return fmt.Appendf(nil, `[Core]
Name = %s
Module = github.com/stoq-go/stoq/core/v3/stoqtest

[Documentation]
Author = stoqtest
Version = 0.0.0
Website = https://github.com/stoq-go/stoq
Description = A fake worker of stoqtest.FakeWorkers

[options]
min_stoq_version = %s
`, name, core.Version)
}

// CheckPlugin checks the plugin folder dir (usually ".", the package's own
// folder) exactly as stoq install will before building it
// (plugincheck.Check: manifest fields, a safe and unreserved name, semver
// Version, min_stoq_version met by this core, go.mod module = manifest
// Module and valid for the Version's major, a library package at the root),
// and that this test binary registers the plugin with the folder's
// manifest embedded, as the installer's trial run of the new binary will
// see it. Warnings are logged. It returns the checked plugin.
func CheckPlugin(t testing.TB, dir string) *plugincheck.Plugin {
	t.Helper()
	p, err := plugincheck.Check(dir, plugincheck.Options{})
	if err != nil {
		t.Fatalf("stoqtest: stoq install would refuse %s: %v", dir, err)
	}
	for _, w := range p.Warnings {
		t.Logf("stoqtest: stoq install would warn: %s", w)
	}
	entry, ok := registry.Lookup(p.Name)
	if !ok {
		t.Fatalf("stoqtest: plugin %s is not registered by this test binary: its package must call core.Register(%q, manifest, New) in init, with //go:embed %s.stoq", p.Name, p.Name, p.Name)
	}
	embedded := entry.Manifest.(*core.Manifest)
	for _, f := range []struct{ field, got, want string }{
		{"[Core] Module", embedded.Module, p.Manifest.Module},
		{"[Documentation] Version", embedded.Version, p.Manifest.Version},
		{"[options] min_stoq_version", embedded.MinStoqVersion, p.Manifest.MinStoqVersion},
	} {
		if f.got != f.want {
			t.Errorf("stoqtest: plugin %s registers a manifest whose %s is %q but %s says %q: embed the folder's manifest (//go:embed %s.stoq)",
				p.Name, f.field, f.got, p.Manifest.Path, f.want, p.Name)
		}
	}
	if !reflect.DeepEqual(embedded.Options, p.Manifest.Options) {
		t.Errorf("stoqtest: plugin %s registers options %v but %s has %v: embed the folder's manifest", p.Name, embedded.Options, p.Manifest.Path, p.Manifest.Options)
	}
	return p
}
