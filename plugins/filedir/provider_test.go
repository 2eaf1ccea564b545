package filedir_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/filedir/v3"
)

// writeTree creates files (relative path → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runProvider runs filedir as the only provider with opts and returns what
// was scanned.
func runProvider(t *testing.T, opts map[string]string, extra ...engine.Option) ([]scanned, []core.Error, error) {
	t.Helper()
	s := stoqtest.Engine(t, append([]engine.Option{
		engine.WithProviders("filedir"),
		engine.WithAlwaysDispatch("fdtest_sha"),
		engine.WithConnectors("fdtest_collect"),
		engine.WithPluginOptions(map[string]map[string]string{"filedir": opts}),
	}, extra...)...)
	err := s.Run(context.Background(), nil)
	got, errs := collected(t, s)
	return got, errs, err
}

// want describes an expected payload: its content and extra_data.
type want struct {
	content, filename, sourceDir string
}

func checkScanned(t *testing.T, got []scanned, wants []want) {
	t.Helper()
	sort.Slice(wants, func(i, j int) bool {
		a, b := sha256Hex([]byte(wants[i].content)), sha256Hex([]byte(wants[j].content))
		return a < b || a == b && wants[i].filename < wants[j].filename
	})
	if len(got) != len(wants) {
		t.Fatalf("scanned %d payloads, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.sha256 != sha256Hex([]byte(w.content)) {
			t.Errorf("payload %d: sha256 %s, want that of %q", i, g.sha256, w.content)
		}
		if g.extra["filename"] != w.filename || g.extra["source_dir"] != w.sourceDir {
			t.Errorf("payload %q: extra_data %v, want filename %q source_dir %q", w.content, g.extra, w.filename, w.sourceDir)
		}
	}
}

var tree = map[string]string{
	"a.bin":              "content a",
	"b.txt":              "content b",
	".hidden":            "dotfile",
	"sub/c.bin":          "content c",
	"sub/.d":             "nested dotfile",
	"sub/deeper/e":       "content e",
	".git/config":        "inside a dot-folder",
	".git/objects/f1":    "deep inside a dot-folder",
	"empty-folder/.keep": "",
}

func TestProviderFlatSkipsDotfilesAndFolders(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree)
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{
		{"content a", "a.bin", dir},
		{"content b", "b.txt", dir},
	})
}

func TestProviderRecursiveSkipsDotFolders(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, tree)
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir, "recursive": "true"})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{
		{"content a", "a.bin", dir},
		{"content b", "b.txt", dir},
		{"content c", "c.bin", filepath.Join(dir, "sub")},
		{"content e", "e", filepath.Join(dir, "sub", "deeper")},
	})
}

func TestProviderSingleFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"one.bin": "only me", "other.bin": "not me", ".named": "dot but named"})
	for _, tc := range []struct{ name, content string }{{"one.bin", "only me"}, {".named", "dot but named"}} {
		got, errs, err := runProvider(t, map[string]string{"source_dir": filepath.Join(dir, tc.name)})
		if err != nil || len(errs) > 0 {
			t.Fatalf("Run: %v, errors %v", err, errs)
		}
		checkScanned(t, got, []want{{tc.content, tc.name, dir}})
	}
}

func TestProviderRelativeSourceDirIsFromWorkingDirectory(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"in/x": "relative"})
	t.Chdir(dir)
	got, errs, err := runProvider(t, map[string]string{"source_dir": "in"})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{{"relative", "x", filepath.Join(dir, "in")}})
}

func TestProviderMissingOrUnsetSourceDirIsAClearError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-folder")
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{"missing", map[string]string{"source_dir": missing}, missing},
		{"unset", map[string]string{}, "source_dir is not set"},
		{"blank", map[string]string{"source_dir": "  "}, "source_dir is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := runProvider(t, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run error = %v, want one containing %q", err, tc.want)
			}
			if len(got) != 0 {
				t.Fatalf("scanned %d payloads", len(got))
			}
		})
	}
}

func TestProviderNeverLeavesSourceDirThroughASymlink(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	writeTree(t, dir, map[string]string{"ok": "readable", "sub/inside": "inside, linked"})
	writeTree(t, other, map[string]string{"target": "via symlink", "inner/z": "behind a folder link"})
	for _, link := range []struct{ target, name string }{
		{filepath.Join(other, "missing"), "broken"},
		{filepath.Join(other, "target"), "link"},
		{filepath.Join(other, "inner"), "folderlink"},
		{filepath.Join(dir, "sub", "inside"), "inlink"},
		{"sub/inside", "relative-inlink"},
		{"../" + filepath.Base(other) + "/target", "relative-outlink"},
	} {
		if err := os.Symlink(link.target, filepath.Join(dir, link.name)); err != nil {
			t.Skipf("symlinks unsupported: %v", err)
		}
	}
	// By default only links that stay inside source_dir are read.
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{{"readable", "ok", dir}, {"inside, linked", "inlink", dir}, {"inside, linked", "relative-inlink", dir}})
	// follow_symlinks reads them wherever they lead; folder links are
	// never followed.
	got, errs, err = runProvider(t, map[string]string{"source_dir": dir, "recursive": "true", "follow_symlinks": "true"})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{
		{"readable", "ok", dir}, {"inside, linked", "inlink", dir}, {"inside, linked", "relative-inlink", dir},
		{"inside, linked", "inside", filepath.Join(dir, "sub")},
		{"via symlink", "link", dir}, {"via symlink", "relative-outlink", dir},
	})
}

