package builder

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoq-go/stoq/core/v3/plugincheck"
	"golang.org/x/mod/modfile"
)

// Plugin is a plugin source folder that passed validatePlugin: a Go module
// whose root package registers the plugin its NAME.stoq manifest describes
// (core/plugincheck, whose check plugin authors run in their own tests).
type Plugin = plugincheck.Plugin

// validateOptions tunes validatePlugin.
type validateOptions struct {
	// WantName is the name the plugin must have: the requested stoq:NAME.
	// Empty accepts any (safe, unreserved) name.
	WantName string
	// Prefer picks the manifest among several (the folder's name).
	Prefer string
	// Version, when set, is the version asked for (a tag or a module
	// version), which the manifest's Version must equal.
	Version string
	// CoreVersion is the running core's version (core.Version when empty),
	// which min_stoq_version must accept.
	CoreVersion string
	// Force turns an unmet min_stoq_version into a warning.
	Force bool
}

// validatePlugin checks the plugin folder dir before anything is
// installed, with plugincheck.Check: one NAME.stoq manifest with every
// required field, a safe and unreserved Name matching WantName and the
// manifest's file name, a semver Version (the one asked for, when a
// version was), a min_stoq_version the running core meets, a go.mod whose
// module path is the manifest's Module (valid for its major version) and
// requires the core, and a Go package at the module root.
func validatePlugin(dir string, opts validateOptions) (*Plugin, error) {
	return plugincheck.Check(dir, plugincheck.Options{
		Name: opts.WantName, Prefer: opts.Prefer, Version: opts.Version, CoreVersion: opts.CoreVersion, Force: opts.Force,
	})
}

// coreModule and cliModule are the module paths every build links.
const (
	coreModule = "github.com/stoq-go/stoq/core/v3"
	cliModule  = "github.com/stoq-go/stoq/cli/v3"
)

// readCoreVersion reads the core Version constant from the core sources in
// dir (plugincheck.CoreVersion).
func readCoreVersion(dir string) (string, error) { return plugincheck.CoreVersion(dir) }

// checkModuleDir checks that dir holds the Go module path.
func checkModuleDir(dir, path string) error {
	gomodPath := filepath.Join(dir, "go.mod")
	data, err := os.ReadFile(gomodPath)
	if err != nil {
		return fmt.Errorf("%s sources: %w", path, err)
	}
	mf, err := modfile.ParseLax(gomodPath, data, nil)
	if err != nil {
		return err
	}
	if mf.Module == nil || mf.Module.Mod.Path != path {
		return fmt.Errorf("%s is not the module %s", gomodPath, path)
	}
	return nil
}
