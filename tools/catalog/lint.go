// Package catalog checks the plugin catalogue: every plugins/NAME folder of
// the repository is a plugin that `stoq install stoq:NAME` can install and
// that is tested against the workspace core. stoQ's catalogue drifted on
// exactly these points (versions that disagreed with changelogs, modules
// that named another path, min_stoq_version left out), so make test runs
// Lint.
package catalog

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"golang.org/x/mod/modfile"
)

// CoreModule is the module every plugin requires and replaces with the
// workspace core.
const CoreModule = "github.com/stoq-go/stoq/core/v3"

// Problem is one thing wrong with one plugin.
type Problem struct {
	Plugin  string // the folder name under plugins/
	Message string
}

func (p Problem) String() string { return "plugins/" + p.Plugin + ": " + p.Message }

// Lint checks every folder under root/plugins against coreVersion (the
// workspace core's version) and returns the problems found, sorted; the
// plugin names it checked are returned too.
//
// For each plugins/NAME it checks: NAME.stoq exists and passes
// core.Manifest.Validate with Name = NAME; min_stoq_version is met by
// coreVersion; CHANGELOG.md's newest entry (## 3.0.0 … or ## [3.0.0])
// is the manifest's Version; [Core] Module is go.mod's module path; go.mod
// requires the core and replaces it with ../../core; and, when root has a
// go.work, the folder is in its use list.
func Lint(root, coreVersion string) (checked []string, problems []Problem, err error) {
	entries, err := os.ReadDir(filepath.Join(root, "plugins"))
	if err != nil {
		return nil, nil, fmt.Errorf("the catalogue %s: %w", root, err)
	}
	workUses, hasWork, err := readWorkUses(root)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := e.Name()
		checked = append(checked, name)
		for _, msg := range lintPlugin(filepath.Join(root, "plugins", name), name, coreVersion) {
			problems = append(problems, Problem{name, msg})
		}
		if hasWork && !workUses["./plugins/"+name] {
			problems = append(problems, Problem{name, "not in go.work's use list (add ./plugins/" + name + ")"})
		}
	}
	sort.SliceStable(problems, func(i, j int) bool { return problems[i].Plugin < problems[j].Plugin })
	return checked, problems, nil
}

func lintPlugin(dir, name, coreVersion string) []string {
	var out []string
	manifestPath := filepath.Join(dir, name+".stoq")
	m, err := core.ReadManifest(manifestPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			out = append(out, fmt.Sprintf("no manifest %s.stoq", name))
		} else {
			out = append(out, err.Error())
		}
	} else {
		if err := m.Validate(); err != nil {
			out = append(out, err.Error())
		}
		if m.Name != name {
			out = append(out, fmt.Sprintf("%s.stoq says [Core] Name = %s; it must be the folder's name %s", name, m.Name, name))
		}
		if m.MinStoqVersion != "" {
			if err := m.CheckMinStoqVersion(coreVersion); err != nil {
				out = append(out, fmt.Sprintf("min_stoq_version = %s is not met by the workspace core %s: %v", m.MinStoqVersion, coreVersion, err))
			}
		}
		if m.Version != "" {
			out = append(out, checkChangelog(filepath.Join(dir, "CHANGELOG.md"), m.Version)...)
		}
	}
	out = append(out, checkGoMod(filepath.Join(dir, "go.mod"), m)...)
	return out
}

// changelogEntry matches a release heading: "## 3.0.0 - 2026-11-27",
// "## [3.0.0] - …", "## v3.0.0".
var changelogEntry = regexp.MustCompile(`^##\s+\[?v?([0-9]+\.[0-9]+\.[0-9]+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\]?(?:\s|$)`)

var unreleased = regexp.MustCompile(`(?i)^##\s+\[?unreleased\]?`)

// NewestChangelogVersion returns the version of the first release heading
// of a changelog (an "Unreleased" heading is skipped).
func NewestChangelogVersion(data string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "## ") || unreleased.MatchString(line) {
			continue
		}
		m := changelogEntry.FindStringSubmatch(line)
		if m == nil {
			return "", fmt.Errorf("the newest entry %q does not start with a version (## 3.0.0 - DATE or ## [3.0.0])", line)
		}
		return m[1], nil
	}
	return "", errors.New("no release entry (## 3.0.0 - DATE)")
}

func checkChangelog(path, version string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{"no CHANGELOG.md: " + err.Error()}
	}
	newest, err := NewestChangelogVersion(string(data))
	if err != nil {
		return []string{"CHANGELOG.md: " + err.Error()}
	}
	if strings.TrimPrefix(version, "v") != newest {
		return []string{fmt.Sprintf("the manifest's Version is %s but CHANGELOG.md's newest entry is %s", version, newest)}
	}
	return nil
}

func checkGoMod(path string, m *core.Manifest) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{"no go.mod: " + err.Error()}
	}
	f, err := modfile.Parse(path, data, nil)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	if f.Module == nil {
		return []string{"go.mod has no module line"}
	}
	if m != nil && m.Module != "" && f.Module.Mod.Path != m.Module {
		out = append(out, fmt.Sprintf("the manifest's [Core] Module is %s but go.mod's module is %s", m.Module, f.Module.Mod.Path))
	}
	required := false
	for _, r := range f.Require {
		if r.Mod.Path == CoreModule {
			required = true
		}
	}
	if !required {
		out = append(out, "go.mod does not require "+CoreModule)
	}
	replaced := false
	for _, r := range f.Replace {
		if r.Old.Path != CoreModule {
			continue
		}
		if r.Old.Version != "" || filepath.ToSlash(filepath.Clean(r.New.Path)) != "../../core" {
			out = append(out, fmt.Sprintf("go.mod replaces the core with %s %s; it must be `replace %s => ../../core` (the core it is tested with)",
				r.New.Path, r.New.Version, CoreModule))
		}
		replaced = true
	}
	if !replaced {
		out = append(out, "go.mod does not replace the core with the workspace's: add `replace "+CoreModule+" => ../../core`")
	}
	return out
}

func readWorkUses(root string) (map[string]bool, bool, error) {
	path := filepath.Join(root, "go.work")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	wf, err := modfile.ParseWork(path, data, nil)
	if err != nil {
		return nil, false, err
	}
	uses := map[string]bool{}
	for _, u := range wf.Use {
		p := filepath.ToSlash(filepath.Clean(u.Path))
		if !strings.HasPrefix(p, "./") && !strings.HasPrefix(p, "../") && !filepath.IsAbs(u.Path) {
			p = "./" + p
		}
		uses[p] = true
	}
	return uses, true, nil
}
