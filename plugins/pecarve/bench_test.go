package pecarve

import (
	"bytes"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// benchPayload is 10 MiB of random filler with fake headers and three
// embedded PEs (1.2 MB, 270 KB and 9 KB) at unaligned offsets.
func benchPayload(b *testing.B) []byte {
	payload := filler(10<<20, 99)
	return embed(payload, map[int][]byte{
		12345:     goExe(b, "go-hello"),
		3_000_017: debugPEExe(b, "gcc-amd64-mingw-exec"),
		9_000_001: debugPEExe(b, "gcc-386-mingw-no-symbols-exec"),
	})
}

// BenchmarkScan measures carving the 10 MiB payload: the default pattern
// (bytes.Index fast path), and stoQ's pattern written so that it goes
// through the regexp, with and without its ZM alternative.
func BenchmarkScan(b *testing.B) {
	payload := benchPayload(b)
	for _, pattern := range []string{"MZ|ZM", "(MZ|ZM)", "(MZ)"} {
		b.Run("pe_headers="+pattern, func(b *testing.B) {
			w := stoqtest.New[*Plugin](b, "pecarve", map[string]string{"pe_headers": pattern})
			p := stoqtest.Payload(payload, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := w.Scan(b.Context(), p, req)
				if err != nil || len(resp.Extracted) != 3 {
					b.Fatalf("carved %d, error %v", len(resp.Extracted), err)
				}
			}
		})
	}
}

// BenchmarkFloor is the least work a carver must do on the same payload:
// read it once. bytes.Count of one byte value is a vectorised pass over
// every byte; finding every "MZ" with bytes.Index is the scan the fast path
// does before validating candidates.
func BenchmarkFloor(b *testing.B) {
	payload := benchPayload(b)
	b.Run("read/bytes.Count", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if bytes.Count(payload, []byte{'M'}) == 0 {
				b.Fatal("no M")
			}
		}
	})
	b.Run("find-MZ/bytes.Index", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			n := 0
			for range mzOffsets(payload) {
				n++
			}
			if n == 0 {
				b.Fatal("no MZ")
			}
		}
	})
}

// BenchmarkHostile is the worker alone on the hostile payloads of issue 14
// (hostile_test.go), one scan per op, and on 32,000 DOS headers sharing a
// 65,535-section NT header; carved/op is how many PEs one scan extracts.
func BenchmarkHostile(b *testing.B) {
	cases := append(hostileCases(), hostileCase{"many sections/2.9MB", manySections(256_000)})
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			w := stoqtest.New[*Plugin](b, "pecarve", nil)
			p := stoqtest.Payload(c.content, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(c.content)))
			var carved int
			for b.Loop() {
				resp, err := w.Scan(b.Context(), p, req)
				if err != nil {
					b.Fatal(err)
				}
				carved = len(resp.Extracted)
			}
			b.ReportMetric(float64(carved), "carved/op")
		})
	}
}

// BenchmarkContextPattern is a pe_headers pattern with an assertion on the
// preceding text (\b) on 3 MiB holding a million matches, none a PE: B/op
// is what the scan allocates, which once included every match at once.
func BenchmarkContextPattern(b *testing.B) {
	payload := bytes.Repeat([]byte("MZ "), 1<<20)
	w := stoqtest.New[*Plugin](b, "pecarve", map[string]string{"pe_headers": `\bMZ`})
	p := stoqtest.Payload(payload, nil)
	req := stoqtest.Request(p)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Scan(b.Context(), p, req); err != nil {
			b.Fatal(err)
		}
	}
}
