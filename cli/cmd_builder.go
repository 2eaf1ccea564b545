package cli

import "github.com/spf13/cobra"

// This file is filled in by the builder work (stoq install, stoq uninstall,
// stoq build and the handoff to $STOQ_HOME/bin/stoq).

// addBuilderCommands adds the builder's commands to root.
func addBuilderCommands(root *cobra.Command, env *Env) {}

// handoff runs $STOQ_HOME/bin/stoq instead of this binary when it should;
// handled reports whether it did, and code is then its exit status.
func handoff(env *Env, args []string) (handled bool, code int) { return false, 0 }
