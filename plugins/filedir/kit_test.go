package filedir_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// Test-only plugins for engine tests: a worker that hashes, a connector
// that keeps every response, and a provider that queues archiver tasks.

func testManifest(name string) []byte {
	return []byte("[Core]\nName = " + name + "\nModule = example.com/" + name +
		"\n[Documentation]\nAuthor = test\nVersion = 1.0.0\nWebsite = https://example.com\nDescription = test\n[options]\nmin_stoq_version = 3.0.0\n")
}

func init() {
	core.Register("fdtest_sha", testManifest("fdtest_sha"), func(*core.Config, *slog.Logger) (*shaWorker, error) { return &shaWorker{}, nil })
	core.Register("fdtest_collect", testManifest("fdtest_collect"), func(*core.Config, *slog.Logger) (*collector, error) { return &collector{}, nil })
	core.Register("fdtest_tasks", testManifest("fdtest_tasks"), newTaskProvider)
}

type shaWorker struct{}

func (shaWorker) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	sum := sha256.Sum256(p.Content)
	return &core.WorkerResponse{Results: map[string]any{"sha256": hex.EncodeToString(sum[:])}}, nil
}

type collector struct {
	mu        sync.Mutex
	responses []*core.StoqResponse
}

func (c *collector) Save(_ context.Context, r *core.StoqResponse) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.responses = append(c.responses, r)
	return nil
}

// taskProvider queues core.Task{Archived: {"filedir": {"path": P}}} for
// each path of its "paths" option (a JSON list).
type taskProvider struct{ paths []string }

func newTaskProvider(cfg *core.Config, _ *slog.Logger) (*taskProvider, error) {
	p := &taskProvider{}
	return p, cfg.JSON("paths", &p.paths)
}

func (t *taskProvider) Ingest(ctx context.Context, q *core.Queue) error {
	for _, path := range t.paths {
		if err := q.Put(ctx, core.Task{Archived: map[string]any{"filedir": map[string]any{"path": path}}}); err != nil {
			return err
		}
	}
	return nil
}

// scanned is what a run scanned: one entry per root payload.
type scanned struct {
	sha256    string
	extra     map[string]any
	archivers map[string]any
}

// collected returns the collector's responses of engine s as scanned
// entries sorted by sha256, plus the errors the responses hold.
func collected(t *testing.T, s *engine.Stoq) ([]scanned, []core.Error) {
	t.Helper()
	inst, err := s.LoadPlugin("fdtest_collect")
	if err != nil {
		t.Fatal(err)
	}
	c := inst.(*collector)
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []scanned
	var errs []core.Error
	for _, r := range c.responses {
		errs = append(errs, r.Errors...)
		for _, res := range r.Results {
			m, _ := res.Workers["fdtest_sha"].(map[string]any)
			sha, _ := m["sha256"].(string)
			out = append(out, scanned{sha256: sha, extra: res.PayloadMeta.ExtraData, archivers: res.Archivers})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return a.sha256 < b.sha256 || a.sha256 == b.sha256 && fmt.Sprint(a.extra["filename"]) < fmt.Sprint(b.extra["filename"])
	})
	return out, errs
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
