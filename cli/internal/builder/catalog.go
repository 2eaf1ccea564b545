package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultCatalog is the catalogue stoq:NAME refers to when none is
// configured: this repository, whose plugins/NAME folders are the plugins.
const DefaultCatalog = "https://github.com/stoq-go/stoq"

// CatalogEnvVar names the environment variable overriding the catalogue.
const CatalogEnvVar = "STOQ_CATALOG"

// Catalog is where stoq:NAME plugins, and the core and cli sources that
// builds link, come from: a git URL (file:// included) or a folder on disk.
//
// A folder is read as it is on disk when no version is asked for (so
// `stoq build --all --catalog .` builds the checkout's current code), and
// through git (it must then be a repository) when a version is. A URL is
// always read through git: tag plugins/NAME/vVERSION for stoq:NAME@VERSION,
// the highest such tag without a version, the default branch when the
// plugin has no tag.
type Catalog struct {
	// location is the catalogue as configured.
	location string
	// url is set for a git url; Dir for a folder (absolute).
	url string
	dir string
	// from says which setting chose it, for messages.
	from string
}

// String names the catalogue and the setting it came from.
func (c Catalog) String() string {
	return fmt.Sprintf("%s (%s)", c.location, c.from)
}

// gitLocation is where the catalogue is read through git: its URL, else
// its folder.
func (c Catalog) gitLocation() string {
	if c.url != "" {
		return c.url
	}
	return c.dir
}

// withOfflineHint adds offlineHint to err when the catalogue is a URL and
// err looks like a failure to reach it.
func (c Catalog) withOfflineHint(err error) error {
	if err != nil && c.url != "" && isNetworkError(err) {
		return fmt.Errorf("%w\n%s", err, offlineHint)
	}
	return err
}

// ResolveCatalog picks the catalogue, first set wins: flag (--catalog),
// $STOQ_CATALOG (read with getenv, os.Getenv when nil), [core] plugin_repo
// of configFile (a missing file is no error; a relative folder there is
// relative to the file), DefaultCatalog.
func ResolveCatalog(flag string, getenv func(string) string, configFile string) (Catalog, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if flag != "" {
		return newCatalog(flag, "--catalog", "")
	}
	if v := getenv(CatalogEnvVar); v != "" {
		return newCatalog(v, "$"+CatalogEnvVar, "")
	}
	if configFile != "" {
		cfg, err := readINI(configFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return Catalog{}, fmt.Errorf("reading the catalogue setting: %w", err)
		default:
			if v := strings.TrimSpace(cfg["core"]["plugin_repo"]); v != "" {
				return newCatalog(v, configFile+" [core] plugin_repo", filepath.Dir(configFile))
			}
		}
	}
	return newCatalog(DefaultCatalog, "default", "")
}

// newCatalog makes a catalogue of a git URL or a folder; a relative folder
// is relative to base (the current folder when "").
func newCatalog(location, from, base string) (Catalog, error) {
	c := Catalog{location: location, from: from}
	if isGitURL(location) {
		c.url = location
		return c, nil
	}
	dir := location
	if !filepath.IsAbs(dir) && base != "" {
		dir = filepath.Join(base, dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Catalog{}, fmt.Errorf("catalogue %s: %w", c, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return Catalog{}, fmt.Errorf("catalogue %s: %w", c, err)
	}
	if !fi.IsDir() {
		return Catalog{}, fmt.Errorf("catalogue %s: not a folder or a git URL", c)
	}
	c.dir = abs
	return c, nil
}

// pluginDir is the folder of plugin name inside the catalogue.
func pluginDir(name string) string { return "plugins/" + name }

// coreTag is the catalogue tag of the core release version.
func coreTag(version string) string { return "core/v" + strings.TrimPrefix(version, "v") }
