package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// Exit statuses of the stoq command.
const (
	exitOK        = 0
	exitFailure   = 1   // scanning or running failed; plugin errors with --fail-on-error
	exitUsage     = 2   // bad command line, configuration or input: nothing was scanned
	exitInterrupt = 130 // a second SIGINT/SIGTERM stopped `stoq run` at once
)

// exitError carries an exit status out of a command. A nil err exits
// without a message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErrorf is a mistake on the command line or in the configuration:
// exit status 2.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func failure(err error) error { return &exitError{code: exitFailure, err: err} }

// splitPluginOpt reads NAME:OPTION=VALUE, splitting on the first ':' and
// then the first '=' so that values may hold both.
func splitPluginOpt(item string) (name, key, value string, err error) {
	name, kv, ok := strings.Cut(item, ":")
	if !ok {
		return "", "", "", fmt.Errorf("--plugin-opts %q: want NAME:OPTION=VALUE (no ':' after the plugin name)", item)
	}
	if !core.ValidPluginName(name) {
		return "", "", "", fmt.Errorf("--plugin-opts %q: %q is not a plugin name (lowercase letters, digits, '_' and '-')", item, name)
	}
	key, value, err = splitKeyValue(kv)
	if err != nil {
		return "", "", "", fmt.Errorf("--plugin-opts %q: want NAME:OPTION=VALUE (%v)", item, err)
	}
	return name, key, value, nil
}

// splitKeyValue reads KEY=VALUE on the first '='; the key must not be empty
// or hold blanks, the value may be empty.
func splitKeyValue(item string) (key, value string, err error) {
	key, value, ok := strings.Cut(item, "=")
	switch {
	case !ok:
		return "", "", errors.New("no '=' between key and value")
	case key == "":
		return "", "", errors.New("empty key before '='")
	case strings.ContainsAny(key, " \t\r\n"):
		return "", "", fmt.Errorf("key %q holds blanks", key)
	}
	return key, value, nil
}

// parsePluginOpts turns --plugin-opts items into plugin name → option →
// value. Option names are lowercased as configparser does; the last of two
// settings of one option wins.
func parsePluginOpts(items []string) (map[string]map[string]string, error) {
	opts := map[string]map[string]string{}
	for _, item := range items {
		name, key, value, err := splitPluginOpt(item)
		if err != nil {
			return nil, usageError(err)
		}
		if opts[name] == nil {
			opts[name] = map[string]string{}
		}
		opts[name][strings.ToLower(key)] = value
	}
	return opts, nil
}

// parseRequestExtra turns --request-extra items into RequestMeta extra
// data: true and false (any case) become JSON booleans, as in stoQ;
// everything else stays a string.
func parseRequestExtra(items []string) (map[string]any, error) {
	extra := map[string]any{}
	for _, item := range items {
		key, value, err := splitKeyValue(item)
		if err != nil {
			return nil, usageErrorf("--request-extra %q: want KEY=VALUE (%v)", item, err)
		}
		switch strings.ToLower(value) {
		case "true":
			extra[key] = true
		case "false":
			extra[key] = false
		default:
			extra[key] = value
		}
	}
	return extra, nil
}

