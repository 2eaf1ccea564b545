package peinfo

import (
	"crypto/md5"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// corpusPEs are the executables of the benchmark corpus (shared/bench):
// the mingw ones of Go's debug/pe test data and the Go-built hello-worlds.
func corpusPEs(b *testing.B) []testPE {
	return append(debugPEExes(b), goBuiltExes(b)[:2]...)
}

// BenchmarkScan measures peinfo on each of the benchmark corpus's PEs and
// on all five in turn (PEs/s), with allocations per PE.
func BenchmarkScan(b *testing.B) {
	pes := corpusPEs(b)
	w := stoqtest.New[*Plugin](b, "peinfo", nil)
	for _, pe := range pes {
		b.Run(pe.name, func(b *testing.B) {
			p := stoqtest.Payload(pe.data, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(pe.data)))
			b.ReportAllocs()
			for b.Loop() {
				if resp, err := w.Scan(b.Context(), p, req); err != nil || len(resp.Errors) != 0 {
					b.Fatalf("%v %v", err, resp.Errors)
				}
			}
		})
	}
	b.Run("corpus", func(b *testing.B) {
		var total int64
		for _, pe := range pes {
			total += int64(len(pe.data))
		}
		b.SetBytes(total)
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			for _, pe := range pes {
				p := stoqtest.Payload(pe.data, nil)
				if _, err := w.Scan(b.Context(), p, stoqtest.Request(p)); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(pes))/time.Since(start).Seconds(), "PEs/s")
		b.ReportMetric(0, "ns/op") // an op is five PEs: PEs/s says it better
	})
}

// BenchmarkFloor is the least work peinfo must do on the corpus: reading
// every byte once, as hashing the sections does (MD5 of the whole file).
func BenchmarkFloor(b *testing.B) {
	pes := corpusPEs(b)
	var total int64
	for _, pe := range pes {
		total += int64(len(pe.data))
	}
	b.SetBytes(total)
	start := time.Now()
	for b.Loop() {
		for _, pe := range pes {
			md5.Sum(pe.data)
		}
	}
	b.ReportMetric(float64(b.N*len(pes))/time.Since(start).Seconds(), "PEs/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkHostile measures the crafted hostile PEs: each costs bounded
// time and memory.
func BenchmarkHostile(b *testing.B) {
	w := stoqtest.New[*Plugin](b, "peinfo", nil)
	for _, c := range hostileCases() {
		data := c.build()
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			p := stoqtest.Payload(data, nil)
			req := stoqtest.Request(p)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Scan(b.Context(), p, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
