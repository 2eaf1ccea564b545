package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/stoq-go/stoq/core/v3"
)

// BuildOptions says what stoq build does.
type BuildOptions struct {
	// With are the plugins to link (stoq build --with).
	With []Spec
	// All links every plugin of the catalogue (from the same tree as the
	// core); a --with of the same name takes its place.
	All     bool
	Catalog Catalog
	// Output is the binary; its generated module is kept in Output.build/.
	Output string
	// SkipCompile stops after generating the module in Output.build/
	// (stoq build --skip-compile): nothing is resolved or compiled, and the
	// result's BuildCommands build Output by hand.
	SkipCompile bool
	// CoreDir and CLIDir replace the catalogue's core and cli sources.
	CoreDir, CLIDir string
	// CoreVersion is the running core version (core.Version when empty).
	CoreVersion string
	// Force links plugins whose min_stoq_version is not met.
	Force    bool
	Environ  []string
	Progress *Progress
}

// Build makes a custom stoq binary at Output linking the plugins asked
// for, without touching $STOQ_HOME. Sources read from git are copied into
// Output.build/src so the kept module rebuilds the same binary; folders on
// disk (a catalogue checkout, --with PATH, --core-dir) are linked where
// they are.
func Build(ctx context.Context, opts BuildOptions) (*LinkResult, error) {
	out, err := opts.output()
	if err != nil {
		return nil, err
	}
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	if len(opts.With) == 0 && !opts.All {
		opts.Progress.warnf("no plugins asked for (--with or --all): building a stoq with none")
	}
	t, err := findToolchain(ctx, opts.Environ)
	if err != nil {
		return nil, err
	}
	f, err := newFetcher(opts.Progress)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	s := &buildSources{opts: opts, fetcher: f, toolchain: t, srcDir: filepath.Join(out+".build", "src")}
	in := buildInputs{Kind: KindBuild, CoreVersion: opts.CoreVersion}
	if err := s.fetchTree(ctx); err != nil {
		return nil, err
	}
	if in.CoreDir, in.CLIDir, err = s.coreAndCLI(); err != nil {
		return nil, err
	}
	if in.Links, err = s.links(ctx); err != nil {
		return nil, err
	}
	return linkBinary(ctx, linkRequest{
		buildInputs: in, Output: out, BuildDir: out + ".build", SkipCompile: opts.SkipCompile, Toolchain: t, Progress: opts.Progress,
	})
}

// output is the absolute path of the binary to write.
func (opts BuildOptions) output() (string, error) {
	if opts.Output == "" {
		return "", fmt.Errorf("no output file: pass -o FILE")
	}
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return "", fmt.Errorf("-o %s is a folder: give the binary's file name", opts.Output)
	}
	return out, nil
}

// buildSources finds the folders a `stoq build` links. Those that live in
// the fetcher's temporary folder (read from git) are copied into
// Output.build/src, afresh each time, so the kept module builds once the
// fetcher is gone.
type buildSources struct {
	opts      BuildOptions
	fetcher   *fetcher
	toolchain *toolchain
	srcDir    string
	// tree is the catalogue tree the core, the cli and --all come from
	// ("" when --core-dir and --cli-dir replace it and --all is not given).
	tree       string
	treeOrigin sourceOrigin
	treeIsTemp bool
}

// fetchTree gets the catalogue tree when it is needed, and empties the
// copies of a previous build.
func (s *buildSources) fetchTree(ctx context.Context) error {
	if s.opts.CoreDir == "" || s.opts.CLIDir == "" || s.opts.All {
		var err error
		if s.tree, s.treeOrigin, err = s.fetcher.fetchCoreTree(ctx, s.opts.Catalog, s.opts.CoreVersion); err != nil {
			return fmt.Errorf("getting the core and cli sources: %w", err)
		}
		s.opts.Progress.printf("Using the stoq core and cli from %s", s.treeOrigin)
	}
	s.treeIsTemp = s.tree != "" && s.tree != s.opts.Catalog.dir
	return os.RemoveAll(s.srcDir)
}

// keep copies dir into the build folder's src/name and returns the copy.
func (s *buildSources) keep(dir, name string) (string, error) {
	dest := filepath.Join(s.srcDir, name)
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", err
	}
	if err := copyTree(dir, dest); err != nil {
		return "", err
	}
	return dest, nil
}

