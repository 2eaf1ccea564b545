package builder

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCopyTreeKeepsLinksInsideAndRefusesLinksOut(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFiles(t, src, map[string]string{"a.go": "package a", "rules/x.yar": "rule x {}", ".git/HEAD": "ref"})
	if err := os.Chmod(filepath.Join(src, "a.go"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("rules/x.yar", filepath.Join(src, "inside")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(src, "rules"), filepath.Join(src, "abs-inside")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "dst")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dst, "inside")); err != nil || string(data) != "rule x {}" {
		t.Errorf("inside link: %q, %v", data, err)
	}
	if link, _ := os.Readlink(filepath.Join(dst, "abs-inside")); link != "rules" {
		t.Errorf("absolute link inside the tree became %q, want the relative rules", link)
	}
	if fi, err := os.Stat(filepath.Join(dst, "a.go")); err != nil || fi.Mode()&0o100 == 0 {
		t.Errorf("executable bit lost: %v %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(dst, ".git")); !os.IsNotExist(err) {
		t.Errorf(".git was copied: %v", err)
	}
	if err := copyTree(src, dst); err == nil {
		t.Error("copying onto an existing folder was accepted")
	}

	for _, target := range []string{"../outside", "/etc/passwd", "rules/../../x"} {
		evil := filepath.Join(dir, "evil")
		os.RemoveAll(evil)
		writeFiles(t, evil, map[string]string{"a.go": "package a"})
		if err := os.Symlink(target, filepath.Join(evil, "link")); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "evil-out")
		os.RemoveAll(out)
		err := copyTree(evil, out)
		if err == nil || !strings.Contains(err.Error(), "outside the plugin folder") {
			t.Errorf("link to %s: err = %v, want a refusal", target, err)
		}
	}

	fifo := filepath.Join(dir, "fifo")
	writeFiles(t, fifo, map[string]string{"a.go": "package a"})
	if err := syscall.Mkfifo(filepath.Join(fifo, "pipe"), 0o644); err == nil {
		if err := copyTree(fifo, filepath.Join(dir, "fifo-out")); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("a named pipe was copied: %v", err)
		}
	}
}

func TestHashTreeSeesContentModeAndNames(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.go": "package a", "b/c.txt": "c", "x.build/junk": "1"})
	base, err := hashTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := hashTree(dir)
	if same != base {
		t.Fatal("hash is not stable")
	}
	writeFiles(t, dir, map[string]string{"x.build/junk": "2"})
	if h, _ := hashTree(dir); h != base {
		t.Error("a *.build folder changed the hash")
	}
	changes := []func(){
		func() { writeFiles(t, dir, map[string]string{"a.go": "package b"}) },
		func() { os.Chmod(filepath.Join(dir, "a.go"), 0o755) },
		func() { os.Rename(filepath.Join(dir, "b", "c.txt"), filepath.Join(dir, "b", "d.txt")) },
	}
	prev := base
	for i, change := range changes {
		change()
		h, err := hashTree(dir)
		if err != nil {
			t.Fatal(err)
		}
		if h == prev {
			t.Errorf("change %d did not change the hash", i)
		}
		prev = h
	}
}
