// Package release checks that the repository's modules can be published
// as Go modules at the versions they state, and makes what a release is
// made of: the module zips a proxy serves and the git tags.
//
// A release publishes core (github.com/stoq-go/stoq/core/v3, at core's
// Version constant), cli (at the same version: the builder links the cli
// of the running core) and every plugins/NAME (at its manifest's Version),
// each tagged in Go's multi-module form DIR/vX.Y.Z (core/v3.0.0,
// plugins/hash/v3.0.0), so that `go get MODULE@vX.Y.Z` and any module
// proxy serve them. tools is project tooling and is not released.
//
// Check verifies, for each released module: the version it states agrees
// with its CHANGELOG's newest entry and is valid for the module path's
// major version (a 3.x module needs a /v3 path); its requirements of other
// stoq modules name versions that this release or an existing tag
// publishes (no placeholder pseudo-versions); and its files zip as the
// module proxy protocol wants (golang.org/x/mod/zip: file names, sizes,
// go.mod at the root, no nested modules).
package release

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/plugincheck"
	"github.com/stoq-go/stoq/tools/catalog"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
)

// RepoPrefix starts the path of every module of the repository.
const RepoPrefix = "github.com/stoq-go/stoq/"

// Module is one module a release publishes.
type Module struct {
	// Dir is its folder, relative to the repository root (slash path):
	// core, cli, plugins/hash.
	Dir string
	// Path is its module path; Version the version released (v3.0.0).
	Path, Version string
	// Zip is its module zip, as a proxy serves it; GoMod its go.mod.
	Zip, GoMod []byte
}

// Tag is the git tag that releases the module: DIR/vX.Y.Z.
func (m Module) Tag() string { return m.Dir + "/" + m.Version }

// Problem is one reason a module cannot be released as it is.
type Problem struct {
	Dir     string
	Message string
}

func (p Problem) String() string { return p.Dir + ": " + p.Message }

// Check checks every released module of the repository at root and
// returns them (zipped) in tag order, with the problems found.
func Check(root string) ([]Module, []Problem, error) {
	dirs, err := releasedDirs(root)
	if err != nil {
		return nil, nil, err
	}
	coreVersion, err := plugincheck.CoreVersion(filepath.Join(root, "core"))
	if err != nil {
		return nil, nil, err
	}
	var modules []Module
	var problems []Problem
	for _, dir := range dirs {
		m, msgs := checkModule(root, dir, coreVersion)
		for _, msg := range msgs {
			problems = append(problems, Problem{dir, msg})
		}
		if m != nil {
			modules = append(modules, *m)
		}
	}
	problems = append(problems, checkRequirements(root, modules)...)
	sort.Slice(modules, func(i, j int) bool { return modules[i].Tag() < modules[j].Tag() })
	return modules, problems, nil
}

// releasedDirs are core, cli and every plugins/NAME holding a go.mod.
func releasedDirs(root string) ([]string, error) {
	dirs := []string{"core", "cli"}
	entries, err := os.ReadDir(filepath.Join(root, "plugins"))
	if err != nil {
		return nil, fmt.Errorf("the repository %s: %w", root, err)
	}
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			if _, err := os.Stat(filepath.Join(root, "plugins", e.Name(), "go.mod")); err == nil {
				dirs = append(dirs, "plugins/"+e.Name())
			}
		}
	}
	return dirs, nil
}

// checkModule reads the module in dir, the version it releases, and zips
// it.
func checkModule(root, dir, coreVersion string) (*Module, []string) {
	abs := filepath.Join(root, filepath.FromSlash(dir))
	gomodPath := filepath.Join(abs, "go.mod")
	gomod, err := os.ReadFile(gomodPath)
	if err != nil {
		return nil, []string{err.Error()}
	}
	mf, err := modfile.Parse(gomodPath, gomod, nil)
	if err != nil {
		return nil, []string{err.Error()}
	}
	if mf.Module == nil {
		return nil, []string{"go.mod has no module line"}
	}
	m := &Module{Dir: dir, Path: mf.Module.Mod.Path, GoMod: gomod}
	var problems []string
	if want := RepoPrefix + dir; strings.TrimSuffix(m.Path, pathMajor(m.Path)) != want {
		problems = append(problems, fmt.Sprintf("module %s: a module of this repository in %s must be %s[/vN]", m.Path, dir, want))
	}
	version, what, msgs := statedVersion(abs, dir, coreVersion, m.Path)
	problems = append(problems, msgs...)
	if version == "" {
		return nil, problems
	}
	m.Version = "v" + version
	if changelog, err := newestChangelogVersion(filepath.Join(abs, "CHANGELOG.md")); err != nil {
		problems = append(problems, "CHANGELOG.md: "+err.Error())
	} else if changelog != version {
		problems = append(problems, fmt.Sprintf("%s is %s but CHANGELOG.md's newest entry is %s", what, version, changelog))
	}
	if !semver.IsValid(m.Version) {
		problems = append(problems, fmt.Sprintf("%s %q is not a semantic version", what, version))
		return nil, problems
	}
	if err := module.CheckPathMajor(m.Version, pathMajor(m.Path)); err != nil {
		problems = append(problems, fmt.Sprintf("module %s cannot be published at %s (%s is %s): %v", m.Path, m.Version, what, version, err))
		return nil, problems
	}
	zip, err := zipModule(root, abs, module.Version{Path: m.Path, Version: m.Version})
	if err != nil {
		problems = append(problems, fmt.Sprintf("module %s@%s does not zip: %v", m.Path, m.Version, err))
		return nil, problems
	}
	m.Zip = zip
	return m, problems
}

