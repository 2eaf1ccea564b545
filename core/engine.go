package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrNoProviders is returned by Run when no provider plugin is configured.
var ErrNoProviders = errors.New("no provider plugins configured: choose one with -P/--providers or [core] providers in stoq.cfg")

// Stoq is the scan engine: it loads plugins, scans payloads and requests,
// and runs providers. It is safe for concurrent use.
type Stoq struct {
	settings     Settings
	maxRecursion int
	log          *slog.Logger
	logCloser    io.Closer
	config       INI
	libraryOpts  map[string]map[string]string
	cmdlineOpts  map[string]map[string]string
	sem          chan struct{}

	mu     sync.Mutex
	loaded map[string]*loadedPlugin

	providers       []*loadedPlugin
	sourceArchivers map[string]*loadedPlugin
	destArchivers   []*loadedPlugin
	connectors      []*loadedPlugin
	dispatchers     []*loadedPlugin
	decorators      []*loadedPlugin
}

// loadedPlugin is a constructed plugin instance with the settings the engine
// needs to call it.
type loadedPlugin struct {
	name     string
	instance any
	classes  Class
	timeout  time.Duration
	required []string
	log      *slog.Logger
	err      error // construction failed: every use reports it
}

// New builds an engine: it reads stoq.cfg when one is given, applies the
// options over it, and loads every plugin named for a role (providers,
// archivers, connectors, dispatchers, decorators, always_dispatch). A plugin
// that is unknown or fails to start is an error here, not at the first scan.
func New(opts ...Option) (*Stoq, error) {
	o := &engineOptions{}
	for _, opt := range opts {
		opt(o)
	}
	cfg := o.config
	if cfg == nil && o.configFile != "" {
		var err error
		if cfg, err = ReadINI(o.configFile); err != nil {
			return nil, fmt.Errorf("reading stoq config: %w", err)
		}
	}
	if cfg == nil {
		cfg = INI{}
	}
	fromFile, err := settingsFromINI(cfg, o.configFile)
	if err != nil {
		return nil, err
	}
	settings := fromFile
	merge(&settings, o.settings)
	if len(o.settings.PluginDirs) > 0 && len(fromFile.PluginDirs) > 0 {
		settings.PluginDirs = append(append([]string(nil), o.settings.PluginDirs...), fromFile.PluginDirs...)
	}
	applyDefaults(&settings)

	s := &Stoq{
		settings:     settings,
		maxRecursion: settings.MaxRecursion,
		config:       cfg,
		libraryOpts:  o.libraryOpts,
		cmdlineOpts:  o.cmdlineOpts,
		sem:          make(chan struct{}, settings.Concurrency),
		loaded:       map[string]*loadedPlugin{},
	}
	if o.maxRecursion != nil {
		s.maxRecursion = *o.maxRecursion
	}
	if s.maxRecursion < 0 {
		return nil, fmt.Errorf("max_recursion must not be negative, got %d", s.maxRecursion)
	}
	if o.logger != nil {
		s.log = o.logger
	} else {
		l, closer, err := NewLogger(LogSettings{Dir: settings.LogDir, Level: settings.LogLevel, MaxBytes: settings.LogMaxBytes, BackupCount: settings.LogBackupCount, Syntax: settings.LogSyntax}, os.Stderr)
		if err != nil {
			return nil, err
		}
		s.log, s.logCloser = l, closer
	}
	if err := s.loadRoles(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func applyDefaults(s *Settings) {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.MaxQueue, DefaultMaxQueue)
	def(&s.ProviderConsumers, DefaultProviderConsumers)
	def(&s.MaxRequiredWorkerDepth, DefaultMaxRequiredWorkerDepth)
	def(&s.Concurrency, defaultConcurrency())
	def(&s.LogMaxBytes, DefaultLogMaxBytes)
	def(&s.LogBackupCount, DefaultLogBackupCount)
	if s.MaxRecursion == 0 {
		s.MaxRecursion = DefaultMaxRecursion
	}
	if s.DefaultTimeout <= 0 {
		s.DefaultTimeout = DefaultPluginTimeout
	}
	if s.SpoolRetryInterval <= 0 {
		s.SpoolRetryInterval = DefaultSpoolRetryInterval
	}
	if s.LogLevel == "" {
		s.LogLevel = "info"
	}
	if s.LogSyntax == "" {
		s.LogSyntax = "text"
	}
}

// settingsFromINI reads the [core] section of stoq.cfg.
func settingsFromINI(cfg INI, file string) (Settings, error) {
	var s Settings
	sec := cfg["core"]
	if sec == nil {
		return s, nil
	}
	where := "stoq.cfg"
	if file != "" {
		where = file
	}
	ints := []struct {
		key string
		dst *int
	}{
		{"max_queue", &s.MaxQueue}, {"provider_consumers", &s.ProviderConsumers},
		{"max_recursion", &s.MaxRecursion}, {"max_required_worker_depth", &s.MaxRequiredWorkerDepth},
		{"max_concurrency", &s.Concurrency}, {"log_maxbytes", &s.LogMaxBytes},
		{"log_backup_count", &s.LogBackupCount},
	}
	for _, it := range ints {
		v, ok := sec[it.key]
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(v), &n); err != nil || n < 0 {
			return s, fmt.Errorf("%s: [core] %s = %q: want a non-negative integer", where, it.key, v)
		}
		*it.dst = n
	}
	lists := []struct {
		key string
		dst *[]string
	}{
		{"plugin_dir_list", &s.PluginDirs}, {"providers", &s.Providers},
		{"source_archivers", &s.SourceArchivers}, {"dest_archivers", &s.DestArchivers},
		{"connectors", &s.Connectors}, {"dispatchers", &s.Dispatchers},
		{"decorators", &s.Decorators}, {"always_dispatch", &s.AlwaysDispatch},
	}
	for _, it := range lists {
		*it.dst = SplitList(sec[it.key])
	}
	s.LogDir = strings.TrimSpace(sec["log_dir"])
	s.SpoolDir = strings.TrimSpace(sec["spool_dir"])
	if v := strings.TrimSpace(sec["spool_retry_interval"]); v != "" {
		d, ok := parseDuration(v)
		if !ok || d <= 0 {
			return s, fmt.Errorf("%s: [core] spool_retry_interval = %q: want seconds or a duration such as 1m", where, v)
		}
		s.SpoolRetryInterval = d
	}
	s.LogLevel = strings.TrimSpace(sec["log_level"])
	s.LogSyntax = strings.ToLower(strings.TrimSpace(sec["log_syntax"]))
	if s.LogSyntax != "" && s.LogSyntax != "text" && s.LogSyntax != "json" {
		return s, fmt.Errorf("%s: [core] log_syntax = %q: want text or json", where, s.LogSyntax)
	}
	return s, nil
}

