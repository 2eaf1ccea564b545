package builder

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"golang.org/x/mod/modfile"
)

// Plugin is a plugin source folder that passed validatePlugin: a Go module whose
// root package registers the plugin its NAME.stoq manifest describes.
type Plugin struct {
	Name    string
	Version string // the manifest's [Documentation] Version
	Module  string // the Go module path (manifest Module = go.mod module)
	// Dir holds go.mod and NAME.stoq.
	Dir string
	// GoVersion is its go.mod go line (the oldest toolchain that builds it).
	GoVersion string
	Manifest  *core.Manifest
	// Warnings are problems that do not stop an install (a plugin's own
	// replace directives, which a build ignores; a min_stoq_version overridden
	// with --force).
	Warnings []string
}

// validateOptions tunes validatePlugin.
type validateOptions struct {
	// WantName is the name the plugin must have: the requested stoq:NAME or
	// the folder's name. Empty accepts any (safe) name.
	WantName string
	// CoreVersion is the running core's version (core.Version when empty),
	// which min_stoq_version must accept.
	CoreVersion string
	// Force turns an unmet min_stoq_version into a warning.
	Force bool
}

// validatePlugin checks the plugin folder dir before anything is
// installed: one NAME.stoq manifest with every required field
// (core.Manifest.Validate), a safe Name matching WantName and the
// manifest's file name, a semver Version, a min_stoq_version the running
// core meets (readPluginManifest), a go.mod whose module path is the
// manifest's Module (checkPluginModule), and a Go package at the module
// root.
func validatePlugin(dir string, opts validateOptions) (*Plugin, error) {
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	m, err := readPluginManifest(dir, opts.WantName)
	if err != nil {
		return nil, err
	}
	p := &Plugin{Name: m.Name, Version: strings.TrimPrefix(m.Version, "v"), Module: m.Module, Dir: dir, Manifest: m}
	if err := m.CheckMinStoqVersion(opts.CoreVersion); err != nil {
		if !opts.Force {
			return nil, fmt.Errorf("%w (install a version of the plugin made for stoq %s, upgrade stoq, or pass --force to try anyway)", err, opts.CoreVersion)
		}
		p.Warnings = append(p.Warnings, err.Error()+"; installing anyway (--force)")
	}
	if err := checkPluginModule(p); err != nil {
		return nil, err
	}
	if !hasGoPackage(dir) {
		return nil, fmt.Errorf("plugin %s: no Go package in %s: the module's root package must register the plugin (core.Register in init)", m.Name, dir)
	}
	return p, nil
}

// readPluginManifest reads and validates the NAME.stoq of dir, whose Name
// must be its file's name and wantName when set.
func readPluginManifest(dir, wantName string) (*core.Manifest, error) {
	manifestPath, err := findManifest(dir, wantName)
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
	if wantName != "" && m.Name != wantName {
		return nil, fmt.Errorf("manifest %s: [Core] Name is %q, expected %q", manifestPath, m.Name, wantName)
	}
	return m, nil
}

// checkPluginModule reads p's go.mod: its module path must be the
// manifest's Module; it gives p its GoVersion, and a warning for each
// replace directive (a build ignores them).
func checkPluginModule(p *Plugin) error {
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
	if mf.Go != nil {
		p.GoVersion = mf.Go.Version
	}
	for _, r := range mf.Replace {
		if r.Old.Path != coreModule {
			p.Warnings = append(p.Warnings, fmt.Sprintf("plugin %s: its go.mod replaces %s => %s; builds ignore a plugin's replace directives",
				p.Name, r.Old.Path, r.New.Path))
		}
	}
	return nil
}

// findManifest returns the NAME.stoq of the plugin folder dir: want.stoq
// when want is set, else the only .stoq file.
func findManifest(dir, want string) (string, error) {
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
		if _, err := os.Stat(dir); err != nil {
			return "", fmt.Errorf("plugin folder %s: %w", dir, err)
		}
		return "", fmt.Errorf("no plugin manifest (NAME.stoq) in %s", dir)
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, m := range matches {
		names[i] = filepath.Base(m)
	}
	return "", fmt.Errorf("%s holds several manifests (%s): a plugin folder holds one NAME.stoq", dir, strings.Join(names, ", "))
}

func hasGoPackage(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			return true
		}
	}
	return false
}

// coreModule and cliModule are the module paths every build links.
const (
	coreModule = "github.com/stoq-go/stoq/core/v3"
	cliModule  = "github.com/stoq-go/stoq/cli/v3"
)

// readCoreVersion reads the core Version constant from the core sources in
// dir, the version a build of them reports and checks plugins against.
func readCoreVersion(dir string) (string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("core sources: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if name.Name != "Version" || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						return strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	return "", fmt.Errorf("core sources %s: no Version constant: not a stoq core", dir)
}

// checkModuleDir checks that dir holds the Go module path.
func checkModuleDir(dir, path string) (goVersion string, err error) {
	gomodPath := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomodPath)
	if err != nil {
		return "", fmt.Errorf("%s sources: %w", path, err)
	}
	mf, err := modfile.ParseLax(gomodPath, data, nil)
	if err != nil {
		return "", err
	}
	if mf.Module == nil || mf.Module.Mod.Path != path {
		return "", fmt.Errorf("%s is not the module %s", gomodPath, path)
	}
	if mf.Go != nil {
		goVersion = mf.Go.Version
	}
	return goVersion, nil
}
