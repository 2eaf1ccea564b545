package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/stoq-go/stoq/core/v3"
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
		names := core.SplitList(v)
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
func loadConfig(env *Env) (core.INI, error) {
	cfg, err := core.ReadINI(env.ConfigFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(env.Stderr, "stoq: warning: %s does not exist, using stoq's defaults\n", env.ConfigFile)
		return core.INI{}, nil
	case err != nil:
		return nil, usageErrorf("config file: %w", err)
	}
	return cfg, nil
}

// logSettings reads stoq.cfg's log_* keys; --log-level wins over log_level.
func logSettings(cfg core.INI, level string) (core.LogSettings, error) {
	sec := cfg["core"]
	ls := core.LogSettings{
		Dir:         strings.TrimSpace(sec["log_dir"]),
		Level:       strings.TrimSpace(sec["log_level"]),
		Syntax:      strings.TrimSpace(sec["log_syntax"]),
		MaxBytes:    core.DefaultLogMaxBytes,
		BackupCount: core.DefaultLogBackupCount,
	}
	for key, dst := range map[string]*int{"log_maxbytes": &ls.MaxBytes, "log_backup_count": &ls.BackupCount} {
		v := strings.TrimSpace(sec[key])
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ls, fmt.Errorf("[core] %s = %q: want a non-negative integer", key, v)
		}
		*dst = n
	}
	if level != "" {
		ls.Level = level
	}
	if _, err := core.ParseLevel(ls.Level); err != nil {
		return ls, err
	}
	if s := strings.ToLower(ls.Syntax); s != "" && s != "text" && s != "json" {
		return ls, fmt.Errorf("[core] log_syntax = %q: want text or json", ls.Syntax)
	}
	return ls, nil
}

// engineSetup is what newEngine built: the engine, its request meta and
// first-round workers, and what must be closed after it.
type engineSetup struct {
	stoq          *core.Stoq
	requestMeta   *core.RequestMeta
	startDispatch []string
	logCloser     io.Closer
}

// close closes the engine and the log file.
func (s *engineSetup) close() error {
	err := s.stoq.Close()
	if s.logCloser != nil {
		err = errors.Join(err, s.logCloser.Close())
	}
	return err
}

// engineMode says which command builds the engine.
type engineMode int

const (
	scanMode engineMode = iota
	runMode
)

// newEngine turns the flags and stoq.cfg into an engine. With no connector
// chosen by -C or stoq.cfg, responses go to the built-in stdout connector:
// indented for scan, one compact line per response for run.
func newEngine(cmd *cobra.Command, env *Env, f *engineFlags, mode engineMode) (*engineSetup, error) {
	cfg, err := loadConfig(env)
	if err != nil {
		return nil, err
	}
	for flag, values := range map[string]*[]string{
		"start-dispatch": &f.startDispatch, "always-dispatch": &f.alwaysDispatch,
		"dispatchers": &f.dispatchers, "decorators": &f.decorators, "connectors": &f.connectors,
		"dest-archivers": &f.destArchivers, "source-archivers": &f.sourceArchivers, "providers": &f.providers,
	} {
		list, err := pluginNameList(flag, *values)
		if err != nil {
			return nil, err
		}
		*values = list
	}
	cmdlineOpts, err := parsePluginOpts(f.pluginOpts)
	if err != nil {
		return nil, err
	}
	requestMeta := core.NewRequestMeta()
	requestMeta.Source = f.requestSource
	if requestMeta.ExtraData, err = parseRequestExtra(f.requestExtra); err != nil {
		return nil, err
	}
	ls, err := logSettings(cfg, f.logLevel)
	if err != nil {
		return nil, usageErrorf("%s: %w", env.ConfigFile, err)
	}
	if f.logLevel != "" {
		if _, err := core.ParseLevel(f.logLevel); err != nil {
			return nil, usageErrorf("--log-level: %w", err)
		}
	}
	logger, logCloser, err := core.NewLogger(ls, env.Stderr)
	if err != nil {
		return nil, usageErrorf("logging: %w", err)
	}

	connectors := f.connectors
	var libraryOpts map[string]map[string]string
	if len(connectors) == 0 && len(core.SplitList(cfg["core"]["connectors"])) == 0 {
		connectors = []string{stdoutConnectorName}
		if mode == runMode {
			libraryOpts = map[string]map[string]string{stdoutConnectorName: {"compactly": "true"}}
		}
	}
	opts := []core.Option{
		core.WithConfig(cfg),
		core.WithLogger(logger),
		core.WithPluginDirs(append([]string{env.PluginsDir()}, f.pluginDirs...)...),
		core.WithProviders(f.providers...),
		core.WithSourceArchivers(f.sourceArchivers...),
		core.WithDestArchivers(f.destArchivers...),
		core.WithConnectors(connectors...),
		core.WithDispatchers(f.dispatchers...),
		core.WithDecorators(f.decorators...),
		core.WithAlwaysDispatch(f.alwaysDispatch...),
		core.WithPluginOptions(libraryOpts),
		core.WithCommandLineOptions(cmdlineOpts),
	}
	if strings.TrimSpace(cfg["core"]["spool_dir"]) == "" {
		// Results a connector fails to save wait here to be re-sent.
		opts = append(opts, core.WithSettings(core.Settings{SpoolDir: env.SpoolDir()}))
	}
	if cmd.Flags().Changed("max-recursion") {
		if f.maxRecursion < 0 {
			_ = logCloser.Close()
			return nil, usageErrorf("--max-recursion %d: must not be negative", f.maxRecursion)
		}
		opts = append(opts, core.WithMaxRecursion(f.maxRecursion))
	}
	s, err := core.New(opts...)
	if err != nil {
		_ = logCloser.Close()
		return nil, usageError(err)
	}
	setup := &engineSetup{stoq: s, requestMeta: requestMeta, startDispatch: f.startDispatch, logCloser: logCloser}
	// The engine checks every role's plugins; start dispatch is only used
	// at the first scan, so check it now: a typo is an error, not a scan
	// that quietly records it.
	for _, name := range f.startDispatch {
		inst, err := s.LoadPlugin(name)
		if err == nil && core.ClassesOf(inst)&core.ClassWorker == 0 {
			err = fmt.Errorf("plugin is a %s, not a Worker", core.ClassesOf(inst))
		}
		if err != nil {
			_ = setup.close()
			return nil, usageErrorf("start dispatch %q: %w", name, err)
		}
	}
	for _, name := range sortedNames(cmdlineOpts) {
		if _, ok := core.LookupPlugin(name); !ok {
			fmt.Fprintf(env.Stderr, "stoq: warning: --plugin-opts names %s, which is not linked into this stoq\n", name)
		}
	}
	// The stdout connector writes to this command's stdout, not the
	// process's: tests and embedding programs pass their own.
	for _, name := range s.Settings().Connectors {
		if inst, err := s.LoadPlugin(name); err == nil {
			if c, ok := inst.(*stdoutConnector); ok {
				c.setOutput(env.Stdout)
			}
		}
	}
	return setup, nil
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
