package core

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"gopkg.in/ini.v1"
)

// INI is a parsed configuration file in Python configparser syntax: section
// name → key → value, section names and keys lowercased.
type INI map[string]map[string]string

// ParseINI parses configparser syntax: `key = value` and `key: value`,
// empty values, whole-line `#` and `;` comments (a `#` or `;` inside a value
// is kept), indented continuation lines, `%%` for `%`, case-insensitive
// section names and keys. Keys of a [DEFAULT] section are visible in every
// section, as in configparser.
func ParseINI(data []byte) (INI, error) {
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:                true,
		IgnoreInlineComment:        true,
		AllowPythonMultilineValues: true,
		SpaceBeforeInlineComment:   true,
		KeyValueDelimiters:         "=:",
	}, data)
	if err != nil {
		return nil, err
	}
	out := INI{}
	defaults := map[string]string{}
	for _, s := range f.Sections() {
		if strings.EqualFold(s.Name(), ini.DefaultSection) {
			for _, k := range s.Keys() {
				defaults[k.Name()] = configValue(k.Value())
			}
		}
	}
	for _, s := range f.Sections() {
		name := s.Name()
		if strings.EqualFold(name, ini.DefaultSection) {
			continue
		}
		sec := make(map[string]string, len(s.Keys())+len(defaults))
		for k, v := range defaults {
			sec[k] = v
		}
		for _, k := range s.Keys() {
			sec[k.Name()] = configValue(k.Value())
		}
		out[name] = sec
	}
	return out, nil
}

// configValue turns a raw value into what configparser returns: `%%` is
// `%`, and continuation lines lose their indentation.
func configValue(raw string) string {
	if strings.Contains(raw, "\n") {
		lines := strings.Split(raw, "\n")
		for i := 1; i < len(lines); i++ {
			lines[i] = strings.TrimSpace(lines[i])
		}
		raw = strings.Join(lines, "\n")
	}
	return unescapePercent(raw)
}

