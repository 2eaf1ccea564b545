package core

import (
	"log/slog"
	"runtime"
	"time"
)

// Settings are the engine's [core] settings. Zero values mean "not set":
// New fills them from stoq.cfg [core], then from the defaults below.
type Settings struct {
	MaxQueue               int      // max_queue: run-mode queue size (100)
	ProviderConsumers      int      // provider_consumers: run-mode scanners (2)
	MaxRecursion           int      // max_recursion: scan rounds (10)
	MaxRequiredWorkerDepth int      // max_required_worker_depth (10)
	Concurrency            int      // max_concurrency: plugin calls in flight per scan (2×GOMAXPROCS, at least 4)
	PluginDirs             []string // plugin_dir_list: folders of installed plugins
	Providers              []string // providers
	SourceArchivers        []string // source_archivers
	DestArchivers          []string // dest_archivers
	Connectors             []string // connectors
	Dispatchers            []string // dispatchers
	Decorators             []string // decorators
	AlwaysDispatch         []string // always_dispatch
	DefaultTimeout         time.Duration
	SpoolDir               string        // spool_dir: where responses a connector failed to save wait to be re-sent
	SpoolRetryInterval     time.Duration // spool_retry_interval: how often Run re-sends them (60 s)
	LogDir                 string        // log_dir
	LogLevel               string        // log_level (info)
	LogMaxBytes            int           // log_maxbytes (1500000)
	LogBackupCount         int           // log_backup_count (5)
	LogSyntax              string        // log_syntax: text or json
}

// Defaults of the [core] settings.
const (
	DefaultMaxQueue               = 100
	DefaultProviderConsumers      = 2
	DefaultMaxRecursion           = 10
	DefaultMaxRequiredWorkerDepth = 10
	DefaultPluginTimeout          = 60 * time.Second
	DefaultSpoolRetryInterval     = 60 * time.Second
	DefaultLogMaxBytes            = 1500000
	DefaultLogBackupCount         = 5
)

// Option configures an engine built by New.
type Option func(*engineOptions)

type engineOptions struct {
	settings     Settings
	configFile   string
	config       INI
	logger       *slog.Logger
	libraryOpts  map[string]map[string]string
	cmdlineOpts  map[string]map[string]string
	maxRecursion *int // explicit 0 is meaningful
}

// WithConfigFile reads stoq.cfg from path ([core] settings and one section of
// options per plugin). A missing or malformed file is an error of New.
func WithConfigFile(path string) Option { return func(o *engineOptions) { o.configFile = path } }

// WithConfig uses an already parsed stoq.cfg.
func WithConfig(cfg INI) Option { return func(o *engineOptions) { o.config = cfg } }

// WithLogger sends the engine's and the plugins' logs to l; otherwise New
// builds a logger from the log_* settings.
func WithLogger(l *slog.Logger) Option { return func(o *engineOptions) { o.logger = l } }

// WithSettings sets [core] settings; its non-zero fields win over stoq.cfg.
func WithSettings(s Settings) Option {
	return func(o *engineOptions) {
		merge(&o.settings, s)
		if s.MaxRecursion != 0 {
			n := s.MaxRecursion
			o.maxRecursion = &n
		}
	}
}

// WithMaxRecursion sets max_recursion, including 0 (no extraction rounds).
func WithMaxRecursion(n int) Option { return func(o *engineOptions) { o.maxRecursion = &n } }

// WithPluginDirs adds folders holding installed plugins (NAME/NAME.stoq).
func WithPluginDirs(dirs ...string) Option {
	return func(o *engineOptions) { o.settings.PluginDirs = append(o.settings.PluginDirs, dirs...) }
}

// WithProviders, WithConnectors and the like choose the plugins of each role.
func WithProviders(names ...string) Option {
	return func(o *engineOptions) { o.settings.Providers = append(o.settings.Providers, names...) }
}

