package filedir

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

func archivePath(t *testing.T, resp *core.ArchiverResponse) string {
	t.Helper()
	m, ok := resp.Results.(map[string]any)
	if !ok {
		t.Fatalf("archiver results %#v are not a map", resp.Results)
	}
	path, ok := m["path"].(string)
	if !ok || len(m) != 1 {
		t.Fatalf("archiver results %#v, want only {\"path\": …}", m)
	}
	return path
}

func TestArchiveLayoutMatchesStoQ(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	content := []byte("hello")
	payload := stoqtest.Payload(content, nil)
	resp, err := p.Archive(context.Background(), payload, stoqtest.Request(payload))
	if err != nil {
		t.Fatal(err)
	}
	// sha1("hello") = aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d
	want := filepath.Join(dir, "a", "a", "f", "4", "c", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
	if got := archivePath(t, resp); got != want {
		t.Fatalf("archived to %s, want %s", got, want)
	}
	if data, err := os.ReadFile(want); err != nil || !bytes.Equal(data, content) {
		t.Fatalf("archive file holds %q (%v)", data, err)
	}
}

func TestArchiveByPayloadID(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir, "use_sha": "false"})
	payload := stoqtest.Payload([]byte("by id"), nil)
	ctx := context.Background()
	resp, err := p.Archive(ctx, payload, stoqtest.Request(payload))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := archivePath(t, resp), filepath.Join(dir, payload.ID()); got != want {
		t.Fatalf("archived to %s, want %s", got, want)
	}
	if _, err := p.Archive(ctx, payload, nil); err != nil {
		t.Fatalf("archiving the same payload again: %v", err)
	}
	// Another content under the same id is refused, and the file is kept.
	clash := stoqtest.Payload([]byte("other"), nil)
	clash.Results.PayloadID = payload.ID()
	if _, err := p.Archive(ctx, clash, nil); err == nil || !strings.Contains(err.Error(), "different content") {
		t.Fatalf("archiving other content under the same id = %v", err)
	}
	for _, bad := range []string{"../x", "a/b", ".hidden", ""} {
		evil := stoqtest.Payload([]byte("x"), nil)
		evil.Results.PayloadID = bad
		if _, err := p.Archive(ctx, evil, nil); err == nil {
			t.Errorf("payload id %q was used as a file name", bad)
		}
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{payload.ID()}) {
		t.Fatalf("archive holds %v", got)
	}
}

func TestArchiveIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	content := bytes.Repeat([]byte("same bytes "), 1000)
	var wg sync.WaitGroup
	paths := make([]string, 8)
	errs := make([]error, 8)
	for i := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			payload := stoqtest.Payload(content, nil) // a new payload id each time
			resp, err := p.Archive(context.Background(), payload, nil)
			if errs[i] = err; err == nil {
				paths[i] = resp.Results.(map[string]any)["path"].(string)
			}
		}()
	}
	wg.Wait()
	sum := sha1.Sum(content)
	name := hex.EncodeToString(sum[:])
	for i := range paths {
		if errs[i] != nil || paths[i] != filepath.Join(dir, name[:1], name[1:2], name[2:3], name[3:4], name[4:5], name) {
			t.Fatalf("archive %d: %s, %v", i, paths[i], errs[i])
		}
	}
	if got := listFiles(t, dir); len(got) != 1 {
		t.Fatalf("archive holds %v, want one file and no temporary files", got)
	}
}

func TestArchiveRefusesDamagedCopy(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	payload := stoqtest.Payload([]byte("hello"), nil)
	path := filepath.Join(dir, "a", "a", "f", "4", "c", "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("hel"), 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	if _, err := p.Archive(context.Background(), payload, nil); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Archive over a damaged copy = %v, want an error naming %s", err, path)
	}
}

func TestGetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	content := []byte("round trip \x00\xff")
	payload := stoqtest.Payload(content, nil)
	resp, err := p.Archive(context.Background(), payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := archivePath(t, resp)
	rel, _ := filepath.Rel(dir, path)
	for name, task := range map[string]any{
		"archive response": resp.Results,
		"decoded JSON":     stoqtest.JSON(t, resp.Results),
		"string map":       map[string]string{"path": path},
		"plain string":     path,
		"relative":         rel,
		"extra keys":       map[string]any{"path": path, "origin": "sensor-1"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := p.Get(context.Background(), &core.ArchiverResponse{Results: task})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Content, content) || got.Results.Size != len(content) {
				t.Fatalf("loaded %q, want %q", got.Content, content)
			}
			extra := got.Meta().ExtraData
			if extra["path"] != path || extra["filename"] != filepath.Base(path) {
				t.Errorf("extra_data %v, want path %s and its file name", extra, path)
			}
			if name == "extra keys" && extra["origin"] != "sensor-1" {
				t.Errorf("task metadata dropped: %v", extra)
			}
			if got.ID() == payload.ID() {
				t.Error("a loaded payload reuses the archived payload's id")
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	missing := filepath.Join(dir, "no", "such", "file")
	for name, tc := range map[string]struct {
		task    any
		mention string
	}{
		"missing file":  {map[string]any{"path": missing}, missing},
		"folder":        {dir, "not a regular file"},
		"no path key":   {map[string]any{"file": "x"}, `"path"`},
		"path not text": {map[string]any{"path": 42.0}, `"path"`},
		"empty":         {"", "empty path"},
		"wrong type":    {[]string{"x"}, "[]string"},
		"nil":           {nil, "<nil>"},
		"nul byte":      {"a\x00b", "NUL"},
		"empty str map": {map[string]string{}, "empty path"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Get(context.Background(), &core.ArchiverResponse{Results: tc.task})
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("Get(%v) = %v, want an error mentioning %q", tc.task, err, tc.mention)
			}
		})
	}
	if _, err := p.Get(context.Background(), nil); err == nil {
		t.Fatal("Get(nil) succeeded")
	}
}

func TestGetRestrictedToArchiveDir(t *testing.T) {
	root := t.TempDir()
	archive := filepath.Join(root, "archive")
	outside := filepath.Join(root, "secret")
	for _, f := range []string{filepath.Join(archive, "inside"), outside} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(archive, "sneaky")); err != nil {
		t.Skipf("symlinks unsupported: %v", err)
	}
	open := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": archive})
	if _, err := open.Get(context.Background(), &core.ArchiverResponse{Results: outside}); err != nil {
		t.Fatalf("by default Get reads any path, as stoQ: %v", err)
	}
	strict := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": archive, "restrict_to_archive_dir": "true"})
	for _, task := range []string{outside, "../secret", filepath.Join(archive, "sneaky")} {
		if _, err := strict.Get(context.Background(), &core.ArchiverResponse{Results: task}); err == nil || !strings.Contains(err.Error(), "outside archive_dir") {
			t.Errorf("restricted Get(%s) = %v, want a refusal", task, err)
		}
	}
	if _, err := strict.Get(context.Background(), &core.ArchiverResponse{Results: "inside"}); err != nil {
		t.Errorf("restricted Get of a file inside: %v", err)
	}
}
