package decompress

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/decompress/v3/internal/archive"
)

// archiveDispatcher routes every payload decompress recognises to it, as
// the yara plugin's shipped rules do: enough to see an archive inside an
// archive come round again through the engine.
type archiveDispatcher struct{}

var archiveDispatcherManifest = []byte(`[Core]
Name = test-archive-dispatcher
Module = test

[Documentation]
Author = stoq developers
Version = 3.0.0
Website = https://github.com/stoq-go/stoq
Description = Dispatch archives to decompress (decompress's engine tests)

[options]
min_stoq_version = 3.0.0
`)

func init() {
	core.Register("test-archive-dispatcher", archiveDispatcherManifest,
		func(*core.Config, *slog.Logger) (archiveDispatcher, error) { return archiveDispatcher{}, nil })
}

func (archiveDispatcher) GetDispatches(ctx context.Context, p *core.Payload, r *core.Request) (*core.DispatcherResponse, error) {
	if archive.Detect(p.Content) == "" {
		return &core.DispatcherResponse{}, nil
	}
	return &core.DispatcherResponse{PluginNames: []string{"decompress"}}, nil
}

func (archiveDispatcher) ContentOnly() {}

var _ core.ContentDispatcher = archiveDispatcher{}

// Through the engine, a zip holding a tar.gz holding a gzip holding a text
// comes apart to the text: each level is an extracted payload of the one
// above, extracted_by decompress, and the results sit under
// workers.decompress.
func TestEngineNestedArchives(t *testing.T) {
	inner := gzipOf(t, []byte("the document at the bottom\n"))
	tgz := gzipOf(t, tarOf(t, "inner/doc.txt.gz", inner))
	outer := zipOf(t, "level1.tgz", tgz)
	s := stoqtest.Engine(t, engine.WithDispatchers("test-archive-dispatcher"))
	meta := core.NewPayloadMeta()
	meta.ExtraData["filename"] = "outer.zip"
	resp, err := s.Scan(context.Background(), outer, meta, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	byName := map[string]*core.PayloadResults{}
	for _, r := range resp.Results {
		name, _ := r.PayloadMeta.ExtraData["filename"].(string)
		byName[name] = r
	}
	chain := []struct{ name, archiveType string }{
		{"outer.zip", "zip"}, {"level1.tgz", "tar"}, {"inner/doc.txt.gz", "gzip"}, {"doc.txt", ""},
	}
	if len(resp.Results) != len(chain) {
		t.Fatalf("%d results %v, want %d", len(resp.Results), slices.Sorted(maps.Keys(byName)), len(chain))
	}
	for i, c := range chain {
		r := byName[c.name]
		if r == nil {
			t.Fatalf("no result for %q (have %v)", c.name, slices.Sorted(maps.Keys(byName)))
		}
		if c.archiveType != "" {
			js := stoqtest.JSON(t, r.Workers["decompress"]).(map[string]any)
			if js["archive_type"] != c.archiveType {
				t.Errorf("%s: workers.decompress %v", c.name, js)
			}
		}
		if i > 0 {
			parent := byName[chain[i-1].name]
			if strings.Join(r.ExtractedBy, ",") != "decompress" || len(r.ExtractedFrom) != 1 || r.ExtractedFrom[0] != parent.PayloadID {
				t.Errorf("%s: extracted_by %v from %v, want decompress from %s", c.name, r.ExtractedBy, r.ExtractedFrom, parent.PayloadID)
			}
		}
	}
	if byName["doc.txt"].Size != len("the document at the bottom\n") {
		t.Errorf("doc.txt is %d bytes", byName["doc.txt"].Size)
	}
}

// max_recursion bounds the depth of nested archives; the engine records
// reaching it.
func TestEngineMaxRecursionBoundsNesting(t *testing.T) {
	payload := []byte("core")
	for range 6 {
		payload = gzipOf(t, payload)
	}
	resp := stoqtest.ScanThrough(t, payload, []engine.Option{engine.WithDispatchers("test-archive-dispatcher"), engine.WithMaxRecursion(3)})
	if len(resp.Results) > 5 {
		t.Errorf("%d results with max_recursion 3", len(resp.Results))
	}
	found := false
	for _, e := range resp.Errors {
		found = found || strings.Contains(e.Message, "Final worker round (3) reached")
	}
	if !found {
		t.Errorf("no recursion error: %v", resp.Errors)
	}
}
