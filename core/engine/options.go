package engine

import (
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
)

// Option configures an engine built by New. Options setting a [core] key
// rank above stoq.cfg and below the command line (see Settings).
type Option func(*options)

type options struct {
	configFile  string
	config      INI
	logger      *slog.Logger
	logOutput   io.Writer
	commandLine layerValues
	flags       map[string]string // [core] key → the flag that set it
	settings    layerValues
	defaults    layerValues
	libraryOpts map[string]map[string]string
	cmdlineOpts map[string]map[string]string
	observer    Observer // WithObserver
	noRoles     bool     // WithoutRoles
}

func newOptions(opts []Option) *options {
	o := &options{commandLine: layerValues{}, flags: map[string]string{}, settings: layerValues{}, defaults: layerValues{}}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithConfigFile reads stoq.cfg from path: its [core] section and one
// section of options per plugin. A missing or malformed file is an error of
// New.
func WithConfigFile(path string) Option { return func(o *options) { o.configFile = path } }

// WithConfig uses an already parsed stoq.cfg.
func WithConfig(cfg INI) Option { return func(o *options) { o.config = cfg } }

// WithLogger sends the engine's and the plugins' logs to l; the log_*
// settings are then not used.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithLogOutput sets where the engine's logger writes (os.Stderr by
// default), in the format and at the level of the log_* settings, with
// log_dir adding a rotated file.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// WithSetting sets a [core] setting by its stoq.cfg key, as a program's
// option: it wins over stoq.cfg and loses to the command line.
func WithSetting(key, value string) Option {
	return func(o *options) { o.settings.set(strings.ToLower(key), value) }
}

// WithDefault changes the default of a [core] setting for this engine: a
// value stoq.cfg and every option still override. The stoq command uses it
// for the spool folder in $STOQ_HOME and the stdout connector.
func WithDefault(key, value string) Option {
	return func(o *options) { o.defaults.set(strings.ToLower(key), value) }
}

// WithCommandLine sets a [core] setting given on the command line by flag
// (named in errors, "--max-recursion"): it wins over every other source.
// For a list key (connectors, dispatchers, ...), values given twice
// accumulate.
func WithCommandLine(flag, key, value string) Option {
	return func(o *options) {
		key = strings.ToLower(key)
		if isListKey(key) {
			o.commandLine.appendList(key, []string{value})
		} else {
			o.commandLine.set(key, value)
		}
		o.flags[key] = flag
	}
}

func isListKey(key string) bool {
	return key == "plugin_dir_list" || slices.ContainsFunc(coreSettings, func(st setting) bool { return st.key == key && st.list })
}

// WithMaxRecursion sets max_recursion, 0 included (no extraction round:
// every payload left unprocessed gets the "Final worker round" Error).
func WithMaxRecursion(n int) Option { return WithSetting("max_recursion", strconv.Itoa(n)) }

// WithPluginDirs adds folders holding installed plugins (NAME/NAME.stoq),
// searched before those of stoq.cfg's plugin_dir_list.
func WithPluginDirs(dirs ...string) Option {
	return func(o *options) { o.settings.appendList("plugin_dir_list", dirs) }
}

// WithProviders chooses the providers of run mode.
func WithProviders(names ...string) Option { return roleOption("providers", names) }

// WithSourceArchivers chooses the archivers that load provider tasks.
func WithSourceArchivers(names ...string) Option { return roleOption("source_archivers", names) }

// WithDestArchivers chooses the archivers that save payloads after a scan.
func WithDestArchivers(names ...string) Option { return roleOption("dest_archivers", names) }

// WithConnectors chooses the connectors that save every response.
func WithConnectors(names ...string) Option { return roleOption("connectors", names) }

// WithDispatchers chooses the dispatchers run on every payload every round.
func WithDispatchers(names ...string) Option { return roleOption("dispatchers", names) }

// WithDecorators chooses the decorators run on every finished response.
func WithDecorators(names ...string) Option { return roleOption("decorators", names) }

// WithAlwaysDispatch chooses workers that run on every payload.
func WithAlwaysDispatch(names ...string) Option { return roleOption("always_dispatch", names) }

func roleOption(key string, names []string) Option {
	return func(o *options) { o.settings.appendList(key, names) }
}

// WithPluginOptions sets plugin options from the calling program (plugin
// name → option → value). They rank below the command line and above
// stoq.cfg.
func WithPluginOptions(opts map[string]map[string]string) Option {
	return func(o *options) { o.libraryOpts = mergeOpts(o.libraryOpts, opts) }
}

// WithCommandLineOptions sets plugin options given on the command line
// (--plugin-opts); they take precedence over every other source.
func WithCommandLineOptions(opts map[string]map[string]string) Option {
	return func(o *options) { o.cmdlineOpts = mergeOpts(o.cmdlineOpts, opts) }
}

func mergeOpts(dst, src map[string]map[string]string) map[string]map[string]string {
	if dst == nil {
		dst = map[string]map[string]string{}
	}
	for name, kv := range src {
		if dst[name] == nil {
			dst[name] = map[string]string{}
		}
		for k, v := range kv {
			dst[name][strings.ToLower(k)] = v
		}
	}
	return dst
}

// settingsLayers lists the layers of [core] values, lowest precedence
// first, for resolveSettings.
func (o *options) settingsLayers(cfg INI) []settingsLayer {
	where := "stoq.cfg"
	if o.configFile != "" {
		where = o.configFile
	}
	keyValue := func(prefix string) func(k, v string) string {
		return func(k, v string) string {
			if v == "" {
				return prefix + k
			}
			return prefix + k + " = " + v
		}
	}
	return []settingsLayer{
		{values: o.defaults, describe: keyValue("default ")},
		{values: cfg["core"], describe: keyValue(where + ": [core] ")},
		{values: o.settings, describe: keyValue("engine option ")},
		{values: o.commandLine, describe: func(k, v string) string {
			flag := o.flags[k]
			if flag == "" {
				return keyValue("command line ")(k, v)
			}
			if v == "" {
				return flag
			}
			return flag + " " + v
		}},
	}
}
