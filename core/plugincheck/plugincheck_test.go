package plugincheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func manifest(name, module, version string) string {
	return "[Core]\nName = " + name + "\nModule = " + module +
		"\n\n[Documentation]\nAuthor = tests\nVersion = " + version +
		"\nWebsite = https://example.org\nDescription = a test plugin\n\n[options]\nmin_stoq_version = 3.0.0\n"
}

func folder(name, module, version string) map[string]string {
	return map[string]string{
		name + ".stoq": manifest(name, module, version),
		"go.mod":       "module " + module + "\n\ngo 1.26\n\nrequire " + CoreModule + " v3.0.0\n",
		"plugin.go":    "package plugin\n",
	}
}

func with(files map[string]string, name, content string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		out[k] = v
	}
	if content == "" {
		delete(out, name)
	} else {
		out[name] = content
	}
	return out
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheck(t *testing.T) {
	const mod = "example.com/stoq-plugins/hello"
	hello := folder("hello", mod, "1.2.0")
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		err   string
		warn  string
	}{
		{name: "valid", files: hello},
		{name: "a v3 plugin on a /v3 path", files: folder("hello", mod+"/v3", "3.1.0")},
		{name: "any folder name", files: hello, opts: Options{Prefer: "stoq-hello"}},
		{name: "the name asked for", files: hello, opts: Options{Name: "other"}, err: `expected "other"`},
		{name: "the version asked for", files: hello, opts: Options{Version: "v1.2.0"}},
		{name: "a tag that is not the manifest's version", files: hello, opts: Options{Version: "1.3.0"}, err: "version 1.3.0 was asked for, but its manifest says Version = 1.2.0"},
		{name: "built-in stdout", files: folder("stdout", mod, "1.0.0"), err: "stdout is built into stoq"},
		{name: "a command name", files: folder("submit", mod, "1.0.0"), err: "submit is a stoq command"},
		{name: "v3 without /v3", files: folder("hello", mod, "3.0.0"), err: "end the module path in /v3"},
		{name: "v1 with /v3", files: folder("hello", mod+"/v3", "1.0.0"), err: "drop the /vN suffix"},
		{name: "package main", files: with(hello, "plugin.go", "package main\n"), err: "package main, a command"},
		{name: "no package", files: with(hello, "plugin.go", ""), err: "no Go package"},
		{name: "the unpublishable core path", files: with(hello, "go.mod", "module "+mod+"\n\nrequire github.com/stoq-go/stoq/core v0.0.0-00010101000000-000000000000\n"), err: "cannot be published at version 3"},
		{name: "no core requirement", files: with(hello, "go.mod", "module "+mod+"\n"), warn: "does not require " + CoreModule},
		{name: "a newer core", files: with(hello, "go.mod", "module "+mod+"\n\nrequire "+CoreModule+" v3.9.0\n"), warn: "requires the core v3.9.0 and this stoq is 3.0.0"},
		{name: "a replace of its own", files: with(hello, "go.mod", "module "+mod+"\n\nrequire "+CoreModule+" v3.0.0\n\nreplace example.com/dep => ../dep\n"), warn: "builds ignore a plugin's replace"},
		{name: "a core replace is no warning", files: with(hello, "go.mod", "module "+mod+"\n\nrequire "+CoreModule+" v3.0.0\n\nreplace "+CoreModule+" => ../core\n")},
		{name: "min_stoq_version unmet", files: with(hello, "hello.stoq", strings.Replace(manifest("hello", mod, "1.2.0"), "3.0.0", "4.0.0", 1)), err: "needs stoq >= 4.0.0"},
		{name: "min_stoq_version unmet, forced", files: with(hello, "hello.stoq", strings.Replace(manifest("hello", mod, "1.2.0"), "3.0.0", "4.0.0", 1)), opts: Options{Force: true}, warn: "--force"},
		{name: "two manifests, preferred", files: with(hello, "other.stoq", manifest("other", mod, "1.0.0")), opts: Options{Prefer: "hello"}},
		{name: "two manifests", files: with(hello, "other.stoq", manifest("other", mod, "1.0.0")), err: "several manifests (hello.stoq, other.stoq)"},
		{name: "a bare repository", files: map[string]string{"HEAD": "ref: refs/heads/main\n", "objects/info/x": "", "refs/heads/x": ""}, err: "bare git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tt.files)
			p, err := Check(dir, tt.opts)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			warnings := strings.Join(p.Warnings, "\n")
			if tt.warn != "" && !strings.Contains(warnings, tt.warn) {
				t.Errorf("warnings %q, want %q", warnings, tt.warn)
			}
			if tt.warn == "" && warnings != "" {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestReservedNamesAreTheCommandsAndBuiltins(t *testing.T) {
	for _, name := range []string{"scan", "run", "list", "install", "uninstall", "build", "version", "new", "submit", "completion", "help", "stdout"} {
		if Reserved(name) == "" {
			t.Errorf("%s is not reserved", name)
		}
	}
	if why := Reserved("stdout"); !strings.Contains(why, "built into stoq") {
		t.Errorf("stdout: %q", why)
	}
	if Reserved("hash") != "" {
		t.Error("hash is reserved")
	}
}
