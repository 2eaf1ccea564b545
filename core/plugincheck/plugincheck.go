// Package plugincheck checks a plugin's source folder the way `stoq
// install` does before it builds anything: the manifest, the name, the
// versions and the Go module. The installer calls Check; plugin authors
// call it from their tests through stoqtest.CheckPlugin, so a plugin that
// stoq would refuse fails the author's CI instead of a user's install.
//
// A plugin folder is a Go module (go.mod at its root) whose root package
// registers the plugin (core.Register in init) and embeds its manifest, one
// NAME.stoq file beside go.mod.
package plugincheck

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// CoreModule is the module path of the core every plugin requires.
const CoreModule = "github.com/stoq-go/stoq/core/v3"

// ReservedCommands are the stoq commands: no plugin may take their names,
// so that a command line never reads two ways (and plugin-contributed
// subcommands such as submit cannot shadow one).
var ReservedCommands = append(slices.Clone(registry.StoqCommands), "submit")

// BuiltinPlugins are the plugins linked into every stoq binary by the cli
// itself: they are never installed.
var BuiltinPlugins = []string{"stdout"}

// Reserved says why name cannot name an installable plugin, or "" when it
// can: a built-in plugin, or a stoq command.
func Reserved(name string) string {
	for _, b := range BuiltinPlugins {
		if name == b {
			return fmt.Sprintf("%s is built into stoq (every stoq links it): it is never installed, and no plugin may take its name", name)
		}
	}
	for _, c := range ReservedCommands {
		if name == c {
			return fmt.Sprintf("%s is a stoq command (stoq %s): no plugin may take its name", name, name)
		}
	}
	return ""
}

// Plugin is a plugin folder that passed Check.
type Plugin struct {
	Name    string
	Version string // the manifest's [Documentation] Version, without a leading v
	Module  string // the Go module path (manifest Module = go.mod module)
	// Dir holds go.mod and NAME.stoq.
	Dir string
	// GoVersion is its go.mod go line (the oldest toolchain that builds it).
	GoVersion string
	// CoreRequire is the core version its go.mod requires ("" if none).
	CoreRequire string
	Manifest    *core.Manifest
	// Warnings are problems that do not stop an install: a plugin's own
	// replace directives (builds ignore them), a core required at a newer
	// version than the running one, a min_stoq_version overridden by Force.
	Warnings []string
}

// Options tune Check.
type Options struct {
	// Name is the name the plugin must have (stoq install stoq:NAME); empty
	// accepts any safe name.
	Name string
	// Prefer picks NAME.stoq among several manifests (the folder's name);
	// unlike Name it is no requirement.
	Prefer string
	// CoreVersion is the version of the core the plugin will run on
	// (core.Version when empty): min_stoq_version must accept it.
	CoreVersion string
	// Version, when set, is the version the plugin was asked for (a tag or
	// a module version): the manifest's Version must be it.
	Version string
	// Force turns an unmet min_stoq_version into a warning.
	Force bool
}

// Check checks the plugin folder dir as stoq install does, before anything
// is installed:
//
//   - one NAME.stoq manifest (Prefer picks among several) with every field
//     core.Manifest.Validate requires, Name equal to the file's name (and to
//     opts.Name when set), a safe name that is not reserved (Reserved), a
//     semantic Version (equal to opts.Version when set);
//   - a min_stoq_version that opts.CoreVersion meets (Force: a warning);
//   - a go.mod whose module path is the manifest's Module and is valid for
//     the Version's major version (a 3.x plugin needs a /v3 path), and
//     that requires CoreModule (a warning: go mod tidy adds it);
//   - a Go package at the module root that is not a command (package main).
//
// The error says what to change; Warnings of the result are worth showing.
func Check(dir string, opts Options) (*Plugin, error) {
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	m, err := readManifest(dir, opts)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Name: m.Name, Version: strings.TrimPrefix(m.Version, "v"), Module: m.Module, Dir: dir, Manifest: m}
	if want := strings.TrimPrefix(opts.Version, "v"); want != "" && want != p.Version {
		return nil, fmt.Errorf("plugin %s: version %s was asked for, but its manifest says Version = %s (the tag or module version and the manifest must agree)", p.Name, want, p.Version)
	}
	if err := m.CheckMinStoqVersion(opts.CoreVersion); err != nil {
		if !opts.Force {
			return nil, fmt.Errorf("%w (install a version of the plugin made for stoq %s, upgrade stoq, or pass --force to try anyway)", err, opts.CoreVersion)
		}
		p.Warnings = append(p.Warnings, err.Error()+"; installing anyway (--force)")
	}
	if err := checkModule(p, opts.CoreVersion); err != nil {
		return nil, err
	}
	if err := checkPackage(p); err != nil {
		return nil, err
	}
	return p, nil
}