// ReadINI reads and parses a configparser file; errors name the file.
func ReadINI(path string) (INI, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseINI(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parsed, nil
}

func unescapePercent(s string) string {
	if !strings.Contains(s, "%%") {
		return s
	}
	return strings.ReplaceAll(s, "%%", "%")
}

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
	parsed, err := ParseINI(data)
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

// ReadManifest reads a .stoq file; errors name the file.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
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
	if !ValidPluginName(m.Name) {
		return fmt.Errorf("manifest %s: Name %q is not a safe plugin name (lowercase letters, digits, '_' and '-')", m.describe(), m.Name)
	}
	if !semverRe.MatchString(m.Version) {
		return fmt.Errorf("manifest %s: Version %q is not a semantic version (MAJOR.MINOR.PATCH)", m.describe(), m.Version)
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
		return fmt.Errorf("plugin %s: min_stoq_version %q is neither a version nor a version constraint: %v", m.Name, minVersion, err)
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

// ConfigLayer is one source of plugin options, such as a manifest, a
// stoq.cfg section or the command line. Source names it in error messages.
type ConfigLayer struct {
	Source string
	Values map[string]string
}

type layeredValue struct {
	value  string
	source string
}

// Config is a plugin's merged configuration: its options, resolved by
// precedence (command line, library options, stoq.cfg [name], installed
// manifest, embedded manifest), with typed getters whose errors name the
// plugin, the option, the value and where it came from.
type Config struct {
	name   string
	dir    string
	values map[string]layeredValue
}

// NewConfig merges layers for the plugin called name; later layers take
// precedence over earlier ones. dir is the plugin's installed folder, used
// to resolve relative paths (empty when it has none).
func NewConfig(name, dir string, layers ...ConfigLayer) *Config {
	c := &Config{name: name, dir: dir, values: map[string]layeredValue{}}
	for _, l := range layers {
		for k, v := range l.Values {
			c.values[strings.ToLower(k)] = layeredValue{value: v, source: l.Source}
		}
	}
	return c
}

// Name is the plugin's name.
func (c *Config) Name() string { return c.name }

// Dir is the plugin's installed folder, or "" when only its embedded
// manifest was found.
func (c *Config) Dir() string { return c.dir }

// Has reports whether option key is set by any layer.
func (c *Config) Has(key string) bool {
	_, ok := c.values[strings.ToLower(key)]
	return ok
}

// Source names the layer option key came from ("" when unset).
func (c *Config) Source(key string) string { return c.values[strings.ToLower(key)].source }

// Keys lists the options that are set, sorted.
func (c *Config) Keys() []string { return sortedKeys(c.values) }

// Set overrides one option, as if given on the command line. Tests use it.
func (c *Config) Set(key, value string) {
	c.values[strings.ToLower(key)] = layeredValue{value: value, source: "override"}
}

func (c *Config) raw(key string) (layeredValue, bool) {
	v, ok := c.values[strings.ToLower(key)]
	return v, ok
}

// OptionError is returned by the typed getters when a value does not parse.
type OptionError struct {
	Plugin, Option, Value, Source, Want string
}

// Error names the plugin, the option, its value, where it came from and
// what was expected.
func (e *OptionError) Error() string {
	src := ""
	if e.Source != "" {
		src = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("plugin %s: option %s = %q%s: %s", e.Plugin, e.Option, e.Value, src, e.Want)
}

func (c *Config) optErr(key string, v layeredValue, want string) error {
	return &OptionError{Plugin: c.name, Option: strings.ToLower(key), Value: v.value, Source: v.source, Want: want}
}

// String returns option key, or def when it is unset.
func (c *Config) String(key, def string) string {
	if v, ok := c.raw(key); ok {
		return v.value
	}
	return def
}

// ParseBool reads true/false, yes/no, on/off and 1/0, case-insensitively,
// as configparser's getboolean.
func ParseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// Bool returns option key as a boolean (true/false, yes/no, on/off, 1/0).
func (c *Config) Bool(key string, def bool) (bool, error) {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return def, nil
	}
	b, ok := ParseBool(v.value)
	if !ok {
		return def, c.optErr(key, v, "want a boolean (true/false, yes/no, 1/0)")
	}
	return b, nil
}

// Int returns option key as an integer.
func (c *Config) Int(key string, def int) (int, error) {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v.value))
	if err != nil {
		return def, c.optErr(key, v, "want an integer")
	}
	return n, nil
}

// Float returns option key as a floating-point number.
func (c *Config) Float(key string, def float64) (float64, error) {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.value), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return def, c.optErr(key, v, "want a number")
	}
	return f, nil
}

// Duration returns option key as a duration: a plain number is seconds (as
// stoQ's options are), anything else a Go duration such as "1m30s".
func (c *Config) Duration(key string, def time.Duration) (time.Duration, error) {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return def, nil
	}
	d, ok := parseDuration(v.value)
	if !ok {
		return def, c.optErr(key, v, "want seconds or a duration such as 1m30s")
	}
	return d, nil
}

// parseDuration reads a non-negative duration: a plain number is seconds,
// anything else a Go duration such as "1m30s".
func parseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= 0 && !math.IsInf(f, 0) {
		return time.Duration(f * float64(time.Second)), true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// SplitList splits a comma-separated list, trimming items and dropping
// empty ones.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// List returns option key as a comma-separated list.
func (c *Config) List(key string, def []string) []string {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	return SplitList(v.value)
}

// StringSet returns option key as a set of comma-separated items.
func (c *Config) StringSet(key string, def []string) map[string]struct{} {
	items := c.List(key, def)
	out := make(map[string]struct{}, len(items))
	for _, it := range items {
		out[it] = struct{}{}
	}
	return out
}

// JSON decodes option key as JSON into dst; it leaves dst alone when unset.
func (c *Config) JSON(key string, dst any) error {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(v.value), dst); err != nil {
		return c.optErr(key, v, "want JSON: "+err.Error())
	}
	return nil
}

// Path returns option key as a file path; a relative path is resolved
// against the plugin's folder (Dir) when it has one.
func (c *Config) Path(key, def string) string {
	p := c.String(key, def)
	if p == "" || filepath.IsAbs(p) || c.dir == "" {
		return p
	}
	return filepath.Join(c.dir, p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
