package dirmon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The harness runs dirmon in a real engine (run mode) with a worker that
// hashes each payload, a connector that records what was scanned, and an
// optional gate worker that holds the consumers back.

func testManifest(name string) []byte {
	return []byte("[Core]\nName = " + name + "\nModule = example.com/" + name +
		"\n[Documentation]\nAuthor = test\nVersion = 1.0.0\nWebsite = https://example.com\nDescription = test\n[options]\nmin_stoq_version = 3.0.0\n")
}

func init() {
	core.Register("dmtest_sha", testManifest("dmtest_sha"), func(*core.Config, *slog.Logger) (*shaWorker, error) { return &shaWorker{}, nil })
	core.Register("dmtest_collect", testManifest("dmtest_collect"), func(*core.Config, *slog.Logger) (*collector, error) {
		return &collector{byPath: map[string][]string{}}, nil
	})
	core.Register("dmtest_gate", testManifest("dmtest_gate"), func(*core.Config, *slog.Logger) (*gate, error) {
		return &gate{entered: make(chan struct{}), open: make(chan struct{})}, nil
	})
}

type shaWorker struct{}

func (shaWorker) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"sha256": sha256Hex(p.Content)}}, nil
}

// collector records, per scanned file path, the sha256 of every payload
// queued for it.
type collector struct {
	mu     sync.Mutex
	byPath map[string][]string
	total  int
	errs   []core.Error
}

func (c *collector) Save(_ context.Context, r *core.StoqResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, r.Errors...)
	for _, res := range r.Results {
		dir, _ := res.PayloadMeta.ExtraData["source_dir"].(string)
		name, _ := res.PayloadMeta.ExtraData["filename"].(string)
		w, _ := res.Workers["dmtest_sha"].(map[string]any)
		sha, _ := w["sha256"].(string)
		path := filepath.Join(dir, name)
		c.byPath[path] = append(c.byPath[path], sha)
		c.total++
	}
	return nil
}

func (c *collector) hasAll(paths []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range paths {
		if len(c.byPath[p]) == 0 {
			return false
		}
	}
	return true
}

// gate blocks every scan until open is closed; entered is closed by the
// first scan.
type gate struct {
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) Scan(ctx context.Context, _ *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	return &core.WorkerResponse{}, nil
}

type harness struct {
	t      *testing.T
	dir    string
	engine *engine.Stoq
	plugin *Plugin
	col    *collector
	cancel context.CancelFunc
	done   chan error
	// stopped is set once Run returned.
	stopped bool
	runErr  error
}

type harnessConfig struct {
	opts     map[string]string
	fsnotify bool // use the portable backend
	workers  []string
	settings map[string]string // [core] settings
	before   func(h *harness)  // after the engine is built, before Run
}

// startMonitor runs dirmon on dir and returns once its watch is in place.
func startMonitor(t *testing.T, dir string, hc harnessConfig) *harness {
	t.Helper()
	opts := map[string]string{"source_dir": dir}
	for k, v := range hc.opts {
		opts[k] = v
	}
	workers := append([]string{"dmtest_sha"}, hc.workers...)
	engineOpts := []engine.Option{
		engine.WithProviders("dirmon"), engine.WithAlwaysDispatch(workers...), engine.WithConnectors("dmtest_collect"),
		engine.WithSetting("provider_consumers", "4"),
		engine.WithPluginOptions(map[string]map[string]string{"dirmon": opts}),
	}
	for k, v := range hc.settings {
		engineOpts = append(engineOpts, engine.WithSetting(k, v))
	}
	s := stoqtest.Engine(t, engineOpts...)
	inst, err := s.LoadPlugin("dirmon")
	if err != nil {
		t.Fatal(err)
	}
	col, err := s.LoadPlugin("dmtest_collect")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: dir, engine: s, plugin: inst.(*Plugin), col: col.(*collector), done: make(chan error, 1)}
	ready := make(chan struct{})
	h.plugin.onWatching = sync.OnceFunc(func() { close(ready) })
	if hc.fsnotify {
		h.plugin.backend = (*monitor).runFsnotify
	}
	if hc.before != nil {
		hc.before(h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- s.Run(ctx, nil) }()
	t.Cleanup(func() { h.stop() })
	select {
	case <-ready:
	case err := <-h.done:
		h.stopped = true
		t.Fatalf("Run returned before watching: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the monitor did not start watching within 60 s")
	}
	return h
}

// stop cancels the run and waits for Run to return (it must, promptly).
func (h *harness) stop() error {
	h.t.Helper()
	if h.stopped {
		return h.runErr
	}
	h.cancel()
	select {
	case h.runErr = <-h.done:
		h.stopped = true
	case <-time.After(60 * time.Second):
		h.t.Fatal("Run did not return within 60 s of cancelling")
	}
	return h.runErr
}

// waitAll waits until every path has been scanned at least once, failing
// only a test stuck for 60 s.
func (h *harness) waitAll(paths []string) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !h.col.hasAll(paths) {
		if time.Now().After(deadline) {
			h.col.mu.Lock()
			var missing []string
			for _, p := range paths {
				if len(h.col.byPath[p]) == 0 {
					missing = append(missing, p)
				}
			}
			h.col.mu.Unlock()
			h.t.Fatalf("%d of %d files not scanned within 60 s, e.g. %v", len(missing), len(paths), missing[:min(5, len(missing))])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish lets any late duplicate surface, then stops the run: it waits two
// settle periods, writes a sentinel file and waits for it. Events are
// handled in order and a settling file is queued within a settle period,
// so anything still pending for the files written before is queued by then.
func (h *harness) finish(settle time.Duration) {
	h.t.Helper()
	time.Sleep(2 * settle)
	sentinel := filepath.Join(h.dir, "zz-sentinel")
	if err := os.WriteFile(sentinel, []byte("sentinel"), 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.waitAll([]string{sentinel})
	if err := h.stop(); err != nil {
		h.t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	h.col.mu.Lock()
	delete(h.col.byPath, sentinel)
	h.col.total--
	h.col.mu.Unlock()
}

// checkExactlyOnce compares what was scanned with what was written
// (path → content): each file once, with its full content, nothing else.
func (h *harness) checkExactlyOnce(written map[string][]byte) {
	h.t.Helper()
	h.col.mu.Lock()
	defer h.col.mu.Unlock()
	if len(h.col.errs) > 0 {
		h.t.Errorf("scan errors: %v", h.col.errs)
	}
	var problems []string
	for path, content := range written {
		got := h.col.byPath[path]
		switch {
		case len(got) == 0:
			problems = append(problems, path+": never scanned")
		case len(got) > 1:
			problems = append(problems, fmt.Sprintf("%s: scanned %d times", path, len(got)))
		case got[0] != sha256Hex(content):
			problems = append(problems, fmt.Sprintf("%s: scanned content is not the %d bytes written", path, len(content)))
		}
	}
	for path := range h.col.byPath {
		if _, ok := written[path]; !ok {
			problems = append(problems, path+": scanned but not expected")
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		h.t.Fatalf("%d problems:\n%s", len(problems), strings.Join(problems[:min(20, len(problems))], "\n"))
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
