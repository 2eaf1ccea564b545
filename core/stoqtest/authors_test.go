package stoqtest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// route sends payloads starting with "MZ" to pe-worker and every other one
// to text-worker: a dispatcher whose targets are not linked in.
type route struct{}

const routeManifest = `[Core]
Name = stoqtest-route
Module = example.com/stoq-plugins/stoqtest-route

[Documentation]
Author = stoqtest
Version = 1.2.0
Website = https://example.com
Description = Routes payloads by magic

[options]
min_stoq_version = 3.0.0
target = pe-worker
`

func init() {
	core.Register("stoqtest-route", []byte(routeManifest), func(*core.Config, *slog.Logger) (route, error) { return route{}, nil })
}

func (route) GetDispatches(_ context.Context, p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
	if bytes.HasPrefix(p.Content, []byte("MZ")) {
		return &core.DispatcherResponse{PluginNames: []string{"pe-worker"}}, nil
	}
	return &core.DispatcherResponse{PluginNames: []string{"text-worker"}}, nil
}

func TestDispatchCallsTheDispatcher(t *testing.T) {
	got := stoqtest.Dispatch(t, route{}, []byte("MZ\x90"))
	if len(got.PluginNames) != 1 || got.PluginNames[0] != "pe-worker" {
		t.Errorf("dispatches %v", got.PluginNames)
	}
}

func TestFakeWorkersReceiveWhatADispatcherSends(t *testing.T) {
	fakes := stoqtest.FakeWorkers(t, "pe-worker", "text-worker")
	fakes["pe-worker"].Returns(map[string]any{"machine": "i386"})
	opts := []engine.Option{engine.WithDispatchers("stoqtest-route")}
	resp := stoqtest.ScanThrough(t, []byte("MZ\x90\x00"), opts)
	if got := fakes["pe-worker"].Contents(); len(got) != 1 || got[0] != "MZ\x90\x00" {
		t.Errorf("pe-worker saw %q", got)
	}
	if n := len(fakes["text-worker"].Payloads()); n != 0 {
		t.Errorf("text-worker saw %d payloads", n)
	}
	if got := stoqtest.JSON(t, resp.Results[0].Workers); !strings.Contains(stringOf(got), "i386") {
		t.Errorf("results %v", got)
	}

	// The same names in a second scan, and in another test: fresh fakes.
	fakes = stoqtest.FakeWorkers(t, "text-worker")
	stoqtest.ScanThrough(t, []byte("plain text"), opts)
	if got := fakes["text-worker"].Contents(); len(got) != 1 || got[0] != "plain text" {
		t.Errorf("text-worker saw %q", got)
	}
}

func TestFakeWorkersStartEmptyInEachTest(t *testing.T) {
	fakes := stoqtest.FakeWorkers(t, "pe-worker", "text-worker")
	for name, f := range fakes {
		if len(f.Payloads()) != 0 {
			t.Errorf("%s kept %d payloads from another test", name, len(f.Payloads()))
		}
	}
	if got := stoqtest.Scan(t, fakes["pe-worker"], []byte("x")).Results; stringOf(got) != "map[fake:pe-worker]" {
		t.Errorf("default results %v", got)
	}
}

func stringOf(v any) string { return fmt.Sprint(v) }

// writePluginFolder writes the folder of the test's stoqtest-route plugin.
func writePluginFolder(t *testing.T, manifest, gomod, code string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"stoqtest-route.stoq": manifest, "go.mod": gomod, "route.go": code} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const routeGoMod = "module example.com/stoq-plugins/stoqtest-route\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n"

func TestCheckPluginAcceptsWhatStoqInstallAccepts(t *testing.T) {
	dir := writePluginFolder(t, routeManifest, routeGoMod, "package route\n")
	p := stoqtest.CheckPlugin(t, dir)
	if p.Name != "stoqtest-route" || p.Version != "1.2.0" || p.Module != "example.com/stoq-plugins/stoqtest-route" {
		t.Errorf("checked %+v", p)
	}
}

// TestCheckPluginFailsWhereStoqInstallWould runs CheckPlugin in a test
// double of testing.TB and checks it reports what the installer refuses.
func TestCheckPluginFailsWhereStoqInstallWould(t *testing.T) {
	tests := []struct {
		name, manifest, gomod, code, want string
	}{
		{"module mismatch", routeManifest, "module example.com/other\n", "package route\n", "declares module example.com/other"},
		{"no major suffix", strings.Replace(routeManifest, "Version = 1.2.0", "Version = 3.0.0", 1), routeGoMod, "package route\n", "end the module path in /v3"},
		{"a command", routeManifest, routeGoMod, "package main\n", "package main"},
		{"embedded manifest differs", strings.Replace(routeManifest, "target = pe-worker", "target = other", 1), routeGoMod, "package route\n", "embed the folder's manifest"},
		{"not registered", strings.ReplaceAll(routeManifest, "stoqtest-route", "stoqtest-nothere"), strings.Replace(routeGoMod, "stoqtest-route", "stoqtest-nothere", 1), "package route\n", "is not registered by this test binary"},
		{"reserved name", strings.ReplaceAll(routeManifest, "stoqtest-route", "submit"), strings.Replace(routeGoMod, "stoqtest-route", "submit", 1), "package route\n", "reserved"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := "stoqtest-route"
			for _, n := range []string{"stoqtest-nothere", "submit"} {
				if strings.Contains(tt.manifest, "Name = "+n) {
					name = n
				}
			}
			for file, content := range map[string]string{name + ".stoq": tt.manifest, "go.mod": tt.gomod, "route.go": tt.code} {
				if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			rec := &recordingTB{TB: t}
			func() {
				defer func() { _ = recover() }() // Fatalf stops the check as it would the test
				stoqtest.CheckPlugin(rec, dir)
			}()
			if !strings.Contains(rec.failures.String(), tt.want) {
				t.Errorf("CheckPlugin reported %q, want %q", rec.failures.String(), tt.want)
			}
		})
	}
}

// recordingTB records failures instead of failing the test; Fatalf panics
// to stop the caller as t.Fatalf would.
type recordingTB struct {
	testing.TB
	failures strings.Builder
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.failures.WriteString(fmt.Sprintf(format, args...) + "\n")
}
func (r *recordingTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic("fatal")
}
func (r *recordingTB) Logf(string, ...any) {}
