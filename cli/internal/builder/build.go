package builder

import (
	"context"
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
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	if opts.Output == "" {
		return nil, fmt.Errorf("no output file: pass -o FILE")
	}
	if len(opts.With) == 0 && !opts.All {
		opts.Progress.Warnf("no plugins asked for (--with or --all): building a stoq with none")
	}
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("-o %s is a folder: give the binary's file name", opts.Output)
	}
	buildDir := out + ".build"
	srcDir := filepath.Join(buildDir, "src")
	p := opts.Progress

	t, err := findToolchain(ctx, opts.Environ)
	if err != nil {
		return nil, err
	}
	f, err := newFetcher(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()

	in := buildInputs{Kind: KindBuild, CoreVersion: opts.CoreVersion}
	var tree string
	var treeOrigin sourceOrigin
	if opts.CoreDir == "" || opts.CLIDir == "" || opts.All {
		if tree, treeOrigin, err = f.fetchCoreTree(ctx, opts.Catalog, opts.CoreVersion); err != nil {
			return nil, fmt.Errorf("getting the core and cli sources: %w", err)
		}
		p.Printf("Using the stoq core and cli from %s", treeOrigin)
	}
	treeIsTemp := tree != "" && tree != opts.Catalog.dir
	// Sources that live in the fetcher's temporary folder are copied into
	// the build folder, afresh each time.
	if err := os.RemoveAll(srcDir); err != nil {
		return nil, err
	}
	keep := func(dir, name string) (string, error) {
		dest := filepath.Join(srcDir, name)
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return "", err
		}
		if err := copyTree(dir, dest); err != nil {
			return "", err
		}
		return dest, nil
	}
	pick := func(given, sub, module string) (string, error) {
		dir := given
		if dir == "" {
			dir = filepath.Join(tree, sub)
		}
		dir, err := filepath.Abs(dir)
		if err != nil {
			return "", err
		}
		if _, err := checkModuleDir(dir, module); err != nil {
			return "", err
		}
		if given == "" && treeIsTemp {
			return keep(dir, sub)
		}
		return dir, nil
	}
	if in.CoreDir, err = pick(opts.CoreDir, "core", coreModule); err != nil {
		return nil, err
	}
	if v, err := readCoreVersion(in.CoreDir); err != nil {
		return nil, err
	} else if v != opts.CoreVersion {
		p.Warnf("the core in %s is %s and this stoq is %s: plugins are checked against %s", in.CoreDir, v, opts.CoreVersion, opts.CoreVersion)
	}
	if in.CLIDir, err = pick(opts.CLIDir, "cli", cliModule); err != nil {
		return nil, err
	}

	links := map[string]link{}
	fromWith := map[string]bool{}
	if opts.All {
		all, err := catalogPlugins(tree, opts, treeOrigin, treeIsTemp, keep)
		if err != nil {
			return nil, err
		}
		for _, l := range all {
			links[l.Name] = l
		}
	}
	for _, spec := range opts.With {
		l, err := withPlugin(ctx, f, t, spec, opts)
		if err != nil {
			return nil, err
		}
		if fromWith[l.Name] {
			return nil, fmt.Errorf("plugin %s is asked for twice (--with)", l.Name)
		}
		fromWith[l.Name] = true
		if l.ModVersion == "" && within(f.tmp, l.Dir) {
			if l.Dir, err = keep(l.Dir, filepath.Join("plugins", l.Name)); err != nil {
				return nil, err
			}
		}
		links[l.Name] = l
	}
	for _, l := range links {
		in.Links = append(in.Links, l)
	}
	sort.Slice(in.Links, func(i, j int) bool { return in.Links[i].Name < in.Links[j].Name })
	return linkBinary(ctx, linkRequest{buildInputs: in, Output: out, BuildDir: buildDir, Toolchain: t, Progress: p})
}

// catalogPlugins validates every plugins/NAME folder of the catalogue tree
// (folders with no .stoq manifest yet are skipped with a warning).
func catalogPlugins(tree string, opts BuildOptions, origin sourceOrigin, temp bool, keep func(dir, name string) (string, error)) ([]link, error) {
	entries, err := os.ReadDir(filepath.Join(tree, "plugins"))
	if err != nil {
		return nil, fmt.Errorf("the catalogue %s: %w", opts.Catalog, err)
	}
	var out []link
	for _, e := range entries {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		dir := filepath.Join(tree, "plugins", e.Name())
		if m, _ := filepath.Glob(filepath.Join(dir, "*.stoq")); len(m) == 0 {
			opts.Progress.Warnf("plugins/%s has no manifest (%s.stoq) yet: not linked", e.Name(), e.Name())
			continue
		}
		plugin, err := validatePlugin(dir, validateOptions{WantName: e.Name(), CoreVersion: opts.CoreVersion, Force: opts.Force})
		if err != nil {
			return nil, fmt.Errorf("the catalogue's plugins/%s: %w", e.Name(), err)
		}
		for _, w := range plugin.Warnings {
			opts.Progress.Warnf("%s", w)
		}
		if temp {
			if plugin.Dir, err = keep(dir, filepath.Join("plugins", plugin.Name)); err != nil {
				return nil, err
			}
		}
		o := origin
		o.Spec = catalogPrefix + plugin.Name
		out = append(out, link{Plugin: *plugin, Source: o.String()})
	}
	return out, nil
}

// withPlugin fetches and validates one --with plugin.
func withPlugin(ctx context.Context, f *fetcher, t *toolchain, spec Spec, opts BuildOptions) (link, error) {
	var fetched *fetchedPlugin
	var modVersion string
	var err error
	if spec.kind == fromModule {
		fetched, modVersion, err = f.fetchModule(ctx, t, spec)
	} else {
		fetched, err = f.fetchPlugin(ctx, spec, opts.Catalog)
	}
	if err != nil {
		return link{}, err
	}
	plugin, err := validatePlugin(fetched.Dir, validateOptions{WantName: fetched.WantName, CoreVersion: opts.CoreVersion, Force: opts.Force})
	if err != nil {
		return link{}, fmt.Errorf("--with %s: %w", spec.raw, err)
	}
	if spec.kind == fromModule && plugin.Module != spec.module {
		return link{}, fmt.Errorf("--with %s: its manifest names module %s", spec.raw, plugin.Module)
	}
	if err := t.need(plugin.GoVersion, "plugin "+plugin.Name); err != nil {
		return link{}, err
	}
	for _, w := range plugin.Warnings {
		opts.Progress.Warnf("%s", w)
	}
	return link{Plugin: *plugin, Source: fetched.Origin.String(), ModVersion: modVersion}, nil
}
