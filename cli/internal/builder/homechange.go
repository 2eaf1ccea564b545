package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// homeChange is an install or an uninstall on its way into $STOQ_HOME:
// folders copied beside their place, the moves that put them there (applied
// by commit in one transaction, with the build) and the installed.json that
// results.
type homeChange struct {
	next *installState
	// staged are the copies discard removes unless commit moved them.
	staged []string
	moves  []func(*transaction) error
}

func newHomeChange(st *installState) *homeChange { return &homeChange{next: st.clone()} }

// discard removes the staged copies that were not moved into place.
func (c *homeChange) discard() {
	for _, s := range c.staged {
		_ = os.RemoveAll(s)
	}
}

// stageCopy copies the folder src to a new hidden folder beside dest
// (.NAME.new-N: on the same file system, so moving it into place is a
// rename) and returns it.
func (c *homeChange) stageCopy(src, dest, name string) (string, error) {
	parent := filepath.Dir(dest)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	stage := filepath.Join(parent, fmt.Sprintf(".%s.new-%d", name, time.Now().UnixNano()))
	c.staged = append(c.staged, stage)
	return stage, copyTree(src, stage)
}

// moveIntoPlace is the move that puts the staged folder at dest: dest and
// the asides, when they exist, are moved aside first.
func moveIntoPlace(stage, dest string, asides ...string) func(*transaction) error {
	paths := append(append([]string(nil), asides...), dest)
	return func(tx *transaction) error {
		for _, path := range paths {
			if err := tx.moveAside(path); err != nil {
				return err
			}
		}
		return tx.moveInto(stage, dest)
	}
}

// stageInstall stages the install of plugin from the folder src into
// target: the copy beside target, the move that puts it in place (the
// plugin's previous folder moved aside too when it was installed
// elsewhere) and its entry in installed.json, which it returns. Its errors
// are the copy's.
func (c *homeChange) stageInstall(plugin *Plugin, src, target, source string) (InstalledPlugin, error) {
	stage, err := c.stageCopy(src, target, plugin.Name)
	if err != nil {
		return InstalledPlugin{}, err
	}
	var asides []string
	if old, ok := c.next.Plugins[plugin.Name]; ok && old.Dir != target && filepath.Base(old.Dir) == old.Name {
		asides = append(asides, old.Dir) // installed elsewhere before (--install-dir)
	}
	c.moves = append(c.moves, moveIntoPlace(stage, target, asides...))
	ip := InstalledPlugin{
		Name: plugin.Name, Version: plugin.Version, Module: plugin.Module, Dir: target,
		Source: source, Installed: time.Now().UTC().Truncate(time.Second),
	}
	c.next.Plugins[plugin.Name] = ip
	return ip, nil
}

// sourceOptions say where the core and cli sources of a build come from.
type sourceOptions struct {
	Catalog                      Catalog
	CoreDir, CLIDir, CoreVersion string
	// Seed is the running binary: the core and cli folders it was built
	// from (when at the running version) are used before the catalogue's
	// when $STOQ_HOME/src lacks them.
	Seed     *Seed
	Progress *Progress
}

// homeSource is one module of $STOQ_HOME/src to copy in.
type homeSource struct {
	what, module, from, dest string
}

// stageSources makes sure $STOQ_HOME/src holds the core (at the running
// version) and the cli that builds link: sources already there are kept
// unless --core-dir or --cli-dir is given or the core is another version;
// new ones are copied beside them and moved into place by commit, before
// the plugin.
func (c *homeChange) stageSources(ctx context.Context, f *fetcher, h stoqHome, opts sourceOptions) error {
	sources, err := homeSourcesToCopy(ctx, f, h, opts)
	if err != nil {
		return err
	}
	var moves []func(*transaction) error
	for _, s := range sources {
		if err := checkModuleDir(s.from, s.module); err != nil {
			return fmt.Errorf("%s sources: %w; nothing was installed", s.what, err)
		}
		stage, err := c.stageCopy(s.from, s.dest, s.what)
		if err != nil {
			return fmt.Errorf("copying the %s sources: %w; nothing was installed", s.what, err)
		}
		moves = append(moves, moveIntoPlace(stage, s.dest))
	}
	c.moves = append(moves, c.moves...)
	return nil
}

