package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// The commands plugins contribute (core.RegisterCommand), such as the redis
// plugin's `stoq submit`: the cli imports no plugin, it lists what the
// linked plugins registered and runs it. Each gets the flags that
// configure a plugin as scan and run do (--plugin-opts, --config-file,
// --plugin-dir, --log-level) beside its own, and its plugin built by an
// engine that loads nothing else.

// pluginCommandFlagSpecs are the flags every plugin command takes, for
// expandArgs (--plugin-opts takes several words) and the command itself.
func pluginCommandFlagSpecs() []flagSpec {
	out := []flagSpec{helpFlagSpec}
	for _, f := range engineFlagSpecs {
		switch f.long {
		case "plugin-opts", "plugin-dir", "config-file", "log-level":
			out = append(out, f)
		}
	}
	return out
}

// isPluginCommand reports whether name is a command a plugin contributed.
func isPluginCommand(name string) bool {
	for _, c := range engine.Commands() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// addPluginCommands adds every command the linked plugins registered.
func addPluginCommands(root *cobra.Command, env *Env) {
	taken := map[string]bool{}
	for _, c := range root.Commands() {
		taken[c.Name()] = true
	}
	for _, pc := range engine.Commands() {
		if taken[pc.Name] { // core.RegisterCommand refuses stoq's names: a new one of the cli
			fmt.Fprintf(env.Stderr, "stoq: warning: a plugin's command %q is hidden by stoq's own\n", pc.Name)
			continue
		}
		root.AddCommand(newPluginCommand(env, pc))
	}
}

func newPluginCommand(env *Env, pc core.Command) *cobra.Command {
	f := &engineFlags{}
	own := flag.NewFlagSet(pc.Name, flag.ContinueOnError)
	own.SetOutput(io.Discard)
	if pc.Flags != nil {
		pc.Flags(own)
	}
	use := pc.Name + " [flags]"
	if pc.Usage != "" {
		use = pc.Name + " " + pc.Usage + " [flags]"
	}
	long := pc.Long
	if long == "" {
		long = pc.Short
	}
	if pc.Plugin != "" {
		long += "\n\nThe " + pc.Plugin + " plugin's options come from --plugin-opts " + pc.Plugin + ":OPTION=VALUE, stoq.cfg [" + pc.Plugin + "] and its manifest, as for scan and run."
	}
	cmd := &cobra.Command{
		Use:     use,
		Short:   pc.Short,
		Long:    strings.TrimSpace(long),
		Example: pc.Example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPluginCommand(cmd, env, f, pc, own, args)
		},
	}
	f.addFlags(cmd, pluginCommandFlagSpecs())
	own.VisitAll(func(gf *flag.Flag) {
		if cmd.Flags().Lookup(gf.Name) != nil {
			return // stoq's flags win; core documents which they are
		}
		pf := pflag.PFlagFromGoFlag(gf)
		cmd.Flags().AddFlag(pf)
	})
	return cmd
}

// runPluginCommand builds the command's plugin with its merged options
// and runs the command, with ctx cancelled on SIGINT or SIGTERM.
func runPluginCommand(cmd *cobra.Command, env *Env, f *engineFlags, pc core.Command, own *flag.FlagSet, args []string) error {
	if err := env.EnsureHome(); err != nil {
		return usageError(err)
	}
	inv := &core.Invocation{Args: args, Flags: own, Stdin: env.Stdin, Stdout: env.Stdout, Stderr: env.Stderr}
	cfg, err := loadConfig(env)
	if err != nil {
		return err
	}
	cmdlineOpts, err := parsePluginOpts(f.pluginOpts)
	if err != nil {
		return err
	}
	opts := append([]engine.Option{engine.WithoutRoles()}, baseEngineOptions(env, f, cfg, cmdlineOpts)...)
	s, err := engine.New(opts...)
	if err != nil {
		return usageError(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			fmt.Fprintln(env.Stderr, "stoq: closing plugins:", err)
		}
	}()
	warnUnlinkedPluginOpts(env, cmdlineOpts)
	inv.Log = s.Logger()
	if pc.Plugin != "" {
		if inv.Plugin, err = s.LoadPlugin(pc.Plugin); err != nil {
			return usageErrorf("stoq %s: %w", pc.Name, err)
		}
		if inv.Config, err = s.PluginConfig(pc.Plugin); err != nil {
			return usageErrorf("stoq %s: %w", pc.Name, err)
		}
		inv.Log = inv.Log.With("plugin", pc.Plugin)
	}
	ctx, stop := interruptible(cmd.Context())
	defer stop()
	if err := runCommandFunc(ctx, pc, inv); err != nil {
		if errors.Is(err, core.ErrUsage) {
			return usageError(err)
		}
		return failure(err)
	}
	return nil
}

// runCommandFunc runs a plugin command's Run; a panic is its failure, with
// the plugin's bug named, rather than a crash of stoq.
func runCommandFunc(ctx context.Context, pc core.Command, inv *core.Invocation) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("command %s panicked: %v", pc.Name, r)
		}
	}()
	return pc.Run(ctx, inv)
}
