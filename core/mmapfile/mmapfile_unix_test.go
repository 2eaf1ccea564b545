//go:build unix

package mmapfile

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestNonRegularFilesAreRefusedWithoutBlocking(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, kind := range map[string]string{fifo: "named pipe", "/dev/zero": "device", t.TempDir(): "folder"} {
		done := make(chan error, 1)
		go func() {
			m, err := Open(path, Options{})
			if err == nil {
				m.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if path != fifo && !errors.Is(err, ErrNotRegular) && !strings.Contains(err.Error(), "is a directory") {
				t.Errorf("%s: %v, want ErrNotRegular", path, err)
			}
			if err == nil || !strings.Contains(err.Error(), kind) && !strings.Contains(err.Error(), "is a directory") {
				t.Errorf("%s: %v, want it named %s", path, err, kind)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Open(%s) blocked", path)
		}
	}
}