// Settings returns the engine's resolved [core] settings.
func (s *Stoq) Settings() Settings { return s.settings }

// Logger is the engine's logger.
func (s *Stoq) Logger() *slog.Logger { return s.log }

func (s *Stoq) loadRoles() error {
	load := func(role string, want Class, names []string) ([]*loadedPlugin, error) {
		var out []*loadedPlugin
		seen := map[string]bool{}
		for _, name := range names {
			if seen[name] {
				continue
			}
			seen[name] = true
			lp := s.plugin(name)
			if lp.err != nil {
				return nil, fmt.Errorf("%s %q: %w", role, name, lp.err)
			}
			if lp.classes&want == 0 {
				return nil, fmt.Errorf("%s %q: plugin is a %s, not a %s", role, name, lp.classes, Class(want))
			}
			out = append(out, lp)
		}
		return out, nil
	}
	var err error
	if s.providers, err = load("provider", ClassProvider, s.settings.Providers); err != nil {
		return err
	}
	src, err := load("source archiver", ClassArchiver, s.settings.SourceArchivers)
	if err != nil {
		return err
	}
	s.sourceArchivers = map[string]*loadedPlugin{}
	for _, lp := range src {
		if _, ok := lp.instance.(SourceArchiver); !ok {
			return fmt.Errorf("source archiver %q: plugin cannot load payloads (it has no Get)", lp.name)
		}
		s.sourceArchivers[lp.name] = lp
	}
	if s.destArchivers, err = load("dest archiver", ClassArchiver, s.settings.DestArchivers); err != nil {
		return err
	}
	for _, lp := range s.destArchivers {
		if _, ok := lp.instance.(Archiver); !ok {
			return fmt.Errorf("dest archiver %q: plugin cannot archive payloads (it has no Archive)", lp.name)
		}
	}
	if s.connectors, err = load("connector", ClassConnector, s.settings.Connectors); err != nil {
		return err
	}
	if s.dispatchers, err = load("dispatcher", ClassDispatcher, s.settings.Dispatchers); err != nil {
		return err
	}
	if s.decorators, err = load("decorator", ClassDecorator, s.settings.Decorators); err != nil {
		return err
	}
	if _, err = load("always_dispatch worker", ClassWorker, s.settings.AlwaysDispatch); err != nil {
		return err
	}
	return nil
}

// LoadPlugin returns the engine's instance of the named plugin, constructing
// it on first use with its merged configuration.
func (s *Stoq) LoadPlugin(name string) (any, error) {
	lp := s.plugin(name)
	return lp.instance, lp.err
}

// plugin returns the loaded plugin called name, loading it once. Failures
// are cached, so a bad plugin is reported, never retried in a loop.
func (s *Stoq) plugin(name string) *loadedPlugin {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lp, ok := s.loaded[name]; ok {
		return lp
	}
	lp := s.construct(name)
	s.loaded[name] = lp
	return lp
}

