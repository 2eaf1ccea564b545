// Package configparser reads Python configparser syntax, the syntax of
// stoq.cfg and of .stoq manifests, and the values stoQ's options hold
// (booleans, durations, comma-separated lists). The contract package (for
// manifests and plugin options) and the engine (for stoq.cfg) share it, so
// a value means the same thing wherever it is written.
package configparser

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/ini.v1"
)

// Sections is a parsed file: section name → key → value, section names and
// keys lowercased.
type Sections map[string]map[string]string

// Parse reads configparser syntax: `key = value` and `key: value`, empty
// values, whole-line `#` and `;` comments (a `#` or `;` inside a value is
// kept), indented continuation lines, `%%` for `%`, case-insensitive
// section names and keys. Keys of a [DEFAULT] section are visible in every
// section, as in configparser.
//
// It is strict as configparser is by default: text before the first
// section, a line that is neither a section header nor KEY = VALUE (an
// empty key included), and a section or an option given twice are errors
// naming the line. Errors quote what they echo (see Quote).
func Parse(data []byte) (Sections, error) {
	if err := checkStrict(data); err != nil {
		return nil, err
	}
	f, err := ini.LoadSources(ini.LoadOptions{
		Insensitive:                true,
		IgnoreInlineComment:        true,
		AllowPythonMultilineValues: true,
		SpaceBeforeInlineComment:   true,
		KeyValueDelimiters:         "=:",
	}, data)
	if err != nil {
		return nil, errors.New(Sanitize(err.Error()))
	}
	out := Sections{}
	defaults := map[string]string{}
	for _, s := range f.Sections() {
		if strings.EqualFold(s.Name(), ini.DefaultSection) {
			for _, k := range s.Keys() {
				defaults[k.Name()] = value(k.Value())
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
			sec[k.Name()] = value(k.Value())
		}
		out[name] = sec
	}
	return out, nil
}

// value turns a raw value into what configparser returns: `%%` is `%`, and
// continuation lines lose their indentation.
func value(raw string) string {
	if strings.Contains(raw, "\n") {
		lines := strings.Split(raw, "\n")
		for i := 1; i < len(lines); i++ {
			lines[i] = strings.TrimSpace(lines[i])
		}
		raw = strings.Join(lines, "\n")
	}
	if strings.Contains(raw, "%%") {
		raw = strings.ReplaceAll(raw, "%%", "%")
	}
	return raw
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

// ParseDuration reads a non-negative duration: a plain number is seconds
// (as stoQ's options are), anything else a Go duration such as "1m30s". A
// value too large for a time.Duration is refused, not wrapped.
func ParseDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || math.IsNaN(f) || f*float64(time.Second) >= math.MaxInt64 {
			return 0, false
		}
		return time.Duration(f * float64(time.Second)), true
	}
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0
}

// ParseInt reads a whole decimal integer, blanks around it allowed and
// nothing else ("12abc" and "1e3" are not integers).
func ParseInt(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil
}

// ParseSize reads a size in bytes: a whole decimal number, optionally
// followed by a binary unit KiB, MiB, GiB or TiB (any case, blanks
// allowed before it): "1073741824", "1GiB", "512 MiB".
func ParseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(s)
	for i, unit := range []string{"kib", "mib", "gib", "tib"} {
		if strings.HasSuffix(lower, unit) {
			mult = 1 << (10 * (i + 1))
			s = strings.TrimSpace(s[:len(s)-len(unit)])
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
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
