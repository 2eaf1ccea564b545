package release

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needGit skips without git, except under CI where it must be there.
func needGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git is needed: %v", err)
		}
		t.Skipf("git is needed: %v", err)
	}
}

func pluginManifest(name, module, version string) string {
	return "[Core]\nName = " + name + "\nModule = " + module + "\n\n[Documentation]\nAuthor = tests\nVersion = " + version +
		"\nWebsite = https://example.org\nDescription = a test plugin\n\n[options]\nmin_stoq_version = 3.0.0\n"
}

// testRepo writes a small repository in the layout of this one (core, cli,
// one plugin, tools) and commits it with git: the release tests never
// depend on tags of the real repository.
func testRepo(t *testing.T, files map[string]string) string {
	t.Helper()
	needGit(t)
	root := t.TempDir()
	base := map[string]string{
		"core/go.mod":                "module github.com/stoq-go/stoq/core/v3\n\ngo 1.26\n",
		"core/version.go":            "package core\n\n// Version is the core's.\nconst Version = \"3.1.0\"\n",
		"core/CHANGELOG.md":          "# Changelog\n\n## 3.1.0 - 2026-12-01\n\n- more\n\n## 3.0.0 - 2026-11-27\n",
		"cli/go.mod":                 "module github.com/stoq-go/stoq/cli/v3\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.1.0\n\nreplace github.com/stoq-go/stoq/core/v3 => ../core\n",
		"cli/cli.go":                 "package cli\n",
		"cli/CHANGELOG.md":           "# Changelog\n\n## Unreleased\n\n- next\n\n## 3.1.0 - 2026-12-01\n",
		"plugins/hello/go.mod":       "module github.com/stoq-go/stoq/plugins/hello/v3\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.1.0\n",
		"plugins/hello/hello.stoq":   pluginManifest("hello", "github.com/stoq-go/stoq/plugins/hello/v3", "3.2.0"),
		"plugins/hello/hello.go":     "package hello\n",
		"plugins/hello/CHANGELOG.md": "## 3.2.0 - 2026-12-01\n",
		"tools/go.mod":               "module github.com/stoq-go/stoq/tools\n\ngo 1.26\n",
		".gitignore":                 "*.bin\n",
		"plugins/hello/build.bin":    "an ignored build output",
	}
	for k, v := range files {
		base[k] = v
	}
	for name, content := range base {
		if content == "" {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitRun(t, root, "init", "-q")
	gitRun(t, root, "add", "-A")
	gitRun(t, root, "commit", "-q", "-m", "first")
	return root
}

func gitRun(t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=tests", "-c", "user.email=tests@example.org"}, args...)...)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func TestCheckAReleasableRepository(t *testing.T) {
	root := testRepo(t, nil)
	modules, problems, err := Check(root)
	if err != nil || len(problems) > 0 {
		t.Fatalf("problems %v, %v", problems, err)
	}
	var tags []string
	for _, m := range modules {
		tags = append(tags, m.Tag()+" "+m.Path+"@"+m.Version)
	}
	want := "cli/v3.1.0 github.com/stoq-go/stoq/cli/v3@v3.1.0, core/v3.1.0 github.com/stoq-go/stoq/core/v3@v3.1.0, plugins/hello/v3.2.0 github.com/stoq-go/stoq/plugins/hello/v3@v3.2.0"
	if strings.Join(tags, ", ") != want {
		t.Errorf("tags\n%s\nwant\n%s", strings.Join(tags, ", "), want)
	}
	proxy := t.TempDir()
	if err := WriteProxy(proxy, modules); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(proxy, "github.com/stoq-go/stoq/plugins/hello/v3/@v/list"))
	if err != nil || string(list) != "v3.2.0\n" {
		t.Errorf("list %q %v", list, err)
	}
	zip, err := os.ReadFile(filepath.Join(proxy, "github.com/stoq-go/stoq/plugins/hello/v3/@v/v3.2.0.zip"))
	if err != nil || strings.Contains(string(zip), "build.bin") || !strings.Contains(string(zip), "hello.stoq") {
		t.Errorf("the zip holds an ignored file or lacks the manifest (%v)", err)
	}
}

func TestCheckFindsWhatCannotBeReleased(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a changelog behind", map[string]string{"plugins/hello/CHANGELOG.md": "## 3.1.0 - 2026-11-27\n"}, "the manifest's Version is 3.2.0 but CHANGELOG.md's newest entry is 3.1.0"},
		{"a core changelog behind", map[string]string{"core/CHANGELOG.md": "## 3.0.0\n"}, "core.Version is 3.1.0 but CHANGELOG.md's newest entry is 3.0.0"},
		{"no major suffix", map[string]string{
			"plugins/hello/go.mod":     "module github.com/stoq-go/stoq/plugins/hello\n",
			"plugins/hello/hello.stoq": pluginManifest("hello", "github.com/stoq-go/stoq/plugins/hello", "3.2.0"),
		}, "cannot be published at v3.2.0"},
		{"a placeholder requirement", map[string]string{"plugins/hello/go.mod": "module github.com/stoq-go/stoq/plugins/hello/v3\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0-00010101000000-000000000000\n"}, "a placeholder pseudo-version"},
		{"an unpublished requirement", map[string]string{"plugins/hello/go.mod": "module github.com/stoq-go/stoq/plugins/hello/v3\n\nrequire github.com/stoq-go/stoq/core/v3 v3.9.0\n"}, "neither this release nor an existing tag publishes it; this release publishes v3.1.0"},
		{"a file a zip refuses", map[string]string{"plugins/hello/bad<name>.txt": "x"}, "does not zip"},
		{"a module path elsewhere", map[string]string{
			"plugins/hello/go.mod":     "module example.com/hello/v3\n",
			"plugins/hello/hello.stoq": pluginManifest("hello", "example.com/hello/v3", "3.2.0"),
		}, "must be github.com/stoq-go/stoq/plugins/hello[/vN]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := testRepo(t, tt.files)
			_, problems, err := Check(root)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, p := range problems {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("problems %q, want %q", all, tt.want)
			}
		})
	}
}

