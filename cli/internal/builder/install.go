package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

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
	// Progress reports the steps; Warnf output shows even when quiet.
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
	Link     *LinkResult
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
	p := opts.Progress
	h := stoqHome{Dir: opts.Home}
	if err := os.MkdirAll(h.PluginsDir(), 0o755); err != nil {
		return nil, fmt.Errorf("stoq home %s: %w", h.Dir, err)
	}
	unlock, err := lockFile(h.lockFile(), p)
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(h)
	if err != nil {
		return nil, err
	}
	t, err := findToolchain(ctx, opts.Environ)
	if err != nil {
		return nil, fmt.Errorf("%w; nothing was installed", err)
	}
	f, err := newFetcher(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	var staged []string // removed unless moved into place
	defer func() {
		for _, s := range staged {
			_ = os.RemoveAll(s)
		}
	}()
	result := &InstallResult{}
	next := st.clone()
	var moves []func(tx *transaction) error

	if !opts.Rebuild || opts.Spec.kind != 0 {
		plugin, fetched, err := fetchAndValidate(ctx, f, opts.Spec, opts.Catalog, opts.CoreVersion, opts.Force, p)
		if err != nil {
			return nil, err
		}
		if err := t.need(plugin.GoVersion, "plugin "+plugin.Name); err != nil {
			return nil, fmt.Errorf("%w; nothing was installed", err)
		}
		installDir := opts.InstallDir
		if installDir == "" {
			installDir = h.PluginsDir()
		}
		if installDir, err = filepath.Abs(installDir); err != nil {
			return nil, err
		}
		target := filepath.Join(installDir, plugin.Name)
		if !within(installDir, target) || filepath.Dir(target) != installDir {
			return nil, fmt.Errorf("plugin name %q would install outside %s: refused", plugin.Name, installDir)
		}
		if fi, err := os.Lstat(target); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link: refused (remove it first)", target)
		}
		old, installed := st.Plugins[plugin.Name]
		_, folderErr := os.Lstat(target)
		if (installed || folderErr == nil) && !opts.Upgrade {
			what := fmt.Sprintf("the folder %s already exists", target)
			if installed {
				what = fmt.Sprintf("plugin %s %s is already installed in %s", old.Name, old.Version, old.Dir)
			}
			return nil, fmt.Errorf("%s: pass --upgrade to replace it with %s %s; nothing was changed", what, plugin.Name, plugin.Version)
		}
		if installed {
			result.Replaced = &old
		}
		if err := os.MkdirAll(installDir, 0o755); err != nil {
			return nil, err
		}
		stage := filepath.Join(installDir, fmt.Sprintf(".%s.new-%d", plugin.Name, time.Now().UnixNano()))
		done := p.Step(fmt.Sprintf("Copying %s %s into %s", plugin.Name, plugin.Version, target), 0)
		err = copyTree(fetched.Dir, stage)
		done(err)
		staged = append(staged, stage)
		if err != nil {
			return nil, fmt.Errorf("copying plugin %s: %w; nothing was installed", plugin.Name, err)
		}
		moves = append(moves, func(tx *transaction) error {
			if installed && old.Dir != target && filepath.Base(old.Dir) == old.Name {
				if err := tx.moveAside(old.Dir); err != nil {
					return err
				}
			}
			if err := tx.moveAside(target); err != nil {
				return err
			}
			return tx.moveInto(stage, target)
		})
		next.Plugins[plugin.Name] = InstalledPlugin{
			Name: plugin.Name, Version: plugin.Version, Module: plugin.Module, Dir: target,
			Source: fetched.Origin.String(), Installed: time.Now().UTC().Truncate(time.Second),
		}
		plugin.Dir = target
		result.Plugin, result.Dir = plugin, target
	}

	srcMoves, stagedSrc, err := stageHomeSources(ctx, f, h, opts)
	staged = append(staged, stagedSrc...)
	if err != nil {
		return nil, err
	}
	moves = append(srcMoves, moves...)

	link, err := commitHomeBuild(ctx, h, t, next, moves, opts.CoreVersion, p)
	if err != nil {
		return nil, err
	}
	staged = nil
	result.Link = link
	return result, nil
}

// fetchAndValidate fetches spec and validates it, printing its warnings.
func fetchAndValidate(ctx context.Context, f *fetcher, spec Spec, cat Catalog, coreVersion string, force bool, p *Progress) (*Plugin, *fetchedPlugin, error) {
	if spec.kind == fromModule {
		return nil, nil, fmt.Errorf("%s: install takes stoq:NAME, OWNER/REPO, a git URL or a folder (MODULE@VERSION is for stoq build --with)", spec.raw)
	}
	fetched, err := f.fetchPlugin(ctx, spec, cat)
	if err != nil {
		return nil, nil, fmt.Errorf("%w; nothing was installed", err)
	}
	plugin, err := validatePlugin(fetched.Dir, validateOptions{WantName: fetched.WantName, CoreVersion: coreVersion, Force: force})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w; nothing was installed", spec.raw, err)
	}
	for _, w := range plugin.Warnings {
		p.Warnf("%s", w)
	}
	return plugin, fetched, nil
}

