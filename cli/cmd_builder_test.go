package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
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

	SetBuildInfo(BuildInfo{Kind: "build"})
	_, ok := handoffTarget(env, []string{"scan"}, noEnv, exe(self))
	buildInfo.Lock()
	buildInfo.set, buildInfo.info = false, BuildInfo{}
	buildInfo.Unlock()
	if ok {
		t.Error("a `stoq build` binary handed off")
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

func TestBuildInfoIsRecorded(t *testing.T) {
	if _, ok := CurrentBuildInfo(); ok {
		t.Fatal("a test binary has build info")
	}
	defer func() {
		buildInfo.Lock()
		buildInfo.set, buildInfo.info = false, BuildInfo{}
		buildInfo.Unlock()
	}()
	SetBuildInfo(BuildInfo{Kind: "install", CoreVersion: "3.0.0", Plugins: []LinkedPlugin{{Name: "hash", Version: "3.0.0"}}})
	info, ok := CurrentBuildInfo()
	if !ok || info.Kind != "install" || len(info.Plugins) != 1 || info.Plugins[0].Name != "hash" {
		t.Errorf("CurrentBuildInfo = %+v, %v", info, ok)
	}
}

// TestInstallCommandFromAFolder installs a plugin folder through the
// command (a real build, seconds with a warm Go cache) and uninstalls it.
func TestInstallCommandFromAFolder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a stoq binary")
	}
	home := t.TempDir()
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
