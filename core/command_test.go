package core_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

func noRun(context.Context, *core.Invocation) error { return nil }

// registerOnce registers the command TestRegisterCommandRejects registers
// again: the registry is the process's, and -count runs the test again.
var registerOnce sync.Once

// RegisterCommand refuses, at init, what would break the stoq command.
func TestRegisterCommandRejects(t *testing.T) {
	registerOnce.Do(func() { core.RegisterCommand(core.Command{Name: "contract-test-cmd", Run: noRun}) })
	tests := []struct {
		name string
		cmd  core.Command
		want string
	}{
		{"empty name", core.Command{Run: noRun}, "invalid command name"},
		{"unsafe name", core.Command{Name: "Sub mit", Run: noRun}, "invalid command name"},
		{"stoq's own", core.Command{Name: "scan", Run: noRun}, "a command of stoq itself"},
		{"help", core.Command{Name: "help", Run: noRun}, "a command of stoq itself"},
		{"bad plugin", core.Command{Name: "contract-test-x", Plugin: "../x", Run: noRun}, "invalid plugin name"},
		{"no run", core.Command{Name: "contract-test-y"}, "nil Run"},
		{"twice", core.Command{Name: "contract-test-cmd", Run: noRun}, "registered twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil || !strings.Contains(fmt.Sprint(r), tt.want) {
					t.Fatalf("panic %v, want one containing %q", r, tt.want)
				}
			}()
			core.RegisterCommand(tt.cmd)
		})
	}
}

// Invocation.Flag reads the command's parsed flags by name.
func TestInvocationFlag(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("source", "", "")
	fs.Bool("dry", false, "")
	fs.Func("custom", "", func(string) error { return nil }) // no Getter
	if err := fs.Parse([]string{"-source", "mail", "-dry"}); err != nil {
		t.Fatal(err)
	}
	inv := &core.Invocation{Flags: fs}
	if got := inv.Flag("source"); got != "mail" {
		t.Errorf("source = %v", got)
	}
	if got := inv.Flag("dry"); got != true {
		t.Errorf("dry = %v", got)
	}
	if got := inv.Flag("custom"); got != nil {
		t.Errorf("a flag without Getter = %v, want nil", got)
	}
	if got := inv.Flag("missing"); got != nil {
		t.Errorf("missing = %v, want nil", got)
	}
	if got := (&core.Invocation{}).Flag("x"); got != nil {
		t.Errorf("no flag set = %v, want nil", got)
	}
}

// UsageErrorf's errors match ErrUsage, print only their message and wrap
// with %w.
func TestUsageErrorf(t *testing.T) {
	cause := errors.New("no such file")
	err := core.UsageErrorf("reading %s: %w", "x", cause)
	if !errors.Is(err, core.ErrUsage) || !errors.Is(err, cause) {
		t.Errorf("%v must match ErrUsage and its cause", err)
	}
	if err.Error() != "reading x: no such file" {
		t.Errorf("text %q", err.Error())
	}
}