// statedVersion is the version the module in dir (whose go.mod names
// modPath) says it is, and where it says so: core's Version constant; the
// cli is released with the core at its version (its CHANGELOG must agree);
// a plugin's manifest Version.
func statedVersion(abs, dir, coreVersion, modPath string) (version, what string, problems []string) {
	switch {
	case dir == "core":
		return coreVersion, "core.Version", nil
	case dir == "cli":
		return coreVersion, "the cli (released with the core at core.Version)", nil
	}
	name := path.Base(dir)
	m, err := core.ReadManifest(filepath.Join(abs, name+".stoq"))
	if err != nil {
		return "", "", []string{err.Error()}
	}
	if m.Name != name {
		problems = append(problems, fmt.Sprintf("%s.stoq names plugin %s", name, m.Name))
	}
	if m.Module != "" && modPath != m.Module {
		problems = append(problems, fmt.Sprintf("the manifest's Module is %s but go.mod's module is %s", m.Module, modPath))
	}
	return strings.TrimPrefix(m.Version, "v"), "the manifest's Version", problems
}

func pathMajor(p string) string {
	_, major, _ := module.SplitPathVersion(p)
	return major
}

// checkRequirements checks that every requirement of a stoq module names
// a version that is published: by this release, or by a tag that exists.
func checkRequirements(root string, modules []Module) []Problem {
	released := map[string]string{}
	for _, m := range modules {
		released[m.Path] = m.Version
	}
	tags := existingTags(root)
	var problems []Problem
	for _, m := range modules {
		mf, err := modfile.Parse("go.mod", m.GoMod, nil)
		if err != nil {
			continue
		}
		for _, r := range mf.Require {
			if !strings.HasPrefix(r.Mod.Path, RepoPrefix) {
				continue
			}
			dir := strings.TrimSuffix(strings.TrimPrefix(r.Mod.Path, RepoPrefix), pathMajor(r.Mod.Path))
			if released[r.Mod.Path] == r.Mod.Version || tags[dir+"/"+r.Mod.Version] {
				continue
			}
			why := "neither this release nor an existing tag publishes it"
			if module.IsPseudoVersion(r.Mod.Version) {
				why = "a placeholder pseudo-version, which no proxy serves"
			}
			if v, ok := released[r.Mod.Path]; ok {
				why += fmt.Sprintf("; this release publishes %s", v)
			}
			problems = append(problems, Problem{m.Dir, fmt.Sprintf("go.mod requires %s %s: %s", r.Mod.Path, r.Mod.Version, why)})
		}
	}
	return problems
}

// zipModule zips the module in dir: the files git would commit (tracked
// and untracked, not ignored) when root is a git work tree, else every
// file; golang.org/x/mod/zip leaves out nested modules and vendor folders
// and refuses what a proxy would.
func zipModule(root, dir string, m module.Version) ([]byte, error) {
	var buf bytes.Buffer
	files, err := gitFiles(root, dir)
	if err != nil {
		if err := modzip.CreateFromDir(&buf, m, dir); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	if err := modzip.Create(&buf, m, files); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gitFiles lists the files of dir that git would commit, as zip files.
func gitFiles(root, dir string) ([]modzip.File, error) {
	if _, err := os.Stat(filepath.Join(root, ".git")); err != nil {
		return nil, err
	}
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, err
	}
	var files []modzip.File
	for _, name := range strings.Split(string(out), "\x00") {
		if name == "" {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted, not yet committed
		}
		if err != nil {
			return nil, err
		}
		files = append(files, diskFile{slashPath: name, path: p, info: info})
	}
	return files, nil
}

type diskFile struct {
	slashPath, path string
	info            fs.FileInfo
}

func (f diskFile) Path() string                 { return f.slashPath }
func (f diskFile) Lstat() (fs.FileInfo, error)  { return f.info, nil }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.path) }

