package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

func manifestText(name, module, version, minStoq string) string {
	return "[Core]\nName = " + name + "\nModule = " + module +
		"\n\n[Documentation]\nAuthor = tests\nVersion = " + version +
		"\nWebsite = https://example.org\nDescription = a test plugin\n\n[options]\nmin_stoq_version = " + minStoq + "\n"
}

func pluginFiles(name, module, version, minStoq string) map[string]string {
	return map[string]string{
		name + ".stoq": manifestText(name, module, version, minStoq),
		"go.mod":       "module " + module + "\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n",
		name + ".go":   "package " + strings.ReplaceAll(name, "-", "") + "\n",
	}
}

func TestValidate(t *testing.T) {
	const mod = "example.org/hello"
	tests := []struct {
		name  string
		files map[string]string
		opts  validateOptions
		err   string
		warn  string
	}{
		{name: "valid", files: pluginFiles("hello", mod, "1.2.0", "3.0.0"), opts: validateOptions{WantName: "hello"}},
		{name: "constraint met", files: pluginFiles("hello", mod, "1.2.0", ">= 3.0, < 4"), opts: validateOptions{CoreVersion: "3.4.1"}},
		{name: "too new", files: pluginFiles("hello", mod, "1.2.0", "99.0.0"), err: "needs stoq >= 99.0.0 (min_stoq_version = 99.0.0) and this stoq is 3.0.0"},
		{name: "too new, forced", files: pluginFiles("hello", mod, "1.2.0", "99.0.0"), opts: validateOptions{Force: true}, warn: "--force"},
		{name: "constraint unmet", files: pluginFiles("hello", mod, "1.2.0", "< 3"), err: "this stoq is 3.0.0"},
		{name: "bad constraint", files: pluginFiles("hello", mod, "1.2.0", "soon"), err: "neither a version nor"},
		{name: "unsafe name", files: map[string]string{"evil.stoq": manifestText("../evil", mod, "1.0.0", "3.0.0"), "go.mod": "module " + mod + "\n", "e.go": "package e"}, err: "not a safe plugin name"},
		{name: "wrong name", files: pluginFiles("hello", mod, "1.0.0", "3.0.0"), opts: validateOptions{WantName: "other"}, err: `expected "other"`},
		{name: "file name differs", files: map[string]string{"a.stoq": manifestText("hello", mod, "1.0.0", "3.0.0"), "go.mod": "module " + mod + "\n", "a.go": "package a"}, err: "NAME.stoq"},
		{name: "not semver", files: pluginFiles("hello", mod, "1.0", "3.0.0"), err: "not a semantic version"},
		{name: "missing fields", files: map[string]string{"hello.stoq": "[Core]\nName = hello\n", "go.mod": "module x\n"}, err: "missing [Core] Module"},
		{name: "module mismatch", files: map[string]string{"hello.stoq": manifestText("hello", mod, "1.0.0", "3.0.0"), "go.mod": "module example.org/other\n", "h.go": "package h"}, err: "declares module example.org/other"},
		{name: "no go.mod", files: map[string]string{"hello.stoq": manifestText("hello", mod, "1.0.0", "3.0.0"), "h.go": "package h"}, err: "needs a go.mod"},
		{name: "no package", files: map[string]string{"hello.stoq": manifestText("hello", mod, "1.0.0", "3.0.0"), "go.mod": "module " + mod + "\n", "h_test.go": "package h"}, err: "no Go package"},
		{name: "no manifest", files: map[string]string{"go.mod": "module " + mod + "\n"}, err: "no plugin manifest"},
		{name: "two manifests", files: map[string]string{"a.stoq": "", "b.stoq": ""}, err: "several manifests"},
		{name: "own replace warns", files: map[string]string{"hello.stoq": manifestText("hello", mod, "1.0.0", "3.0.0"), "go.mod": "module " + mod + "\nreplace example.org/dep => ../dep\n", "h.go": "package h"}, warn: "ignore a plugin's replace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			p, err := validatePlugin(dir, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name != "hello" || p.Module != mod || p.Dir != dir {
				t.Errorf("got %+v", p)
			}
			if tt.warn != "" && !strings.Contains(strings.Join(p.Warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q, want %q", p.Warnings, tt.warn)
			}
			if tt.warn == "" && len(p.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", p.Warnings)
			}
		})
	}
}

// TestCheckMinStoqVersion pins the rule validatePlugin relies on (core's
// Manifest.CheckMinStoqVersion): a version means "this or newer", anything
// else is a constraint, and the message gives the running version.
func TestCheckMinStoqVersion(t *testing.T) {
	tests := []struct {
		min, running string
		ok           bool
	}{
		{"3.0.0", "3.0.0", true}, {"3.0.0", "3.1.2", true}, {"3.1.0", "3.0.9", false},
		{"v3.0.0", "3.0.0", true}, {"~3.0", "3.0.7", true}, {"~3.0", "3.1.0", false},
		{">=3.0.0, <4.0.0", "4.0.0", false}, {"", "3.0.0", false}, {"three", "3.0.0", false},
	}
	for _, tt := range tests {
		err := (&core.Manifest{Name: "hello", MinStoqVersion: tt.min}).CheckMinStoqVersion(tt.running)
		if (err == nil) != tt.ok {
			t.Errorf("CheckMinStoqVersion(%q) with stoq %q = %v, want ok=%v", tt.min, tt.running, err, tt.ok)
		}
		if err != nil && tt.min != "" && !strings.Contains(err.Error(), tt.running) && !strings.Contains(err.Error(), "neither") {
			t.Errorf("message %q does not give the running version", err)
		}
	}
}

func TestReadCoreVersion(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"version.go": "package core\n\n// Version is it.\nconst Version = \"3.2.1\"\n",
		"x_test.go":  "package core\nconst Version = \"0.0.1\"\n",
	})
	if v, err := readCoreVersion(dir); err != nil || v != "3.2.1" {
		t.Errorf("readCoreVersion = %q, %v", v, err)
	}
	if v, err := readCoreVersion(workspaceCore); err != nil || v == "" {
		t.Errorf("the workspace core: %q, %v", v, err)
	}
	empty := t.TempDir()
	writeFiles(t, empty, map[string]string{"a.go": "package a\n"})
	if _, err := readCoreVersion(empty); err == nil {
		t.Error("a folder with no Version constant was read as a core")
	}
	os.Remove(filepath.Join(empty, "a.go"))
}
