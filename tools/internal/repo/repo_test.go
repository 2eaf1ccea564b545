package repo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindRootWalksUp(t *testing.T) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nested := filepath.Join(root, "tools", "cmd")
	for _, d := range []string{filepath.Join(root, "plugins"), filepath.Join(root, "core"), nested} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(nested)
	if got, err := FindRoot(); err != nil || got != root {
		t.Errorf("FindRoot = %q, %v; want %q", got, err, root)
	}
	t.Chdir(t.TempDir())
	if _, err := FindRoot(); err == nil {
		t.Error("found a root where there is none")
	}
}
