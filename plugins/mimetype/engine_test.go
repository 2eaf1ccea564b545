package mimetype

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Stub workers the engine tests route to: "stubarchive" extracts the
// payload it was given as extra data, "stubpe" only records what it saw.
// Each records the dispatch meta the mimetype dispatcher left.

const stubManifest = `[Core]
Name = %s
Module = example.com/%s

[Documentation]
Author = tests
Version = 3.0.0
Website = https://example.com
Description = test stub

[options]
min_stoq_version = 3.0.0
`

type stubWorker struct{ name string }

type stubSeen struct {
	worker string
	meta   map[string]any
	size   int
}

var stubLog struct {
	mu   sync.Mutex
	seen []stubSeen
	// extract is what stubarchive extracts, set by the test.
	extract []byte
}

func (w *stubWorker) Scan(_ context.Context, payload *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	stubLog.mu.Lock()
	defer stubLog.mu.Unlock()
	stubLog.seen = append(stubLog.seen, stubSeen{w.name, payload.DispatchMeta["mimetype"], len(payload.Content)})
	resp := &core.WorkerResponse{}
	if w.name == "stubarchive" && stubLog.extract != nil {
		resp.Extracted = []core.ExtractedPayload{{Content: stubLog.extract, PayloadMeta: core.NewPayloadMeta()}}
	}
	return resp, nil
}

func init() {
	for _, name := range []string{"stubarchive", "stubpe"} {
		manifest := []byte(fmt.Sprintf(stubManifest, name, name))
		core.Register(name, manifest, func(*core.Config, *slog.Logger) (*stubWorker, error) { return &stubWorker{name: name}, nil })
	}
}

// TestEngineRoutesByMimetype runs the dispatcher in an engine, as
// `stoq scan archive.zip -R mimetype -a mimetype` does: the zip goes to the
// archive worker, the PE it extracts to the PE worker, each with the
// dispatch meta naming its MIME type, and the worker's results are in the
// response.
func TestEngineRoutesByMimetype(t *testing.T) {
	zip := sampleNamed(t, "archive.zip")
	exe := sampleNamed(t, "go-windows-amd64.exe")
	stubLog.mu.Lock()
	stubLog.seen, stubLog.extract = nil, exe
	stubLog.mu.Unlock()
	resp := stoqtest.ScanThrough(t, zip, []engine.Option{engine.WithDispatchers("mimetype"), engine.WithAlwaysDispatch("mimetype"),
		engine.WithPluginOptions(map[string]map[string]string{"mimetype": {
			"dispatch_map": "application/zip = stubarchive; application/vnd.microsoft.portable-executable = stubpe",
		}})})
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %+v", resp.Errors)
	}
	if len(resp.Results) != 2 {
		t.Fatalf("%d results, want the zip and the extracted PE", len(resp.Results))
	}
	wantWorkers := [][]string{{"mimetype", "stubarchive"}, {"mimetype", "stubpe"}}
	wantTypes := []string{"application/zip", "application/vnd.microsoft.portable-executable"}
	for i, r := range resp.Results {
		workers := slices.Sorted(slices.Values(r.PluginsRun.Workers))
		if !slices.Equal(workers, wantWorkers[i]) {
			t.Errorf("result %d: workers %v, want %v", i, workers, wantWorkers[i])
		}
		if got := stoqtest.JSON(t, r.Workers["mimetype"]); !reflect.DeepEqual(got, map[string]any{"mimetype": wantTypes[i]}) {
			t.Errorf("result %d: mimetype results %v, want %s", i, got, wantTypes[i])
		}
	}
	stubLog.mu.Lock()
	defer stubLog.mu.Unlock()
	want := []stubSeen{
		{"stubarchive", map[string]any{"mimetype": "application/zip", "patterns": map[string]string{"stubarchive": "application/zip"}}, len(zip)},
		{"stubpe", map[string]any{"mimetype": wantTypes[1], "patterns": map[string]string{"stubpe": wantTypes[1]}}, len(exe)},
	}
	if !reflect.DeepEqual(stubLog.seen, want) {
		t.Errorf("stubs saw %+v, want %+v", stubLog.seen, want)
	}
}
