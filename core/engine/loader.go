package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// The loader is where plugins come from: it owns the option layers of
// every plugin, constructs a plugin the first time the engine asks for it,
// and keeps the instance, or the reason it cannot load, so that a plugin
// is built once and a broken one is reported, never retried in a loop. The
// scan code only asks it for a loaded plugin by name.

// plugin is a constructed plugin instance with what the engine needs to
// call it.
type plugin struct {
	name     string
	instance any
	classes  Class
	timeout  time.Duration // the deadline of each call
	required []string      // required_workers
	log      *slog.Logger
	err      error // construction failed: every use reports it
}

// loader constructs and caches the plugins of one engine.
type loader struct {
	stoqCfg        INI // stoq.cfg: [NAME] sections are plugin options
	libraryOpts    map[string]map[string]string
	cmdlineOpts    map[string]map[string]string
	pluginDirs     []string
	defaultTimeout time.Duration
	log            *slog.Logger

	mu     sync.Mutex
	loaded map[string]*plugin
}

// get returns the plugin called name, constructing it on first use.
func (l *loader) get(name string) *plugin {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.loaded[name]; ok {
		return p
	}
	p := l.construct(name)
	l.loaded[name] = p
	return p
}

// construct builds the plugin called name from its merged configuration.
func (l *loader) construct(name string) *plugin {
	p := &plugin{name: name, log: l.log.With("plugin", name)}
	entry, ok := registry.Lookup(name)
	if !ok {
		p.err = l.unknownPluginError(name)
		return p
	}
	cfg, manifest, err := l.pluginConfig(name)
	if err != nil {
		p.err = err
		return p
	}
	if err := manifest.CheckMinStoqVersion(core.Version); err != nil {
		// As stoQ: a warning, since the plugin is linked in and may work.
		p.log.Warn("plugin may not work with this stoq", "reason", err, "manifest", manifestSource(manifest))
	}
	if p.timeout, err = cfg.Duration("timeout", l.defaultTimeout); err != nil {
		p.err = err
		return p
	}
	if p.timeout <= 0 {
		p.timeout = l.defaultTimeout
	}
	p.required = cfg.List("required_workers", nil)
	inst, err := construct(entry.New.(constructor), cfg, p.log)
	if err != nil {
		p.err = fmt.Errorf("plugin %s failed to start: %w", name, err)
		return p
	}
	p.instance, p.classes = inst, ClassesOf(inst)
	return p
}

// construct calls a plugin's constructor, a panic included.
func construct(newPlugin constructor, cfg *core.Config, log *slog.Logger) (inst any, err error) {
	err = protect(func() error {
		var err error
		inst, err = newPlugin(cfg, log)
		return err
	})
	if err == nil && inst == nil {
		err = errors.New("constructor returned no plugin")
	}
	return inst, err
}

func manifestSource(m *core.Manifest) string {
	if m.Path != "" {
		return m.Path
	}
	return "embedded"
}

// unknownPluginError explains a name that is not linked in: installed but
// not built in, or unknown.
func (l *loader) unknownPluginError(name string) error {
	if dir := l.installedDir(name); dir != "" {
		return fmt.Errorf("plugin %s is installed in %s but not linked into this binary: rebuild with `stoq install %s --upgrade`", name, dir, dir)
	}
	var known []string
	for _, e := range registry.All() {
		known = append(known, e.Name)
	}
	return fmt.Errorf("plugin %s is not available (linked plugins: %s)", name, strings.Join(known, ", "))
}

// installedDir returns the folder of an installed plugin called name: the
// first plugin directory holding NAME/NAME.stoq.
func (l *loader) installedDir(name string) string {
	if !registry.ValidName(name) {
		return ""
	}
	for _, d := range l.pluginDirs {
		dir := filepath.Join(d, name)
		if fi, err := os.Stat(filepath.Join(dir, name+".stoq")); err == nil && fi.Mode().IsRegular() {
			return dir
		}
	}
	return ""
}

// pluginConfig merges the options of the named plugin, lowest precedence
// first: embedded manifest, installed manifest ($PLUGIN_DIR/NAME/NAME.stoq),
// stoq.cfg [NAME], library options, command line options. It returns the
// manifest that describes the plugin: the installed one when there is one.
func (l *loader) pluginConfig(name string) (*core.Config, *core.Manifest, error) {
	var layers []core.ConfigLayer
	var manifest *core.Manifest
	if e, ok := registry.Lookup(name); ok {
		manifest = e.Manifest.(*core.Manifest)
		layers = append(layers, core.ConfigLayer{Source: "embedded manifest", Values: manifest.Options})
	}
	dir := l.installedDir(name)
	if dir != "" {
		path := filepath.Join(dir, name+".stoq")
		m, err := core.ReadManifest(path)
		if err != nil {
			return nil, nil, fmt.Errorf("plugin %s: %w", name, err)
		}
		if m.Name != name {
			return nil, nil, fmt.Errorf("plugin %s: %s names plugin %q", name, path, m.Name)
		}
		manifest = m
		layers = append(layers, core.ConfigLayer{Source: path, Values: m.Options})
	}
	if sec, ok := l.stoqCfg[strings.ToLower(name)]; ok {
		layers = append(layers, core.ConfigLayer{Source: "stoq.cfg [" + name + "]", Values: sec})
	}
	if o := l.libraryOpts[name]; o != nil {
		layers = append(layers, core.ConfigLayer{Source: "plugin options", Values: o})
	}
	if o := l.cmdlineOpts[name]; o != nil {
		layers = append(layers, core.ConfigLayer{Source: "--plugin-opts", Values: o})
	}
	if manifest == nil {
		manifest = &core.Manifest{Name: name}
	}
	return core.NewConfig(name, dir, layers...), manifest, nil
}

// role loads the plugins named for a role ("connector"), a list the
// settings hold without duplicates, and checks that each has the class the
// role needs.
func (l *loader) role(role string, want Class, names []string) ([]*plugin, error) {
	var out []*plugin
	for _, name := range names {
		p := l.get(name)
		if p.err != nil {
			return nil, fmt.Errorf("%s %q: %w", role, name, p.err)
		}
		if p.classes&want == 0 {
			return nil, fmt.Errorf("%s %q: plugin is a %s, not a %s", role, name, p.classes, want)
		}
		out = append(out, p)
	}
	return out, nil
}

// all returns every plugin loaded so far, by name.
func (l *loader) all() []*plugin {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*plugin, 0, len(l.loaded))
	for _, name := range slices.Sorted(maps.Keys(l.loaded)) {
		out = append(out, l.loaded[name])
	}
	return out
}

// closeAll closes every loaded plugin that holds resources.
func (l *loader) closeAll() error {
	var errs []error
	for _, p := range l.all() {
		if c, ok := p.instance.(core.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing plugin %s: %w", p.name, err))
			}
		}
	}
	l.mu.Lock()
	l.loaded = map[string]*plugin{}
	l.mu.Unlock()
	return errors.Join(errs...)
}
