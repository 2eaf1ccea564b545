package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core"
)

// Main runs the stoq command with os.Args and the process's streams and
// returns its exit status: a generated main package calls
// os.Exit(cli.Main()). It first lets the builder hand off to
// $STOQ_HOME/bin/stoq when that binary should run instead.
func Main() int {
	env, err := NewEnv(nil, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stoq:", err)
		return 2
	}
	if handled, code := handoff(env, os.Args[1:]); handled {
		return code
	}
	return run(context.Background(), env, os.Args[1:])
}

// Run runs the stoq command with args (without the program name) and the
// given streams, and returns its exit status. It never hands off to another
// binary: tests and programs embedding stoq use it.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env, err := NewEnv(nil, stdin, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "stoq:", err)
		return 2
	}
	return run(ctx, env, args)
}

func run(ctx context.Context, env *Env, args []string) int {
	root := newRootCommand(env)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(env.Stderr, "stoq:", err)
		return 2
	}
	return 0
}

func newRootCommand(env *Env) *cobra.Command {
	root := &cobra.Command{Use: "stoq", Version: core.Version, SilenceUsage: true, SilenceErrors: true}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	addBuilderCommands(root, env)
	return root
}