func TestCreateTagsOnceAndNeverMovesThem(t *testing.T) {
	root := testRepo(t, nil)
	modules, _, err := Check(root)
	if err != nil {
		t.Fatal(err)
	}
	created, err := CreateTags(root, modules)
	if err != nil || len(created) != 3 {
		t.Fatalf("created %v, %v", created, err)
	}
	if tags := gitRun(t, root, "tag", "--list"); tags != "cli/v3.1.0\ncore/v3.1.0\nplugins/hello/v3.2.0\n" {
		t.Errorf("tags %q", tags)
	}
	for _, st := range TagStates(root, modules) {
		if st.Commit == "" {
			t.Errorf("%s: no commit", st.Module.Tag())
		}
	}
	// A commit that leaves the modules alone: nothing to create.
	if err := os.WriteFile(filepath.Join(root, "README.md"), []byte("docs"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, root, "add", "-A")
	gitRun(t, root, "commit", "-q", "-m", "docs")
	if created, err := CreateTags(root, modules); err != nil || len(created) != 0 {
		t.Errorf("again: %v, %v", created, err)
	}
	// Uncommitted changes are refused.
	if err := os.WriteFile(filepath.Join(root, "plugins/hello/hello.go"), []byte("package hello\n\n// changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateTags(root, modules); err == nil || !strings.Contains(err.Error(), "uncommitted changes") {
		t.Errorf("err = %v", err)
	}
	// Committed changes under a released version are refused.
	gitRun(t, root, "commit", "-q", "-am", "change hello")
	if _, err := CreateTags(root, modules); err == nil || !strings.Contains(err.Error(), "a released version never moves") {
		t.Errorf("err = %v", err)
	}
	// The requirement check accepts a version an existing tag publishes.
	if _, problems, _ := Check(withFile(t, root, "plugins/hello/go.mod", "module github.com/stoq-go/stoq/plugins/hello/v3\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n")); len(problems) != 1 {
		t.Errorf("an untagged v3.0.0 accepted: %v", problems)
	}
	gitRun(t, root, "tag", "core/v3.0.0")
	if _, problems, _ := Check(root); len(problems) != 0 {
		t.Errorf("problems %v", problems)
	}
}

func withFile(t *testing.T, root, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}
