package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// sourceOrigin says where a plugin's or the core's sources came from.
type sourceOrigin struct {
	// Spec is what was asked (stoq:hash@3.0.0), when it was a plugin.
	Spec string
	// Location is the repository URL or folder.
	Location string
	// Ref is the tag or branch read ("" for a folder as it is on disk).
	Ref string
	// Commit is the commit read, when it came from git.
	Commit string
}

// String is the source recorded in the binary: "stoq:hash@3.0.0 from
// file:///srv/stoq (tag plugins/hash/v3.0.0, commit 0123abcd4567)".
func (o sourceOrigin) String() string {
	var b strings.Builder
	if o.Spec != "" {
		b.WriteString(o.Spec + " from ")
	}
	b.WriteString(o.Location)
	switch {
	case o.Ref != "" && o.Commit != "":
		fmt.Fprintf(&b, " (%s, commit %.12s)", o.Ref, o.Commit)
	case o.Ref != "":
		fmt.Fprintf(&b, " (%s)", o.Ref)
	default:
		b.WriteString(" (folder, as on disk)")
	}
	return b.String()
}

// fetchedPlugin is a plugin's source folder, ready to validate.
type fetchedPlugin struct {
	// Dir is the plugin folder: in the fetcher's temporary folder for git
	// sources, the folder itself for a path or a catalogue folder.
	Dir string
	// Temporary is set when Dir belongs to the fetcher.
	Temporary bool
	// WantName is the name the plugin must have (requested or its folder's).
	WantName string
	Origin   sourceOrigin
}

// fetcher gets plugin and core sources: git repositories are listed and
// read with go-git into a temporary folder that Close removes.
type fetcher struct {
	tmp      string
	progress *Progress
	repos    map[string]*gitRepo
	trees    map[string]string // location + ref → materialized root
	refs     map[string][]string
	seq      int
}

// newFetcher makes a fetcher reporting to progress (nil for none).
func newFetcher(progress *Progress) (*fetcher, error) {
	tmp, err := os.MkdirTemp("", "stoq-fetch-")
	if err != nil {
		return nil, err
	}
	return &fetcher{tmp: tmp, progress: progress, repos: map[string]*gitRepo{}, trees: map[string]string{}, refs: map[string][]string{}}, nil
}

// Close removes what was fetched.
func (f *fetcher) Close() error { return os.RemoveAll(f.tmp) }

func (f *fetcher) repo(location string) (*gitRepo, error) {
	if r, ok := f.repos[location]; ok {
		return r, nil
	}
	r, err := openGitRepo(location)
	if err != nil {
		return nil, err
	}
	f.repos[location] = r
	return r, nil
}

func (f *fetcher) refNames(ctx context.Context, r *gitRepo) ([]string, error) {
	if names, ok := f.refs[r.location]; ok {
		return names, nil
	}
	done := f.progress.step("Listing the versions in "+r.location, 0)
	names, err := r.refNames(ctx)
	done(err)
	if err != nil {
		return nil, err
	}
	f.refs[r.location] = names
	return names, nil
}

// tree materializes dirs of ref ("" = default branch) once per operation.
func (f *fetcher) tree(ctx context.Context, r *gitRepo, ref plumbing.ReferenceName, dirs []string, what string) (root, commit string, err error) {
	key := r.location + "\x00" + ref.String() + "\x00" + strings.Join(dirs, "\x00")
	if root, ok := f.trees[key]; ok {
		return root, f.trees[key+"\x00commit"], nil
	}
	f.seq++
	root = filepath.Join(f.tmp, fmt.Sprintf("tree%d", f.seq))
	verb := "Cloning"
	if r.local != nil {
		verb = "Reading"
	}
	done := f.progress.step(fmt.Sprintf("%s %s from %s (%s)", verb, what, r.location, refLabel(ref)), 15*time.Second)
	commit, err = r.materialize(ctx, ref, dirs, root)
	done(err)
	if err != nil {
		return "", "", err
	}
	f.trees[key], f.trees[key+"\x00commit"] = root, commit
	return root, commit, nil
}

// fetchPlugin gets the plugin spec names (not a module spec): a folder is
// used where it is, a catalogue folder as it is on disk unless a version is
// asked, anything else is read from git at the ref the version picks.
func (f *fetcher) fetchPlugin(ctx context.Context, spec Spec, cat Catalog) (*fetchedPlugin, error) {
	switch spec.kind {
	case fromPath:
		return &fetchedPlugin{Dir: spec.path, WantName: filepath.Base(spec.path), Origin: sourceOrigin{Location: spec.path}}, nil
	case fromCatalog:
		if cat.dir != "" && spec.version == "" {
			dir := filepath.Join(cat.dir, "plugins", spec.name)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("the catalogue %s has no plugin %s (no plugins/%s folder)%s", cat, spec.name, spec.name, availablePlugins(filepath.Join(cat.dir, "plugins")))
			}
			return &fetchedPlugin{Dir: dir, WantName: spec.name, Origin: sourceOrigin{Spec: spec.raw, Location: cat.dir}}, nil
		}
		location := cat.url
		if location == "" {
			location = cat.dir
		}
		return f.fetchGit(ctx, spec, location, pluginDir(spec.name), spec.name, fmt.Sprintf("%s in the catalogue %s", spec.raw, cat))
	case fromGit:
		want := ""
		if spec.dir != "" {
			want = path.Base(spec.dir)
		}
		return f.fetchGit(ctx, spec, spec.url, spec.dir, want, spec.raw)
	}
	return nil, fmt.Errorf("%s: a %s source cannot be fetched here", spec.raw, spec.kind)
}

