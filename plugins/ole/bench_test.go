package ole

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// BenchmarkScan measures the worker on compound files of several shapes;
// MB/s is the payload's size over the time to list, read and extract every
// stream.
func BenchmarkScan(b *testing.B) {
	docs := []struct {
		name string
		data []byte
	}{
		{"word-doc-50KB", mustBuild(wordLike(), cfbwriter.Options{})},
		{"8MB-512-contiguous", largeDoc(8<<20, cfbwriter.Options{})},
		{"8MB-512-fragmented", largeDoc(8<<20, cfbwriter.Options{Fragment: true})},
		{"8MB-4096-fragmented", largeDoc(8<<20, cfbwriter.Options{SectorShift: 12, Fragment: true})},
		{"1500-streams", mustBuild(manyStreams(1500), cfbwriter.Options{})},
	}
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/richardlehane/mscfb").Output(); err == nil {
		if d, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "test", "test.doc")); err == nil {
			docs = append(docs, struct {
				name string
				data []byte
			}{"real-word-1.1MB", d})
		}
	}
	w, err := New(stoqtest.Config(b, "ole", nil), stoqtest.Discard())
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range docs {
		b.Run(d.name, func(b *testing.B) {
			p := stoqtest.Payload(d.data, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(d.data)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := w.Scan(b.Context(), p, req)
				if err != nil || len(resp.Errors) > 0 || len(resp.Extracted) == 0 {
					b.Fatalf("%v %v", err, resp.Errors)
				}
			}
		})
	}
}

func mustBuild(nodes []*cfbwriter.Node, opts cfbwriter.Options) []byte {
	d, _ := cfbwriter.Build(nodes, opts)
	return d
}
