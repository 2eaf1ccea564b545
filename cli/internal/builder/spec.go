package builder

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/stoq-go/stoq/core/v3/plugincheck"
	"golang.org/x/mod/module"
)

// specKind says where a plugin comes from.
type specKind int

// The kinds of plugin source.
const (
	// fromCatalog is stoq:NAME[@VERSION]: plugins/NAME of the catalogue.
	fromCatalog specKind = iota + 1
	// fromGit is a git repository: OWNER/REPO[/DIR][@VERSION] on GitHub or
	// any git URL, optionally URL//DIR[@VERSION].
	fromGit
	// fromPath is a plugin folder on disk, taken as it is.
	fromPath
	// fromModule is MODULE[@VERSION], a published Go module fetched through
	// the module proxy.
	fromModule
)

func (k specKind) String() string {
	switch k {
	case fromCatalog:
		return "catalogue"
	case fromGit:
		return "git"
	case fromPath:
		return "path"
	case fromModule:
		return "module"
	}
	return fmt.Sprintf("SpecKind(%d)", int(k))
}

// Spec is a parsed plugin source, as typed after stoq install or
// stoq build --with.
type Spec struct {
	kind specKind
	// raw is the text it was parsed from.
	raw string
	// name is the plugin name of a catalogue spec.
	name string
	// url is the repository of a git spec.
	url string
	// dir is the plugin's folder inside a git repository ("" for its root).
	dir string
	// version is what was asked after '@': a version (3.1.0 or v3.1.0), a
	// semver constraint (^3.1) or a branch or tag name; "" for the newest.
	version string
	// path is the folder of a path spec (absolute).
	path string
	// module is the module path of a module spec.
	module string
}

// String gives the spec back in the form it is written.
func (s Spec) String() string { return s.raw }

// catalogPrefix introduces a catalogue plugin: stoq:NAME[@VERSION].
const catalogPrefix = "stoq:"

var (
	githubRe     = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9-]*)/([A-Za-z0-9._-]+)((?:/[A-Za-z0-9._-]+)*)$`)
	scpLikeURLRe = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:`)
)

// ParseInstallSpec parses what stoq install was given. With github set (the
// --github flag) it accepts stoq:NAME[@VERSION], OWNER/REPO[/DIR][@VERSION],
// a git URL or MODULE[@VERSION]; otherwise stoq:NAME[@VERSION], a git URL,
// a folder, a git repository on disk (a bare one included, PATH[@VERSION])
// or MODULE[@VERSION] (a module path whose first element has a dot, that is
// no folder: a published Go module, through the module proxy; without a
// version, the newest made for this stoq).
func ParseInstallSpec(s string, github bool) (Spec, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Spec{}, fmt.Errorf("no plugin given: use stoq:NAME, OWNER/REPO, a git URL, MODULE@VERSION or a folder")
	case strings.HasPrefix(s, catalogPrefix):
		return parseCatalogSpec(s)
	case isGitURL(s):
		return parseGitURLSpec(s)
	case github && looksLikeModule(s):
		return parseModuleSpec(s)
	case github:
		return parseGitHubSpec(s)
	}
	if spec, ok, err := parseRepositoryPath(s); ok || err != nil {
		return spec, err
	}
	if _, err := os.Stat(expandHome(s)); err != nil && looksLikeModule(s) && !strings.HasPrefix(s, ".") && !filepath.IsAbs(s) {
		return parseModuleSpec(s)
	}
	return parsePathSpec(s)
}

// looksLikeModule reports whether s reads as MODULE[@VERSION]: a slash
// path whose first element has a dot (example.com/x).
func looksLikeModule(s string) bool {
	path, _, _ := strings.Cut(s, "@")
	first, _, hasSlash := strings.Cut(path, "/")
	return hasSlash && strings.Contains(first, ".") && !strings.ContainsAny(path, `\ `) && !strings.HasPrefix(path, "~")
}