// WriteProxy writes modules into dir as a GOPROXY folder (serve it as
// GOPROXY=file://DIR): for each, @v/list, VERSION.info, .mod and .zip.
// Existing versions of a module are kept in its list.
func WriteProxy(dir string, modules []Module) error {
	for _, m := range modules {
		if err := writeProxyModule(dir, m.Path, m.Version, m.GoMod, m.Zip); err != nil {
			return err
		}
	}
	return nil
}

// WriteProxyModule publishes one module version into the GOPROXY folder
// dir: its go.mod and zip.
func writeProxyModule(dir, modPath, version string, gomod, zip []byte) error {
	escaped, err := module.EscapePath(modPath)
	if err != nil {
		return err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return err
	}
	base := filepath.Join(dir, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return err
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Now().UTC().Format(time.RFC3339))
	for name, data := range map[string][]byte{ev + ".mod": gomod, ev + ".zip": zip, ev + ".info": []byte(info)} {
		if err := os.WriteFile(filepath.Join(base, name), data, 0o644); err != nil {
			return err
		}
	}
	list := map[string]bool{version: true}
	if old, err := os.ReadFile(filepath.Join(base, "list")); err == nil {
		for _, v := range strings.Fields(string(old)) {
			list[v] = true
		}
	}
	versions := make([]string, 0, len(list))
	for v := range list {
		versions = append(versions, v)
	}
	semver.Sort(versions)
	return os.WriteFile(filepath.Join(base, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o644)
}

// PublishDir zips the module in folder dir at version (such as a plugin
// module of an author, outside the repository) into the GOPROXY folder
// proxy.
func PublishDir(proxy, dir, version string) (modPath string, err error) {
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	modPath = modfile.ModulePath(gomod)
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: modPath, Version: version}, dir); err != nil {
		return "", err
	}
	return modPath, writeProxyModule(proxy, modPath, version, gomod, buf.Bytes())
}

// TagState is a release tag and whether it exists.
type TagState struct {
	Module Module
	// Commit is the commit the tag names ("" when it does not exist).
	Commit string
}

// TagStates says, for each module, whether its tag exists in the
// repository at root, and at which commit.
func TagStates(root string, modules []Module) []TagState {
	out := make([]TagState, len(modules))
	for i, m := range modules {
		out[i] = TagState{Module: m, Commit: revParse(root, "refs/tags/"+m.Tag()+"^{commit}")}
	}
	return out
}

// CreateTags creates, at HEAD, the tags of modules that do not exist yet,
// and returns them. It refuses when a module's files have changes that
// are not committed (the tag would not release them), or when a tag exists
// at another commit than HEAD with different module content (a released
// version never moves: raise the version instead).
func CreateTags(root string, modules []Module) ([]string, error) {
	head := revParse(root, "HEAD^{commit}")
	if head == "" {
		return nil, fmt.Errorf("%s: not a git repository with a commit", root)
	}
	var dirs []string
	for _, m := range modules {
		dirs = append(dirs, m.Dir)
	}
	status, err := git(root, append([]string{"status", "--porcelain", "--"}, dirs...)...)
	if err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(status); s != "" {
		return nil, fmt.Errorf("uncommitted changes in released modules (a tag releases the commit, not the work tree): commit them first:\n%s", s)
	}
	var created []string
	for _, st := range TagStates(root, modules) {
		tag := st.Module.Tag()
		switch {
		case st.Commit == head:
			continue
		case st.Commit != "":
			if sameTree(root, st.Commit, head, st.Module.Dir) {
				continue // released before, unchanged since
			}
			return created, fmt.Errorf("tag %s exists at commit %.12s and %s changed since: a released version never moves; raise the version (and its CHANGELOG entry)", tag, st.Commit, st.Module.Dir)
		}
		if _, err := git(root, "tag", tag, head); err != nil {
			return created, err
		}
		created = append(created, tag)
	}
	return created, nil
}

func sameTree(root, a, b, dir string) bool {
	ta := revParse(root, a+":"+dir)
	return ta != "" && ta == revParse(root, b+":"+dir)
}

// existingTags are the repository's tags ("" map when it has none or is
// no git repository).
func existingTags(root string) map[string]bool {
	out, err := git(root, "tag", "--list")
	tags := map[string]bool{}
	if err != nil {
		return tags
	}
	for _, t := range strings.Fields(out) {
		tags[t] = true
	}
	return tags
}

func revParse(root, rev string) string {
	out, err := git(root, "rev-parse", "--verify", "--quiet", rev)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

func git(root string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// newestChangelogVersion is the version of a changelog's first release
// heading, read as the catalogue lint reads it.
func newestChangelogVersion(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return catalog.NewestChangelogVersion(string(data))
}
