package smtp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

var (
	benchOnce sync.Once
	benchMsg  []byte
	benchErr  error
)

// benchMessage is pygen.py's bench.eml: 205 KiB, a text and an html body,
// three base64 attachments (a PDF, a zip and a CSV).
func benchMessage(b *testing.B) []byte {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smtp-bench-")
		if err != nil {
			benchErr = err
			return
		}
		defer os.RemoveAll(dir)
		for _, p := range pythonGenerated(b, dir) {
			if filepath.Base(p) == "bench.eml" {
				benchMsg, benchErr = os.ReadFile(p)
			}
		}
	})
	if benchErr != nil || benchMsg == nil {
		b.Fatalf("bench.eml: %v", benchErr)
	}
	return benchMsg
}

// manyParts is a multipart/mixed message of n small named attachments.
func manyParts(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("From: a@example.com\r\nSubject: =?utf-8?q?many_parts?=\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&buf, "--BOUNDARY\r\nContent-Type: application/octet-stream; name=\"f%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD\r\n", i)
	}
	buf.WriteString("--BOUNDARY--\r\n")
	return buf.Bytes()
}

// BenchmarkScan measures whole messages through the worker: the 205 KiB
// message with three attachments (reported as messages/s), and a message
// of 100,000 parts.
func BenchmarkScan(b *testing.B) {
	w := stoqtest.New[*Plugin](b, "smtp", nil)
	for _, c := range []struct {
		name    string
		content []byte
		parts   int
	}{
		{"bench.eml-205KiB-3-attachments", benchMessage(b), 4},
		{"100000-parts", manyParts(100_000), 100_000},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := stoqtest.Payload(c.content, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(c.content)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := w.Scan(b.Context(), p, req)
				if err != nil || len(resp.Extracted) < c.parts-1 {
					b.Fatalf("%d extracted, error %v", len(resp.Extracted), err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}
