package exif

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// benchFiles are the payloads of the exif benchmarks: a small file of random
// bytes (as the corpus's small50/ files) and a JPEG.
func benchFiles(b *testing.B) map[string][]byte {
	return map[string][]byte{"random4KiB": randomBytes(4096), "jpeg": jpegFile(b)}
}

func reportPerFile(b *testing.B, start time.Time) {
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/file")
}

// BenchmarkStayOpen is the worker: ExifTool kept running (-stay_open).
func BenchmarkStayOpen(b *testing.B) {
	needExiftool(b)
	for name, content := range benchFiles(b) {
		b.Run(name, func(b *testing.B) {
			info, _ := engine.Lookup("exif")
			p, err := New(core.NewConfig("exif", "", core.ConfigLayer{Source: "manifest", Values: info.Manifest.Options}), stoqtest.Discard())
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			pl := core.NewPayload(content, nil)
			if _, err := p.Scan(context.Background(), pl, nil); err != nil { // start the process
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				if _, err := p.Scan(context.Background(), pl, nil); err != nil {
					b.Fatal(err)
				}
			}
			reportPerFile(b, start)
		})
	}
}

// BenchmarkProcessPerFile is what stoQ did: one `exiftool -j -n FILE` per
// payload, for comparison.
func BenchmarkProcessPerFile(b *testing.B) {
	bin := needExiftool(b)
	for name, content := range benchFiles(b) {
		b.Run(name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "payload")
			start := time.Now()
			for range b.N {
				if err := os.WriteFile(path, content, 0o600); err != nil {
					b.Fatal(err)
				}
				// exiftool exits 1 for an unknown file type
				if out, _ := exec.Command(bin, "-j", "-n", path).Output(); len(out) == 0 {
					b.Fatal("exiftool printed nothing")
				}
			}
			reportPerFile(b, start)
		})
	}
}
