package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/stoq-go/stoq/core/v3"
)

// ErrNoProviders is returned by Run when no provider plugin is configured.
var ErrNoProviders = errors.New("no provider plugins configured: choose one with -P/--providers or [core] providers in stoq.cfg")

// Stoq is the scan engine: it loads plugins, scans payloads and requests,
// and runs providers. It is safe for concurrent use.
type Stoq struct {
	settings  Settings
	log       *slog.Logger
	logCloser io.Closer
	plugins   *loader
	sem       chan struct{} // bounds the plugin calls in flight

	// The plugins of each role, loaded by New.
	providers       []*plugin
	sourceArchivers map[string]*plugin
	destArchivers   []*plugin
	connectors      []*plugin
	dispatchers     []*plugin
	decorators      []*plugin

	// What observe.go reports and samples.
	observer Observer
	observed observed
}

// New builds an engine: it reads stoq.cfg when one is given, resolves the
// [core] settings (see Settings for the precedence), and loads every
// plugin named for a role (providers, archivers, connectors, dispatchers,
// decorators, always_dispatch). A setting out of range, or a plugin that is
// unknown or fails to start, is an error here, not at the first scan.
func New(opts ...Option) (*Stoq, error) {
	o := newOptions(opts)
	cfg, err := o.readConfig()
	if err != nil {
		return nil, err
	}
	settings, warnings, err := resolveSettings(o.settingsLayers(cfg))
	if err != nil {
		return nil, err
	}
	s := &Stoq{settings: settings, sem: make(chan struct{}, settings.Concurrency), observer: o.observer}
	if err := s.setUpLogging(o); err != nil {
		return nil, err
	}
	for _, w := range warnings {
		s.log.Warn(w)
	}
	s.plugins = &loader{
		stoqCfg:        cfg,
		libraryOpts:    o.libraryOpts,
		cmdlineOpts:    o.cmdlineOpts,
		pluginDirs:     settings.PluginDirs,
		defaultTimeout: settings.DefaultTimeout,
		log:            s.log,
		loaded:         map[string]*plugin{},
	}
	if o.noRoles {
		return s, nil
	}
	if err := s.loadRoles(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// readConfig returns the stoq.cfg given by WithConfig or WithConfigFile.
func (o *options) readConfig() (INI, error) {
	if o.config != nil {
		return o.config, nil
	}
	if o.configFile == "" {
		return INI{}, nil
	}
	cfg, err := ReadINI(o.configFile)
	if err != nil {
		return nil, fmt.Errorf("reading stoq config: %w", err)
	}
	return cfg, nil
}

// setUpLogging uses the logger given by WithLogger, or builds one from the
// log_* settings writing to WithLogOutput's writer (stderr by default).
func (s *Stoq) setUpLogging(o *options) error {
	if o.logger != nil {
		s.log = o.logger
		return nil
	}
	out := o.logOutput
	if out == nil {
		out = os.Stderr
	}
	l, closer, err := newLogger(s.settings, out)
	if err != nil {
		return err
	}
	s.log, s.logCloser = l, closer
	return nil
}

// loadRoles loads the plugins of every role and checks that each can play
// it.
func (s *Stoq) loadRoles() error {
	var err error
	st := s.settings
	if s.providers, err = s.plugins.role("provider", ClassProvider, st.Providers); err != nil {
		return err
	}
	src, err := s.plugins.role("source archiver", ClassArchiver, st.SourceArchivers)
	if err != nil {
		return err
	}
	s.sourceArchivers = map[string]*plugin{}
	for _, p := range src {
		if _, ok := p.instance.(core.SourceArchiver); !ok {
			return fmt.Errorf("source archiver %q: plugin cannot load payloads (it has no Get)", p.name)
		}
		s.sourceArchivers[p.name] = p
	}
	if s.destArchivers, err = s.plugins.role("dest archiver", ClassArchiver, st.DestArchivers); err != nil {
		return err
	}
	for _, p := range s.destArchivers {
		if _, ok := p.instance.(core.Archiver); !ok {
			return fmt.Errorf("dest archiver %q: plugin cannot archive payloads (it has no Archive)", p.name)
		}
	}
	if s.connectors, err = s.plugins.role("connector", ClassConnector, st.Connectors); err != nil {
		return err
	}
	if s.dispatchers, err = s.plugins.role("dispatcher", ClassDispatcher, st.Dispatchers); err != nil {
		return err
	}
	if s.decorators, err = s.plugins.role("decorator", ClassDecorator, st.Decorators); err != nil {
		return err
	}
	_, err = s.plugins.role("always_dispatch worker", ClassWorker, st.AlwaysDispatch)
	return err
}

// Settings returns the [core] settings the engine uses.
func (s *Stoq) Settings() Settings { return s.settings }

// Logger is the engine's logger.
func (s *Stoq) Logger() *slog.Logger { return s.log }

// LoadPlugin returns the engine's instance of the named plugin,
// constructing it on first use with its merged configuration.
func (s *Stoq) LoadPlugin(name string) (any, error) {
	p := s.plugins.get(name)
	return p.instance, p.err
}

// PluginConfig returns the configuration the named plugin is (or would
// be) constructed with: its options merged by precedence.
func (s *Stoq) PluginConfig(name string) (*core.Config, error) {
	cfg, _, err := s.plugins.pluginConfig(name)
	return cfg, err
}

// Close closes every loaded plugin that holds resources, and the log file.
func (s *Stoq) Close() error {
	err := s.plugins.closeAll()
	if s.logCloser != nil {
		err = errors.Join(err, s.logCloser.Close())
	}
	return err
}

// HealthCheck asks every loaded plugin that implements core.HealthChecker
// whether what it depends on is usable, each within its timeout, and
// returns the failures by plugin name (empty when all are healthy).
func (s *Stoq) HealthCheck(ctx context.Context) map[string]error {
	out := map[string]error{}
	for _, p := range s.plugins.all() {
		hc, ok := p.instance.(core.HealthChecker)
		if !ok {
			continue
		}
		if err := s.call(ctx, p, 0, hc.HealthCheck); err != nil {
			out[p.name] = err
		}
	}
	return out
}
