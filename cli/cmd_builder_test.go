package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/cli/v3/internal/builder"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

func TestBuilderCommandsRefuseBadCommandLines(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"install"}, exitUsage, "no plugin given"},
		{[]string{"install", "a", "--github", "stoq:x"}, exitUsage, "not both"},
		{[]string{"install", "--github", "stoq:../x"}, exitUsage, "not a plugin name"},
		{[]string{"install", "--github", "just-a-word"}, exitUsage, "OWNER/REPO"},
		{[]string{"install", filepath.Join(home, "missing")}, exitUsage, "no such file"},
		{[]string{"install", "--github", "stoq:x", "--catalog", filepath.Join(home, "missing")}, exitUsage, "catalogue"},
		{[]string{"install", "--github", "stoq:x", "--core-dir", filepath.Join(home, "missing")}, exitUsage, "--core-dir"},
		{[]string{"build", "--with", "hash"}, exitUsage, "-o FILE"},
		{[]string{"build", "--with", "Not A Name", "-o", "x"}, exitUsage, "not a catalogue plugin name"},
		{[]string{"uninstall", "../x"}, exitUsage, "not a plugin name"},
		{[]string{"uninstall", "hello"}, exitFailure, "plugin hello is not installed"},
	}
	for _, tt := range tests {
		r := stoq(t, home, nil, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("stoq %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(home, "plugins")); len(entries) != 0 {
		t.Errorf("refused commands left %v", entries)
	}
}

func TestHandoffTarget(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	target := filepath.Join(home, "bin", "stoq")
	self := filepath.Join(dir, "usr", "bin", "stoq")
	for _, p := range []string{target, self} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link-to-target")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	handedOff := func(string) string { return "1" }
	exe := func(p string) func() (string, error) { return func() (string, error) { return p, nil } }
	var stderr strings.Builder
	env := &Env{Home: home, Stderr: &stderr}

	if got, ok := handoffTarget(env, []string{"scan", "f"}, noEnv, exe(self)); !ok || got != target {
		t.Errorf("plain stoq: %q %v, want a handoff to %s", got, ok, target)
	}
	cases := []struct {
		name   string
		args   []string
		getenv func(string) string
		self   string
	}{
		{"already handed off", []string{"scan"}, handedOff, self},
		{"the target itself", []string{"scan"}, noEnv, target},
		{"a link to the target", []string{"scan"}, noEnv, link},
		{"install", []string{"install", "--github", "stoq:x"}, noEnv, self},
		{"build after flags", []string{"-q", "build"}, noEnv, self},
	}
	for _, c := range cases {
		if got, ok := handoffTarget(env, c.args, c.getenv, exe(c.self)); ok {
			t.Errorf("%s: handed off to %q", c.name, got)
		}
	}

	built := &Env{Home: home, Stderr: &stderr, Build: BuildInfo{Kind: BuildKindBuild}}
	if _, ok := handoffTarget(built, []string{"scan"}, noEnv, exe(self)); ok {
		t.Error("a `stoq build` binary handed off")
	}
	installed := &Env{Home: home, Stderr: &stderr, Build: BuildInfo{Kind: BuildKindInstall}}
	if got, ok := handoffTarget(installed, []string{"scan"}, noEnv, exe(self)); !ok || got != target {
		t.Errorf("another installed stoq: %q %v, want a handoff to %s", got, ok, target)
	}

	if err := os.MkdirAll(filepath.Join(home, "build"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "build", "buildinfo.json"), []byte(`{"kind":"install","core_version":"0.0.1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := handoffTarget(env, []string{"scan"}, noEnv, exe(self)); ok || !strings.Contains(stderr.String(), "built for stoq 0.0.1 and this is stoq "+core.Version) {
		t.Errorf("a binary of another core version: handoff %v, stderr %q", ok, stderr.String())
	}

	os.Remove(target)
	if _, ok := handoffTarget(env, []string{"scan"}, noEnv, exe(self)); ok {
		t.Error("handed off to a missing binary")
	}
}

// TestBuildInfoReachesTheCommands checks that what a main package hands
// Main (Env.Build) is what stoq version reports, and that the builder's
// kinds are cli's.
func TestBuildInfoReachesTheCommands(t *testing.T) {
	if BuildKindInstall != builder.KindInstall || BuildKindBuild != builder.KindBuild {
		t.Errorf("cli's kinds %q %q are not the builder's %q %q", BuildKindInstall, BuildKindBuild, builder.KindInstall, builder.KindBuild)
	}
	plugins := engine.Plugins()
	if len(plugins) == 0 {
		t.Skip("no plugins linked into the test binary")
	}
	p := plugins[0]
	var stdout, stderr strings.Builder
	env := &Env{Home: t.TempDir(), Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Build: BuildInfo{Kind: BuildKindInstall, CoreVersion: core.Version, Plugins: []LinkedPlugin{{Name: p.Name, Version: p.Manifest.Version, Source: "stoq:" + p.Name + " from the test"}}}}
	if code := run(context.Background(), env, []string{"version"}); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "from stoq:"+p.Name+" from the test") {
		t.Errorf("stoq version does not report the build info:\n%s", stdout.String())
	}
	if r := stoq(t, t.TempDir(), nil, "version").mustSucceed(t); strings.Contains(r.stdout, " from ") {
		t.Errorf("a binary without build info names sources:\n%s", r.stdout)
	}
}

// TestInstallCommandFromAFolder installs a plugin folder through the
// command (a real build, seconds with a warm Go cache) and uninstalls it.
func TestInstallCommandFromAFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a stoq binary")
	}
	home := t.TempDir()
	plugin := writeGreetPlugin(t)
	r := stoq(t, home, nil, "install", plugin, "--core-dir", "../core", "--cli-dir", ".", "-q").mustSucceed(t)
	want := "Successfully installed to " + filepath.Join(home, "plugins", "greet") + "\n"
	if r.stdout != want || r.stderr != "" {
		t.Errorf("stdout %q (want %q), stderr %q", r.stdout, want, r.stderr)
	}
	bin := filepath.Join(home, "bin", "stoq")
	if _, err := os.Stat(bin); err != nil {
		t.Fatal(err)
	}
	r = stoq(t, home, nil, "install", plugin, "--core-dir", "../core", "--cli-dir", ".")
	if r.code != exitFailure || !strings.Contains(r.stderr, "already installed") {
		t.Errorf("second install: %+v", r)
	}
	r = stoq(t, home, nil, "uninstall", "greet").mustSucceed(t)
	if !strings.Contains(r.stdout, "Successfully uninstalled greet 0.1.0") {
		t.Errorf("uninstall: %+v", r)
	}
	if _, err := os.Stat(bin); !os.IsNotExist(err) {
		t.Errorf("the binary is left after the last uninstall: %v", err)
	}
}

// TestBuildSkipCompilePrintsTheCommandsThatBuildByHand generates a build's
// module without compiling it, then runs the printed script with the real
// go commands and scans with the binary they build.
func TestBuildSkipCompilePrintsTheCommandsThatBuildByHand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a stoq binary")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go on PATH")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on PATH")
	}
	plugin := writeGreetPlugin(t)
	out := filepath.Join(t.TempDir(), "my stoq", "stoq")
	r := stoq(t, t.TempDir(), nil, "build", "--with", plugin, "--core-dir", "../core", "--cli-dir", ".", "--skip-compile", "-q", "-o", out).mustSucceed(t)
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("--skip-compile compiled %s: %v", out, err)
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		if _, err := os.Stat(filepath.Join(out+".build", f)); err != nil {
			t.Errorf("the generated module lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out+".build", "fingerprint")); err == nil {
		t.Error("a generated-only folder has a fingerprint: the next build would not compile")
	}
	for _, want := range []string{"# Generated the module of " + out, "linking greet 0.1.0", "go mod tidy\n", "go build -trimpath -o '" + out + "' .\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}

	script := exec.Command(sh, "-e", "-c", r.stdout)
	script.Dir = t.TempDir()
	script.Env = append(os.Environ(), HandoffEnvVar+"=1")
	if output, err := script.CombinedOutput(); err != nil {
		t.Fatalf("running the printed commands: %v\n%s\n%s", err, r.stdout, output)
	}
	payload := filepath.Join(t.TempDir(), "payload")
	if err := os.WriteFile(payload, []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	scan := exec.Command(out, "scan", payload, "-s", "greet")
	scan.Env = append(os.Environ(), HomeEnvVar+"="+t.TempDir(), HandoffEnvVar+"=1")
	got, err := scan.Output()
	if err != nil || !strings.Contains(string(got), `"hello": "world"`) {
		t.Errorf("the hand-built binary: %v\n%s", err, got)
	}
	version := exec.Command(out, "version")
	version.Env = scan.Env
	if got, err := version.Output(); err != nil || !strings.Contains(string(got), "greet") || !strings.Contains(string(got), "from "+plugin) {
		t.Errorf("stoq version of the hand-built binary: %v\n%s", err, got)
	}
}

// writeGreetPlugin writes a worker plugin greet (results {"hello":
// "world"}) in a new folder and returns it.
func writeGreetPlugin(t *testing.T) string {
	t.Helper()
	plugin := filepath.Join(t.TempDir(), "greet")
	files := map[string]string{
		"greet.stoq": "[Core]\nName = greet\nModule = example.org/greet\n\n[Documentation]\nAuthor = tests\nVersion = 0.1.0\n" +
			"Website = https://example.org\nDescription = greets\n\n[options]\nmin_stoq_version = 3.0.0\n",
		"go.mod": "module example.org/greet\n\ngo 1.26\n\nrequire github.com/stoq-go/stoq/core/v3 v3.0.0\n",
		"greet.go": `package greet

import (
	"context"
	_ "embed"
	"log/slog"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed greet.stoq
var manifest []byte

func init() { core.Register("greet", manifest, New) }

type Plugin struct{}

func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) { return &Plugin{}, nil }

func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"hello": "world"}}, nil
}
`,
	}
	if err := os.MkdirAll(plugin, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(plugin, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return plugin
}
