package hash

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

var benchSizes = []struct {
	name string
	n    int
}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}}

// BenchmarkScan measures the worker as the engine calls it.
func BenchmarkScan(b *testing.B) {
	for _, size := range benchSizes {
		content := randomBytes(size.n, 7)
		for _, algos := range []string{"md5,sha1,sha256", "sha256", "md5", "sha1", "md5,sha1,sha256,sha512"} {
			b.Run(size.name+"/"+algos, func(b *testing.B) {
				w := stoqtest.New[*Plugin](b, "hash", map[string]string{"algorithms": algos})
				p := stoqtest.Payload(content, nil)
				req := stoqtest.Request(p)
				b.SetBytes(int64(len(content)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := w.Scan(b.Context(), p, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFloor is the same work with no plugin around it: the standard
// library's one-shot digests, one after the other.
func BenchmarkFloor(b *testing.B) {
	for _, size := range benchSizes {
		content := randomBytes(size.n, 7)
		floors := []struct {
			name string
			fn   func([]byte)
		}{
			{"sha256", func(c []byte) { sha256.Sum256(c) }},
			{"md5", func(c []byte) { md5.Sum(c) }},
			{"sha1", func(c []byte) { sha1.Sum(c) }},
			{"md5+sha1+sha256", func(c []byte) { md5.Sum(c); sha1.Sum(c); sha256.Sum256(c) }},
		}
		for _, f := range floors {
			b.Run(size.name+"/"+f.name, func(b *testing.B) {
				b.SetBytes(int64(len(content)))
				b.ReportAllocs()
				for b.Loop() {
					f.fn(content)
				}
			})
		}
	}
}

// BenchmarkChunkSize compares feeding the default digests chunk by chunk
// with handing each one the whole payload (chunk 0), on a payload that
// fits the caches and on one that does not.
func BenchmarkChunkSize(b *testing.B) {
	algos, err := parseAlgorithms(defaultAlgorithms)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1 << 20, 64 << 20} {
		content := randomBytes(n, 8)
		for _, chunk := range []int{0, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20} {
			b.Run(fmt.Sprintf("%dMiB/chunk=%dKiB", n>>20, chunk>>10), func(b *testing.B) {
				b.SetBytes(int64(n))
				for b.Loop() {
					if _, err := digests(b.Context(), content, algos, chunk); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