// stageHomeSources makes sure $STOQ_HOME/src holds the core (at the running
// version) and the cli that builds link: sources already there are kept
// unless --core-dir or --cli-dir is given or the core is another version;
// new ones are copied beside them and moved into place by the transaction.
func stageHomeSources(ctx context.Context, f *fetcher, h stoqHome, opts InstallOptions) (moves []func(*transaction) error, staged []string, err error) {
	p := opts.Progress
	haveCore := false
	if v, err := readCoreVersion(h.CoreSrc()); err == nil && v == opts.CoreVersion {
		haveCore = true
	}
	_, cliErr := os.Stat(filepath.Join(h.CLISrc(), "go.mod"))
	needCore := opts.CoreDir != "" || !haveCore
	needCLI := opts.CLIDir != "" || cliErr != nil || (needCore && opts.CoreDir == "")
	if !needCore && !needCLI {
		return nil, nil, nil
	}
	var tree string
	if (needCore && opts.CoreDir == "") || (needCLI && opts.CLIDir == "") {
		root, origin, err := f.fetchCoreTree(ctx, opts.Catalog, opts.CoreVersion)
		if err != nil {
			return nil, nil, fmt.Errorf("getting the core and cli sources: %w; nothing was installed", err)
		}
		tree = root
		p.Printf("Using the stoq core and cli from %s", origin)
	}
	type source struct {
		what, module, from, dest string
	}
	var sources []source
	if needCore {
		from := opts.CoreDir
		if from == "" {
			from = filepath.Join(tree, "core")
		} else if v, err := readCoreVersion(from); err != nil {
			return nil, nil, fmt.Errorf("--core-dir %s: %w", from, err)
		} else if v != opts.CoreVersion {
			p.Warnf("--core-dir %s is core %s and this stoq is %s: plugins are checked against %s", from, v, opts.CoreVersion, opts.CoreVersion)
		}
		sources = append(sources, source{"core", coreModule, from, h.CoreSrc()})
	}
	if needCLI {
		from := opts.CLIDir
		if from == "" {
			from = filepath.Join(tree, "cli")
		}
		sources = append(sources, source{"cli", cliModule, from, h.CLISrc()})
	}
	for _, s := range sources {
		if _, err := checkModuleDir(s.from, s.module); err != nil {
			return nil, staged, fmt.Errorf("%s sources: %w; nothing was installed", s.what, err)
		}
		stage := filepath.Join(filepath.Dir(s.dest), fmt.Sprintf(".%s.new-%d", s.what, time.Now().UnixNano()))
		if err := os.MkdirAll(filepath.Dir(stage), 0o755); err != nil {
			return nil, staged, err
		}
		staged = append(staged, stage)
		if err := copyTree(s.from, stage); err != nil {
			return nil, staged, fmt.Errorf("copying the %s sources: %w; nothing was installed", s.what, err)
		}
		dest := s.dest
		moves = append(moves, func(tx *transaction) error {
			if err := tx.moveAside(dest); err != nil {
				return err
			}
			return tx.moveInto(stage, dest)
		})
	}
	return moves, staged, nil
}

// commitHomeBuild applies moves, builds $STOQ_HOME/bin/stoq with the
// plugins of next and saves next; on any failure the moves are undone and
// the error says that nothing changed.
func commitHomeBuild(ctx context.Context, h stoqHome, t *toolchain, next *installState, moves []func(*transaction) error, coreVersion string, p *Progress) (*LinkResult, error) {
	in := buildInputs{Kind: KindInstall, CoreDir: h.CoreSrc(), CLIDir: h.CLISrc(), CoreVersion: coreVersion}
	for _, ip := range next.sorted() {
		in.Links = append(in.Links, link{Plugin: Plugin{Name: ip.Name, Version: ip.Version, Module: ip.Module, Dir: ip.Dir}, Source: ip.Source})
	}
	tx := &transaction{}
	rollback := func(err error) (*LinkResult, error) {
		if rerr := tx.rollback(); rerr != nil {
			return nil, fmt.Errorf("%w\nrolling back also failed: %v", err, rerr)
		}
		return nil, fmt.Errorf("%w\nNothing was changed: the previous plugins and binary are in place.", err)
	}
	for _, move := range moves {
		if err := move(tx); err != nil {
			return rollback(err)
		}
	}
	for i := range in.Links {
		l := &in.Links[i]
		if _, err := os.Stat(filepath.Join(l.Dir, l.Name+".stoq")); err != nil {
			return rollback(fmt.Errorf("installed plugin %s: %s is missing (reinstall it, or uninstall it)", l.Name, filepath.Join(l.Dir, l.Name+".stoq")))
		}
		v, err := goLineOf(l.Dir)
		if err != nil {
			return rollback(fmt.Errorf("installed plugin %s: %w", l.Name, err))
		}
		l.GoVersion = v
	}
	var res *LinkResult
	if len(in.Links) == 0 {
		for _, path := range append([]string{h.Binary()}, buildFilePaths(h.BuildDir())...) {
			if err := tx.moveAside(path); err != nil {
				return rollback(err)
			}
		}
		p.Printf("No plugins are installed any more: removed %s (the stoq on your PATH runs itself again)", h.Binary())
		res = &LinkResult{Output: h.Binary(), BuildDir: h.BuildDir(), Info: Record{Kind: KindInstall, CoreVersion: coreVersion}}
	} else {
		var err error
		res, err = linkBinary(ctx, linkRequest{
			buildInputs: in, Output: h.Binary(), BuildDir: h.BuildDir(), RestoreOnFailure: true, Toolchain: t, Progress: p,
		})
		if err != nil {
			return rollback(err)
		}
	}
	if err := next.save(h); err != nil {
		return nil, fmt.Errorf("the binary is built but %s could not be saved: %w", h.stateFile(), err)
	}
	tx.commit()
	return res, nil
}