// coreAndCLI picks the core and cli folders: --core-dir and --cli-dir, else
// the tree's core/ and cli/.
func (s *buildSources) coreAndCLI() (coreDir, cliDir string, err error) {
	if coreDir, err = s.moduleDir(s.opts.CoreDir, "core", coreModule); err != nil {
		return "", "", err
	}
	if v, err := readCoreVersion(coreDir); err != nil {
		return "", "", err
	} else if v != s.opts.CoreVersion {
		s.opts.Progress.warnf("the core in %s is %s and this stoq is %s: plugins are checked against %s", coreDir, v, s.opts.CoreVersion, s.opts.CoreVersion)
	}
	if cliDir, err = s.moduleDir(s.opts.CLIDir, "cli", cliModule); err != nil {
		return "", "", err
	}
	return coreDir, cliDir, nil
}

// moduleDir is the folder of module: given, else the tree's sub folder
// (kept in the build folder when the tree is temporary).
func (s *buildSources) moduleDir(given, sub, module string) (string, error) {
	dir := given
	if dir == "" {
		dir = filepath.Join(s.tree, sub)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := checkModuleDir(dir, module); err != nil {
		return "", err
	}
	if given == "" && s.treeIsTemp {
		return s.keep(dir, sub)
	}
	return dir, nil
}

// links are the plugins to link, by name: with --all every plugin of the
// catalogue, then each --with (which takes the place of a catalogue plugin
// of the same name).
func (s *buildSources) links(ctx context.Context) ([]link, error) {
	byName := map[string]link{}
	if s.opts.All {
		all, err := s.catalogPlugins()
		if err != nil {
			return nil, err
		}
		for _, l := range all {
			byName[l.Name] = l
		}
	}
	fromWith := map[string]bool{}
	for _, spec := range s.opts.With {
		l, err := s.withPlugin(ctx, spec)
		if err != nil {
			return nil, err
		}
		if fromWith[l.Name] {
			return nil, fmt.Errorf("plugin %s is asked for twice (--with)", l.Name)
		}
		fromWith[l.Name] = true
		if l.ModVersion == "" && within(s.fetcher.tmp, l.Dir) {
			if l.Dir, err = s.keep(l.Dir, filepath.Join("plugins", l.Name)); err != nil {
				return nil, err
			}
		}
		byName[l.Name] = l
	}
	links := make([]link, 0, len(byName))
	for _, l := range byName {
		links = append(links, l)
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	return links, nil
}

// catalogPlugins validates every plugins/NAME folder of the catalogue tree
// (folders with no .stoq manifest yet are skipped with a warning).
func (s *buildSources) catalogPlugins() ([]link, error) {
	entries, err := os.ReadDir(filepath.Join(s.tree, "plugins"))
	if err != nil {
		return nil, fmt.Errorf("the catalogue %s: %w", s.opts.Catalog, err)
	}
	var out []link
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		dir := filepath.Join(s.tree, "plugins", e.Name())
		if m, _ := filepath.Glob(filepath.Join(dir, "*.stoq")); len(m) == 0 {
			s.opts.Progress.warnf("plugins/%s has no manifest (%s.stoq) yet: not linked", e.Name(), e.Name())
			continue
		}
		plugin, err := validatePlugin(dir, validateOptions{WantName: e.Name(), CoreVersion: s.opts.CoreVersion, Force: s.opts.Force})
		if err != nil {
			return nil, fmt.Errorf("the catalogue's plugins/%s: %w", e.Name(), err)
		}
		for _, w := range plugin.Warnings {
			s.opts.Progress.warnf("%s", w)
		}
		if s.treeIsTemp {
			if plugin.Dir, err = s.keep(dir, filepath.Join("plugins", plugin.Name)); err != nil {
				return nil, err
			}
		}
		o := s.treeOrigin
		o.Spec = catalogPrefix + plugin.Name
		out = append(out, link{Plugin: *plugin, Source: o.String()})
	}
	return out, nil
}

// withPlugin fetches and validates one --with plugin.
func (s *buildSources) withPlugin(ctx context.Context, spec Spec) (link, error) {
	pick := pickOptions{CoreVersion: s.opts.CoreVersion, Force: s.opts.Force}
	plugin, fetched, err := fetchAndValidate(ctx, s.fetcher, s.toolchain, spec, s.opts.Catalog, pick, s.opts.Progress)
	var bad *manifestError
	if errors.As(err, &bad) {
		return link{}, fmt.Errorf("--with %s: %w", spec.raw, err)
	}
	if err != nil {
		return link{}, err
	}
	return link{Plugin: *plugin, Source: fetched.Origin.String(), ModVersion: fetched.ModVersion}, nil
}
