package iocextract

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// corpusMiB returns 1 MiB of the corpus texts (an e-mail, logs, a threat
// report) one after the other, repeated.
func corpusMiB(b *testing.B) []byte {
	paths, _ := filepath.Glob("testdata/corpus/*.txt")
	var text bytes.Buffer
	for text.Len() < 1<<20 {
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			text.Write(data)
		}
	}
	return text.Bytes()[:1<<20]
}

// BenchmarkScan measures the worker as the engine calls it, with the
// default options (shipped TLD list and whitelist), on 1 MiB of mixed
// text.
func BenchmarkScan(b *testing.B) {
	w := stoqtest.New[*Plugin](b, "iocextract", nil)
	content := corpusMiB(b)
	p := stoqtest.Payload(content, nil)
	req := stoqtest.Request(p)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Scan(b.Context(), p, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew measures constructing the plugin: parsing the TLD list and
// the whitelist.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		stoqtest.New[*Plugin](b, "iocextract", nil)
	}
}