func buildFilePaths(dir string) []string {
	out := make([]string, len(buildFiles))
	for i, n := range buildFiles {
		out[i] = filepath.Join(dir, n)
	}
	return out
}

// UninstallOptions says what stoq uninstall does.
type UninstallOptions struct {
	Home string
	Name string
	// Catalog, CoreDir and CLIDir are used only when $STOQ_HOME/src lacks
	// the sources to rebuild with.
	Catalog         Catalog
	CoreDir, CLIDir string
	CoreVersion     string
	Environ         []string
	Progress        *Progress
}

// Uninstall removes an installed plugin and rebuilds $STOQ_HOME/bin/stoq
// without it (removes the binary when it was the last one). A failed
// rebuild puts the plugin back.
func Uninstall(ctx context.Context, opts UninstallOptions) (*InstalledPlugin, *LinkResult, error) {
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	h := stoqHome{Dir: opts.Home}
	if _, err := os.Stat(h.Dir); err != nil {
		return nil, nil, fmt.Errorf("plugin %s is not installed (no stoq home %s)", opts.Name, h.Dir)
	}
	unlock, err := lockFile(h.lockFile(), opts.Progress)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	st, err := loadState(h)
	if err != nil {
		return nil, nil, err
	}
	ip, ok := st.Plugins[opts.Name]
	if !ok {
		var names []string
		for _, p := range st.sorted() {
			names = append(names, p.Name)
		}
		installed := "none are"
		if len(names) > 0 {
			installed = "installed: " + strings.Join(names, ", ")
		}
		return nil, nil, fmt.Errorf("plugin %s is not installed (%s)", opts.Name, installed)
	}
	if filepath.Base(ip.Dir) != ip.Name {
		return nil, nil, fmt.Errorf("%s records plugin %s in %s, which is not a folder named %s: refusing to remove it", h.stateFile(), ip.Name, ip.Dir, ip.Name)
	}
	if fi, err := os.Lstat(ip.Dir); err == nil && !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s is not a folder: refusing to remove it", ip.Dir)
	}
	next := st.clone()
	delete(next.Plugins, ip.Name)
	moves := []func(*transaction) error{func(tx *transaction) error { return tx.moveAside(ip.Dir) }}

	var t *toolchain
	var staged []string
	defer func() {
		for _, s := range staged {
			_ = os.RemoveAll(s)
		}
	}()
	if len(next.Plugins) > 0 {
		if t, err = findToolchain(ctx, opts.Environ); err != nil {
			return nil, nil, fmt.Errorf("%w; nothing was removed", err)
		}
		f, err := newFetcher(opts.Progress)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		srcMoves, stagedSrc, err := stageHomeSources(ctx, f, h, InstallOptions{
			Catalog: opts.Catalog, CoreDir: opts.CoreDir, CLIDir: opts.CLIDir, CoreVersion: opts.CoreVersion, Progress: opts.Progress,
		})
		staged = stagedSrc
		if err != nil {
			return nil, nil, err
		}
		moves = append(srcMoves, moves...)
	}
	res, err := commitHomeBuild(ctx, h, t, next, moves, opts.CoreVersion, opts.Progress)
	if err != nil {
		return nil, nil, err
	}
	staged = nil
	return &ip, res, nil
}

// ReadHomeRecord reads the record of $STOQ_HOME/bin/stoq's build.
func ReadHomeRecord(home string) (Record, error) {
	var info Record
	data, err := os.ReadFile(filepath.Join(stoqHome{home}.BuildDir(), "buildinfo.json"))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("%s: %w", filepath.Join(stoqHome{home}.BuildDir(), "buildinfo.json"), err)
	}
	return info, nil
}
