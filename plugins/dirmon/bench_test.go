package dirmon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// BenchmarkMonitor measures new files per second through the monitor: 1,000
// files of 4 KiB are written, each detected, read and queued. It includes
// writing them (set TMPDIR to a memory file system to see the monitor's own
// cost).
func BenchmarkMonitor(b *testing.B) {
	const files = 1000
	content := make([]byte, 4096)
	for _, backend := range []struct {
		name string
		run  func(*monitor, context.Context) error
	}{{"default", defaultBackend}, {"fsnotify", (*monitor).runFsnotify}} {
		b.Run(backend.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dir := filepath.Join(b.TempDir(), fmt.Sprint(i))
				if err := os.Mkdir(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				// A short settle: the portable backend queues after it.
				p := stoqtest.New[*Plugin](b, "dirmon", map[string]string{"source_dir": dir, "settle": "20ms"})
				p.log = stoqtest.Discard()
				p.backend = backend.run
				ready := make(chan struct{})
				p.onWatching = func() { close(ready) }
				q := core.NewQueue(files)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- p.Ingest(ctx, q) }()
				<-ready
				for f := range files {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", f)), content, 0o644); err != nil {
						b.Fatal(err)
					}
				}
				deadline := time.Now().Add(60 * time.Second)
				for q.Len() < files {
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d files queued", q.Len(), files)
					}
					time.Sleep(time.Millisecond)
				}
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*files)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