// readManifest reads and validates the NAME.stoq of dir.
func readManifest(dir string, opts Options) (*core.Manifest, error) {
	want := opts.Name
	if want == "" {
		want = opts.Prefer
	}
	manifestPath, err := FindManifest(dir, want)
	if err != nil {
		return nil, err
	}
	m, err := core.ReadManifest(manifestPath)
	if err != nil {
		return nil, fmt.Errorf("plugin manifest %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if fileName := strings.TrimSuffix(filepath.Base(manifestPath), ".stoq"); fileName != m.Name {
		return nil, fmt.Errorf("manifest %s: [Core] Name is %q but the file is named %s.stoq (it must be NAME.stoq)", manifestPath, m.Name, fileName)
	}
	if opts.Name != "" && m.Name != opts.Name {
		return nil, fmt.Errorf("manifest %s: [Core] Name is %q, expected %q", manifestPath, m.Name, opts.Name)
	}
	if why := Reserved(m.Name); why != "" {
		return nil, fmt.Errorf("manifest %s: plugin name %q is reserved: %s; rename the plugin", manifestPath, m.Name, why)
	}
	return m, nil
}

// FindManifest returns the NAME.stoq of the plugin folder dir: want.stoq
// when want is set and exists, else the only .stoq file. The error says
// why there is none (no folder, no manifest, several, a bare repository).
func FindManifest(dir, want string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("plugin folder %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("plugin folder %s: not a folder", dir)
	}
	matches, err := filepath.Glob(filepath.Join(dir, "*.stoq"))
	if err != nil {
		return "", err
	}
	if want != "" {
		p := filepath.Join(dir, want+".stoq")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	switch len(matches) {
	case 0:
		if IsBareRepository(dir) {
			return "", fmt.Errorf("%s is a bare git repository, not a plugin folder: install it as a git source (file://%s)", dir, filepath.ToSlash(dir))
		}
		return "", fmt.Errorf("no plugin manifest (NAME.stoq) in %s", dir)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = filepath.Base(m)
	}
	sort.Strings(names)
	return "", fmt.Errorf("%s holds several manifests (%s): a plugin folder holds one NAME.stoq", dir, strings.Join(names, ", "))
}

// IsBareRepository reports whether dir looks like a bare git repository
// (HEAD, objects/ and refs/ at its root).
func IsBareRepository(dir string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// checkModule reads p's go.mod: its module path must be the manifest's
// Module, valid for the manifest Version's major version, and it must
// require the core. It sets GoVersion and CoreRequire, and warns about
// replace directives and a core newer than the running one.
func checkModule(p *Plugin, coreVersion string) error {
	gomodPath := filepath.Join(p.Dir, "go.mod")
	data, err := os.ReadFile(gomodPath)
	if err != nil {
		return fmt.Errorf("plugin %s: a plugin is a Go module and needs a go.mod: %w", p.Name, err)
	}
	mf, err := modfile.Parse(gomodPath, data, nil)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", p.Name, err)
	}
	if mf.Module == nil || mf.Module.Mod.Path == "" {
		return fmt.Errorf("plugin %s: %s has no module line", p.Name, gomodPath)
	}
	if mf.Module.Mod.Path != p.Module {
		return fmt.Errorf("plugin %s: manifest [Core] Module is %s but %s declares module %s; they must be the same",
			p.Name, p.Module, gomodPath, mf.Module.Mod.Path)
	}
	if err := checkMajor(p); err != nil {
		return err
	}
	if mf.Go != nil {
		p.GoVersion = mf.Go.Version
	}
	for _, r := range mf.Require {
		switch r.Mod.Path {
		case CoreModule:
			p.CoreRequire = r.Mod.Version
		case "github.com/stoq-go/stoq/core":
			return fmt.Errorf("plugin %s: %s requires github.com/stoq-go/stoq/core, a path that cannot be published at version 3; require %s (and import it)", p.Name, gomodPath, CoreModule)
		}
	}
	if p.CoreRequire == "" {
		p.Warnings = append(p.Warnings, fmt.Sprintf("plugin %s: %s does not require %s, which a plugin imports: run go mod tidy there (its own tests need it)", p.Name, gomodPath, CoreModule))
	}
	if semver.IsValid(p.CoreRequire) && semver.Compare(p.CoreRequire, "v"+coreVersion) > 0 && !module.IsPseudoVersion(p.CoreRequire) {
		p.Warnings = append(p.Warnings, fmt.Sprintf("plugin %s: its go.mod requires the core %s and this stoq is %s: builds link the core %s, so the plugin must not use anything newer",
			p.Name, p.CoreRequire, coreVersion, coreVersion))
	}
	for _, r := range mf.Replace {
		if r.Old.Path != CoreModule {
			p.Warnings = append(p.Warnings, fmt.Sprintf("plugin %s: its go.mod replaces %s => %s; builds ignore a plugin's replace directives",
				p.Name, r.Old.Path, r.New.Path))
		}
	}
	return nil
}

// checkMajor refuses a module path that Go could never publish at the
// manifest's Version: from v2 on, the path ends in /vN.
func checkMajor(p *Plugin) error {
	_, pathMajor, ok := module.SplitPathVersion(p.Module)
	if !ok {
		return fmt.Errorf("plugin %s: %q is not a valid module path", p.Name, p.Module)
	}
	v := "v" + p.Version
	if err := module.CheckPathMajor(v, pathMajor); err != nil {
		want := semver.Major(v)
		fix := fmt.Sprintf("end the module path in /%s", want)
		if want == "v0" || want == "v1" {
			fix = "drop the /vN suffix"
		}
		return fmt.Errorf("plugin %s: module %s cannot be published at version %s (Go requires the major version in the path from v2 on): %s, in go.mod and the manifest's Module",
			p.Name, p.Module, p.Version, fix)
	}
	return nil
}

// checkPackage requires a Go package at the module root that is not
// package main: the build imports it for its init.
func checkPackage(p *Plugin) error {
	entries, err := os.ReadDir(p.Dir)
	if err != nil {
		return err
	}
	fset := token.NewFileSet()
	var packages []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, n), nil, parser.PackageClauseOnly)
		if err != nil {
			return fmt.Errorf("plugin %s: %w", p.Name, err)
		}
		packages = append(packages, f.Name.Name)
	}
	if len(packages) == 0 {
		return fmt.Errorf("plugin %s: no Go package in %s: the module's root package must register the plugin (core.Register in init)", p.Name, p.Dir)
	}
	for _, name := range packages {
		if name == "main" {
			return fmt.Errorf("plugin %s: the root package of %s is package main, a command: a plugin is a library package that registers itself (core.Register in init)", p.Name, p.Dir)
		}
	}
	return nil
}