func TestProviderUnreadableFileIsAnErrorResponse(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ok": "readable", "locked": "unreadable"})
	if err := os.Chmod(filepath.Join(dir, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkScanned(t, got, []want{{"readable", "ok", dir}})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "locked") {
		t.Errorf("errors %v, want one naming the unreadable file", errs)
	}
}

func TestProviderQueuesReferencesNotContent(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "first", "b": "second"})
	p := stoqtest.New[*filedir.Plugin](t, "filedir", map[string]string{"source_dir": dir})
	tasks, err := stoqtest.Ingest(context.Background(), p)
	if err != nil || len(tasks) != 2 {
		t.Fatalf("Ingest: %d tasks, %v", len(tasks), err)
	}
	for _, task := range tasks {
		if task.Payload != nil || task.Open == nil {
			t.Fatalf("task %+v holds content, want a reference (Open)", task)
		}
	}
	payload, release, err := tasks[0].Open(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := payload.Results.PayloadMeta.ExtraData["filename"].(string)
	if want := map[string]string{"a": "first", "b": "second"}[name]; want == "" || string(payload.Content) != want {
		t.Fatalf("Open: %q named %q", payload.Content, name)
	}
	release()
	other := map[string]string{"a": "b", "b": "a"}[name]
	// Loaded only when taken: a file removed meanwhile is an error then.
	if err := os.Remove(filepath.Join(dir, other)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tasks[1].Open(context.Background(), 100); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, other)) {
		t.Errorf("Open of a removed file: %v, want an error naming it", err)
	}
	// And a file over max_payload_size is refused, not read.
	writeTree(t, dir, map[string]string{other: strings.Repeat("x", 101)})
	if _, _, err := tasks[1].Open(context.Background(), 100); err == nil || !strings.Contains(err.Error(), "more than max_payload_size (100 bytes)") {
		t.Errorf("Open over max_payload_size: %v", err)
	}
}

func TestProviderRecordsFilesOverMaxPayloadSize(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"small": "12345", "big": "1234567890"})
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir}, engine.WithSetting("max_payload_size", "5"))
	if err != nil {
		t.Fatal(err)
	}
	checkScanned(t, got, []want{{"12345", "small", dir}})
	if len(errs) != 1 || errs[0].Message != "filedir: "+filepath.Join(dir, "big")+" is 10 bytes, more than max_payload_size (5 bytes): not loaded" {
		t.Errorf("errors %+v, want the big file refused by max_payload_size", errs)
	}
}

func TestProviderSkipsFIFOs(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"ok": "readable"})
	if err := mkfifo(filepath.Join(dir, "fifo")); err != nil {
		t.Skip(err)
	}
	if err := os.Symlink(filepath.Join(dir, "fifo"), filepath.Join(dir, "fifolink")); err != nil {
		t.Skip(err)
	}
	got, errs, err := runProvider(t, map[string]string{"source_dir": dir, "follow_symlinks": "true"})
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{{"readable", "ok", dir}})
}

func TestProviderStopsWhenContextIsCancelled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"1": "one", "2": "two", "3": "three"})
	p := stoqtest.New[*filedir.Plugin](t, "filedir", map[string]string{"source_dir": dir})
	q := core.NewQueue(1) // nobody drains it: the second Put blocks
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Ingest(ctx, q) }()
	waitFor(t, func() bool { return q.Len() == 1 })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Ingest after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Ingest did not return after its context was cancelled")
	}
}

func TestProviderQueuesArchiverTasks(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "first", "sub/b": "second", ".c": "hidden"})
	got, errs, err := runProvider(t,
		map[string]string{"source_dir": dir, "recursive": "true", "source_archiver": "filedir"},
		engine.WithSourceArchivers("filedir"))
	if err != nil || len(errs) > 0 {
		t.Fatalf("Run: %v, errors %v", err, errs)
	}
	checkScanned(t, got, []want{{"first", "a", dir}, {"second", "b", filepath.Join(dir, "sub")}})
	for _, g := range got {
		if want := filepath.Join(g.extra["source_dir"].(string), g.extra["filename"].(string)); g.extra["path"] != want {
			t.Errorf("extra_data path = %v, want %s", g.extra["path"], want)
		}
	}
}

func TestProviderRejectsBadSourceArchiverName(t *testing.T) {
	_, err := stoqtest.TryNew(t, "filedir", map[string]string{"source_archiver": "Not A Name"})
	var oe *core.OptionError
	if !errors.As(err, &oe) || oe.Option != "source_archiver" {
		t.Fatalf("New error = %v, want an OptionError for source_archiver", err)
	}
}

// waitFor polls cond until it holds, failing only a test stuck for a minute.
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

func TestProviderListsAFlatFolderInBatches(t *testing.T) {
	dir := t.TempDir()
	const n = 2500 // more than two batches
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), fmt.Appendf(nil, "file %d", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := stoqtest.New[*filedir.Plugin](t, "filedir", map[string]string{"source_dir": dir})
	tasks, err := stoqtest.Ingest(context.Background(), p)
	if err != nil || len(tasks) != n {
		t.Fatalf("Ingest: %d tasks, %v; want %d", len(tasks), err, n)
	}
}
