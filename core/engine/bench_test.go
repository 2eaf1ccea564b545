package engine_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

type trivialWorker struct{}

func (trivialWorker) Scan(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"ok": true}}, nil
}

var benchOnce sync.Once

// BenchmarkScanOverhead measures the engine's own cost: one 4 KiB payload,
// one trivial worker, no connector. Target: under 20 µs and 100 allocations.
func BenchmarkScanOverhead(b *testing.B) {
	s := benchEngine(b)
	content := make([]byte, 4096)
	ctx := context.Background()
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Scan(ctx, content, nil, nil, "bench-trivial")
		if err != nil || len(resp.Results[0].Workers) != 1 {
			b.Fatal("scan failed")
		}
	}
}

// BenchmarkScanOverheadParallel is the same from many goroutines, as run
// mode's consumers scan.
func BenchmarkScanOverheadParallel(b *testing.B) {
	s := benchEngine(b)
	content := make([]byte, 4096)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Scan(context.Background(), content, nil, nil, "bench-trivial"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchEngine is an engine with the trivial worker registered and logs
// discarded, closed when the benchmark ends.
func benchEngine(b *testing.B) *engine.Stoq {
	benchOnce.Do(func() { registerAs("bench-trivial", trivialWorker{}, nil) })
	s, err := engine.New(engine.WithLogger(stoqtest.Discard()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}
