package core

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/stoq-go/stoq/core/v3/internal/configparser"
	"github.com/stoq-go/stoq/core/v3/internal/registry"
)

// Manifest is a plugin's .stoq file.
type Manifest struct {
	// [Core]
	Name   string
	Module string
	// [Documentation]
	Author      string
	Version     string
	Website     string
	Description string
	// [options]: min_stoq_version and the plugin's default options.
	MinStoqVersion string
	Options        map[string]string
	// Path is the file it was read from; empty for an embedded manifest.
	Path string
}

// ParseManifest parses a .stoq manifest. It requires only [Core] Name;
// Validate checks everything an installable plugin needs.
func ParseManifest(data []byte) (*Manifest, error) {
	parsed, err := configparser.Parse(data)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Name:        parsed["core"]["name"],
		Module:      parsed["core"]["module"],
		Author:      parsed["documentation"]["author"],
		Version:     parsed["documentation"]["version"],
		Website:     parsed["documentation"]["website"],
		Description: parsed["documentation"]["description"],
		Options:     map[string]string{},
	}
	for k, v := range parsed["options"] {
		m.Options[k] = v
	}
	m.MinStoqVersion = m.Options["min_stoq_version"]
	if m.Name == "" {
		return nil, fmt.Errorf("missing [Core] Name")
	}
	return m, nil
}

// ReadManifest reads a .stoq file; errors name the file. Only a regular
// file is read: a FIFO or a device is refused at once, never waited on.
func ReadManifest(path string) (*Manifest, error) {
	data, err := configparser.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

var semverRe = regexp.MustCompile(`^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

// Validate checks what an installable plugin's manifest must have: Core
// Name (a safe name) and Module, Documentation Author, Version (semver),
// Website and Description, and options min_stoq_version.
func (m *Manifest) Validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"[Core] Name", m.Name}, {"[Core] Module", m.Module},
		{"[Documentation] Author", m.Author}, {"[Documentation] Version", m.Version},
		{"[Documentation] Website", m.Website}, {"[Documentation] Description", m.Description},
		{"[options] min_stoq_version", m.MinStoqVersion},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("manifest %s: missing %s", m.describe(), strings.Join(missing, ", "))
	}
	if !registry.ValidName(m.Name) {
		return fmt.Errorf("manifest %s: Name %s is not a safe plugin name (lowercase letters, digits, '_' and '-')", m.describe(), configparser.Quote(m.Name))
	}
	if !semverRe.MatchString(m.Version) {
		return fmt.Errorf("manifest %s: Version %s is not a semantic version (MAJOR.MINOR.PATCH)", m.describe(), configparser.Quote(m.Version))
	}
	return nil
}

// CheckMinStoqVersion reports whether a stoq core at version running (for
// the running binary, Version) meets the manifest's min_stoq_version: a
// version (3.0.0) means "this or newer", anything else is a semantic
// version constraint (">= 3.0, < 4"). The error names what the plugin
// needs and what it got; an unset min_stoq_version is an error too, since
// Validate requires it.
func (m *Manifest) CheckMinStoqVersion(running string) error {
	minVersion := strings.TrimSpace(m.MinStoqVersion)
	if minVersion == "" {
		return fmt.Errorf("plugin %s: min_stoq_version is not set", m.Name)
	}
	constraint := minVersion
	if _, err := semver.NewVersion(minVersion); err == nil {
		constraint = ">= " + minVersion
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return fmt.Errorf("plugin %s: min_stoq_version %s is neither a version nor a version constraint: %v", m.Name, configparser.Quote(minVersion), err)
	}
	v, err := semver.NewVersion(running)
	if err != nil {
		return fmt.Errorf("stoq version %q: %w", running, err)
	}
	if !c.Check(v) {
		return fmt.Errorf("plugin %s needs stoq %s (min_stoq_version = %s) and this stoq is %s", m.Name, constraint, minVersion, running)
	}
	return nil
}

func (m *Manifest) describe() string {
	if m.Path != "" {
		return m.Path
	}
	if m.Name != "" {
		return "of " + m.Name
	}
	return "(embedded)"
}
