package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintCatalogCommand runs the command on catalogues with and without
// problems and checks its output and exit status.
func TestLintCatalogCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "lint-catalog")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "plugins", "x"), 0o755)
	out, err := exec.Command(bin, root).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "plugins/x: no manifest x.stoq") {
		t.Errorf("a plugin without manifest: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, filepath.Join(root, "missing")).CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("a missing catalogue: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(root, "plugins", "x"))
	out, err = exec.Command(bin, root).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "0 plugins OK") {
		t.Errorf("an empty catalogue: %v\n%s", err, out)
	}
}
