package yara

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// benchPayload is size seeded random bytes with one marker of the
// benchmark corpus, as the corpus's medium/ files.
func benchPayload(size int) []byte {
	rng := rand.New(rand.NewPCG(0x5709, 2))
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	m := benchMarkers[0]
	copy(data[size/3:], m)
	return data
}

func benchPlugin(b *testing.B, opts map[string]string) *Plugin {
	b.Helper()
	full := map[string]string{"worker_rules": filepath.Join("testdata", "bench.yar"), "dispatch_rules": filepath.Join("rules", "dispatcher.yar")}
	for k, v := range opts {
		full[k] = v
	}
	info, _ := engine.Lookup("yara")
	cfg := core.NewConfig("yara", "", core.ConfigLayer{Source: "manifest", Values: info.Manifest.Options}, core.ConfigLayer{Source: "bench", Values: full})
	p, err := New(cfg, discardLogger())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Close() })
	return p
}

// cpuMeter reports the process's CPU time per operation as cpu-ms/op when
// the benchmark ends.
func cpuMeter(b *testing.B) func() {
	start := processCPUTime()
	return func() {
		b.ReportMetric(float64(processCPUTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func scanOnce(b *testing.B, p *Plugin, pl *core.Payload) {
	resp, err := p.Scan(context.Background(), pl, nil)
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.Results.(Results).Matches) == 0 {
		b.Fatal("the marker did not match")
	}
}

// BenchmarkScan1MiB is the worker on 1 MiB payloads with the ~20 rules of
// bench.yar, from one goroutine.
func BenchmarkScan1MiB(b *testing.B) {
	p := benchPlugin(b, nil)
	pl := core.NewPayload(benchPayload(1<<20), nil)
	b.SetBytes(1 << 20)
	defer cpuMeter(b)()
	for b.Loop() {
		scanOnce(b, p, pl)
	}
}

// BenchmarkScan1MiBParallel is the same from GOMAXPROCS goroutines (2 on
// the reference machine).
func BenchmarkScan1MiBParallel(b *testing.B) {
	p := benchPlugin(b, nil)
	pl := core.NewPayload(benchPayload(1<<20), nil)
	b.SetBytes(1 << 20)
	b.ResetTimer()
	defer cpuMeter(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			scanOnce(b, p, pl)
		}
	})
}

// BenchmarkDispatch1MiB is the dispatcher (rules/dispatcher.yar) on 1 MiB.
func BenchmarkDispatch1MiB(b *testing.B) {
	p := benchPlugin(b, nil)
	pl := core.NewPayload(benchPayload(1<<20), nil)
	b.SetBytes(1 << 20)
	defer cpuMeter(b)()
	for b.Loop() {
		if _, err := p.GetDispatches(context.Background(), pl, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanStrategy compares the scanner free list with libyara's
// yr_rules_scan_mem (a scanner created and destroyed per call), on small
// and large payloads, from GOMAXPROCS goroutines.
func BenchmarkScanStrategy(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		pl := core.NewPayload(benchPayload(size), nil)
		for _, perCall := range []bool{false, true} {
			name := "pool"
			if perCall {
				name = "per-call"
			}
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) {
				p := benchPlugin(b, nil)
				p.worker.perCallScanner = perCall
				b.SetBytes(int64(size))
				b.ResetTimer()
				defer cpuMeter(b)()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						scanOnce(b, p, pl)
					}
				})
			})
		}
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkMZFlood is the shipped rules on n "MZ" markers followed by a
// real PE whose DOS stub text was removed, the case where only the PE's
// headers tell it is there (issue 14: the rules were quadratic in n).
func BenchmarkMZFlood(b *testing.B) {
	exe := withoutStub(b, debugPEExe(b, "gcc-386-mingw-no-symbols-exec"))
	p := benchPlugin(b, map[string]string{"worker_rules": filepath.Join("rules", "stoq.yar")})
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		pl := core.NewPayload(append(mzFlood(n), exe...), nil)
		b.Run(fmt.Sprintf("dispatch/markers=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(pl.Content)))
			b.ReportAllocs()
			defer cpuMeter(b)()
			for b.Loop() {
				resp, err := p.GetDispatches(context.Background(), pl, nil)
				if err != nil || len(resp.PluginNames) != 1 || resp.PluginNames[0] != "pecarve" {
					b.Fatalf("dispatched to %v, error %v", resp, err)
				}
			}
		})
		b.Run(fmt.Sprintf("worker/markers=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(pl.Content)))
			b.ReportAllocs()
			defer cpuMeter(b)()
			for b.Loop() {
				scanOnce(b, p, pl)
			}
		})
	}
}
