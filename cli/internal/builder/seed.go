package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
)

// Seeding: `make` builds bin/stoq with the whole catalogue (a `stoq build`
// binary), and `bin/stoq install X` builds $STOQ_HOME/bin/stoq. For that
// binary to stand in for bin/stoq (the handoff), it must link what bin/stoq
// links, plus X: so an install run by a binary that links plugins first
// seeds $STOQ_HOME with them, copied from the folders that binary was built
// from (its kept build folder, BINARY.build). A plugin the user uninstalled
// is not seeded again; a seeded plugin whose version in the binary changed
// (after a git pull and make) is seeded again.

// Seed is the running stoq binary an install seeds $STOQ_HOME from.
type Seed struct {
	// Binary is its path; its generated module is in Binary+".build".
	Binary string
	// Plugins are the plugins it links (its build record).
	Plugins []LinkedPlugin

	// dirs and dirsErr are seedFolders, once read (folders).
	dirs    map[string]string
	dirsErr error
}

// seedSource prefixes the recorded source of a seeded plugin.
const seedSource = "seeded from "

// seedFolders reads the kept build folder of the seed binary: the folder
// of every module its go.mod replaces, by module path.
func seedFolders(s *Seed) (map[string]string, error) {
	buildDir := s.Binary + ".build"
	path := filepath.Join(buildDir, "go.mod")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the build folder of %s: %w", s.Binary, err)
	}
	mf, err := modfile.Parse(path, data, nil) // ParseLax would drop the replace directives
	if err != nil {
		return nil, err
	}
	dirs := map[string]string{}
	for _, r := range mf.Replace {
		if r.New.Version != "" {
			continue
		}
		dir := r.New.Path
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(buildDir, dir)
		}
		dirs[r.Old.Path] = dir
	}
	return dirs, nil
}

// folders is seedFolders(s), read on first use: the seeding and the core
// and cli sources may both need it.
func (s *Seed) folders() (map[string]string, error) {
	if s.dirs == nil && s.dirsErr == nil {
		s.dirs, s.dirsErr = seedFolders(s)
	}
	return s.dirs, s.dirsErr
}

// seedCoreAndCLI are the core and cli folders the seed binary was built
// from, when they are the running core version ("" when not).
func seedCoreAndCLI(s *Seed, coreVersion string) (coreDir, cliDir string) {
	if s == nil {
		return "", ""
	}
	dirs, err := s.folders()
	if err != nil {
		return "", ""
	}
	coreDir, cliDir = dirs[coreModule], dirs[cliModule]
	if v, err := readCoreVersion(coreDir); err != nil || v != coreVersion {
		return "", ""
	}
	if err := checkModuleDir(cliDir, cliModule); err != nil {
		return "", ""
	}
	return coreDir, cliDir
}

// stageSeeds adds to change the seed binary's plugins that $STOQ_HOME
// lacks (skipping except, the plugin being installed, and those the user
// uninstalled), or holds from an earlier seeding at another version. It
// returns what it staged; a plugin it cannot seed is a warning, not a
// failure (the install goes on without it).
func stageSeeds(h stoqHome, s *Seed, except string, change *homeChange, pick pickOptions, p *Progress) []InstalledPlugin {
	if s == nil || len(s.Plugins) == 0 {
		return nil
	}
	change.next.standInFor(s.Binary)
	var todo []LinkedPlugin
	for _, lp := range s.Plugins {
		old, installed := change.next.Plugins[lp.Name]
		switch {
		case lp.Name == except || change.next.declined(lp.Name):
		case !installed:
			todo = append(todo, lp)
		case strings.HasPrefix(old.Source, seedSource) && old.Version != lp.Version:
			todo = append(todo, lp)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	dirs, err := s.folders()
	if err != nil {
		p.warnf("cannot seed %s with the plugins %s links (%v): install them with stoq install stoq:NAME", h.Dir, s.Binary, err)
		return nil
	}
	names := make([]string, len(todo))
	for i, lp := range todo {
		names[i] = lp.Name
	}
	p.printf("Seeding %s with the plugins %s links (%s), so that %s stands in for it", h.PluginsDir(), s.Binary, strings.Join(names, ", "), h.Binary())
	var seeded []InstalledPlugin
	for _, lp := range todo {
		ip, err := stageSeed(h, s, lp, dirs[lp.Module], change, pick)
		if err != nil {
			p.warnf("not seeding %s: %v", lp.Name, err)
			continue
		}
		seeded = append(seeded, ip)
	}
	return seeded
}

// stageSeed stages one plugin of the seed binary from its build folder dir.
func stageSeed(h stoqHome, s *Seed, lp LinkedPlugin, dir string, change *homeChange, pick pickOptions) (InstalledPlugin, error) {
	if dir == "" {
		return InstalledPlugin{}, fmt.Errorf("%s was linked from module %s, not a folder: install it with stoq install %s", lp.Name, lp.Module, lp.Module)
	}
	plugin, err := validatePlugin(dir, validateOptions{WantName: lp.Name, CoreVersion: pick.CoreVersion, Force: pick.Force})
	if err != nil {
		return InstalledPlugin{}, err
	}
	target, err := installTarget(h, "", plugin.Name)
	if err != nil {
		return InstalledPlugin{}, err
	}
	ip, err := change.stageInstall(plugin, dir, target, seedSource+s.Binary+": "+lp.Source)
	if err != nil {
		return InstalledPlugin{}, fmt.Errorf("copying %s: %w", dir, err)
	}
	return ip, nil
}

// HomeStandsIn reports whether $STOQ_HOME/bin/stoq, built as record says,
// can run instead of the `stoq build` binary at binary, which links
// plugins: an install run by that binary seeded $STOQ_HOME (it stands in
// for it), and it was built for coreVersion and links each of the plugins
// at the same version, except those the user uninstalled since.
func HomeStandsIn(home string, record Record, binary, coreVersion string, plugins []LinkedPlugin) bool {
	st, err := loadState(stoqHome{home})
	if err != nil || !slices.Contains(st.StandsInFor, binary) || record.CoreVersion != coreVersion {
		return false
	}
	linked := map[string]string{}
	for _, p := range record.Plugins {
		linked[p.Name] = p.Version
	}
	for _, p := range plugins {
		if v, ok := linked[p.Name]; (!ok || v != p.Version) && !st.declined(p.Name) {
			return false
		}
	}
	return true
}
