package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/plugincheck"
)

func TestNewPluginWritesAModuleThatTestsAndChecks(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go mod tidy and go test")
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip(err)
	}
	// Offline: modules from the user's module cache only.
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(out)), "cache", "download")))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOFLAGS", "-mod=mod")
	dir := t.TempDir()
	core, _ := filepath.Abs(filepath.Join("..", "core"))
	r := stoq(t, t.TempDir(), nil, "new", "plugin", "greet", "--class", "worker,decorator", "-o", dir, "--core", core)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "Created plugin greet in "+filepath.Join(dir, "greet")) || !strings.Contains(r.stdout, "stoq install") {
		t.Errorf("output:\n%s", r.stdout)
	}
	p, err := plugincheck.Check(filepath.Join(dir, "greet"), plugincheck.Options{})
	if err != nil || len(p.Warnings) > 0 {
		t.Errorf("the installer's check: %+v, %v", p, err)
	}
	test := exec.Command("go", "test", "./...")
	test.Dir = filepath.Join(dir, "greet")
	test.Env = append(os.Environ(), "GOWORK=off")
	if out, err := test.CombinedOutput(); err != nil {
		t.Errorf("go test: %v\n%s", err, out)
	}
}

func TestNewPluginRefusesReservedAndBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"submit"}, "submit is a stoq command"},
		{[]string{"new"}, "new is a stoq command"},
		{[]string{"stdout"}, "stdout is built into stoq"},
		{[]string{"Bad"}, "not a plugin name"},
		{[]string{"x", "--class", "scanner"}, "not a plugin class"},
	} {
		r := stoq(t, t.TempDir(), nil, append([]string{"new", "plugin", "-o", dir, "--no-tidy"}, c.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("stoq new plugin %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refusals wrote %v", entries)
	}
}

// TestReservedNamesCoverTheCommands ties plugincheck's reserved names to
// the command tree and to the plugins the cli builds in: a command or a
// built-in plugin added later must be reserved too.
func TestReservedNamesCoverTheCommands(t *testing.T) {
	env, err := NewEnv(func(string) string { return t.TempDir() }, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	root := newRootCommand(env)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if isPluginCommand(c.Name()) {
			continue // a linked plugin's (the test plugins' testcmd): core refuses stoq's names to them
		}
		if !slices.Contains(plugincheck.ReservedCommands, c.Name()) {
			t.Errorf("command %s is not in plugincheck.ReservedCommands", c.Name())
		}
	}
	if _, ok := engine.Lookup(stdoutConnectorName); !ok || !slices.Contains(plugincheck.BuiltinPlugins, stdoutConnectorName) {
		t.Errorf("the built-in %s connector is not in plugincheck.BuiltinPlugins", stdoutConnectorName)
	}
}
