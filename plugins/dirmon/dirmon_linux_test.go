//go:build linux

package dirmon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func makeFIFO(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSpecialFilesAreIgnored: symlinks and FIFOs are never read (a FIFO
// would block the reader).
func TestSpecialFilesAreIgnored(t *testing.T) {
	dir := t.TempDir()
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"settle": "200ms"}})
	target := filepath.Join(t.TempDir(), "target")
	if err := os.WriteFile(target, []byte("elsewhere"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	makeFIFO(t, filepath.Join(dir, "fifo"))
	real := filepath.Join(dir, "real")
	if err := os.WriteFile(real, []byte("real"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitAll([]string{real})
	h.finish(200 * time.Millisecond)
	h.checkExactlyOnce(map[string][]byte{real: []byte("real")})
}

// encodeEvent builds one struct inotify_event with its name NUL-padded to
// padTo bytes, as the kernel does.
func encodeEvent(wd int32, mask uint32, name string, padTo int) []byte {
	nameLen := 0
	if name != "" {
		nameLen = max(padTo, len(name)+1)
	}
	b := make([]byte, unix.SizeofInotifyEvent+nameLen)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(nameLen))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestParseInotifyEvents(t *testing.T) {
	buf := bytes.Join([][]byte{
		encodeEvent(1, unix.IN_CLOSE_WRITE, "file.bin", 16),
		encodeEvent(2, unix.IN_DELETE_SELF, "", 0),
		encodeEvent(-1, unix.IN_Q_OVERFLOW, "", 0),
		encodeEvent(3, unix.IN_MOVED_TO|unix.IN_ISDIR, "a-folder-name", 32),
	}, nil)
	events, err := parseInotifyEvents(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := []inotifyEvent{
		{wd: 1, mask: unix.IN_CLOSE_WRITE, name: "file.bin"},
		{wd: 2, mask: unix.IN_DELETE_SELF},
		{wd: -1, mask: unix.IN_Q_OVERFLOW},
		{wd: 3, mask: unix.IN_MOVED_TO | unix.IN_ISDIR, name: "a-folder-name"},
	}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Fatalf("parsed %+v, want %+v", events, want)
	}
	for _, bad := range [][]byte{
		buf[:len(buf)-1], // name cut short
		buf[:5],          // header cut short
		encodeEvent(1, 0, "x", 16)[:unix.SizeofInotifyEvent+3],
		func() []byte {
			b := encodeEvent(1, 0, "", 0)
			binary.NativeEndian.PutUint32(b[12:], 0xffffffff)
			return b
		}(),
	} {
		if _, err := parseInotifyEvents(bad); err == nil {
			t.Errorf("parsed a malformed buffer of %d bytes without error", len(bad))
		}
	}
}

func FuzzParseInotifyEvents(f *testing.F) {
	f.Add(encodeEvent(1, unix.IN_CLOSE_WRITE, "file.bin", 16))
	f.Add(append(encodeEvent(-1, unix.IN_Q_OVERFLOW, "", 0), encodeEvent(7, unix.IN_MOVED_TO, "x", 0)...))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, buf []byte) {
		events, err := parseInotifyEvents(buf)
		total := 0
		for _, ev := range events {
			if strings.IndexByte(ev.name, 0) >= 0 {
				t.Fatalf("name %q holds a NUL", ev.name)
			}
			total += unix.SizeofInotifyEvent + len(ev.name)
		}
		if total > len(buf) {
			t.Fatalf("parsed %d bytes of events from %d bytes", total, len(buf))
		}
		if err == nil && len(buf) > 0 && len(events) == 0 {
			t.Fatal("no events and no error from a non-empty buffer")
		}
	})
}

// TestOverflowRescans holds the scanners back while more files are written
// than the kernel's inotify queue holds, so the queue overflows; once they
// go on, the rescan finds the files whose events were lost: every file is
// scanned exactly once.
func TestOverflowRescans(t *testing.T) {
	limit, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	if err != nil {
		t.Skipf("cannot read the inotify queue size: %v", err)
	}
	queued, err := strconv.Atoi(strings.TrimSpace(string(limit)))
	if err != nil || queued > 40000 {
		t.Skipf("inotify queue of %s events: too large to overflow in a test", limit)
	}
	// Many small files: use a memory file system when there is one.
	base := ""
	if info, err := os.Stat("/dev/shm"); err == nil && info.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "dirmon-overflow-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	settle := 300 * time.Millisecond
	var g *gate
	h := startMonitor(t, dir, harnessConfig{
		opts:     map[string]string{"settle": settle.String()},
		workers:  []string{"dmtest_gate"},
		settings: map[string]string{"max_queue": "1", "provider_consumers": "1"},
		before: func(h *harness) {
			inst, err := h.engine.LoadPlugin("dmtest_gate")
			if err != nil {
				t.Fatal(err)
			}
			g = inst.(*gate)
		},
	})
	written := map[string][]byte{}
	write := func(name string) {
		path := filepath.Join(dir, name)
		content := []byte(name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		written[path] = content
	}
	write("first")
	<-g.entered // the only scanner is held: the provider blocks at the third file
	n := queued + 2000
	for i := range n {
		write(fmt.Sprintf("flood%06d", i))
	}
	close(g.open)
	h.waitAll(keys(written))
	h.finish(settle)
	h.checkExactlyOnce(written)
}

func BenchmarkParseInotifyEvents(b *testing.B) {
	var buf []byte
	for i := 0; len(buf) < 60<<10; i++ {
		buf = append(buf, encodeEvent(int32(i%7), unix.IN_CLOSE_WRITE, fmt.Sprintf("file-%06d.bin", i), 32)...)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := parseInotifyEvents(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOpenForWriting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !openForWriting(r) {
		t.Skip("file leases cannot tell here (not the owner, no CAP_LEASE, or leases disabled)")
	}
	w.Close()
	if openForWriting(r) {
		t.Fatal("a file no longer open for writing is reported busy")
	}
}

// TestSlowWriterInNewFolderWaits: a file found by scanning a new folder,
// whose writer pauses longer than settle, is not scanned before its writer
// closes it.
func TestSlowWriterInNewFolderWaits(t *testing.T) {
	probe := filepath.Join(t.TempDir(), "probe")
	pw, _ := os.Create(probe)
	pr, _ := os.Open(probe)
	leases := openForWriting(pr)
	pw.Close()
	pr.Close()
	if !leases {
		t.Skip("file leases cannot tell here: only the settle period protects slow writers")
	}
	dir := t.TempDir()
	settle := 100 * time.Millisecond
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"recursive": "true", "settle": settle.String()}})
	// Built elsewhere, moved in while its file is open and half written.
	staging := filepath.Join(t.TempDir(), "new")
	if err := os.Mkdir(staging, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(staging, "slow"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(staging, filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
	var content []byte
	for i := range 4 {
		chunk := []byte(fmt.Sprintf("chunk %d;", i))
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		content = append(content, chunk...)
		time.Sleep(4 * settle) // far longer than the quiet period
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "new", "slow")
	h.waitAll([]string{path})
	h.finish(settle)
	h.checkExactlyOnce(map[string][]byte{path: content})
}