// homeSourcesToCopy says which of the core and cli sources of $STOQ_HOME/src
// must be (re)placed, and from where: --core-dir and --cli-dir, else the
// catalogue's tree at the running core version.
func homeSourcesToCopy(ctx context.Context, f *fetcher, h stoqHome, opts sourceOptions) ([]homeSource, error) {
	haveCore := false
	if v, err := readCoreVersion(h.CoreSrc()); err == nil && v == opts.CoreVersion {
		haveCore = true
	}
	_, cliErr := os.Stat(filepath.Join(h.CLISrc(), "go.mod"))
	needCore := opts.CoreDir != "" || !haveCore
	// findCore and findCLI: needed and not given, so taken from the running
	// binary's folders, else the catalogue's tree.
	findCore := needCore && opts.CoreDir == ""
	needCLI := opts.CLIDir != "" || cliErr != nil || findCore
	findCLI := needCLI && opts.CLIDir == ""
	if !needCore && !needCLI {
		return nil, nil
	}
	// The running binary's own core and cli folders come before the
	// catalogue's (seedCoreAndCLI gives both, or neither).
	if findCore || findCLI {
		if seedCore, seedCLI := seedCoreAndCLI(opts.Seed, opts.CoreVersion); seedCore != "" {
			opts.Progress.printf("Using the stoq core and cli this stoq was built from (%s, %s)", seedCore, seedCLI)
			if findCore {
				opts.CoreDir = seedCore
			}
			if findCLI {
				opts.CLIDir = seedCLI
			}
			findCore, findCLI = false, false
		}
	}
	var tree string
	if findCore || findCLI {
		root, origin, err := f.fetchCoreTree(ctx, opts.Catalog, opts.CoreVersion)
		if err != nil {
			return nil, fmt.Errorf("getting the core and cli sources: %w; nothing was installed", err)
		}
		tree = root
		opts.Progress.printf("Using the stoq core and cli from %s", origin)
	}
	var sources []homeSource
	if needCore {
		from := opts.CoreDir
		if from == "" {
			from = filepath.Join(tree, "core")
		} else if v, err := readCoreVersion(from); err != nil {
			return nil, fmt.Errorf("--core-dir %s: %w", from, err)
		} else if v != opts.CoreVersion {
			opts.Progress.warnf("--core-dir %s is core %s and this stoq is %s: plugins are checked against %s", from, v, opts.CoreVersion, opts.CoreVersion)
		}
		sources = append(sources, homeSource{"core", coreModule, from, h.CoreSrc()})
	}
	if needCLI {
		from := opts.CLIDir
		if from == "" {
			from = filepath.Join(tree, "cli")
		}
		sources = append(sources, homeSource{"cli", cliModule, from, h.CLISrc()})
	}
	return sources, nil
}

// commit applies the moves, builds $STOQ_HOME/bin/stoq with the plugins of
// next (removes it when none is left) and saves next; on any failure the
// moves are undone and the error says that nothing changed.
func (c *homeChange) commit(ctx context.Context, h stoqHome, t *toolchain, coreVersion string, p *Progress) (*LinkResult, error) {
	tx := &transaction{}
	res, err := c.apply(ctx, tx, h, t, coreVersion, p)
	if err != nil {
		if rerr := tx.rollback(); rerr != nil {
			return nil, fmt.Errorf("%w\nrolling back also failed: %v", err, rerr)
		}
		return nil, fmt.Errorf("%w\nNothing was changed: the previous plugins and binary are in place", err)
	}
	if err := c.next.save(h); err != nil {
		return nil, fmt.Errorf("the binary is built but %s could not be saved: %w", h.stateFile(), err)
	}
	tx.commit()
	c.staged = nil
	return res, nil
}

// apply runs the moves in tx, then the home build.
func (c *homeChange) apply(ctx context.Context, tx *transaction, h stoqHome, t *toolchain, coreVersion string, p *Progress) (*LinkResult, error) {
	for _, move := range c.moves {
		if err := move(tx); err != nil {
			return nil, err
		}
	}
	in, err := homeBuildInputs(h, c.next, coreVersion)
	if err != nil {
		return nil, err
	}
	if len(in.Links) == 0 {
		return removeHomeBinary(tx, h, coreVersion, p)
	}
	return linkBinary(ctx, linkRequest{
		buildInputs: in, Output: h.Binary(), BuildDir: h.BuildDir(), RestoreOnFailure: true, Toolchain: t, Progress: p,
	})
}

// homeBuildInputs are the inputs of $STOQ_HOME/bin/stoq: the sources in
// $STOQ_HOME/src and every plugin of st, each checked to be in its folder.
func homeBuildInputs(h stoqHome, st *installState, coreVersion string) (buildInputs, error) {
	in := buildInputs{Kind: KindInstall, CoreDir: h.CoreSrc(), CLIDir: h.CLISrc(), CoreVersion: coreVersion}
	for _, ip := range st.sorted() {
		manifest := filepath.Join(ip.Dir, ip.Name+".stoq")
		if _, err := os.Stat(manifest); err != nil {
			return in, fmt.Errorf("installed plugin %s: %s is missing (reinstall it, or uninstall it)", ip.Name, manifest)
		}
		goVersion, err := goLineOf(ip.Dir)
		if err != nil {
			return in, fmt.Errorf("installed plugin %s: %w", ip.Name, err)
		}
		in.Links = append(in.Links, link{
			Plugin: Plugin{Name: ip.Name, Version: ip.Version, Module: ip.Module, Dir: ip.Dir, GoVersion: goVersion},
			Source: ip.Source,
		})
	}
	return in, nil
}

// removeHomeBinary moves $STOQ_HOME/bin/stoq and its build files aside,
// when the last plugin is uninstalled: the stoq on PATH runs itself again.
func removeHomeBinary(tx *transaction, h stoqHome, coreVersion string, p *Progress) (*LinkResult, error) {
	paths := []string{h.Binary()}
	for _, name := range buildFiles {
		paths = append(paths, filepath.Join(h.BuildDir(), name))
	}
	for _, path := range paths {
		if err := tx.moveAside(path); err != nil {
			return nil, err
		}
	}
	p.printf("No plugins are installed any more: removed %s (the stoq on your PATH runs itself again)", h.Binary())
	return &LinkResult{Output: h.Binary(), BuildDir: h.BuildDir(), Record: Record{Kind: KindInstall, CoreVersion: coreVersion}}, nil
}

// lockHome takes the install lock of h (released by unlock) and reads its
// installed.json.
func lockHome(h stoqHome, p *Progress) (unlock func(), st *installState, err error) {
	unlock, err = lockFile(h.lockFile(), p)
	if err != nil {
		return nil, nil, err
	}
	if st, err = loadState(h); err != nil {
		unlock()
		return nil, nil, err
	}
	return unlock, st, nil
}
