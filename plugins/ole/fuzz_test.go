package ole

import (
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// FuzzScan runs the worker on arbitrary payloads, seeded with generated
// documents (embedded packages included). It must never panic; the
// extracted payloads must carry distinct increasing indexes and never add
// up to more than twice the payload (every sector is read once, the mini
// stream's included, and an unwrapped package is part of its stream).
func FuzzScan(f *testing.F) {
	for _, nodes := range [][]*cfbwriter.Node{wordLike(), msgLike(), msiLike()} {
		for _, shift := range []int{9, 12} {
			d, _ := cfbwriter.Build(nodes, cfbwriter.Options{SectorShift: shift, Fragment: shift == 12})
			f.Add(d)
		}
	}
	f.Add(nativeStream("a.exe", "b", "c", []byte("MZ")))
	// Logging to the test's log is not allowed inside a fuzz target.
	w, err := New(stoqtest.Config(f, "ole", nil), stoqtest.Discard())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp := stoqtest.Scan(t, w, data)
		total, last := 0, -1
		for _, ex := range resp.Extracted {
			idx := ex.PayloadMeta.ExtraData["index"].(int)
			if idx <= last {
				t.Fatalf("index %d after %d", idx, last)
			}
			last = idx
			total += len(ex.Content)
		}
		if total > 2*len(data) {
			t.Fatalf("%d bytes extracted from %d", total, len(data))
		}
	})
}

// FuzzOleNative parses arbitrary \x01Ole10Native streams: never a panic,
// and the embedded file is always a part of the stream.
func FuzzOleNative(f *testing.F) {
	f.Add(nativeStream("invoice.exe", `C:\invoice.exe`, `C:\Temp\invoice.exe`, []byte("MZ...")))
	f.Add(nativeStream("", "", "", nil))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseOleNative(b)
		if err != nil {
			return
		}
		if len(n.data) > len(b) || len(n.data) > int(n.declared) {
			t.Fatalf("%d bytes of data from a %d-byte stream declaring %d", len(n.data), len(b), n.declared)
		}
	})
}
