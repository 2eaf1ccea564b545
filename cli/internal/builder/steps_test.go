package builder

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReplaceFileIsAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	write := func(data string, perm fs.FileMode) error {
		return replaceFile(path, perm, func(tmp string) error { return os.WriteFile(tmp, []byte(data), 0o600) })
	}
	if err := write("one", 0o600); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("written file: %v %v", fi, err)
	}
	boom := errors.New("boom")
	err := replaceFile(path, 0o644, func(tmp string) error {
		if err := os.WriteFile(tmp, []byte("half"), 0o644); err != nil {
			t.Fatal(err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("the writer's error is not returned as it is: %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one" {
		t.Errorf("a failed write changed the file: %q", data)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("temporary files are left: %v", entries)
	}
	if err := write("two", 0o755); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "two" {
		t.Errorf("replaced file holds %q", data)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o755 {
		t.Errorf("replaced file mode %v", fi.Mode())
	}
}

func TestCommandLineQuotesForTheShell(t *testing.T) {
	tc := &toolchain{command: "go", overrides: []string{"GOWORK=off", "GOTOOLCHAIN=local"}}
	got := tc.commandLine([]string{"GOFLAGS=-modcacherw -mod=mod"}, "build", "-o", "/tmp/my stoq/it's", ".")
	want := `GOWORK=off GOTOOLCHAIN=local GOFLAGS='-modcacherw -mod=mod' go build -o '/tmp/my stoq/it'\''s' .`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tc.overrides = []string{"GOWORK=off", "GOTOOLCHAIN=go1.27.0+auto"}
	if got := tc.commandLine([]string{"GOWORK=on"}, "env"); got != "GOTOOLCHAIN=go1.27.0+auto GOWORK=on go env" {
		t.Errorf("an extra variable does not replace an override: %s", got)
	}
	for in, want := range map[string]string{"": "''", "a-b/c.d": "a-b/c.d", "$HOME": "'$HOME'", "a;b": "'a;b'"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestSkipCompileOnlyGenerates runs the generate-only stop: no go command
// runs (the toolchain here is not even looked up), the module is written,
// the binary and the fingerprint are not.
func TestSkipCompileOnlyGenerates(t *testing.T) {
	root := t.TempDir()
	plugin := filepath.Join(root, "hello")
	writeFiles(t, plugin, pluginFiles("hello", "example.org/hello/v2", "2.1.0", "3.0.0"))
	p, err := validatePlugin(plugin, validateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(root, "out", "stoq")
	buildDir := out + ".build"
	writeFiles(t, buildDir, map[string]string{fingerprintFile: "stale"})
	coreDir, _ := filepath.Abs(workspaceCore)
	cliDir, _ := filepath.Abs(workspaceCLI)
	tc := &toolchain{Go: "/nonexistent/go", Version: "go1.26.8", command: "go", overrides: []string{"GOWORK=off", "GOTOOLCHAIN=local"}}
	res, err := linkBinary(context.Background(), linkRequest{
		buildInputs: buildInputs{Kind: KindBuild, CoreDir: coreDir, CLIDir: cliDir, CoreVersion: "3.0.0", Links: []link{{Plugin: *p, Source: "test"}}},
		Output:      out, BuildDir: buildDir, SkipCompile: true, Toolchain: tc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rebuilt {
		t.Error("Rebuilt is set without a compile")
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the binary exists: %v", err)
	}
	if _, err := os.Stat(filepath.Join(buildDir, fingerprintFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale fingerprint is left: %v", err)
	}
	gomod, err := os.ReadFile(filepath.Join(buildDir, "go.mod"))
	if err != nil || !strings.Contains(string(gomod), "example.org/hello/v2 v2.1.0") || !strings.Contains(string(gomod), "example.org/hello/v2 => "+plugin) {
		t.Errorf("go.mod (local modules at a version of their major): %v\n%s", err, gomod)
	}
	if mainGo, err := os.ReadFile(filepath.Join(buildDir, "main.go")); err != nil || !strings.Contains(string(mainGo), `_ "example.org/hello/v2" // hello 2.1.0`) {
		t.Errorf("main.go: %v\n%s", err, mainGo)
	}
	want := []string{
		"cd " + buildDir,
		"GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod tidy",
		"GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o " + out + " .",
	}
	if strings.Join(res.BuildCommands, "\n") != strings.Join(want, "\n") {
		t.Errorf("BuildCommands\n%s\nwant\n%s", strings.Join(res.BuildCommands, "\n"), strings.Join(want, "\n"))
	}
}
