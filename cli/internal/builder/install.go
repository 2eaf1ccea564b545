package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoq-go/stoq/core/v3"
)

// InstallOptions says what stoq install does.
type InstallOptions struct {
	// Home is $STOQ_HOME.
	Home string
	// Spec is the plugin to install. With Rebuild and a zero Spec, install
	// only rebuilds the binary with the installed plugins (after a stoq
	// upgrade, say).
	Spec    Spec
	Rebuild bool
	// Catalog is where stoq:NAME, and the core and cli sources, come from.
	Catalog Catalog
	// InstallDir replaces $STOQ_HOME/plugins as the folder the plugin is
	// installed in (as NAME/).
	InstallDir string
	// Upgrade replaces an installed plugin (with a newer or older version).
	Upgrade bool
	// Force installs a plugin whose min_stoq_version this stoq does not meet.
	Force bool
	// CoreDir and CLIDir replace the catalogue's core and cli sources.
	CoreDir, CLIDir string
	// CoreVersion is the running core version (core.Version when empty).
	CoreVersion string
	// Environ is the environment of go commands (os.Environ() when nil).
	Environ []string
	// Seed is the running binary when it links plugins (a `stoq build`
	// binary such as make's bin/stoq): those $STOQ_HOME lacks are installed
	// too, from the folders it was built from (seed.go), and its core and
	// cli folders are used when $STOQ_HOME/src has none.
	Seed *Seed
	// Progress reports the steps; warnings show even when quiet.
	Progress *Progress
}

// InstallResult says what an install did.
type InstallResult struct {
	// Plugin is what was installed (nil for a rebuild).
	Plugin *Plugin
	// Dir is the plugin's installed folder.
	Dir string
	// Replaced is the installed plugin an upgrade replaced.
	Replaced *InstalledPlugin
	// Seeded are the plugins of the running binary installed with it.
	Seeded []InstalledPlugin
	Link   *LinkResult
}

func (opts InstallOptions) sources() sourceOptions {
	return sourceOptions{Catalog: opts.Catalog, CoreDir: opts.CoreDir, CLIDir: opts.CLIDir, CoreVersion: opts.CoreVersion, Seed: opts.Seed, Progress: opts.Progress}
}

// Install validates a plugin, copies it into $STOQ_HOME/plugins/NAME (or
// InstallDir/NAME) and builds $STOQ_HOME/bin/stoq linking the core, the cli
// and every installed plugin. Nothing changes until the plugin is fetched
// and validated, the Go toolchain found and the sources staged; a failed
// build puts back the previous plugin folder, sources and build files, and
// the previous binary is never touched (the new one is renamed over it).
func Install(ctx context.Context, opts InstallOptions) (*InstallResult, error) {
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	h := stoqHome{Dir: opts.Home}
	if err := os.MkdirAll(h.PluginsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("stoq home %s: %w", h.Dir, err)
	}
	unlock, st, err := lockHome(h, opts.Progress)
	if err != nil {
		return nil, err
	}
	defer unlock()
	t, err := findToolchain(ctx, opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was installed", err)
	}
	f, err := newFetcher(opts.Progress)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	change := newHomeChange(st)
	defer change.discard()
	result := &InstallResult{}
	installing := ""
	if !opts.Rebuild || opts.Spec.kind != 0 {
		if err := stagePlugin(ctx, f, t, h, opts, change, result); err != nil {
			return nil, err
		}
		installing = result.Plugin.Name
	}
	result.Seeded = stageSeeds(h, opts.Seed, installing, change, pickOptions{CoreVersion: opts.CoreVersion, Force: opts.Force}, opts.Progress)
	if err := change.stageSources(ctx, f, h, opts.sources()); err != nil {
		return nil, err
	}
	if result.Link, err = change.commit(ctx, h, t, opts.CoreVersion, opts.Progress); err != nil {
		return nil, err
	}
	return result, nil
}