// parseModuleSpec parses MODULE[@VERSION]; @latest is the same as no
// version.
func parseModuleSpec(s string) (Spec, error) {
	path, version, hasVersion := strings.Cut(s, "@")
	if hasVersion && version == "" {
		return Spec{}, fmt.Errorf("%s: no version after '@'", s)
	}
	if err := module.CheckPath(path); err != nil {
		return Spec{}, fmt.Errorf("%s: not a folder, and not a Go module path: %w", s, err)
	}
	if version == "latest" {
		version = ""
	}
	return Spec{kind: fromModule, raw: s, module: path, version: version}, nil
}

// parseRepositoryPath reads PATH[@VERSION] naming a git repository with
// no plugin folder at its root to install from (a bare repository, whose
// files are only in git): it is a git source read at its tags. ok is false
// for anything else.
func parseRepositoryPath(s string) (spec Spec, ok bool, err error) {
	p, version := s, ""
	if !plugincheck.IsBareRepository(expandHome(p)) {
		i := strings.LastIndex(s, "@")
		if i <= 0 || !plugincheck.IsBareRepository(expandHome(s[:i])) {
			return Spec{}, false, nil
		}
		p, version = s[:i], s[i+1:]
		if version == "" {
			return Spec{}, true, fmt.Errorf("%s: no version after '@'", s)
		}
	}
	abs, err := filepath.Abs(expandHome(p))
	if err != nil {
		return Spec{}, true, fmt.Errorf("%s: %w", s, err)
	}
	return Spec{kind: fromGit, raw: s, url: abs, version: version}, true, nil
}

// expandHome expands a leading ~/ to the user's home folder.
func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}

// ParseWithSpec parses one stoq build --with value: NAME[@VERSION] or
// stoq:NAME[@VERSION] (the catalogue), a folder (anything with a path
// separator, or an existing folder), MODULE@VERSION (a module path whose
// first element has a dot), or a git URL.
func ParseWithSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Spec{}, fmt.Errorf("empty --with")
	case strings.HasPrefix(s, catalogPrefix):
		return parseCatalogSpec(s)
	case isGitURL(s):
		return parseGitURLSpec(s)
	}
	name, version, hasVersion := strings.Cut(s, "@")
	if hasVersion && strings.Contains(strings.SplitN(name, "/", 2)[0], ".") && strings.Contains(name, "/") {
		if version == "" {
			return Spec{}, fmt.Errorf("--with %s: no version after '@'", s)
		}
		return Spec{kind: fromModule, raw: s, module: name, version: version}, nil
	}
	if looksLikePath(s) {
		return parsePathSpec(s)
	}
	if validPluginName(name) {
		return parseCatalogSpec(catalogPrefix + s)
	}
	return Spec{}, fmt.Errorf("--with %q: not a catalogue plugin name (lowercase letters, digits, '_' and '-'), a folder, MODULE@VERSION or a git URL", s)
}

func parseCatalogSpec(s string) (Spec, error) {
	name, version, hasVersion := strings.Cut(strings.TrimPrefix(s, catalogPrefix), "@")
	if !validPluginName(name) {
		return Spec{}, fmt.Errorf("%s: %q is not a plugin name (lowercase letters, digits, '_' and '-')", s, name)
	}
	if why := plugincheck.Reserved(name); why != "" {
		return Spec{}, fmt.Errorf("%s: %s", s, why)
	}
	if hasVersion && version == "" {
		return Spec{}, fmt.Errorf("%s: no version after '@'", s)
	}
	return Spec{kind: fromCatalog, raw: s, name: name, version: version}, nil
}

