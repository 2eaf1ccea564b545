// Package docs tests the repository's documentation: the examples of
// docs/PLUGINS.md, the plugin author's guide, are whole plugin modules that
// must build, pass their tests and the installer's check, so the guide
// cannot rot.
package docs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/plugincheck"
)

var fileMarker = regexp.MustCompile(`^<!-- file: ([A-Za-z0-9_./-]+) -->$`)

// docFile is one file of an example, as the guide prints it.
type docFile struct {
	path, content string
	line          int
}

// reporter is what readExamples reports to (a *testing.T).
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// readExamples returns the files of the guide's examples. Every Go block
// must be one (a marker line <!-- file: MODULE/FILE --> right before it).
func readExamples(t reporter, guide string) []docFile {
	t.Helper()
	f, err := os.Open(guide)
	if err != nil {
		t.Fatalf("%v", err)
		return nil
	}
	defer f.Close()
	var files []docFile
	var pending string
	var cur *docFile
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur != nil && line == "```":
			files = append(files, *cur)
			cur, pending = nil, ""
		case cur != nil:
			cur.content += line + "\n"
		case strings.HasPrefix(line, "```") && pending != "":
			cur = &docFile{path: pending, line: n}
		case strings.HasPrefix(line, "```go"):
			t.Errorf("%s:%d: a Go block that is no example file (put <!-- file: MODULE/FILE.go --> before it)", guide, n)
		case fileMarker.MatchString(line):
			pending = fileMarker.FindStringSubmatch(line)[1]
		case strings.TrimSpace(line) != "":
			pending = ""
		}
	}
	if cur != nil {
		t.Fatalf("%s: the block of %s is not closed", guide, cur.path)
	}
	return files
}

func TestPluginGuideExamplesBuildAndPass(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests the guide's example modules")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip(err)
	}
	guide := filepath.Join("..", "..", "docs", "PLUGINS.md")
	files := readExamples(t, guide)
	core, err := filepath.Abs(filepath.Join("..", "..", "core"))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := os.ReadFile(filepath.Join(core, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	modules := map[string]bool{}
	for _, f := range files {
		mod, _, ok := strings.Cut(f.path, "/")
		if !ok {
			t.Fatalf("%s:%d: %s is not MODULE/FILE", guide, f.line, f.path)
		}
		modules[mod] = true
		content := f.content
		if path.Base(f.path) == "go.mod" {
			// The guide's go.mod is what an author writes; the test builds
			// against this checkout's core.
			content += "\nreplace github.com/stoq-go/stoq/core/v3 => " + core + "\n"
		}
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for m := range modules {
		names = append(names, m)
	}
	sort.Strings(names)
	if len(names) < 6 {
		t.Errorf("the guide has %d example modules (%v), want one per class", len(names), names)
	}
	env := offlineEnv(t)
	for _, m := range names {
		dir := filepath.Join(root, m)
		if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, dir, env, "go", "mod", "tidy")
		run(t, dir, env, "go", "vet", "./...")
		run(t, dir, env, "go", "test", "-count=1", "./...")
		if p, err := plugincheck.Check(dir, plugincheck.Options{}); err != nil {
			t.Errorf("example %s: stoq install would refuse it: %v", m, err)
		} else if len(p.Warnings) > 0 {
			t.Errorf("example %s: stoq install would warn: %v", m, p.Warnings)
		}
	}
}

// offlineEnv builds outside any workspace, with modules from the user's
// module cache only.
func offlineEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "GOPROXY" && k != "GOSUMDB" && k != "GOFLAGS" && k != "GOWORK" {
			env = append(env, kv)
		}
	}
	cache := filepath.Join(strings.TrimSpace(string(out)), "cache", "download")
	return append(env, "GOWORK=off", "GOFLAGS=-mod=mod", "GOSUMDB=off", "GOPROXY=file://"+filepath.ToSlash(cache))
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: %s %s: %v\n%s", filepath.Base(dir), name, strings.Join(args, " "), err, out)
	}
}

func TestReadExamplesRequiresAMarkerOnGoBlocks(t *testing.T) {
	guide := filepath.Join(t.TempDir(), "guide.md")
	text := "intro\n\n<!-- file: a/go.mod -->\n```\nmodule a\n```\n\n```go\nfunc orphan() {}\n```\n"
	if err := os.WriteFile(guide, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	files := readExamples(rec, guide)
	if len(files) != 1 || files[0].path != "a/go.mod" || files[0].content != "module a\n" {
		t.Errorf("files %+v", files)
	}
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "no example file") {
		t.Errorf("errors %q, want one for the orphan Go block", rec.errors)
	}
}

// recorder is a reporter that keeps what it is told.
type recorder struct{ errors []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }
