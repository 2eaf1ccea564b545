package mmapfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeTemp(t *testing.T, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestOpenMapsTheContent(t *testing.T) {
	content := bytes.Repeat([]byte("stoq "), 100_000)
	m, err := Open(writeTemp(t, content), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !bytes.Equal(m.Bytes(), content) {
		t.Error("content differs")
	}
	if !m.Mapped() {
		t.Error("a regular file was not mapped")
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestEmptyFileIsEmptyContent(t *testing.T) {
	m, err := Open(writeTemp(t, nil), Options{MaxSize: 10})
	if err != nil || m.Bytes() == nil || len(m.Bytes()) != 0 {
		t.Fatalf("Open(empty) = %v, %v", m, err)
	}
	_ = m.Close()
}

func TestMaxSizeRefusesBeforeMapping(t *testing.T) {
	path := writeTemp(t, make([]byte, 11))
	_, err := Open(path, Options{MaxSize: 10})
	var tl *TooLargeError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &tl) || tl.Size != 11 || tl.Limit != 10 {
		t.Fatalf("Open over the limit = %v", err)
	}
	if want := path + " is 11 bytes, more than max_payload_size (10 bytes): not loaded"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if m, err := Open(path, Options{MaxSize: 11}); err != nil {
		t.Errorf("Open at the limit: %v", err)
	} else {
		m.Close()
	}
}

func TestNoFollowRefusesASymlink(t *testing.T) {
	target := writeTemp(t, []byte("x"))
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(target, link); err != nil {
		t.Skip(err)
	}
	if m, err := Open(link, Options{NoFollow: true}); err == nil {
		m.Close()
		t.Error("NoFollow opened a symlink")
	}
	m, err := Open(link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
}
