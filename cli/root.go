package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
)

// Main runs the stoq command with os.Args and the process's streams and
// returns its exit status: a main package calls os.Exit(cli.Main(info)),
// with the zero BuildInfo for a plain binary and the builder's record in
// the main package it generates. It first lets the builder hand off to
// $STOQ_HOME/bin/stoq when that binary should run instead.
func Main(info BuildInfo) int {
	env, err := NewEnv(nil, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoq:", err)
		return exitUsage
	}
	env.Build = info
	handoff(env, os.Args[1:])
	return run(context.Background(), env, os.Args[1:])
}

// Run runs the stoq command with args (without the program name) and the
// given streams, and returns its exit status. $STOQ_HOME is read from the
// process environment. It never hands off to another binary: tests and
// programs embedding stoq use it.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env, err := NewEnv(nil, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stoq:", err)
		return exitUsage
	}
	return run(ctx, env, args)
}

// run parses args and executes the command they name. Errors are printed
// on stderr as "stoq: ..."; the exit status is the command's (see
// exitError), 2 for anything cobra rejects.
func run(ctx context.Context, env *Env, args []string) int {
	expanded, err := expandArgs(args)
	if err != nil {
		fmt.Fprintln(env.Stderr, "stoq:", err)
		return exitUsage
	}
	root := newRootCommand(env)
	root.SetArgs(expanded)
	err = root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(env.Stderr, "stoq:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(env.Stderr, "stoq:", err)
	fmt.Fprintln(env.Stderr, "Run 'stoq --help' for usage.")
	return exitUsage
}

const rootExamples = `  # Scan a file with installed plugins and dispatch rules:
  stoq scan mybadfile.exe

  # Scan a file and force it to go through the yara plugin:
  stoq scan mybadfile.exe -s yara

  # Monitor a folder, force every payload through yara and exif, then save
  # results to files:
  stoq run -P dirmon -a yara exif -C filedir --plugin-opts dirmon:source_dir=/tmp/monitor

  # Monitor a directory (set in stoq.cfg or --plugin-opts) for newly
  # created files, send them to workers, and archive every payload:
  stoq run -P dirmon -A filedir

  # List the plugins of this binary:
  stoq list

  # Install a plugin from a directory (rebuilds $STOQ_HOME/bin/stoq):
  stoq install path/to/plugin_directory`

// newRootCommand assembles the stoq command tree for env.
func newRootCommand(env *Env) *cobra.Command {
	root := &cobra.Command{
		Use:     "stoq",
		Short:   "An automated analysis framework",
		Long:    about(),
		Example: rootExamples,
		Version: core.Version,
		// Errors are printed once, by run, with their exit status.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetVersionTemplate("stoq {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf("%w (see 'stoq %s --help')", err, cmd.Name())
	})
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if f := cmd.Flags().Lookup("config-file"); f != nil && f.Changed {
			env.ConfigFile, env.ConfigFileExplicit = f.Value.String(), true
		}
		return nil
	}
	root.AddCommand(newScanCommand(env), newRunCommand(env), newListCommand(env), newVersionCommand(env))
	addBuilderCommands(root, env)
	root.AddCommand(newNewCommand(env))
	addPluginCommands(root, env)
	return root
}
