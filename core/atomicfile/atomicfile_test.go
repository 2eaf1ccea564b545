package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

func TestWriteFileReplacesOrNotAsAsked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	for i, content := range []string{"one", "two"} {
		written, err := atomicfile.WriteFile(path, []byte(content), atomicfile.Options{Durable: i == 1})
		if err != nil || !written {
			t.Fatalf("write %d: %v, %v", i, written, err)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("content %q, want the second write", b)
	}
	written, err := atomicfile.WriteFile(path, []byte("three"), atomicfile.Options{NoReplace: true})
	if err != nil || written {
		t.Errorf("NoReplace over an existing file: written=%v err=%v, want false, nil", written, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "two" {
		t.Errorf("NoReplace replaced the file: %q", b)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d files, want only the final one (no temporary left)", len(entries))
	}
}

func TestRemoveStaleSweepsOnlyOldTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, ".r.json.tmp-0123456789abcdef")
	young := filepath.Join(dir, ".s.json.tmp-fedcba9876543210")
	kept := filepath.Join(dir, "r.json")
	for _, p := range []string{old, young, kept} {
		os.WriteFile(p, []byte("x"), 0o644)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	os.Chtimes(kept, past, past)
	n, err := atomicfile.RemoveStale(dir, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RemoveStale = %d, %v, want 1", n, err)
	}
	for p, want := range map[string]bool{old: false, young: true, kept: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if !atomicfile.IsTemp(filepath.Base(young)) || atomicfile.IsTemp("r.json") || atomicfile.IsTemp(".hidden") {
		t.Error("IsTemp misjudges names")
	}
}