// WithSourceArchivers chooses the archivers that load provider tasks.
func WithSourceArchivers(names ...string) Option {
	return func(o *engineOptions) { o.settings.SourceArchivers = append(o.settings.SourceArchivers, names...) }
}

// WithDestArchivers chooses the archivers that save payloads after a scan.
func WithDestArchivers(names ...string) Option {
	return func(o *engineOptions) { o.settings.DestArchivers = append(o.settings.DestArchivers, names...) }
}

// WithConnectors chooses the connectors that save every response.
func WithConnectors(names ...string) Option {
	return func(o *engineOptions) { o.settings.Connectors = append(o.settings.Connectors, names...) }
}

// WithDispatchers chooses the dispatchers run on every payload every round.
func WithDispatchers(names ...string) Option {
	return func(o *engineOptions) { o.settings.Dispatchers = append(o.settings.Dispatchers, names...) }
}

// WithDecorators chooses the decorators run on every finished response.
func WithDecorators(names ...string) Option {
	return func(o *engineOptions) { o.settings.Decorators = append(o.settings.Decorators, names...) }
}

// WithAlwaysDispatch chooses workers that run on every payload.
func WithAlwaysDispatch(names ...string) Option {
	return func(o *engineOptions) { o.settings.AlwaysDispatch = append(o.settings.AlwaysDispatch, names...) }
}

// WithPluginOptions sets plugin options from the calling program (plugin
// name → option → value). They rank below the command line and above
// stoq.cfg.
func WithPluginOptions(opts map[string]map[string]string) Option {
	return func(o *engineOptions) { o.libraryOpts = mergeOpts(o.libraryOpts, opts) }
}

// WithCommandLineOptions sets plugin options given on the command line
// (--plugin-opts); they take precedence over every other source.
func WithCommandLineOptions(opts map[string]map[string]string) Option {
	return func(o *engineOptions) { o.cmdlineOpts = mergeOpts(o.cmdlineOpts, opts) }
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
			dst[name][k] = v
		}
	}
	return dst
}

// merge copies the non-zero fields of src into dst.
func merge(dst *Settings, src Settings) {
	setInt := func(d *int, s int) {
		if s != 0 {
			*d = s
		}
	}
	setStr := func(d *string, s string) {
		if s != "" {
			*d = s
		}
	}
	setList := func(d *[]string, s []string) {
		if len(s) > 0 {
			*d = append([]string(nil), s...)
		}
	}
	setInt(&dst.MaxQueue, src.MaxQueue)
	setInt(&dst.ProviderConsumers, src.ProviderConsumers)
	setInt(&dst.MaxRecursion, src.MaxRecursion)
	setInt(&dst.MaxRequiredWorkerDepth, src.MaxRequiredWorkerDepth)
	setInt(&dst.Concurrency, src.Concurrency)
	setInt(&dst.LogMaxBytes, src.LogMaxBytes)
	setInt(&dst.LogBackupCount, src.LogBackupCount)
	if src.DefaultTimeout != 0 {
		dst.DefaultTimeout = src.DefaultTimeout
	}
	if src.SpoolRetryInterval != 0 {
		dst.SpoolRetryInterval = src.SpoolRetryInterval
	}
	setStr(&dst.LogDir, src.LogDir)
	setStr(&dst.SpoolDir, src.SpoolDir)
	setStr(&dst.LogLevel, src.LogLevel)
	setStr(&dst.LogSyntax, src.LogSyntax)
	setList(&dst.PluginDirs, src.PluginDirs)
	setList(&dst.Providers, src.Providers)
	setList(&dst.SourceArchivers, src.SourceArchivers)
	setList(&dst.DestArchivers, src.DestArchivers)
	setList(&dst.Connectors, src.Connectors)
	setList(&dst.Dispatchers, src.Dispatchers)
	setList(&dst.Decorators, src.Decorators)
	setList(&dst.AlwaysDispatch, src.AlwaysDispatch)
}

func defaultConcurrency() int {
	n := 2 * runtime.GOMAXPROCS(0)
	if n < 4 {
		n = 4
	}
	return n
}
