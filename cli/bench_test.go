package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// BenchmarkScanCommand measures a whole `stoq scan FILE -s hash` in
// process: flags, config, engine, mapping, hashing, JSON on stdout.
func BenchmarkScanCommand(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}, {"64MiB", 64 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			home, dir := b.TempDir(), b.TempDir()
			path := dir + "/payload"
			if err := os.WriteFile(path, bytes.Repeat([]byte{0x5a}, size.n), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(home+"/stoq.cfg", []byte("[core]\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			env, err := NewEnv(func(k string) string {
				if k == HomeEnvVar {
					return home
				}
				return ""
			}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(size.n))
			b.ResetTimer()
			for b.Loop() {
				env.Stdout.(*bytes.Buffer).Reset()
				if code := run(context.Background(), env, []string{"scan", path, "-s", "hash"}); code != 0 {
					b.Fatalf("exit %d: %s", code, env.Stderr)
				}
			}
		})
	}
}

func BenchmarkExpandArgs(b *testing.B) {
	args := strings.Fields("run -P dirmon -C filedir -a hash peinfo --plugin-opts dirmon:source_dir=/tmp/monitor filedir:results_dir=/tmp/results")
	for b.Loop() {
		if _, err := expandArgs(args); err != nil {
			b.Fatal(err)
		}
	}
}
