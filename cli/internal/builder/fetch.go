package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/plugincheck"
	"golang.org/x/mod/semver"
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
	if o.Spec != "" && o.Spec != o.Location {
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
	// WantName is the name the plugin must have (the requested stoq:NAME);
	// Prefer the manifest to pick among several (its folder's name).
	WantName, Prefer string
	// Version is the version its tag or module version names ("" for a
	// folder or a branch): its manifest must say the same.
	Version string
	// ModVersion is the module version of a published module.
	ModVersion string
	Origin     sourceOrigin
}

// validateOptions are the checks of the plugin fetched, as stoq asked for
// it.
func (fp *fetchedPlugin) validateOptions(pick pickOptions) validateOptions {
	return validateOptions{WantName: fp.WantName, Prefer: fp.Prefer, Version: fp.Version, CoreVersion: pick.CoreVersion, Force: pick.Force}
}

// pickOptions say which version of a plugin to take when several fit what
// was asked (no version, or a constraint): the newest whose
// min_stoq_version CoreVersion meets, or with Force the newest.
type pickOptions struct {
	CoreVersion string
	Force       bool
}

// maxCandidates bounds the versions read to find the newest one made for
// this stoq (each is a shallow clone or a module download).
const maxCandidates = 10

// madeFor reports nil when the plugin folder dir (its manifest prefer.stoq,
// or its only one) accepts stoq pick.CoreVersion, or when it cannot tell
// (validation then says what is wrong).
func (pick pickOptions) madeFor(dir, prefer string) error {
	if pick.Force {
		return nil
	}
	path, err := plugincheck.FindManifest(dir, prefer)
	if err != nil {
		return nil
	}
	m, err := core.ReadManifest(path)
	if err != nil || strings.TrimSpace(m.MinStoqVersion) == "" {
		return nil
	}
	return m.CheckMinStoqVersion(pick.CoreVersion)
}

// noneMadeFor is the error when no candidate version accepts this stoq.
func noneMadeFor(what string, pick pickOptions, refusals []string) error {
	return fmt.Errorf("%s: no version is made for stoq %s (%s); upgrade stoq, or pass --force to install the newest anyway",
		what, pick.CoreVersion, strings.Join(refusals, "; "))
}

// fetcher gets plugin and core sources: git repositories are listed and
// read with go-git into a temporary folder that Close removes.
type fetcher struct {
	tmp      string
	progress *Progress
	repos    map[string]*gitRepo
	trees    map[string]fetchedTree // by location, ref and folders
	refs     map[string][]string
	seq      int
}

// fetchedTree is a materialized tree: its root folder and the commit read.
type fetchedTree struct{ root, commit string }

// newFetcher makes a fetcher reporting to progress (nil for none).
func newFetcher(progress *Progress) (*fetcher, error) {
	tmp, err := os.MkdirTemp("", "stoq-fetch-")
	if err != nil {
		return nil, err
	}
	return &fetcher{tmp: tmp, progress: progress, repos: map[string]*gitRepo{}, trees: map[string]fetchedTree{}, refs: map[string][]string{}}, nil
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
	if t, ok := f.trees[key]; ok {
		return t.root, t.commit, nil
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
	f.trees[key] = fetchedTree{root, commit}
	return root, commit, nil
}

// fetchPlugin gets the plugin spec names: a folder is used where it is, a
// catalogue folder as it is on disk unless a version is asked, a module
// through the module proxy, anything else is read from git at the ref the
// version picks (without a version or with a constraint: the newest that
// pick accepts).
func (f *fetcher) fetchPlugin(ctx context.Context, t *toolchain, spec Spec, cat Catalog, pick pickOptions) (*fetchedPlugin, error) {
	switch spec.kind {
	case fromPath:
		return &fetchedPlugin{Dir: spec.path, Prefer: filepath.Base(spec.path), Origin: sourceOrigin{Location: spec.path}}, nil
	case fromCatalog:
		if cat.dir != "" && spec.version == "" {
			dir := filepath.Join(cat.dir, "plugins", spec.name)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return nil, fmt.Errorf("the catalogue %s has no plugin %s (no plugins/%s folder)%s", cat, spec.name, spec.name, availablePlugins(filepath.Join(cat.dir, "plugins")))
			}
			return &fetchedPlugin{Dir: dir, WantName: spec.name, Origin: sourceOrigin{Spec: spec.raw, Location: cat.dir}}, nil
		}
		fp, err := f.fetchGit(ctx, spec, cat.gitLocation(), pluginDir(spec.name), spec.name, "", fmt.Sprintf("%s in the catalogue %s", spec.raw, cat), pick)
		return fp, cat.withOfflineHint(err)
	case fromGit:
		prefer := ""
		if spec.dir != "" {
			prefer = path.Base(spec.dir)
		}
		return f.fetchGit(ctx, spec, spec.url, spec.dir, "", prefer, spec.raw, pick)
	case fromModule:
		return f.fetchModule(ctx, t, spec, pick)
	}
	return nil, fmt.Errorf("%s: a %s source cannot be fetched here", spec.raw, spec.kind)
}

