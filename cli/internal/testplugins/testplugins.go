// Package testplugins registers test doubles of stoq plugins for the cli's
// tests. They carry the names stoQ's user guide uses (hash, peinfo, dirmon,
// filedir, yara) so its command lines can be run verbatim, and a few of
// their own (testextract, testerror, testprovider, testslow). Only test
// binaries import this package; it must never be linked into a real stoq,
// where the real plugins own those names.
package testplugins

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed manifests/*.stoq
var manifests embed.FS

func manifest(name string) []byte {
	b, err := manifests.ReadFile("manifests/" + name + ".stoq")
	if err != nil {
		panic(err)
	}
	return b
}

func init() {
	core.Register("hash", manifest("hash"), newHash)
	core.Register("peinfo", manifest("peinfo"), newPeinfo)
	core.Register("dirmon", manifest("dirmon"), newDirmon)
	core.Register("filedir", manifest("filedir"), newFiledir)
	core.Register("yara", manifest("yara"), newYara)
	core.Register("testextract", manifest("testextract"), newExtract)
	core.Register("testerror", manifest("testerror"), newError)
	core.Register("testprovider", manifest("testprovider"), newProvider)
	core.Register("testslow", manifest("testslow"), newSlow)
	core.Register("testshrink", manifest("testshrink"), newShrink)
}

// Hash is a Worker hashing content in one pass, like the real hash plugin.
type Hash struct{}

func newHash(*core.Config, *slog.Logger) (*Hash, error) { return &Hash{}, nil }

// Scan returns md5, sha1 and sha256 of the content.
func (*Hash) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	m, s1, s256 := md5.New(), sha1.New(), sha256.New()
	_, _ = io.MultiWriter(m, s1, s256).Write(p.Content)
	return &core.WorkerResponse{Results: map[string]string{
		"md5": hex.EncodeToString(m.Sum(nil)), "sha1": hex.EncodeToString(s1.Sum(nil)), "sha256": hex.EncodeToString(s256.Sum(nil)),
	}}, nil
}

// Peinfo is a Worker telling whether content starts with "MZ".
type Peinfo struct{}

func newPeinfo(*core.Config, *slog.Logger) (*Peinfo, error) { return &Peinfo{}, nil }

// Scan reports is_exe and the size.
func (*Peinfo) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"is_exe": bytes.HasPrefix(p.Content, []byte("MZ")), "size": len(p.Content)}}, nil
}

// Dirmon is a Provider queuing every file of source_dir, in name order,
// then returning; with source_archiver set it queues archiver tasks
// {"path": FILE} for that archiver instead of payloads.
type Dirmon struct {
	dir, archiver string
}

func newDirmon(cfg *core.Config, _ *slog.Logger) (*Dirmon, error) {
	d := &Dirmon{dir: cfg.String("source_dir", ""), archiver: cfg.String("source_archiver", "")}
	if d.dir == "" {
		return nil, errors.New("source_dir is not set")
	}
	return d, nil
}

// Ingest queues the folder's files.
func (d *Dirmon) Ingest(ctx context.Context, q *core.Queue) error {
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(d.dir, e.Name())
		if d.archiver != "" {
			if err := q.PutArchived(ctx, d.archiver, map[string]any{"path": path}); err != nil {
				return err
			}
			continue
		}
		content, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		meta := core.NewPayloadMeta()
		meta.ExtraData["filename"] = e.Name()
		if err := q.PutPayload(ctx, core.NewPayload(content, meta)); err != nil {
			return err
		}
	}
	return nil
}

// Filedir is a Connector (results_dir/SCAN_ID holds each response), an
// Archiver (archive_dir/SHA256 holds each payload) and a SourceArchiver
// (loads {"path": FILE}).
type Filedir struct {
	resultsDir, archiveDir string
}

func newFiledir(cfg *core.Config, _ *slog.Logger) (*Filedir, error) {
	return &Filedir{resultsDir: cfg.String("results_dir", ""), archiveDir: cfg.String("archive_dir", "")}, nil
}

// Save writes the response as JSON.
func (f *Filedir) Save(_ context.Context, r *core.StoqResponse) error {
	if f.resultsDir == "" {
		return errors.New("results_dir is not set")
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(f.resultsDir, r.ScanID), b, 0o644)
}

// Archive writes the payload's content under its sha256.
func (f *Filedir) Archive(_ context.Context, p *core.Payload, _ *core.Request) (*core.ArchiverResponse, error) {
	if f.archiveDir == "" {
		return nil, errors.New("archive_dir is not set")
	}
	sum := sha256.Sum256(p.Content)
	path := filepath.Join(f.archiveDir, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(path, p.Content, 0o644); err != nil {
		return nil, err
	}
	return &core.ArchiverResponse{Results: map[string]string{"path": path}}, nil
}

// Get loads the file a task names.
func (f *Filedir) Get(_ context.Context, task *core.ArchiverResponse) (*core.Payload, error) {
	m, ok := task.Results.(map[string]any)
	path, _ := m["path"].(string)
	if !ok || path == "" {
		return nil, fmt.Errorf("task %v has no path", task.Results)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta := core.NewPayloadMeta()
	meta.ExtraData["filename"] = filepath.Base(path)
	meta.ExtraData["archived"] = true
	return core.NewPayload(content, meta), nil
}

// Yara is a Worker (does the content hold rule?), a Dispatcher (sends
// content holding rule to dispatch_to) and a Decorator (counts payloads).
type Yara struct {
	rule       []byte
	dispatchTo []string
}

func newYara(cfg *core.Config, _ *slog.Logger) (*Yara, error) {
	return &Yara{rule: []byte(cfg.String("rule", "MZ")), dispatchTo: cfg.List("dispatch_to", nil)}, nil
}

// Scan reports whether the content holds rule.
func (y *Yara) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	var matches []string
	if bytes.Contains(p.Content, y.rule) {
		matches = append(matches, "rule_"+string(y.rule))
	}
	return &core.WorkerResponse{Results: map[string]any{"matches": matches}}, nil
}

// GetDispatches sends content holding rule to dispatch_to.
func (y *Yara) GetDispatches(_ context.Context, p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
	if !bytes.Contains(p.Content, y.rule) {
		return &core.DispatcherResponse{}, nil
	}
	return &core.DispatcherResponse{PluginNames: y.dispatchTo, Meta: map[string]any{"rule": string(y.rule)}}, nil
}

// Decorate counts the response's payloads.
func (y *Yara) Decorate(_ context.Context, r *core.StoqResponse) (*core.DecoratorResponse, error) {
	return &core.DecoratorResponse{Results: map[string]int{"payloads": len(r.Results)}}, nil
}

// Extract is a Worker splitting content on separator; each part (when
// there are several) is an extracted payload.
type Extract struct{ sep []byte }

func newExtract(cfg *core.Config, _ *slog.Logger) (*Extract, error) {
	sep := cfg.String("separator", "|")
	if sep == "" {
		return nil, errors.New("separator must not be empty")
	}
	return &Extract{sep: []byte(sep)}, nil
}

// Scan splits the content.
func (x *Extract) Scan(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	parts := bytes.Split(p.Content, x.sep)
	resp := &core.WorkerResponse{Results: map[string]int{"parts": len(parts)}}
	if len(parts) < 2 {
		return resp, nil
	}
	for _, part := range parts {
		if len(part) > 0 {
			resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: bytes.Clone(part)})
		}
	}
	return resp, nil
}

// ErrorWorker fails every scan.
type ErrorWorker struct{}

func newError(*core.Config, *slog.Logger) (*ErrorWorker, error) { return &ErrorWorker{}, nil }

// Scan fails.
func (*ErrorWorker) Scan(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
	return nil, errors.New("testerror always fails")
}

// Provider queues count payloads ("payload 1", ...), touches
// marker_dir/queued, then, with wait, blocks until it is told to stop: a
// provider that never runs dry, for the signal tests.
type Provider struct {
	count     int
	markerDir string
	wait      bool
	queued    atomic.Int64
}

func newProvider(cfg *core.Config, _ *slog.Logger) (*Provider, error) {
	count, err := cfg.Int("count", 3)
	if err != nil {
		return nil, err
	}
	wait, err := cfg.Bool("wait", true)
	if err != nil {
		return nil, err
	}
	return &Provider{count: count, markerDir: cfg.String("marker_dir", ""), wait: wait}, nil
}

// Ingest queues the payloads and waits.
func (p *Provider) Ingest(ctx context.Context, q *core.Queue) error {
	for i := 1; i <= p.count; i++ {
		// Counted before it is queued, so that the count is made before
		// the payload's scan ends (the metrics test relies on it).
		p.queued.Add(1)
		if err := q.PutPayload(ctx, core.NewPayload([]byte(fmt.Sprintf("payload %d", i)), nil)); err != nil {
			p.queued.Add(-1)
			return err
		}
	}
	if p.markerDir != "" {
		if err := os.WriteFile(filepath.Join(p.markerDir, "queued"), nil, 0o644); err != nil {
			return err
		}
	}
	if p.wait {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// Slow is a Worker that touches marker_dir/started-N when a scan starts and
// finishes it only once marker_dir/release exists: the test decides when
// scans in flight may end.
type Slow struct {
	markerDir string
	started   atomic.Int64
}

func newSlow(cfg *core.Config, _ *slog.Logger) (*Slow, error) {
	s := &Slow{markerDir: cfg.String("marker_dir", "")}
	if s.markerDir == "" {
		return nil, errors.New("marker_dir is not set")
	}
	return s, nil
}

// Scan waits for the release file.
func (s *Slow) Scan(ctx context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	n := s.started.Add(1)
	if err := os.WriteFile(filepath.Join(s.markerDir, fmt.Sprintf("started-%d", n)), nil, 0o644); err != nil {
		return nil, err
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(filepath.Join(s.markerDir, "release")); err == nil {
			return &core.WorkerResponse{Results: map[string]any{"content": string(p.Content)}}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// Shrink is a Worker that touches marker_dir/reading when a scan starts,
// waits for marker_dir/truncated (the test truncates the payload's file
// meanwhile), then hashes the content on a goroutine of its own, as the
// hash plugin does with large payloads: no fault protection covers that
// goroutine.
type Shrink struct{ markerDir string }

func newShrink(cfg *core.Config, _ *slog.Logger) (*Shrink, error) {
	s := &Shrink{markerDir: cfg.String("marker_dir", "")}
	if s.markerDir == "" {
		return nil, errors.New("marker_dir is not set")
	}
	return s, nil
}

// Scan hashes the content once the file was truncated.
func (s *Shrink) Scan(ctx context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
	if err := os.WriteFile(filepath.Join(s.markerDir, "reading"), nil, 0o644); err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(s.markerDir, "truncated")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	sum := make(chan [32]byte)
	go func() { sum <- sha256.Sum256(p.Content) }()
	got := <-sum
	return &core.WorkerResponse{Results: map[string]any{"sha256": hex.EncodeToString(got[:])}}, nil
}

// Names lists the plugins this package registers, sorted.
func Names() []string {
	names := []string{"dirmon", "filedir", "hash", "peinfo", "testerror", "testextract", "testprovider", "testshrink", "testslow", "yara"}
	sort.Strings(names)
	return names
}

var (
	_ core.Worker         = (*Hash)(nil)
	_ core.Worker         = (*Peinfo)(nil)
	_ core.Provider       = (*Dirmon)(nil)
	_ core.Connector      = (*Filedir)(nil)
	_ core.Archiver       = (*Filedir)(nil)
	_ core.SourceArchiver = (*Filedir)(nil)
	_ core.Worker         = (*Yara)(nil)
	_ core.Dispatcher     = (*Yara)(nil)
	_ core.Decorator      = (*Yara)(nil)
	_ core.Worker         = (*Extract)(nil)
	_ core.Worker         = (*ErrorWorker)(nil)
	_ core.Provider       = (*Provider)(nil)
	_ core.Worker         = (*Slow)(nil)
	_ core.Worker         = (*Shrink)(nil)
)
