package engine

import (
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// Commands lists the subcommands plugins linked into this binary
// contributed (core.RegisterCommand), sorted by name. The stoq command adds
// them beside its own.
func Commands() []core.Command {
	entries := registry.Commands()
	out := make([]core.Command, len(entries))
	for i, e := range entries {
		out[i] = *e.Command.(*core.Command)
	}
	return out
}
