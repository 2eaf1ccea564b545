package testplugins

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
)

// testcmd is a command contributed the way a plugin contributes one (the
// redis plugin's stoq submit): it prints what it was given, and fails as
// its --fail flag says.
func init() {
	core.RegisterCommand(core.Command{
		Name:    "testcmd",
		Plugin:  "testprovider",
		Usage:   "WORD...",
		Short:   "Test double: print the command's arguments, flags and plugin",
		Example: "  stoq testcmd a b --label x",
		Flags: func(fs *flag.FlagSet) {
			fs.String("label", "none", "a label to print")
			fs.Bool("v", false, "a one-letter flag")
			fs.String("fail", "", "fail: usage, error or panic")
		},
		Run: runTestCommand,
	})
}

func runTestCommand(_ context.Context, inv *core.Invocation) error {
	switch inv.Flag("fail") {
	case "usage":
		return core.UsageErrorf("bad word %q", strings.Join(inv.Args, " "))
	case "error":
		return errors.New("the server said no")
	case "panic":
		panic("command bug")
	}
	count, err := inv.Config.Int("count", -1)
	if err != nil {
		return err
	}
	_, isProvider := inv.Plugin.(*Provider)
	fmt.Fprintf(inv.Stdout, "args=%s label=%v v=%v count=%d provider=%v\n",
		strings.Join(inv.Args, ","), inv.Flag("label"), inv.Flag("v"), count, isProvider)
	inv.Log.Info("testcmd ran")
	return nil
}

// Metrics reports how many payloads the provider queued, as a plugin
// reports metrics of its own.
func (p *Provider) Metrics() []core.Metric {
	return []core.Metric{{
		Name: "stoq_testprovider_queued_total", Help: "Payloads the test provider queued.",
		Kind: core.Counter, Labels: map[string]string{"kind": "payload"}, Value: float64(p.queued.Load()),
	}}
}

var _ core.MetricsReporter = (*Provider)(nil)