// offlineHint is added to catalogue errors that look like the network.
const offlineHint = "(the catalogue could not be reached: to work offline, point --catalog or $" + CatalogEnvVar + " at a local checkout of github.com/stoq-go/stoq, a folder or a file:// URL)"

// isNetworkError reports whether err looks like a failure to reach a
// remote (resolution, connection, TLS, timeouts, HTTP errors).
func isNetworkError(err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, s := range []string{"dial tcp", "no such host", "connection refused", "network is unreachable", "i/o timeout", "tls:", "x509:",
		"authentication required", "repository not found", "unexpected client error", "unexpected eof", "connection reset"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// fetchGit reads the plugin in dir of the repository at location, at the
// ref spec.version picks: among several candidates, the newest made for
// the running stoq.
func (f *fetcher) fetchGit(ctx context.Context, spec Spec, location, dir, want, prefer, what string, pick pickOptions) (*fetchedPlugin, error) {
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
	candidates, err := pickRefs(names, prefix, spec.version, what)
	if err != nil {
		return nil, err
	}
	if len(candidates) > maxCandidates {
		candidates = candidates[:maxCandidates]
	}
	var refusals []string
	for i, picked := range candidates {
		fp, err := f.fetchGitRef(ctx, spec, r, location, dir, picked)
		if err != nil {
			return nil, err
		}
		fp.WantName, fp.Prefer = want, prefer
		if want != "" {
			fp.Prefer = want
		}
		err = pick.madeFor(fp.Dir, fp.Prefer)
		if err == nil || len(candidates) == 1 {
			if i > 0 {
				f.progress.printf("Using %s %s, the newest version made for stoq %s (%s)", what, picked.Version, pick.CoreVersion, strings.Join(refusals, "; "))
			}
			return fp, nil
		}
		refusals = append(refusals, fmt.Sprintf("%s: %v", refLabel(picked.Ref), err))
	}
	return nil, noneMadeFor(what, pick, refusals)
}

// fetchGitRef materializes dir of the repository at one picked ref.
func (f *fetcher) fetchGitRef(ctx context.Context, spec Spec, r *gitRepo, location, dir string, picked pickedRef) (*fetchedPlugin, error) {
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
		Dir: pluginRoot, Version: picked.Version,
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
	root, origin, err = f.coreTree(ctx, cat, coreVersion)
	return root, origin, cat.withOfflineHint(err)
}

func (f *fetcher) coreTree(ctx context.Context, cat Catalog, coreVersion string) (root string, origin sourceOrigin, err error) {
	var diskVersion string
	if cat.dir != "" {
		v, err := readCoreVersion(filepath.Join(cat.dir, "core"))
		if err == nil && v == coreVersion {
			return cat.dir, sourceOrigin{Location: cat.dir}, nil
		}
		diskVersion = v
	}
	r, err := f.repo(cat.gitLocation())
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
	return root, sourceOrigin{Location: cat.gitLocation(), Ref: refLabel(ref), Commit: commit}, nil
}

// downloadedModule is what go mod download -json says of a module.
type downloadedModule struct {
	Path, Version, Dir, Error string
}

// fetchModule downloads a published plugin module (MODULE[@VERSION]) into
// the module cache through the user's GOPROXY and returns its folder there.
// Without a version it takes the newest release made for the running stoq
// (go list -m -versions), else the module's latest.
func (f *fetcher) fetchModule(ctx context.Context, t *toolchain, spec Spec, pick pickOptions) (*fetchedPlugin, error) {
	if t == nil {
		return nil, fmt.Errorf("%s: fetching a module needs the Go toolchain", spec.raw)
	}
	versions := []string{spec.version}
	if spec.version == "" {
		var err error
		if versions, err = f.moduleVersions(ctx, t, spec.module); err != nil {
			return nil, err
		}
	}
	var refusals []string
	for _, v := range versions {
		fp, err := f.downloadModule(ctx, t, spec, v)
		if err != nil {
			return nil, err
		}
		err = pick.madeFor(fp.Dir, path.Base(spec.module))
		if err == nil || len(versions) == 1 {
			if len(refusals) > 0 {
				f.progress.printf("Using %s@%s, the newest version made for stoq %s (%s)", spec.module, fp.ModVersion, pick.CoreVersion, strings.Join(refusals, "; "))
			}
			return fp, nil
		}
		refusals = append(refusals, fmt.Sprintf("%s: %v", fp.ModVersion, err))
	}
	return nil, noneMadeFor(spec.raw, pick, refusals)
}

// moduleVersions lists the releases of module newest first (at most
// maxCandidates; its pre-releases when it has no release), or "latest"
// when the proxy lists none (a module with pseudo-versions only).
func (f *fetcher) moduleVersions(ctx context.Context, t *toolchain, module string) ([]string, error) {
	done := f.progress.step("Listing the versions of "+module, 0)
	out, err := t.output(ctx, f.tmp, nil, "list", "-m", "-versions", "-json", module+"@latest")
	done(err)
	if err != nil {
		return nil, fmt.Errorf("listing the versions of %s: %w", module, err)
	}
	var m struct{ Versions []string }
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("listing the versions of %s: %w", module, err)
	}
	var releases, pre []string
	for i := len(m.Versions) - 1; i >= 0; i-- {
		if v := m.Versions[i]; semver.Prerelease(v) == "" {
			releases = append(releases, v)
		} else {
			pre = append(pre, v)
		}
	}
	if len(releases) == 0 {
		releases = pre
	}
	if len(releases) == 0 {
		return []string{"latest"}, nil
	}
	if len(releases) > maxCandidates {
		releases = releases[:maxCandidates]
	}
	return releases, nil
}

// downloadModule runs go mod download -json for module@version.
func (f *fetcher) downloadModule(ctx context.Context, t *toolchain, spec Spec, version string) (*fetchedPlugin, error) {
	ref := spec.module + "@" + version
	done := f.progress.step("Downloading "+ref, 15*time.Second)
	out, err := t.output(ctx, f.tmp, nil, "mod", "download", "-json", ref)
	var m downloadedModule
	if jerr := json.Unmarshal(out, &m); err == nil && jerr != nil {
		err = jerr
	}
	if err == nil && m.Error != "" {
		err = errors.New(m.Error)
	}
	done(err)
	if err != nil {
		return nil, fmt.Errorf("downloading %s: %w", ref, err)
	}
	return &fetchedPlugin{
		Dir: m.Dir, Prefer: path.Base(spec.module), Version: m.Version, ModVersion: m.Version,
		Origin: sourceOrigin{Spec: spec.raw, Location: "module " + m.Path + "@" + m.Version, Ref: m.Version},
	}, nil
}