func (f *fetcher) fetchGit(ctx context.Context, spec Spec, location, dir, want, what string) (*fetchedPlugin, error) {
	r, err := f.repo(location)
	if err != nil {
		return nil, err
	}
	names, err := f.refNames(ctx, r)
	if err != nil {
		return nil, err
	}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	picked, err := pickRef(names, prefix, spec.version, what)
	if err != nil {
		return nil, err
	}
	var dirs []string
	if dir != "" {
		dirs = []string{dir}
	}
	root, commit, err := f.tree(ctx, r, picked.Ref, dirs, spec.raw)
	if err != nil {
		return nil, err
	}
	pluginRoot := filepath.Join(root, filepath.FromSlash(dir))
	if fi, err := os.Stat(pluginRoot); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s: %s has no folder %s at %s%s", spec.raw, location, dir, refLabel(picked.Ref), availablePlugins(filepath.Join(root, "plugins")))
	}
	return &fetchedPlugin{
		Dir: pluginRoot, Temporary: true, WantName: want,
		Origin: sourceOrigin{Spec: spec.raw, Location: location, Ref: refLabel(picked.Ref), Commit: commit},
	}, nil
}

// availablePlugins lists the plugin folders of a catalogue's plugins/, for
// "no such plugin" messages.
func availablePlugins(dir string) string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return "; it has: " + strings.Join(names, ", ")
}

// fetchCoreTree gets the catalogue tree whose core/ and cli/ a build links:
// the core at the running version coreVersion. A catalogue folder is used
// as it is on disk when its core is that version, else its tag
// core/vVERSION; a repository URL is read at tag core/vVERSION, or at its
// default branch when it has no such tag and the core there is that
// version.
func (f *fetcher) fetchCoreTree(ctx context.Context, cat Catalog, coreVersion string) (root string, origin sourceOrigin, err error) {
	var diskVersion string
	if cat.dir != "" {
		v, err := readCoreVersion(filepath.Join(cat.dir, "core"))
		if err == nil && v == coreVersion {
			return cat.dir, sourceOrigin{Location: cat.dir}, nil
		}
		diskVersion = v
	}
	location := cat.url
	if location == "" {
		location = cat.dir
	}
	r, err := f.repo(location)
	if err != nil {
		if diskVersion != "" {
			return "", sourceOrigin{}, fmt.Errorf("the catalogue %s has core %s and this stoq is %s (and it is no git repository to find tag %s in): pass --core-dir and --cli-dir",
				cat, diskVersion, coreVersion, coreTag(coreVersion))
		}
		return "", sourceOrigin{}, err
	}
	names, err := f.refNames(ctx, r)
	if err != nil {
		return "", sourceOrigin{}, err
	}
	ref := plumbing.ReferenceName("")
	for _, n := range names {
		if n == "refs/tags/"+coreTag(coreVersion) {
			ref = plumbing.ReferenceName(n)
		}
	}
	if ref == "" && cat.dir != "" {
		return "", sourceOrigin{}, fmt.Errorf("the catalogue %s has core %s and this stoq is %s, and it has no tag %s: pass --core-dir and --cli-dir",
			cat, diskVersion, coreVersion, coreTag(coreVersion))
	}
	root, commit, err := f.tree(ctx, r, ref, []string{"core", "cli"}, "the stoq core and cli "+coreVersion)
	if err != nil {
		return "", sourceOrigin{}, err
	}
	got, err := readCoreVersion(filepath.Join(root, "core"))
	if err != nil {
		return "", sourceOrigin{}, fmt.Errorf("the catalogue %s at %s: %w", cat, refLabel(ref), err)
	}
	if got != coreVersion {
		return "", sourceOrigin{}, fmt.Errorf("the catalogue %s has no tag %s and its default branch has core %s; this stoq is %s: pass --core-dir and --cli-dir, or use a stoq of that version",
			cat, coreTag(coreVersion), got, coreVersion)
	}
	return root, sourceOrigin{Location: location, Ref: refLabel(ref), Commit: commit}, nil
}

// downloadedModule is what go mod download -json says of a module.
type downloadedModule struct {
	Path, Version, Dir, Error string
}

// fetchModule downloads a published plugin module (MODULE@VERSION) into
// the module cache through the user's GOPROXY and returns its folder there.
func (f *fetcher) fetchModule(ctx context.Context, t *toolchain, spec Spec) (*fetchedPlugin, string, error) {
	done := f.progress.step("Downloading "+spec.raw, 15*time.Second)
	out, err := t.output(ctx, f.tmp, nil, "mod", "download", "-json", spec.module+"@"+spec.version)
	var m downloadedModule
	if jerr := json.Unmarshal(out, &m); err == nil && jerr != nil {
		err = jerr
	}
	if err == nil && m.Error != "" {
		err = errors.New(m.Error)
	}
	done(err)
	if err != nil {
		return nil, "", fmt.Errorf("downloading %s: %w", spec.raw, err)
	}
	return &fetchedPlugin{Dir: m.Dir, Origin: sourceOrigin{Spec: spec.raw, Location: "module " + m.Path + "@" + m.Version, Ref: m.Version}}, m.Version, nil
}
