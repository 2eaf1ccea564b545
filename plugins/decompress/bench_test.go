package decompress

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// benchContent is 100 MB of members: 50 files of 2 MB, text-like
// (compressing about 3.5:1) with every fifth file random.
const benchMembers, benchMemberSize = 50, 2_000_000

var (
	benchOnce  sync.Once
	benchFiles [][]byte
)

func benchCorpus() [][]byte {
	benchOnce.Do(func() {
		for i := range benchMembers {
			if i%5 == 4 {
				benchFiles = append(benchFiles, randomBytes(benchMemberSize, uint64(i)))
			} else {
				benchFiles = append(benchFiles, text(benchMemberSize, uint64(i)))
			}
		}
	})
	return benchFiles
}

// benchZip writes the corpus as a zip with method (zip.Deflate, zip.Store),
// with the standard library's compressor (level 6, as zlib's default).
func benchZip(b *testing.B, method uint16) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, content := range benchCorpus() {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("dir/member%02d.txt", i), Method: method})
		if err != nil {
			b.Fatal(err)
		}
		w.Write(content)
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkExtract measures the worker extracting 100 MB of members
// (MB/s of extracted bytes).
func BenchmarkExtract(b *testing.B) {
	archives := map[string]func(b *testing.B) []byte{
		"zip-deflate-100MB": func(b *testing.B) []byte { return benchZip(b, zip.Deflate) },
		"zip-stored-100MB":  func(b *testing.B) []byte { return benchZip(b, zip.Store) },
		// A zip of 100 MB itself: random members, which deflate stores.
		"zip-100MB-archive-random": func(b *testing.B) []byte {
			var files []any
			for i := range benchMembers {
				files = append(files, fmt.Sprintf("r%02d.bin", i), randomBytes(benchMemberSize, uint64(1000+i)))
			}
			return zipOf(b, files...)
		},
		"tar.gz-100MB": func(b *testing.B) []byte {
			var files []any
			for i, c := range benchCorpus() {
				files = append(files, fmt.Sprintf("member%02d.txt", i), c)
			}
			return gzipOf(b, tarOf(b, files...))
		},
	}
	for _, name := range []string{"zip-deflate-100MB", "zip-stored-100MB", "zip-100MB-archive-random", "tar.gz-100MB"} {
		b.Run(name, func(b *testing.B) {
			archive := archives[name](b)
			w := newWorker(b, map[string]string{"maximum_size": "150000000"})
			b.SetBytes(benchMembers * benchMemberSize)
			b.ReportAllocs()
			for b.Loop() {
				resp := scan(b, w, archive, name)
				if len(resp.Extracted) != benchMembers || len(resp.Errors) != 0 {
					b.Fatalf("extracted %d, errors %v", len(resp.Extracted), errorMessages(resp))
				}
			}
			b.ReportMetric(float64(len(archive))/1e6, "archive-MB")
		})
	}
}

// BenchmarkFloor is the same zip read with no plugin around it: the
// standard library's zip reader with klauspost's inflater, every member
// read into io.Discard; and Info-ZIP's unzip -p into /dev/null, the
// reference tool (process start included).
func BenchmarkFloor(b *testing.B) {
	archive := benchZip(b, zip.Deflate)
	b.Run("archive/zip+klauspost-flate", func(b *testing.B) {
		b.SetBytes(benchMembers * benchMemberSize)
		for b.Loop() {
			zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
			if err != nil {
				b.Fatal(err)
			}
			zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
			for _, f := range zr.File {
				rc, _ := f.Open()
				io.Copy(io.Discard, rc)
				rc.Close()
			}
		}
	})
	b.Run("unzip-p", func(b *testing.B) {
		if _, err := exec.LookPath("unzip"); err != nil {
			b.Skip("unzip is not installed")
		}
		path := filepath.Join(b.TempDir(), "bench.zip")
		os.WriteFile(path, archive, 0o644)
		b.SetBytes(benchMembers * benchMemberSize)
		for b.Loop() {
			cmd := exec.Command("unzip", "-p", path)
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWorkerVsFloor alternates the worker and the floor (archive/zip
// with klauspost's inflater, each member read into a buffer of its size:
// the least an in-memory extraction does) on the 100 MB deflate zip in
// every iteration, so that both see the same machine load, and reports
// each one's MB/s and the worker's share of the floor's speed.
func BenchmarkWorkerVsFloor(b *testing.B) {
	archive := benchZip(b, zip.Deflate)
	w := newWorker(b, map[string]string{"maximum_size": "150000000"})
	var worker, floor time.Duration
	for b.Loop() {
		start := time.Now()
		resp := scan(b, w, archive, "bench.zip")
		worker += time.Since(start)
		if len(resp.Extracted) != benchMembers {
			b.Fatalf("extracted %d", len(resp.Extracted))
		}
		start = time.Now()
		zr, _ := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
		zr.RegisterDecompressor(zip.Deflate, flate.NewReader)
		for _, f := range zr.File {
			rc, _ := f.Open()
			buf := make([]byte, f.UncompressedSize64)
			io.ReadFull(rc, buf)
			rc.Close()
		}
		floor += time.Since(start)
	}
	mb := float64(benchMembers*benchMemberSize) * float64(b.N) / 1e6
	b.ReportMetric(mb/worker.Seconds(), "worker-MB/s")
	b.ReportMetric(mb/floor.Seconds(), "floor-MB/s")
	b.ReportMetric(floor.Seconds()/worker.Seconds(), "worker/floor-speed")
}
