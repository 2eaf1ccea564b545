package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseInstallSpec(t *testing.T) {
	dir := t.TempDir()
	plugin := filepath.Join(dir, "hello")
	if err := os.Mkdir(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []installSpecCase{
		{in: "stoq:yara", want: Spec{kind: fromCatalog, name: "yara"}},
		{in: "stoq:yara@3.1.0", github: true, want: Spec{kind: fromCatalog, name: "yara", version: "3.1.0"}},
		{in: "stoq:../evil", err: "not a plugin name"},
		{in: "stoq:yara@", err: "no version"},
		{in: "acme/stoq-pdfid", github: true, want: Spec{kind: fromGit, url: "https://github.com/acme/stoq-pdfid"}},
		{in: "acme/plugins/pdf/pdfid@v1.2.0", github: true, want: Spec{kind: fromGit, url: "https://github.com/acme/plugins", dir: "pdf/pdfid", version: "v1.2.0"}},
		{in: "acme/repo.git@main", github: true, want: Spec{kind: fromGit, url: "https://github.com/acme/repo", version: "main"}},
		{in: "acme/repo/../x", github: true, err: "'..'"},
		{in: "acme", github: true, err: "expected"},
		{in: "https://example.org/x/stoq.git//plugins/hash@3.0.0", want: Spec{kind: fromGit, url: "https://example.org/x/stoq.git", dir: "plugins/hash", version: "3.0.0"}},
		{in: "file:///srv/stoq//plugins/hash", want: Spec{kind: fromGit, url: "file:///srv/stoq", dir: "plugins/hash"}},
		{in: "file:///srv/stoq//plugins/../../x", err: "'..'"},
		{in: "git@example.org:acme/p.git@1.0.0", want: Spec{kind: fromGit, url: "git@example.org:acme/p.git", version: "1.0.0"}},
		{in: "git@example.org:acme/p.git", want: Spec{kind: fromGit, url: "git@example.org:acme/p.git"}},
		{in: "https:///nohost", err: "no host"},
		{in: plugin, want: Spec{kind: fromPath, path: plugin}},
		{in: file, err: "not a folder"},
		{in: filepath.Join(dir, "missing"), err: "no such file"},
		{in: "", err: "no plugin given"},
	}
	checkInstallSpecs(t, tests)
}

func TestParseWithSpec(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		in   string
		want Spec
		err  string
	}{
		{in: "hash", want: Spec{kind: fromCatalog, name: "hash", raw: "stoq:hash"}},
		{in: "hash@3.0.0", want: Spec{kind: fromCatalog, name: "hash", version: "3.0.0", raw: "stoq:hash@3.0.0"}},
		{in: "stoq:hash", want: Spec{kind: fromCatalog, name: "hash", raw: "stoq:hash"}},
		{in: "github.com/acme/pdfid@v1.2.0", want: Spec{kind: fromModule, module: "github.com/acme/pdfid", version: "v1.2.0", raw: "github.com/acme/pdfid@v1.2.0"}},
		{in: "github.com/acme/pdfid@", err: "no version"},
		{in: dir, want: Spec{kind: fromPath, path: dir, raw: dir}},
		{in: "Not A Name", err: "not a catalogue plugin name"},
		{in: "", err: "empty"},
	}
	for _, tt := range tests {
		got, err := ParseWithSpec(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseWithSpec(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseWithSpec(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseWithSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// FuzzParseInstallSpec checks that no input panics and that a parsed git
// spec never names a folder outside its repository.
func FuzzParseInstallSpec(f *testing.F) {
	for _, s := range []string{"stoq:hash@3.0.0", "acme/repo/dir@v1", "https://h/x//a/b@1", "git@h:x@1", "file:///x//../y", "a/b/../c", "@", "//", "stoq:"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, github bool) {
		spec, err := ParseInstallSpec(s, github)
		if err != nil {
			return
		}
		if spec.kind == fromGit && spec.dir != "" {
			if checkRepoDir(spec.dir) != nil || strings.HasPrefix(spec.dir, "/") {
				t.Fatalf("%q: unsafe Dir %q", s, spec.dir)
			}
		}
		if spec.kind == fromCatalog && (strings.Contains(spec.name, "/") || strings.Contains(spec.name, "..")) {
			t.Fatalf("%q: unsafe Name %q", s, spec.name)
		}
	})
}

// installSpecCase is a ParseInstallSpec input and what it must give: the
// Spec (its raw field is the input) or an error containing err.
type installSpecCase struct {
	in     string
	github bool
	want   Spec
	err    string
}

func checkInstallSpecs(t *testing.T, tests []installSpecCase) {
	t.Helper()
	for _, tt := range tests {
		got, err := ParseInstallSpec(tt.in, tt.github)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseInstallSpec(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseInstallSpec(%q): %v", tt.in, err)
			continue
		}
		tt.want.raw = tt.in
		if got != tt.want {
			t.Errorf("ParseInstallSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