func (s *Stoq) construct(name string) *loadedPlugin {
	lp := &loadedPlugin{name: name, log: s.log.With("plugin", name)}
	info, ok := LookupPlugin(name)
	if !ok {
		lp.err = s.unknownPluginError(name)
		return lp
	}
	cfg, err := s.PluginConfig(name)
	if err != nil {
		lp.err = err
		return lp
	}
	if lp.timeout, err = cfg.Duration("timeout", s.settings.DefaultTimeout); err != nil {
		lp.err = err
		return lp
	}
	if lp.timeout <= 0 {
		lp.timeout = s.settings.DefaultTimeout
	}
	lp.required = cfg.List("required_workers", nil)
	inst, err := safeConstruct(info, cfg, lp.log)
	if err != nil {
		lp.err = fmt.Errorf("plugin %s failed to start: %w", name, err)
		return lp
	}
	lp.instance, lp.classes = inst, ClassesOf(inst)
	return lp
}

func safeConstruct(info PluginInfo, cfg *Config, log *slog.Logger) (inst any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in constructor: %v", r)
		}
	}()
	inst, err = info.New(cfg, log)
	if err == nil && inst == nil {
		err = errors.New("constructor returned no plugin")
	}
	return inst, err
}

func (s *Stoq) unknownPluginError(name string) error {
	if dir := s.installedDir(name); dir != "" {
		return fmt.Errorf("plugin %s is installed in %s but not linked into this binary: rebuild with `stoq install %s --upgrade`", name, dir, dir)
	}
	known := make([]string, 0)
	for _, p := range Plugins() {
		known = append(known, p.Name)
	}
	return fmt.Errorf("plugin %s is not available (linked plugins: %s)", name, strings.Join(known, ", "))
}

// installedDir returns the folder of an installed plugin called name: the
// first plugin directory holding NAME/NAME.stoq.
func (s *Stoq) installedDir(name string) string {
	if !ValidPluginName(name) {
		return ""
	}
	for _, d := range s.settings.PluginDirs {
		dir := filepath.Join(d, name)
		if _, err := os.Stat(filepath.Join(dir, name+".stoq")); err == nil {
			return dir
		}
	}
	return ""
}

// PluginConfig merges the configuration of the named plugin, lowest
// precedence first: embedded manifest, installed manifest
// ($PLUGIN_DIR/NAME/NAME.stoq), stoq.cfg [NAME], library options, command
// line options.
func (s *Stoq) PluginConfig(name string) (*Config, error) {
	var layers []ConfigLayer
	if info, ok := LookupPlugin(name); ok {
		layers = append(layers, ConfigLayer{Source: "embedded manifest", Values: info.Manifest.Options})
	}
	dir := s.installedDir(name)
	if dir != "" {
		path := filepath.Join(dir, name+".stoq")
		m, err := ReadManifest(path)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", name, err)
		}
		if m.Name != name {
			return nil, fmt.Errorf("plugin %s: %s names plugin %q", name, path, m.Name)
		}
		layers = append(layers, ConfigLayer{Source: path, Values: m.Options})
	}
	if sec, ok := s.config[strings.ToLower(name)]; ok {
		layers = append(layers, ConfigLayer{Source: "stoq.cfg [" + name + "]", Values: sec})
	}
	if o := s.libraryOpts[name]; o != nil {
		layers = append(layers, ConfigLayer{Source: "plugin options", Values: o})
	}
	if o := s.cmdlineOpts[name]; o != nil {
		layers = append(layers, ConfigLayer{Source: "--plugin-opts", Values: o})
	}
	return NewConfig(name, dir, layers...), nil
}

// Close closes every loaded plugin that holds resources, and the log file.
func (s *Stoq) Close() error {
	s.mu.Lock()
	names := sortedKeys(s.loaded)
	var errs []error
	for _, n := range names {
		if c, ok := s.loaded[n].instance.(Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing plugin %s: %w", n, err))
			}
		}
	}
	s.loaded = map[string]*loadedPlugin{}
	s.mu.Unlock()
	if s.logCloser != nil {
		errs = append(errs, s.logCloser.Close())
	}
	return errors.Join(errs...)
}

// HealthCheck asks every loaded plugin that implements HealthChecker whether
// what it depends on is usable, each within its timeout, and returns the
// failures by plugin name (empty when all are healthy).
func (s *Stoq) HealthCheck(ctx context.Context) map[string]error {
	s.mu.Lock()
	var checks []*loadedPlugin
	for _, n := range sortedKeys(s.loaded) {
		if _, ok := s.loaded[n].instance.(HealthChecker); ok {
			checks = append(checks, s.loaded[n])
		}
	}
	s.mu.Unlock()
	out := map[string]error{}
	for _, lp := range checks {
		if err := s.call(ctx, lp, lp.instance.(HealthChecker).HealthCheck); err != nil {
			out[lp.name] = err
		}
	}
	return out
}
