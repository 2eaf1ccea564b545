package core

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"

	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// Command is a subcommand of the stoq command that a plugin package
// contributes, as Caddy's modules add commands to caddy: the redis plugin
// adds `stoq submit`. The stoq command lists every registered Command in
// its help and runs it with its flags parsed and its plugin configured,
// without importing the plugin: linking the package is what adds the
// command. The contract is the standard library's flag package, not the
// command line library the stoq command happens to use.
//
// Every Command also takes the stoq command's --plugin-opts NAME:KEY=VALUE
// (several words, as for scan and run), --config-file, --plugin-dir and
// --log-level: its plugin is configured exactly as scan and run would
// configure it.
type Command struct {
	// Name is the word after stoq (stoq NAME): lowercase letters, digits,
	// '_' and '-', not one of stoq's own commands (scan, run, list,
	// install, uninstall, build, new, version, completion, help).
	Name string
	// Plugin names the plugin the command works with, or is empty. The
	// stoq command builds that plugin (its options merged from
	// --plugin-opts, stoq.cfg [PLUGIN] and its manifest), hands it to Run
	// as Invocation.Plugin and closes it after Run returns. A plugin whose
	// options are wrong fails before Run, naming the option.
	Plugin string
	// Usage is the command's arguments as help prints them after its name,
	// such as "FILE|DIR|-".
	Usage string
	// Short is the one line of the stoq command's list of commands; Long
	// and Example are the command's own help.
	Short, Long, Example string
	// Flags, when set, defines the command's own flags on fs. It is called
	// each time a command line is parsed, so it must only define flags;
	// Run reads them with Invocation.Flag. Flag names are written with two
	// dashes on the command line (--request-source), one-letter ones with
	// one (-r).
	Flags func(fs *flag.FlagSet)
	// Run does the command's work. Its error is printed as "stoq: ERROR";
	// the exit status is 2 when it is a usage error (UsageErrorf, or any
	// error matching ErrUsage with errors.Is), else 1. ctx is cancelled on
	// SIGINT or SIGTERM.
	Run func(ctx context.Context, inv *Invocation) error
}

// Invocation is what a Command's Run receives.
type Invocation struct {
	// Args are the positional words of the command line.
	Args []string
	// Flags holds the command's own flags (Command.Flags), parsed.
	Flags *flag.FlagSet
	// Plugin is the instance of Command.Plugin, constructed as an engine
	// constructs it; Config is its configuration. Both are nil when
	// Command.Plugin is empty.
	Plugin any
	Config *Config
	// Log is the stoq command's logger (--log-level, stoq.cfg log_*); it
	// names the plugin when there is one.
	Log *slog.Logger
	// The command's streams: write results on Stdout, never on the
	// process's own.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Flag returns the value of the command's flag called name, as the
// flag.Getter of its Value returns it (a string for fs.String, a bool for
// fs.Bool, ...), or nil when there is no such flag or its Value is no
// Getter.
func (inv *Invocation) Flag(name string) any {
	if inv.Flags == nil {
		return nil
	}
	f := inv.Flags.Lookup(name)
	if f == nil {
		return nil
	}
	if g, ok := f.Value.(flag.Getter); ok {
		return g.Get()
	}
	return nil
}

// ErrUsage is matched (errors.Is) by the errors of a Command's Run that
// are mistakes on its command line: the stoq command exits with status 2.
var ErrUsage = errors.New("command line mistake")

// UsageErrorf formats an error matching ErrUsage whose text is just the
// formatted message (%w wraps as in fmt.Errorf).
func UsageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

type usageError struct{ err error }

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == ErrUsage }

// RegisterCommand adds cmd to the stoq command of every binary linking
// the calling package; plugin packages call it from init(), beside
// Register:
//
//	func init() {
//		core.Register("redis", manifest, New)
//		core.RegisterCommand(core.Command{Name: "submit", Plugin: "redis", Usage: "FILE|DIR|-", Short: "Queue files for stoq run -P redis", Run: submit})
//	}
//
// It panics, at init, when the name is invalid, one of stoq's own commands
// or already registered, when Plugin is not a valid plugin name, or when
// Run is nil.
func RegisterCommand(cmd Command) {
	if !registry.ValidName(cmd.Name) {
		panic(fmt.Sprintf("stoq: RegisterCommand: invalid command name %q (lowercase letters, digits, '_' and '-')", cmd.Name))
	}
	if slices.Contains(registry.StoqCommands, cmd.Name) {
		panic(fmt.Sprintf("stoq: RegisterCommand %q: a command of stoq itself has that name", cmd.Name))
	}
	if cmd.Plugin != "" && !registry.ValidName(cmd.Plugin) {
		panic(fmt.Sprintf("stoq: RegisterCommand %q: invalid plugin name %q", cmd.Name, cmd.Plugin))
	}
	if cmd.Run == nil {
		panic(fmt.Sprintf("stoq: RegisterCommand %q: nil Run", cmd.Name))
	}
	if err := registry.AddCommand(registry.CommandEntry{Name: cmd.Name, Command: &cmd}); err != nil {
		panic("stoq: RegisterCommand: " + err.Error())
	}
}
