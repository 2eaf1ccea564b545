package cli

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// stoQ's multi-value flags are argparse nargs='+': `-a hash yara` gives two
// workers. pflag has no such thing, so the words of each multi-value flag
// are rewritten into repeated flags (`--always-dispatch=hash
// --always-dispatch=yara`) before cobra parses them. The rules:
//
//   - A multi-value flag written without an inline value (`-a`, `--plugin-opts`)
//     takes every following word up to the next word starting with `-`
//     (including `-` alone, which names stdin) or the end of the line. It
//     needs at least one word.
//   - With an inline value (`-ahash`, `-a=hash`, `--always-dispatch=hash`)
//     it takes only that value, as argparse does.
//   - `--` ends flags: every later word is a positional argument.
//   - The FILE of `stoq scan`: stoQ's grammar is `stoq scan FILE -s hash
//     peinfo`. When no FILE is given anywhere else, and the last
//     multi-value flag of the line has at least two words, its last word is
//     taken as the FILE when it names an existing file (not a folder) or
//     cannot be a value of that flag (for plugin-name flags: it is not a
//     valid plugin name, such as `bad.exe` or `/tmp/x`; for --plugin-opts:
//     no `name:key=value`; for --request-extra: no `=`). So `stoq scan -s
//     hash peinfo /tmp/bad.exe` works, while `stoq scan -s hash peinfo`
//     scans stdin. Write `--` before the FILE to remove any doubt. The
//     commands plugins contribute (stoq submit) find their positional
//     words the same way, after their --plugin-opts.
//
// Values of the plugin-name flags may also be comma-separated
// (`-a hash,yara`) and the flags repeated (`-a hash -a yara`); values of
// --plugin-opts, --request-extra and --plugin-dir are never split on commas,
// since option values contain commas.

// valueKind says what the words of a flag may look like.
type valueKind int

const (
	noValue      valueKind = iota // a boolean flag
	singleValue                   // one word
	pluginNames                   // nargs='+': plugin names, commas allowed
	pluginOptKVs                  // nargs='+': name:key=value
	extraKVs                      // nargs='+': key=value
	dirPaths                      // nargs='+': folders
)

// canBeValue reports whether word could be a value of a flag of kind k; the
// scan FILE rule uses it.
func (k valueKind) canBeValue(word string) bool {
	switch k {
	case pluginNames:
		names := engine.SplitList(word)
		if len(names) == 0 {
			return false
		}
		for _, n := range names {
			if !core.ValidPluginName(n) {
				return false
			}
		}
		return true
	case pluginOptKVs:
		_, _, _, err := splitPluginOpt(word)
		return err == nil
	case extraKVs:
		_, _, err := splitKeyValue(word)
		return err == nil
	}
	return true
}

// flagSpec describes one flag of the scan, run and list commands.
type flagSpec struct {
	long, short string
	kind        valueKind
	usage       string
	// class is the plugin class the flag names, for completion.
	class engine.Class
}

// Flags shared by scan and run, with stoQ's names and letters.
var engineFlagSpecs = []flagSpec{
	{"start-dispatch", "s", pluginNames, "Worker plugins to add to the original payload dispatch", engine.ClassWorker},
	{"always-dispatch", "a", pluginNames, "Worker plugins to always dispatch plugins to", engine.ClassWorker},
	{"dispatchers", "R", pluginNames, "Dispatcher plugins to use send payloads to", engine.ClassDispatcher},
	{"decorators", "D", pluginNames, "Decorator plugins to send results to before saving", engine.ClassDecorator},
	{"connectors", "C", pluginNames, "Connector plugins to send results to (default: stdout)", engine.ClassConnector},
	{"dest-archivers", "A", pluginNames, "Archiver plugins to send payloads to", engine.ClassArchiver},
	{"source-archivers", "S", pluginNames, "Archiver plugins to read payload from", engine.ClassArchiver},
	{"plugin-opts", "", pluginOptKVs, "Plugin options: NAME:OPTION=VALUE ...", 0},
	{"request-source", "", singleValue, "Source name to add to initial scan request", 0},
	{"request-extra", "", extraKVs, "Key/value pair to add to initial scan request metadata: KEY=VALUE ...", 0},
	{"max-recursion", "", singleValue, "Maximum level of recursion into a payload and extracted payloads (default: stoq.cfg max_recursion, else 10)", 0},
	{"plugin-dir", "", dirPaths, "Directory(ies) containing stoQ plugins, added to $STOQ_HOME/plugins", 0},
	{"config-file", "", singleValue, "Path to stoQ configuration file (default $STOQ_HOME/stoq.cfg)", 0},
	{"log-level", "", singleValue, "Log level for stoQ events: debug, info, warning, error, critical", 0},
}

var providersFlagSpec = flagSpec{"providers", "P", pluginNames, "Provider plugins to ingest payloads from", engine.ClassProvider}

var failOnErrorFlagSpec = flagSpec{"fail-on-error", "", noValue, "Exit with status 1 when a plugin recorded an error in the response", 0}

var helpFlagSpec = flagSpec{"help", "h", noValue, "", 0}

// commandFlagSpecs lists the flags of the commands whose arguments are
// rewritten; other commands' arguments are left alone.
func commandFlagSpecs(command string) []flagSpec {
	switch command {
	case "scan":
		return append([]flagSpec{helpFlagSpec, failOnErrorFlagSpec}, engineFlagSpecs...)
	case "run":
		return append([]flagSpec{helpFlagSpec, providersFlagSpec}, engineFlagSpecs...)
	case "list":
		for _, f := range engineFlagSpecs {
			if f.long == "plugin-dir" {
				return []flagSpec{helpFlagSpec, f}
			}
		}
	}
	if isPluginCommand(command) {
		return pluginCommandFlagSpecs()
	}
	return nil
}

