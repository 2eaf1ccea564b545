//go:build linux

package mmapfile

import (
	"crypto/sha256"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// readers hashes content over and over on goroutines of their own, which
// have no fault protection (as a plugin's own goroutines, or C code): a
// SIGBUS there would kill the test binary. It returns a stop func that
// reports whether every pass saw the original content.
func readers(t *testing.T, content []byte, want [32]byte) (passes *atomic.Int64, stop func() bool) {
	t.Helper()
	var wg sync.WaitGroup
	var done atomic.Bool
	var bad atomic.Bool
	passes = &atomic.Int64{}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				if sha256.Sum256(content) != want {
					bad.Store(true)
				}
				passes.Add(1)
			}
		}()
	}
	return passes, func() bool { done.Store(true); wg.Wait(); return !bad.Load() }
}

func TestTruncatingAMappedFileNeverFaults(t *testing.T) {
	for name, change := range map[string]func(path string) error{
		"truncate(2)": func(path string) error { return os.Truncate(path, 0) },
		"open O_TRUNC and write": func(path string) error {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				return err
			}
			_, err = f.WriteString("short")
			return errorsJoin(err, f.Close())
		},
	} {
		t.Run(name, func(t *testing.T) {
			content := make([]byte, 32<<20)
			for i := range content {
				content[i] = byte(i * 7)
			}
			path := writeTemp(t, content)
			want := sha256.Sum256(content)
			m, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if !m.Guarded() {
				t.Skip("no lease on this file system: the mapping is unguarded")
			}
			passes, stop := readers(t, m.Bytes(), want)
			for passes.Load() < 2 {
				time.Sleep(time.Millisecond)
			}
			start := time.Now()
			if err := change(path); err != nil {
				t.Fatal(err)
			}
			waited := time.Since(start)
			before := passes.Load()
			for passes.Load() < before+4 {
				time.Sleep(time.Millisecond)
			}
			if !stop() {
				t.Error("a reader saw content other than the file's as it was mapped")
			}
			if fi, _ := os.Stat(path); fi.Size() >= int64(len(content)) {
				t.Errorf("the file was not changed: %d bytes", fi.Size())
			}
			if !m.Changed() || !Changed(m.Bytes()) || !Changed(m.Bytes()[100:]) {
				t.Error("Changed does not report the change")
			}
			t.Logf("the writer waited %s for the copy of %d bytes", waited, len(content))
		})
	}
}

func TestUnchangedMappingIsNotReportedChanged(t *testing.T) {
	m, err := Open(writeTemp(t, make([]byte, 1<<16)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Changed() || Changed(m.Bytes()) {
		t.Error("an untouched mapping is reported changed")
	}
	other := make([]byte, 10)
	if Changed(other) {
		t.Error("heap memory is reported changed")
	}
	m.Close()
	if Changed(m.Bytes()) {
		t.Error("a closed mapping is reported")
	}
}

func errorsJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
