package core

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3/internal/configparser"
)

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
func (c *Config) Keys() []string { return slices.Sorted(maps.Keys(c.values)) }

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
	return fmt.Sprintf("plugin %s: option %s = %s%s: %s", e.Plugin, e.Option, configparser.Quote(e.Value), src, e.Want)
}

// OptionError returns the *OptionError for option key of this plugin: its
// value and where it came from, and want, what a valid value looks like
// ("want a positive integer"). Plugins use it for the checks the typed
// getters cannot make (ranges, choices, files that must exist), so every
// option error reads alike.
func (c *Config) OptionError(key, want string) error {
	v, _ := c.raw(key)
	return c.optErr(key, v, want)
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

// Bool returns option key as a boolean (true/false, yes/no, on/off, 1/0).
func (c *Config) Bool(key string, def bool) (bool, error) {
	v, ok := c.raw(key)
	if !ok || strings.TrimSpace(v.value) == "" {
		return def, nil
	}
	b, ok := configparser.ParseBool(v.value)
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
	n, ok := configparser.ParseInt(v.value)
	if !ok {
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
	d, ok := configparser.ParseDuration(v.value)
	if !ok {
		return def, c.optErr(key, v, "want seconds or a duration such as 1m30s")
	}
	return d, nil
}

// List returns option key as a comma-separated list.
func (c *Config) List(key string, def []string) []string {
	v, ok := c.raw(key)
	if !ok {
		return def
	}
	return configparser.SplitList(v.value)
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
// against the plugin's folder (Dir) when it has one (see Resolve).
func (c *Config) Path(key, def string) string { return c.Resolve(c.String(key, def)) }

// Resolve resolves path as Path resolves an option's value: a relative path
// against the plugin's folder (Dir) when it has one; an absolute or empty
// path is returned as it is. Plugins whose option holds several paths (a
// comma-separated list) resolve each with it.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || c.dir == "" {
		return path
	}
	return filepath.Join(c.dir, path)
}
