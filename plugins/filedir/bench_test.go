package filedir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// BenchmarkSave measures the connector: one atomic, synced results file per
// scan (ns/op is per saved response).
func BenchmarkSave(b *testing.B) {
	for _, opts := range []struct{ compact, fsync string }{{"true", "false"}, {"false", "false"}, {"true", "true"}} {
		b.Run("compactly="+opts.compact+"/fsync="+opts.fsync, func(b *testing.B) {
			p := stoqtest.New[*Plugin](b, "filedir", map[string]string{"results_dir": b.TempDir(), "compactly": opts.compact, "fsync": opts.fsync})
			resp := newResponse("bench")
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				resp.ScanID = fmt.Sprintf("scan-%09d", i)
				if err := p.Save(ctx, resp); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
		})
	}
}

// BenchmarkIngest measures the provider over 2,000 small files (4 KiB),
// queueing each by reference and loading it as a consumer does (Open, then
// release); ns/op is per pass over the folder.
func BenchmarkIngest(b *testing.B) {
	const files = 2000
	dir := b.TempDir()
	content := make([]byte, 4096)
	for i := range files {
		content[0], content[1] = byte(i), byte(i>>8)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), content, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p := stoqtest.New[*Plugin](b, "filedir", map[string]string{"source_dir": dir})
	p.log = stoqtest.Discard()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		q := core.NewQueue(files) // holds every payload: nothing drains it
		if err := p.Ingest(ctx, q); err != nil {
			b.Fatal(err)
		}
		if q.Len() != files {
			b.Fatalf("queued %d", q.Len())
		}
		q.Close()
		for task := range q.Tasks() {
			payload, release, err := task.Open(ctx, 1<<30)
			if err != nil || len(payload.Content) != len(content) {
				b.Fatal(err)
			}
			release()
		}
	}
	b.ReportMetric(float64(b.N*files)/b.Elapsed().Seconds(), "files/s")
}

// BenchmarkArchive measures archiving 64 KiB payloads by SHA1: the first
// write of each content, and a repeated archive of a stored content.
func BenchmarkArchive(b *testing.B) {
	content := make([]byte, 64<<10)
	b.Run("new", func(b *testing.B) {
		p := stoqtest.New[*Plugin](b, "filedir", map[string]string{"archive_dir": b.TempDir()})
		b.SetBytes(int64(len(content)))
		for i := 0; b.Loop(); i++ {
			content[0], content[1], content[2], content[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			if _, err := p.Archive(context.Background(), core.NewPayload(content, nil), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("existing", func(b *testing.B) {
		p := stoqtest.New[*Plugin](b, "filedir", map[string]string{"archive_dir": b.TempDir()})
		payload := core.NewPayload(content, nil)
		b.SetBytes(int64(len(content)))
		for b.Loop() {
			if _, err := p.Archive(context.Background(), payload, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