// pluginNameList flattens the values of a plugin-name flag: each may be a
// comma-separated list. Every name must be a valid plugin name.
func pluginNameList(flag string, values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		names := engine.SplitList(v)
		if len(names) == 0 {
			return nil, usageErrorf("--%s %q: no plugin name", flag, v)
		}
		for _, n := range names {
			if !core.ValidPluginName(n) {
				return nil, usageErrorf("--%s %q: %q is not a plugin name (lowercase letters, digits, '_' and '-')", flag, v, n)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// engineFlags holds the flags scan and run share, as parsed by cobra
// (multi-value flags already expanded by expandArgs).
type engineFlags struct {
	startDispatch, alwaysDispatch, dispatchers, decorators []string
	connectors, destArchivers, sourceArchivers, providers  []string
	pluginOpts, requestExtra, pluginDirs                   []string
	requestSource, configFile, logLevel                    string
	maxRecursion                                           int
	failOnError                                            bool
}

// addFlags defines the flags listed in specs on cmd.
func (f *engineFlags) addFlags(cmd *cobra.Command, specs []flagSpec) {
	fs := cmd.Flags()
	lists := map[string]*[]string{
		"start-dispatch": &f.startDispatch, "always-dispatch": &f.alwaysDispatch,
		"dispatchers": &f.dispatchers, "decorators": &f.decorators, "connectors": &f.connectors,
		"dest-archivers": &f.destArchivers, "source-archivers": &f.sourceArchivers,
		"providers": &f.providers, "plugin-opts": &f.pluginOpts, "request-extra": &f.requestExtra,
		"plugin-dir": &f.pluginDirs,
	}
	for _, s := range specs {
		switch s.long {
		case "help":
			continue
		case "request-source":
			fs.StringVar(&f.requestSource, s.long, "", s.usage)
		case "config-file":
			fs.StringVar(&f.configFile, s.long, "", s.usage)
		case "log-level":
			fs.StringVar(&f.logLevel, s.long, "", s.usage)
		case "max-recursion":
			fs.IntVar(&f.maxRecursion, s.long, 0, s.usage)
		case "fail-on-error":
			fs.BoolVar(&f.failOnError, s.long, false, s.usage)
		default:
			dst := lists[s.long]
			if dst == nil {
				panic("cli: no destination for flag --" + s.long)
			}
			usage := s.usage
			if s.kind == pluginNames {
				usage += " (several words, commas or repeats)"
			}
			fs.StringArrayVarP(dst, s.long, s.short, nil, usage)
		}
		if s.class != 0 {
			_ = cmd.RegisterFlagCompletionFunc(s.long, completePluginNames(s.class))
		}
		if s.kind == pluginOptKVs {
			_ = cmd.RegisterFlagCompletionFunc(s.long, completePluginOpts)
		}
		if s.kind == dirPaths {
			_ = cmd.MarkFlagDirname(s.long)
		}
		if s.long == "log-level" {
			_ = cmd.RegisterFlagCompletionFunc(s.long, cobra.FixedCompletions(
				[]string{"debug", "info", "warning", "error", "critical"}, cobra.ShellCompDirectiveNoFileComp))
		}
		if s.long == "config-file" {
			_ = cmd.MarkFlagFilename(s.long, "cfg")
		}
	}
}

// loadConfig reads the stoq.cfg in use. A missing file is a warning on
// stderr (stoq's defaults apply), a malformed one a usage error.
func loadConfig(env *Env) (engine.INI, error) {
	cfg, err := engine.ReadINI(env.ConfigFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(env.Stderr, "stoq: warning: %s does not exist, using stoq's defaults\n", env.ConfigFile)
		return engine.INI{}, nil
	case err != nil:
		return nil, usageErrorf("config file: %w", err)
	}
	return cfg, nil
}

// engineSetup is what newEngine built: the engine, its request meta and
// first-round workers.
type engineSetup struct {
	stoq          *engine.Stoq
	requestMeta   *core.RequestMeta
	startDispatch []string
}

// close closes the engine, its plugins and its log file.
func (s *engineSetup) close() error { return s.stoq.Close() }

// engineMode says which command builds the engine.
type engineMode int

const (
	scanMode engineMode = iota
	runMode
)

// newEngine turns the flags and stoq.cfg into an engine. The engine
// decides every [core] setting (flags are passed to it as the command
// line layer); the command adds its own defaults: the stdout connector
// when no connector is chosen (one compact line per response in run mode)
// and the spool folder in $STOQ_HOME.
func newEngine(cmd *cobra.Command, env *Env, f *engineFlags, mode engineMode, extra ...engine.Option) (*engineSetup, error) {
	cfg, err := loadConfig(env)
	if err != nil {
		return nil, err
	}
	startDispatch, err := pluginNameList("start-dispatch", f.startDispatch)
	if err != nil {
		return nil, err
	}
	cmdlineOpts, err := parsePluginOpts(f.pluginOpts)
	if err != nil {
		return nil, err
	}
	requestMeta, err := f.requestMeta()
	if err != nil {
		return nil, err
	}
	s, err := engine.New(append(engineOptions(cmd, env, f, mode, cfg, cmdlineOpts), extra...)...)
	if err != nil {
		return nil, usageError(err)
	}
	setup := &engineSetup{stoq: s, requestMeta: requestMeta, startDispatch: startDispatch}
	if err := checkStartDispatch(s, startDispatch); err != nil {
		_ = setup.close()
		return nil, err
	}
	warnUnlinkedPluginOpts(env, cmdlineOpts)
	printToCommandStdout(s, env)
	return setup, nil
}

// engineOptions are the engine options of a scan or run: the base options,
// the flags as the command line layer of the [core] settings, and the
// command's defaults.
func engineOptions(cmd *cobra.Command, env *Env, f *engineFlags, mode engineMode, cfg engine.INI, cmdlineOpts map[string]map[string]string) []engine.Option {
	opts := append(baseEngineOptions(env, f, cfg, cmdlineOpts),
		engine.WithDefault("connectors", stdoutConnectorName),
		// Results a connector fails to save wait here to be re-sent.
		engine.WithDefault("spool_dir", env.SpoolDir()),
	)
	if mode == runMode {
		opts = append(opts, engine.WithPluginOptions(map[string]map[string]string{stdoutConnectorName: {"compactly": "true"}}))
	}
	for _, role := range []struct {
		flag   string
		values []string
	}{
		{"providers", f.providers}, {"source-archivers", f.sourceArchivers}, {"dest-archivers", f.destArchivers},
		{"connectors", f.connectors}, {"dispatchers", f.dispatchers}, {"decorators", f.decorators},
		{"always-dispatch", f.alwaysDispatch},
	} {
		key := strings.ReplaceAll(role.flag, "-", "_") // the role's [core] key
		for _, v := range role.values {
			opts = append(opts, engine.WithCommandLine("--"+role.flag, key, v))
		}
	}
	if cmd.Flags().Changed("max-recursion") {
		opts = append(opts, engine.WithCommandLine("--max-recursion", "max_recursion", strconv.Itoa(f.maxRecursion)))
	}
	return opts
}

// baseEngineOptions are the options of every engine the stoq command
// builds (scan, run and the plugins' commands): stoq.cfg, logs on stderr,
// the plugin folders, --plugin-opts and --log-level.
func baseEngineOptions(env *Env, f *engineFlags, cfg engine.INI, cmdlineOpts map[string]map[string]string) []engine.Option {
	opts := []engine.Option{
		engine.WithConfigFile(env.ConfigFile),
		engine.WithConfig(cfg),
		engine.WithLogOutput(env.Stderr),
		engine.WithPluginDirs(append([]string{env.PluginsDir()}, f.pluginDirs...)...),
		engine.WithCommandLineOptions(cmdlineOpts),
	}
	if f.logLevel != "" {
		opts = append(opts, engine.WithCommandLine("--log-level", "log_level", f.logLevel))
	}
	return opts
}

// requestMeta is the request meta of --request-source and --request-extra.
func (f *engineFlags) requestMeta() (*core.RequestMeta, error) {
	meta := core.NewRequestMeta()
	meta.Source = f.requestSource
	var err error
	if meta.ExtraData, err = parseRequestExtra(f.requestExtra); err != nil {
		return nil, err
	}
	return meta, nil
}

// checkStartDispatch loads the start-dispatch workers now: the engine
// checks every role's plugins, but start dispatch is used only at the first
// scan, and a typo must be an error, not a scan that quietly records it.
func checkStartDispatch(s *engine.Stoq, names []string) error {
	for _, name := range names {
		inst, err := s.LoadPlugin(name)
		if err == nil && !engine.ClassesOf(inst).Has(engine.ClassWorker) {
			err = fmt.Errorf("plugin is a %s, not a Worker", engine.ClassesOf(inst))
		}
		if err != nil {
			return usageErrorf("start dispatch %q: %w", name, err)
		}
	}
	return nil
}

// warnUnlinkedPluginOpts warns about --plugin-opts for plugins this binary
// does not link: most likely a typo or a plugin not installed.
func warnUnlinkedPluginOpts(env *Env, cmdlineOpts map[string]map[string]string) {
	for _, name := range sortedNames(cmdlineOpts) {
		if _, ok := engine.Lookup(name); !ok {
			fmt.Fprintf(env.Stderr, "stoq: warning: --plugin-opts names %s, which is not linked into this stoq\n", name)
		}
	}
}

// printToCommandStdout points the stdout connector at this command's
// stdout, not the process's: tests and embedding programs pass their own.
func printToCommandStdout(s *engine.Stoq, env *Env) {
	for _, name := range s.Settings().Connectors {
		if inst, err := s.LoadPlugin(name); err == nil {
			if c, ok := inst.(*stdoutConnector); ok {
				c.setOutput(env.Stdout)
			}
		}
	}
}

// sortedNames returns the keys of m in order.
func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