// stagePlugin fetches and validates the plugin of opts.Spec, checks where
// it goes, copies it beside that folder and adds to change the move that
// puts it in place and its entry in installed.json.
func stagePlugin(ctx context.Context, f *fetcher, t *toolchain, h stoqHome, opts InstallOptions, change *homeChange, result *InstallResult) error {
	plugin, fetched, err := fetchAndValidate(ctx, f, t, opts.Spec, opts.Catalog, pickOptions{CoreVersion: opts.CoreVersion, Force: opts.Force}, opts.Progress)
	var bad *manifestError
	if errors.As(err, &bad) {
		also := ""
		if bad.err == nil {
			also = ", not " + opts.Spec.module
		}
		return fmt.Errorf("%s: %w%s; nothing was installed", opts.Spec.raw, err, also)
	}
	if err != nil {
		return fmt.Errorf("%w; nothing was installed", err)
	}
	target, err := installTarget(h, opts.InstallDir, plugin.Name)
	if err != nil {
		return err
	}
	old, installed := change.next.Plugins[plugin.Name]
	if err := refuseToReplace(target, plugin, old, installed, opts.Upgrade); err != nil {
		return err
	}
	if installed {
		result.Replaced = &old
	}

	done := opts.Progress.step(fmt.Sprintf("Copying %s %s into %s", plugin.Name, plugin.Version, target), 0)
	_, err = change.stageInstall(plugin, fetched.Dir, target, fetched.Origin.String())
	done(err)
	if err != nil {
		return fmt.Errorf("copying plugin %s: %w; nothing was installed", plugin.Name, err)
	}
	change.next.setDeclined(plugin.Name, false)
	plugin.Dir = target
	result.Plugin, result.Dir = plugin, target
	return nil
}

// installTarget is the folder plugin name installs into: NAME under
// installDir ($STOQ_HOME/plugins when ""), never a symbolic link and never
// outside installDir.
func installTarget(h stoqHome, installDir, name string) (string, error) {
	if installDir == "" {
		installDir = h.PluginsDir()
	}
	installDir, err := filepath.Abs(installDir)
	if err != nil {
		return "", err
	}
	target := filepath.Join(installDir, name)
	if !within(installDir, target) || filepath.Dir(target) != installDir {
		return "", fmt.Errorf("plugin name %q would install outside %s: refused", name, installDir)
	}
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("%s is a symbolic link: refused (remove it first)", target)
	}
	return target, nil
}

// refuseToReplace refuses, without upgrade, a plugin that is installed or
// whose folder exists.
func refuseToReplace(target string, plugin *Plugin, old InstalledPlugin, installed, upgrade bool) error {
	_, folderErr := os.Lstat(target)
	if upgrade || (!installed && folderErr != nil) {
		return nil
	}
	what := fmt.Sprintf("the folder %s already exists", target)
	if installed {
		what = fmt.Sprintf("plugin %s %s is already installed in %s", old.Name, old.Version, old.Dir)
	}
	return fmt.Errorf("%s: pass --upgrade to replace it with %s %s; nothing was changed", what, plugin.Name, plugin.Version)
}

// fetchAndValidate fetches spec and validates its plugin (printing the
// warnings), checks that a module spec's manifest names that module and
// that the toolchain is new enough for the plugin's go.mod. Install and build
// both use it and word its errors their way; a manifest that fails is a
// *manifestError, which they prefix with the spec.
func fetchAndValidate(ctx context.Context, f *fetcher, t *toolchain, spec Spec, cat Catalog, pick pickOptions, p *Progress) (*Plugin, *fetchedPlugin, error) {
	fetched, err := f.fetchPlugin(ctx, t, spec, cat, pick)
	if err != nil {
		return nil, nil, err
	}
	plugin, err := validatePlugin(fetched.Dir, fetched.validateOptions(pick))
	if err != nil {
		return nil, nil, &manifestError{err: err}
	}
	if spec.kind == fromModule && plugin.Module != spec.module {
		return nil, nil, &manifestError{module: plugin.Module}
	}
	for _, w := range plugin.Warnings {
		p.warnf("%s", w)
	}
	if err := t.need(plugin.GoVersion, "plugin "+plugin.Name); err != nil {
		return nil, nil, err
	}
	return plugin, fetched, nil
}

// manifestError is a fetched plugin's manifest refused by fetchAndValidate:
// invalid (err), or naming another module than the module spec's.
type manifestError struct {
	err    error
	module string
}

func (e *manifestError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return "its manifest names module " + e.module
}

func (e *manifestError) Unwrap() error { return e.err }
