package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodManifest = `[Core]
Name = hash
Module = github.com/stoq-go/stoq/plugins/hash/v3

[Documentation]
Author = stoq developers
Version = 3.1.0
Website = https://github.com/stoq-go/stoq
Description = Hash payloads

[options]
min_stoq_version = 3.0.0
`

const goodGoMod = `module github.com/stoq-go/stoq/plugins/hash/v3

go 1.26

require github.com/stoq-go/stoq/core/v3 v3.0.0

replace github.com/stoq-go/stoq/core/v3 => ../../core
`

const goodChangelog = "# Changelog\n\n## [Unreleased]\n\n- next\n\n## 3.1.0 - 2026-12-01\n\n- more\n\n## 3.0.0 - 2026-11-27\n\n- first\n"

func writeCatalog(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	base := map[string]string{
		"plugins/hash/hash.stoq":    goodManifest,
		"plugins/hash/go.mod":       goodGoMod,
		"plugins/hash/CHANGELOG.md": goodChangelog,
		"go.work":                   "go 1.26\n\nuse (\n\t./core\n\t./plugins/hash\n)\n",
	}
	for k, v := range files {
		base[k] = v
	}
	for name, content := range base {
		if content == "" {
			continue // "" removes a file of the base catalogue
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLint(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		core  string
		want  []string // substrings, one per expected problem
	}{
		{name: "complete catalogue", core: "3.0.0"},
		{name: "newer core meets the minimum", core: "3.4.0"},
		{name: "no manifest", files: map[string]string{"plugins/hash/hash.stoq": ""}, core: "3.0.0", want: []string{"no manifest hash.stoq"}},
		{name: "missing fields", files: map[string]string{"plugins/hash/hash.stoq": "[Core]\nName = hash\nModule = github.com/stoq-go/stoq/plugins/hash/v3\n"}, core: "3.0.0",
			want: []string{"missing [Documentation] Author, [Documentation] Version, [Documentation] Website, [Documentation] Description, [options] min_stoq_version"}},
		{name: "name is not the folder", files: map[string]string{"plugins/hash/hash.stoq": strings.Replace(goodManifest, "Name = hash", "Name = hashes", 1)}, core: "3.0.0",
			want: []string{"it must be the folder's name hash"}},
		{name: "min_stoq_version too new", files: map[string]string{"plugins/hash/hash.stoq": strings.Replace(goodManifest, "= 3.0.0", "= 3.2.0", 1)}, core: "3.0.0",
			want: []string{"min_stoq_version = 3.2.0 is not met by the workspace core 3.0.0"}},
		{name: "version behind the changelog", files: map[string]string{"plugins/hash/hash.stoq": strings.Replace(goodManifest, "Version = 3.1.0", "Version = 3.0.0", 1)}, core: "3.0.0",
			want: []string{"Version is 3.0.0 but CHANGELOG.md's newest entry is 3.1.0"}},
		{name: "no changelog", files: map[string]string{"plugins/hash/CHANGELOG.md": ""}, core: "3.0.0", want: []string{"no CHANGELOG.md"}},
		{name: "changelog without versions", files: map[string]string{"plugins/hash/CHANGELOG.md": "# Changelog\n\n## Next\n"}, core: "3.0.0", want: []string{"does not start with a version"}},
		{name: "module differs", files: map[string]string{"plugins/hash/go.mod": strings.Replace(goodGoMod, "plugins/hash/v3\n", "plugins/hashes/v3\n", 1)}, core: "3.0.0",
			want: []string{"go.mod's module is github.com/stoq-go/stoq/plugins/hashes/v3"}},
		{name: "core not required nor replaced", files: map[string]string{"plugins/hash/go.mod": "module github.com/stoq-go/stoq/plugins/hash/v3\n\ngo 1.26\n"}, core: "3.0.0",
			want: []string{"does not require github.com/stoq-go/stoq/core/v3", "does not replace the core"}},
		{name: "core replaced elsewhere", files: map[string]string{"plugins/hash/go.mod": strings.Replace(goodGoMod, "../../core", "../../../stoq-core", 1)}, core: "3.0.0",
			want: []string{"it must be `replace github.com/stoq-go/stoq/core/v3 => ../../core`"}},
		{name: "not in go.work", files: map[string]string{"go.work": "go 1.26\n\nuse ./core\n"}, core: "3.0.0", want: []string{"not in go.work's use list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeCatalog(t, tt.files)
			checked, problems, err := Lint(root, tt.core)
			if err != nil {
				t.Fatal(err)
			}
			if len(checked) != 1 || checked[0] != "hash" {
				t.Errorf("checked %v", checked)
			}
			if len(problems) != len(tt.want) {
				t.Fatalf("problems %v, want %d: %q", problems, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(problems[i].String(), w) || !strings.HasPrefix(problems[i].String(), "plugins/hash: ") {
					t.Errorf("problem %d = %q, want %q", i, problems[i], w)
				}
			}
		})
	}
	if _, _, err := Lint(t.TempDir(), "3.0.0"); err == nil {
		t.Error("a folder with no plugins/ was linted")
	}
}

func TestNewestChangelogVersion(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"## 3.0.0 - 2026-11-27\n", "3.0.0", ""},
		{"# C\n\n## [3.1.0] - 2026\n## 3.0.0\n", "3.1.0", ""},
		{"## v2.0.0-rc.1\n", "2.0.0-rc.1", ""},
		{"## Unreleased\n## [1.2.3]\n", "1.2.3", ""},
		{"### 1.0.0\n", "", "no release entry"},
		{"## 3.0\n", "", "does not start with a version"},
		{"", "", "no release entry"},
	}
	for _, tt := range tests {
		got, err := NewestChangelogVersion(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzNewestChangelogVersion: changelogs are files anyone edits.
func FuzzNewestChangelogVersion(f *testing.F) {
	for _, s := range []string{"## 3.0.0 - 2026-11-27\n", "## [Unreleased]\n## [1.0.0]", "##\n", "## [", "## v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := NewestChangelogVersion(s)
		if err == nil && !changelogEntry.MatchString("## "+v) {
			t.Fatalf("%q gave version %q", s, v)
		}
	})
}