// token is one parsed element of a command line.
type token struct {
	words  []string  // a positional word or a flag passed through as written
	flag   *flagSpec // a multi-value flag group, with its values
	values []string
	// open: the group ran to the end of the line (it may take more words).
	open bool
	// file: the scan FILE found at the end of the group.
	file string
}

// expandArgs rewrites the multi-value flags of args (the command line
// without the program name) into repeated flags, as described above. It
// handles cobra's hidden completion commands too, so that the word being
// completed after `-a hash ` is completed as a worker name.
func expandArgs(args []string) ([]string, error) {
	if len(args) == 0 {
		return args, nil
	}
	if args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd {
		return expandCompletionArgs(args)
	}
	specs := commandFlagSpecs(args[0])
	if specs == nil {
		return args, nil
	}
	tokens, err := tokenize(args[1:], specs)
	if err != nil {
		return nil, err
	}
	if args[0] == "scan" || isPluginCommand(args[0]) {
		findScanFile(tokens)
	}
	return append([]string{args[0]}, emit(tokens)...), nil
}

// expandCompletionArgs rewrites `__complete CMD ... TOCOMPLETE` so that a
// word following an open multi-value group is completed as that flag's
// value.
func expandCompletionArgs(args []string) ([]string, error) {
	if len(args) < 3 {
		return args, nil
	}
	specs := commandFlagSpecs(args[1])
	if specs == nil {
		return args, nil
	}
	last := args[len(args)-1]
	tokens, err := tokenize(args[2:len(args)-1], specs)
	if err != nil {
		return args, nil // let cobra report what it can
	}
	out := append([]string{args[0], args[1]}, emit(tokens)...)
	if n := len(tokens); n > 0 && tokens[n-1].open && !strings.HasPrefix(last, "-") {
		out = append(out, "--"+tokens[n-1].flag.long)
	}
	return append(out, last), nil
}

// tokenize splits words into positional words, flags passed through and
// multi-value groups.
func tokenize(words []string, specs []flagSpec) ([]token, error) {
	byLong := map[string]*flagSpec{}
	byShort := map[string]*flagSpec{}
	for i := range specs {
		byLong[specs[i].long] = &specs[i]
		if specs[i].short != "" {
			byShort[specs[i].short] = &specs[i]
		}
	}
	var tokens []token
	for i := 0; i < len(words); i++ {
		w := words[i]
		var spec *flagSpec
		var written string // the flag as the user wrote it, for errors
		inline := false
		switch {
		case w == "--":
			for _, rest := range words[i:] {
				tokens = append(tokens, token{words: []string{rest}})
			}
			return tokens, nil
		case strings.HasPrefix(w, "--"):
			name, _, hasValue := strings.Cut(w[2:], "=")
			spec, written, inline = byLong[name], "--"+name, hasValue
		case strings.HasPrefix(w, "-") && len(w) > 1:
			spec, written, inline = byShort[w[1:2]], w[:2], len(w) > 2
		}
		switch {
		case spec == nil || spec.kind == noValue:
			// A positional word, `-`, an unknown flag (cobra reports it) or
			// a boolean flag.
			tokens = append(tokens, token{words: []string{w}})
		case spec.kind == singleValue:
			t := token{words: []string{w}}
			if !inline && i+1 < len(words) {
				i++
				t.words = append(t.words, words[i])
			}
			tokens = append(tokens, t)
		case inline:
			tokens = append(tokens, token{words: []string{w}})
		default:
			t := token{flag: spec}
			for i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") {
				i++
				t.values = append(t.values, words[i])
			}
			if len(t.values) == 0 {
				return nil, usageErrorf("flag %s needs at least one value (%s)", written, spec.valueHint())
			}
			t.open = i == len(words)-1
			tokens = append(tokens, t)
		}
	}
	return tokens, nil
}

// valueHint says what a flag's values look like, for error messages.
func (f *flagSpec) valueHint() string {
	switch f.kind {
	case pluginNames:
		return "plugin names, such as -" + f.short + " hash yara"
	case pluginOptKVs:
		return "NAME:OPTION=VALUE"
	case extraKVs:
		return "KEY=VALUE"
	case dirPaths:
		return "folders"
	}
	return "a value"
}

// findScanFile applies the scan FILE rule: when no positional word was
// given, the last word of the last multi-value group becomes the FILE if it
// names an existing file or cannot be a value of that flag.
func findScanFile(tokens []token) {
	last := -1
	for i, t := range tokens {
		if t.flag == nil {
			if len(t.words) == 1 && !isFlagWord(t.words[0]) {
				return // a FILE was given
			}
			continue
		}
		last = i
	}
	if last < 0 || len(tokens[last].values) < 2 {
		return
	}
	t := &tokens[last]
	word := t.values[len(t.values)-1]
	if isExistingFile(word) || !t.flag.kind.canBeValue(word) {
		t.values = t.values[:len(t.values)-1]
		t.file = word
	}
}

func isFlagWord(w string) bool { return strings.HasPrefix(w, "-") && w != "-" }

func isExistingFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// emit writes tokens back as words: each value of a group as
// --long=value, which pflag reads whatever the value looks like.
func emit(tokens []token) []string {
	var out []string
	for _, t := range tokens {
		if t.flag == nil {
			out = append(out, t.words...)
			continue
		}
		for _, v := range t.values {
			out = append(out, "--"+t.flag.long+"="+v)
		}
		if t.file != "" {
			out = append(out, t.file)
		}
	}
	return out
}