func parseGitHubSpec(s string) (Spec, error) {
	repoPath, version, hasVersion := strings.Cut(s, "@")
	if hasVersion && version == "" {
		return Spec{}, fmt.Errorf("%s: no version after '@'", s)
	}
	m := githubRe.FindStringSubmatch(repoPath)
	if m == nil {
		return Spec{}, fmt.Errorf("--github %q: expected stoq:NAME[@VERSION], OWNER/REPO[/DIR][@VERSION] or a git URL", s)
	}
	dir := strings.TrimPrefix(m[3], "/")
	if err := checkRepoDir(dir); err != nil {
		return Spec{}, fmt.Errorf("--github %s: %w", s, err)
	}
	return Spec{
		kind: fromGit, raw: s,
		url:     "https://github.com/" + m[1] + "/" + strings.TrimSuffix(m[2], ".git"),
		dir:     dir,
		version: version,
	}, nil
}

// isGitURL reports whether s is a URL git understands (scheme://… or the
// scp-like user@host:path).
func isGitURL(s string) bool {
	for _, scheme := range []string{"https://", "http://", "ssh://", "git://", "file://", "git+ssh://"} {
		if strings.HasPrefix(strings.ToLower(s), scheme) {
			return true
		}
	}
	return scpLikeURLRe.MatchString(s)
}

// parseGitURLSpec parses URL[//DIR][@VERSION]. The version is an '@' after
// the last '/', so user@host:path URLs keep their user.
func parseGitURLSpec(s string) (Spec, error) {
	rest, version := s, ""
	if i := strings.LastIndex(s, "@"); i > strings.LastIndex(s, "/") && i > strings.Index(s, ":") {
		rest, version = s[:i], s[i+1:]
		if version == "" {
			return Spec{}, fmt.Errorf("%s: no version after '@'", s)
		}
	}
	// URL//DIR: the first "//" after the scheme's separates the folder.
	dir := ""
	start := 0
	if i := strings.Index(rest, "://"); i >= 0 {
		start = i + 3
	}
	if i := strings.Index(rest[start:], "//"); i >= 0 {
		rest, dir = rest[:start+i], strings.Trim(rest[start+i+2:], "/")
	}
	if err := checkRepoDir(dir); err != nil {
		return Spec{}, fmt.Errorf("%s: %w", s, err)
	}
	if strings.Contains(rest, "://") {
		u, err := url.Parse(rest)
		if err != nil {
			return Spec{}, fmt.Errorf("%s: %w", s, err)
		}
		if u.Scheme != "file" && u.Host == "" {
			return Spec{}, fmt.Errorf("%s: no host in the URL", s)
		}
		if u.Scheme == "file" && u.Path == "" {
			return Spec{}, fmt.Errorf("%s: no path in the file:// URL", s)
		}
	}
	return Spec{kind: fromGit, raw: s, url: rest, dir: dir, version: version}, nil
}

func parsePathSpec(s string) (Spec, error) {
	p := s
	if strings.HasPrefix(p, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return Spec{}, fmt.Errorf("%s: %w", s, err)
		}
		p = filepath.Join(home, p[2:])
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return Spec{}, fmt.Errorf("%s: %w", s, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Spec{}, fmt.Errorf("plugin folder %s: %w", s, err)
	}
	if !fi.IsDir() {
		return Spec{}, fmt.Errorf("plugin folder %s: not a folder", s)
	}
	return Spec{kind: fromPath, raw: s, path: abs}, nil
}

func looksLikePath(s string) bool {
	if strings.ContainsRune(s, filepath.Separator) || strings.ContainsRune(s, '/') ||
		s == "." || s == ".." || strings.HasPrefix(s, "~") {
		return true
	}
	fi, err := os.Stat(s)
	return err == nil && fi.IsDir()
}

// checkRepoDir refuses a folder inside a repository that could leave it.
func checkRepoDir(dir string) error {
	if dir == "" {
		return nil
	}
	if strings.HasPrefix(dir, "/") || strings.Contains(dir, "\\") {
		return fmt.Errorf("folder %q must be relative to the repository", dir)
	}
	for _, part := range strings.Split(dir, "/") {
		if part == "" || part == "." || part == ".." {
			return fmt.Errorf("folder %q must not contain empty, '.' or '..' parts", dir)
		}
	}
	return nil
}
