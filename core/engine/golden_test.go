package engine_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGoldenResponseShape pins the JSON of a StoqResponse (DESIGN.md section
// 3): key names and order, [] and {} for empty values, null for absent ones,
// with an extracted payload, an archiver result, a decorator result and an
// error. Ids and time are replaced by placeholders.
var goldenOnce sync.Once

func TestGoldenResponseShape(t *testing.T) {
	goldenOnce.Do(registerGoldenPlugins)
	s := newEngine(t, engine.WithAlwaysDispatch("golden-hash"), engine.WithDestArchivers("golden-archiver"), engine.WithDecorators("golden-decorator"))
	meta := core.NewPayloadMeta()
	meta.ExtraData["filename"] = "doc.bin"
	resp, err := s.Scan(context.Background(), []byte("document with an embedded executable"), meta, nil, "golden-carver", "golden-broken")
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, resp)
}

func registerGoldenPlugins() {
	registerAs("golden-carver", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		if string(p.Content) != "document with an embedded executable" {
			return nil, nil
		}
		meta := core.NewPayloadMeta()
		meta.ExtraData["offset"] = 14
		return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: []byte("embedded"), PayloadMeta: meta}}}, nil
	}}, nil)
	registerAs("golden-hash", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		return &core.WorkerResponse{Results: map[string]any{"size": len(p.Content), "nothing": nil, "empty": []any{}}}, nil
	}}, nil)
	registerAs("golden-broken", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		return nil, errors.New("unsupported format")
	}}, nil)
	registerAs("golden-archiver", &memArchiver{stored: map[string][]byte{}}, nil)
	registerAs("golden-decorator", &fnDecorator{decorate: func(r *core.StoqResponse) (*core.DecoratorResponse, error) {
		return &core.DecoratorResponse{Results: map[string]any{"results": len(r.Results), "errors": len(r.Errors)}}, nil
	}}, nil)
}

func checkGolden(t *testing.T, resp *core.StoqResponse) {
	t.Helper()
	got := mustJSON(t, resp)
	got = strings.ReplaceAll(got, resp.ScanID, "SCAN-ID")
	got = strings.ReplaceAll(got, resp.Time, "TIME")
	for i, r := range resp.Results {
		got = strings.ReplaceAll(got, r.PayloadID, "PAYLOAD-"+string(rune('0'+i)))
	}
	path := filepath.Join("testdata", "golden_response.json")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got+"\n" != string(want) {
		t.Errorf("response JSON changed (run with -update if intended):\n%s", got)
	}
}

func TestSplitOneResponsePerWorkerResult(t *testing.T) {
	a := register(t, "a", &fnWorker{}, nil)
	b := register(t, "b", &fnWorker{}, nil)
	ex := register(t, "extract", extractor("child"), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(a))
	resp := scan(t, s, "root", b, ex)
	parts := resp.Split()
	// root: a, b, extract; child: a.
	if len(parts) != 4 {
		t.Fatalf("Split gave %d responses, want 4", len(parts))
	}
	for _, p := range parts {
		if len(p.Results) != 1 || len(p.Results[0].Workers) != 1 || p.ScanID != resp.ScanID {
			t.Errorf("split part %+v", p.Results)
		}
	}
	if len(resp.Results[0].Workers) != 3 {
		t.Error("Split modified the original response")
	}
}

func TestReconstructAllSubresponses(t *testing.T) {
	inner := register(t, "inner", &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		if string(p.Content) == "child" {
			return &core.WorkerResponse{Extracted: []core.ExtractedPayload{{Content: []byte("grandchild")}}}, nil
		}
		return nil, nil
	}}, nil)
	ex := register(t, "extract", extractor("child", "sibling"), nil)
	dec := register(t, "dec", &fnDecorator{decorate: func(r *core.StoqResponse) (*core.DecoratorResponse, error) {
		return &core.DecoratorResponse{Results: len(r.Results)}, nil
	}}, nil)
	s := newEngine(t, engine.WithAlwaysDispatch(inner), engine.WithDecorators(dec))
	resp := scan(t, s, "root", ex)
	if len(resp.Results) != 4 {
		t.Fatalf("%d results", len(resp.Results))
	}
	subs := s.ReconstructAllSubresponses(context.Background(), resp)
	wantSizes := []int{4, 2, 1, 1} // root: all; child: child+grandchild; sibling; grandchild
	for i, sub := range subs {
		if len(sub.Results) != wantSizes[i] || sub.Results[0] != resp.Results[i] || sub.ScanID != resp.ScanID {
			t.Errorf("subresponse %d has %d results, want %d rooted at payload %d", i, len(sub.Results), wantSizes[i], i)
		}
		if sub.Decorators[dec] != wantSizes[i] {
			t.Errorf("subresponse %d: decorators not re-run: %v", i, sub.Decorators)
		}
	}
}
