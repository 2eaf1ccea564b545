package mimetype

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// requireTool returns the path of a command the test compares with or
// builds samples with. Under CI (CI=true) a missing tool fails the test;
// elsewhere the test is skipped with the apt-get line that brings it.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	return stoqtest.Command(t, name, debianPackage)
}

// fileMimeTypes runs `file --mime-type -b` (with extra arguments first) on
// every path at once and returns its answers, one per path. LC_ALL=C keeps
// its output independent of the locale.
func fileMimeTypes(t testing.TB, extra []string, paths ...string) []string {
	t.Helper()
	file := requireTool(t, "file", "file")
	args := append(append(append([]string{}, extra...), "--mime-type", "-b", "--"), paths...)
	cmd := exec.Command(file, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("file %s: %v\n%s", strings.Join(args[:len(extra)+3], " "), err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("file answered %d lines for %d files:\n%s", len(lines), len(paths), out)
	}
	return lines
}

// writeSamples writes each sample to its own file under dir (mode 0644, as
// a saved sample) and returns the paths in order.
func writeSamples(t testing.TB, dir string, samples []sample) []string {
	t.Helper()
	paths := make([]string, len(samples))
	for i, s := range samples {
		paths[i] = filepath.Join(dir, fmt.Sprintf("%03d-%s", i, s.name))
		if err := os.WriteFile(paths[i], s.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return paths
}

// newPlugin constructs the registered plugin with opts.
func newPlugin(t testing.TB, opts map[string]string) *Plugin {
	t.Helper()
	return stoqtest.New[*Plugin](t, "mimetype", opts)
}

// mimeOf runs the worker on content and returns its answer.
func mimeOf(t testing.TB, p *Plugin, content []byte) string {
	t.Helper()
	resp := stoqtest.Scan(t, p, content)
	res, ok := resp.Results.(Results)
	if !ok {
		t.Fatalf("results are a %T, want mimetype.Results", resp.Results)
	}
	return res["mimetype"]
}
