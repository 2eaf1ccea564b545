package filedir

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// leftovers writes, in dir, a temporary file as a SIGKILLed stoq leaves
// one (an hour old) and one a writer is busy with (fresh).
func leftovers(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, ".killed-scan.tmp-0123456789abcdef")
	fresh := filepath.Join(dir, ".busy-scan.tmp-fedcba9876543210")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("{\"half"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

func TestSaveSweepsStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	leftovers(t, dir)
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir})
	resp := newResponse("1")
	if err := p.Save(context.Background(), resp); err != nil {
		t.Fatal(err)
	}
	want := []string{".busy-scan.tmp-fedcba9876543210", resp.ScanID}
	sort.Strings(want)
	if got := names(t, dir); !reflect.DeepEqual(got, want) {
		t.Errorf("results folder holds %v, want %v: the stale one gone, the fresh one kept", got, want)
	}
}

func TestArchiveSweepsStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	content := []byte("archived")
	sum := sha1.Sum(content)
	name := hex.EncodeToString(sum[:])
	leaf := filepath.Join(dir, name[0:1], name[1:2], name[2:3], name[3:4], name[4:5])
	leftovers(t, leaf)
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"archive_dir": dir})
	payload := stoqtest.Payload(content, nil)
	if _, err := p.Archive(context.Background(), payload, stoqtest.Request(payload)); err != nil {
		t.Fatal(err)
	}
	want := []string{".busy-scan.tmp-fedcba9876543210", name}
	if got := names(t, leaf); !reflect.DeepEqual(got, want) {
		t.Errorf("archive folder holds %v, want %v", got, want)
	}
}
