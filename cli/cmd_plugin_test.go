package cli

import (
	"context"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// A command a linked plugin registered is listed in stoq's help and runs
// with its words, its own flags, and its plugin configured by
// --plugin-opts (several words, as for scan and run).
func TestPluginCommandRuns(t *testing.T) {
	home := t.TempDir()
	help := stoq(t, home, nil, "--help").mustSucceed(t)
	if !strings.Contains(help.stdout, "testcmd") || !strings.Contains(help.stdout, "Test double: print the command's arguments") {
		t.Errorf("stoq --help does not list the plugin's command:\n%s", help.stdout)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"defaults", []string{"testcmd", "a", "b"}, "args=a,b label=none v=false count=3 provider=true"},
		{"own flags", []string{"testcmd", "a", "--label", "x", "-v"}, "args=a label=x v=true count=3 provider=true"},
		{"plugin options", []string{"testcmd", "w1", "--plugin-opts", "testprovider:count=7", "testprovider:wait=false"}, "args=w1 label=none v=false count=7 provider=true"},
		{"word after plugin options", []string{"testcmd", "--plugin-opts", "testprovider:count=9", "/tmp/some-dir"}, "args=/tmp/some-dir label=none v=false count=9 provider=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stoq(t, home, nil, tt.args...).mustSucceed(t)
			if strings.TrimSpace(r.stdout) != tt.want {
				t.Errorf("stdout %q, want %q", r.stdout, tt.want)
			}
		})
	}
	r := stoq(t, home, nil, "testcmd", "--help").mustSucceed(t)
	for _, want := range []string{"testcmd WORD... [flags]", "--label", "--plugin-opts", "testprovider:OPTION=VALUE"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("testcmd --help lacks %q:\n%s", want, r.stdout)
		}
	}
}

// The command's failures have the exit statuses of stoq's own commands:
// 2 for usage errors (its own or a bad plugin option), 1 for the rest.
func TestPluginCommandFailures(t *testing.T) {
	home := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"usage", []string{"testcmd", "zz", "--fail", "usage"}, exitUsage, `stoq: bad word "zz"`},
		{"error", []string{"testcmd", "--fail", "error"}, exitFailure, "stoq: the server said no"},
		{"panic", []string{"testcmd", "--fail", "panic"}, exitFailure, "command testcmd panicked: command bug"},
		{"bad option", []string{"testcmd", "--plugin-opts", "testprovider:count=many"}, exitUsage, "count"},
		{"unknown flag", []string{"testcmd", "--nope"}, exitUsage, "unknown flag: --nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stoq(t, home, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.want)
			}
		})
	}
}

// Every command of stoq itself is refused to plugins by core, so a
// plugin can never shadow one.
func TestBuiltinCommandsAreReserved(t *testing.T) {
	root := newRootCommand(&Env{})
	for _, c := range root.Commands() {
		if isPluginCommand(c.Name()) {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("core.RegisterCommand accepted %q, a command of stoq", c.Name())
				}
			}()
			core.RegisterCommand(core.Command{Name: c.Name(), Run: runTestCommandStub})
		})
	}
}

func runTestCommandStub(context.Context, *core.Invocation) error { return nil }
