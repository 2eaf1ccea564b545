package mimetype

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/mimetype/v3/internal/magic"
)

// Benchmarks. files/s is b.N over the wall time of the loop; cpu-ns/op is
// the process' CPU time per call. Run with -benchtime=2000x or so on the
// shared machine.

// smallFiles are 4 KiB of random bytes, as the standard corpus' small/:
// libmagic finds no rule for them, so every rule is tried (the slow case).
func smallFiles(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = randomBytes(4096, uint64(100+i))
	}
	return out
}

// measure runs the benchmark loop and reports files/s of wall time and the
// process' CPU time per call (user + system, every thread: the cgo call's
// and the runtime's), which the other jobs sharing the machine do not
// inflate the way they inflate wall time.
func measure(b *testing.B, loop func()) {
	b.Helper()
	before := cpuTime()
	b.ResetTimer()
	start := time.Now()
	loop()
	wall := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/wall.Seconds(), "files/s")
	b.ReportMetric(float64(cpuTime()-before)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScanSmall: the worker on 4 KiB random files, one goroutine.
func BenchmarkScanSmall(b *testing.B) {
	p := stoqtest.New[*Plugin](b, "mimetype", nil)
	files := smallFiles(64)
	ctx := context.Background()
	measure(b, func() {
		for i := 0; i < b.N; i++ {
			if _, err := p.Scan(ctx, stoqtest.Payload(files[i%len(files)], nil), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkScanSmallParallel: the same on every CPU, one cookie each.
func BenchmarkScanSmallParallel(b *testing.B) {
	p := stoqtest.New[*Plugin](b, "mimetype", nil)
	files := smallFiles(64)
	ctx := context.Background()
	measure(b, func() {
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := p.Scan(ctx, stoqtest.Payload(files[i%len(files)], nil), nil); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
}

// BenchmarkScanCorpus: the worker over the mixed test corpus (executables,
// archives, documents, compound files, text, images), one goroutine.
func BenchmarkScanCorpus(b *testing.B) {
	p := stoqtest.New[*Plugin](b, "mimetype", nil)
	samples := corpus(b)
	ctx := context.Background()
	measure(b, func() {
		for i := 0; i < b.N; i++ {
			if _, err := p.Scan(ctx, stoqtest.Payload(samples[i%len(samples)].data, nil), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDispatch: the dispatcher with the default table on the corpus.
func BenchmarkDispatch(b *testing.B) {
	p := stoqtest.New[*Plugin](b, "mimetype", nil)
	samples := corpus(b)
	ctx := context.Background()
	measure(b, func() {
		for i := 0; i < b.N; i++ {
			if _, err := p.GetDispatches(ctx, stoqtest.Payload(samples[i%len(samples)].data, nil), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIdentifyVsBuffer: the cost of answering as `file` does (an
// in-memory file and magic_descriptor) next to magic_buffer, per kind.
func BenchmarkIdentifyVsBuffer(b *testing.B) {
	c, err := magic.Open("", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"plain.txt", "random.bin", "go-windows-amd64.exe", "gcc-pie", "archive.zip", "document.pdf", "word.doc", "plain.eml", "image.png"} {
		data := sampleNamed(b, name)
		for _, mode := range []struct {
			name string
			f    func([]byte) (string, error)
		}{{"descriptor", c.Identify}, {"buffer", c.Buffer}} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				measure(b, func() {
					for i := 0; i < b.N; i++ {
						if _, err := mode.f(data); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// BenchmarkLargePayload: a 64 MiB payload; libmagic sees its first and
// last 7 MiB, which are what is copied.
func BenchmarkLargePayload(b *testing.B) {
	c, err := magic.Open("", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	data := randomBytes(64<<20, 7)
	b.SetBytes(int64(len(data)))
	measure(b, func() {
		for i := 0; i < b.N; i++ {
			if _, err := c.Identify(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRoute: the default table alone, for a type near its end.
func BenchmarkRoute(b *testing.B) {
	p := stoqtest.New[*Plugin](b, "mimetype", nil)
	for i := 0; i < b.N; i++ {
		p.routes.route("application/octet-stream")
	}
}

// BenchmarkOpenCookie: what a new cookie costs (magic_open, magic_load of
// Debian's 8 MB database, the in-memory file): paid once per CPU.
func BenchmarkOpenCookie(b *testing.B) {
	for i := 0; i < b.N; i++ {
		c, err := magic.Open("", 0)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}
