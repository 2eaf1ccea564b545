package dirmon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// writer modes of the concurrency tests.
const (
	writeAtOnce    = iota // os.WriteFile in the folder
	writeSlowly           // many chunks with pauses between them
	writeAndMove          // written elsewhere, renamed in
	writeDotRename        // written as a dotfile in the folder, renamed to its name
	writeModes
)

// testContent is file i's content: 0 to 64 KiB of seeded random bytes.
func testContent(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 42))
	b := make([]byte, r.IntN(64<<10))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// writeFile writes content to path in the given mode; staging is a folder
// outside the watched tree on the same file system.
func writeFile(t testing.TB, mode int, path, staging string, content []byte) {
	switch mode {
	case writeAtOnce:
		if err := os.WriteFile(path, content, 0o644); err != nil {
			t.Error(err)
		}
	case writeSlowly:
		f, err := os.Create(path)
		if err != nil {
			t.Error(err)
			return
		}
		chunks := 24
		for c := range chunks {
			lo, hi := len(content)*c/chunks, len(content)*(c+1)/chunks
			if _, err := f.Write(content[lo:hi]); err != nil {
				t.Error(err)
			}
			time.Sleep(time.Duration(200+c*50) * time.Microsecond)
		}
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	case writeAndMove:
		tmp := filepath.Join(staging, filepath.Base(path))
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	case writeDotRename:
		tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".part")
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	}
}

// writeConcurrently writes n files named f0000… into dirs (file i into
// dirs[i%len(dirs)]) from 8 goroutines, cycling through the modes.
func writeConcurrently(t *testing.T, n int, dirs []string, modes int) map[string][]byte {
	staging := t.TempDir()
	written := make(map[string][]byte, n)
	for i := range n {
		written[filepath.Join(dirs[i%len(dirs)], fmt.Sprintf("f%04d", i))] = testContent(i)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				path := filepath.Join(dirs[i%len(dirs)], fmt.Sprintf("f%04d", i))
				writeFile(t, i%modes, path, staging, written[path])
			}
		}()
	}
	wg.Wait()
	return written
}

func keys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestEachNewFileQueuedOnceWhenComplete writes 500 files concurrently, some
// slowly in many chunks, some moved in, some renamed from a dotfile: each
// is scanned exactly once, with its full content, and files present before
// the watch started are not scanned.
func TestEachNewFileQueuedOnceWhenComplete(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old"), []byte("was here before"), 0o644); err != nil {
		t.Fatal(err)
	}
	settle := 500 * time.Millisecond
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"settle": settle.String()}})
	written := writeConcurrently(t, 500, []string{dir}, writeModes)
	h.waitAll(keys(written))
	h.finish(settle)
	h.checkExactlyOnce(written)
}

// TestRewrittenFileIsQueuedAgain: each completed write is queued, a write
// that changes nothing is not.
func TestRewrittenFileIsQueuedAgain(t *testing.T) {
	dir := t.TempDir()
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"settle": "200ms"}})
	path := filepath.Join(dir, "doc")
	if err := os.WriteFile(path, []byte("version 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitAll([]string{path})
	// Opened for writing and closed without a change: not a new version.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(path, []byte("version 2, longer"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { h.col.mu.Lock(); defer h.col.mu.Unlock(); return len(h.col.byPath[path]) >= 2 })
	h.finish(200 * time.Millisecond)
	h.col.mu.Lock()
	defer h.col.mu.Unlock()
	got := h.col.byPath[path]
	if len(got) != 2 || got[0] != sha256Hex([]byte("version 1")) || got[1] != sha256Hex([]byte("version 2, longer")) {
		t.Fatalf("scans of the rewritten file: %v", got)
	}
}

// TestRecursiveWatchesNewFolders: with recursive, files in subfolders that
// existed, were created later, or were moved in whole (their files written
// before any watch) are each scanned once; dot-folders are skipped.
func TestRecursiveWatchesNewFolders(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "existing", ".hidden"), 0o755); err != nil {
		t.Fatal(err)
	}
	settle := time.Second
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"recursive": "true", "settle": settle.String()}})
	written := map[string][]byte{}
	add := func(m map[string][]byte) {
		for k, v := range m {
			written[k] = v
		}
	}

	// Files in a folder tree built elsewhere, then moved in at once.
	staging := t.TempDir()
	for i := range 30 {
		rel := filepath.Join("tree", fmt.Sprintf("d%d", i%3), fmt.Sprintf("e%d", i%2), fmt.Sprintf("m%02d", i))
		p := filepath.Join(staging, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, testContent(1000+i), 0o644); err != nil {
			t.Fatal(err)
		}
		written[filepath.Join(dir, "moved", strings.TrimPrefix(rel, "tree"+string(filepath.Separator)))] = testContent(1000 + i)
	}
	if err := os.Rename(filepath.Join(staging, "tree"), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}

	// New folders created and filled at once, racing their watches.
	var dirs []string
	for i := range 6 {
		d := filepath.Join(dir, "new", fmt.Sprintf("n%d", i), "deep")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, d)
	}
	dirs = append(dirs, filepath.Join(dir, "existing"))
	add(writeConcurrently(t, 140, dirs, writeModes))

	// Never scanned: dot-folders, new or old, and dotfiles.
	for _, hidden := range []string{filepath.Join(dir, ".cache", "x"), filepath.Join(dir, "existing", ".hidden", "y"), filepath.Join(dir, "new", ".z")} {
		if err := os.MkdirAll(filepath.Dir(hidden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hidden, []byte("hidden"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.waitAll(keys(written))
	h.finish(settle)
	h.checkExactlyOnce(written)
}

// TestNotRecursiveIgnoresSubfolders: by default only source_dir's own files
// are scanned.
func TestNotRecursiveIgnoresSubfolders(t *testing.T) {
	dir := t.TempDir()
	h := startMonitor(t, dir, harnessConfig{opts: map[string]string{"settle": "200ms"}})
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "inner"), []byte("inner"), 0o644); err != nil {
		t.Fatal(err)
	}
	top := filepath.Join(dir, "top")
	if err := os.WriteFile(top, []byte("top"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.waitAll([]string{top})
	h.finish(200 * time.Millisecond)
	h.checkExactlyOnce(map[string][]byte{top: []byte("top")})
}

// TestPortableBackend runs the fsnotify backend (the default outside Linux)
// here: files settle, then each is scanned once with its full content.
func TestPortableBackend(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old"), []byte("was here before"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A pause longer than settle inside a write would queue a partial file:
	// keep settle far above the writers' pauses.
	settle := time.Second
	h := startMonitor(t, dir, harnessConfig{fsnotify: true, opts: map[string]string{"settle": settle.String(), "recursive": "true"}})
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	written := writeConcurrently(t, 80, []string{dir, sub}, writeModes)
	h.waitAll(keys(written))
	h.finish(settle)
	h.checkExactlyOnce(written)
}

func TestCancelMakesIngestReturn(t *testing.T) {
	for _, backend := range []struct {
		name string
		run  func(*monitor, context.Context) error
	}{{"default", defaultBackend}, {"fsnotify", (*monitor).runFsnotify}} {
		t.Run(backend.name, func(t *testing.T) {
			dir := t.TempDir()
			p := stoqtest.New[*Plugin](t, "dirmon", map[string]string{"source_dir": dir, "settle": "100ms"})
			p.backend = backend.run
			ready := make(chan struct{})
			p.onWatching = func() { close(ready) }
			q := core.NewQueue(1) // never drained: the second file blocks Ingest in Put
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Ingest(ctx, q) }()
			<-ready
			for i := range 3 {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(i)), []byte{byte(i)}, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, func() bool { return q.Len() == 1 })
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Ingest returned %v after cancel, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Ingest did not return after cancel")
			}

			// And an idle monitor, blocked waiting for events.
			ctx, cancel = context.WithCancel(context.Background())
			ready = make(chan struct{})
			go func() { done <- p.Ingest(ctx, core.NewQueue(1)) }()
			<-ready
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("idle Ingest returned %v after cancel, want nil", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("idle Ingest did not return after cancel")
			}
		})
	}
}

func TestSourceDirRemovedIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "watched")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := stoqtest.New[*Plugin](t, "dirmon", map[string]string{"source_dir": dir})
	ready := make(chan struct{})
	p.onWatching = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- p.Ingest(context.Background(), core.NewQueue(1)) }()
	<-ready
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Ingest after source_dir was removed = %v, want an error naming it", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ingest went on after source_dir was removed")
	}
}

func TestNewValidatesOptions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		opts           map[string]string
		option, detail string
	}{
		{map[string]string{}, "source_dir", "want the folder"},
		{map[string]string{"source_dir": " "}, "source_dir", "want the folder"},
		{map[string]string{"source_dir": missing}, "source_dir", missing},
		{map[string]string{"source_dir": file}, "source_dir", "not a folder"},
		{map[string]string{"source_dir": dir, "recursive": "sometimes"}, "recursive", "boolean"},
		{map[string]string{"source_dir": dir, "settle": "soon"}, "settle", "duration"},
		{map[string]string{"source_dir": dir, "process_existing": "maybe"}, "process_existing", "boolean"},
		{map[string]string{"source_dir": dir, "settle": "0"}, "settle", "positive"},
	} {
		_, err := stoqtest.TryNew(t, "dirmon", tc.opts)
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("New(%v) = %v, want an OptionError for %s mentioning %q", tc.opts, err, tc.option, tc.detail)
		}
	}
	p := stoqtest.New[*Plugin](t, "dirmon", map[string]string{"source_dir": dir})
	if p.recursive || p.settle != 2*time.Second || p.processExisting {
		t.Errorf("defaults: recursive %v, settle %v, process_existing %v; want false, 2s, false", p.recursive, p.settle, p.processExisting)
	}
}

// waitFor polls cond until it holds, failing only a test stuck for 60 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 60 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProcessExisting: files already in the folder at start are queued once
// with process_existing (both backends), and not at all by default.
func TestProcessExisting(t *testing.T) {
	for _, backend := range []struct {
		name     string
		fsnotify bool
	}{{"default backend", false}, {"fsnotify", true}} {
		t.Run(backend.name, func(t *testing.T) {
			dir := t.TempDir()
			written := map[string][]byte{}
			for i := range 3 {
				path := filepath.Join(dir, fmt.Sprintf("before-%d", i))
				written[path] = testContent(i)
				if err := os.WriteFile(path, written[path], 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, ".partial"), []byte("dotfile"), 0o644); err != nil {
				t.Fatal(err)
			}
			settle := 200 * time.Millisecond
			h := startMonitor(t, dir, harnessConfig{fsnotify: backend.fsnotify, opts: map[string]string{"settle": settle.String(), "process_existing": "true"}})
			h.waitAll(keys(written))
			h.finish(settle)
			h.checkExactlyOnce(written)

			h = startMonitor(t, dir, harnessConfig{fsnotify: backend.fsnotify, opts: map[string]string{"settle": settle.String()}})
			h.finish(settle)
			h.checkExactlyOnce(map[string][]byte{})
		})
	}
}
