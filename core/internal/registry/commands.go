package registry

import (
	"fmt"
	"sort"
)

// CommandEntry is one registered subcommand of the stoq command. Command
// is the contract's *core.Command, held as any for the reason Entry holds
// its values so.
type CommandEntry struct {
	Name    string
	Command any
}

var commands = map[string]CommandEntry{}

// StoqCommands are the stoq command's own commands: no plugin command may
// take their names (core.RegisterCommand), nor any plugin
// (plugincheck.ReservedCommands).
var StoqCommands = []string{"build", "completion", "help", "install", "list", "new", "run", "scan", "uninstall", "version"}

// AddCommand registers a subcommand; a name registered twice is an error.
func AddCommand(e CommandEntry) error {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := commands[e.Name]; dup {
		return fmt.Errorf("command %q registered twice", e.Name)
	}
	commands[e.Name] = e
	return nil
}

// Commands returns every registered subcommand, sorted by name.
func Commands() []CommandEntry {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]CommandEntry, 0, len(commands))
	for _, e := range commands {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
