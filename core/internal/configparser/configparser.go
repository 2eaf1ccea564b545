// Package configparser reads Python configparser syntax, the syntax of
// stoq.cfg and of .stoq manifests, and the values stoQ's options hold
// (booleans, durations, comma-separated lists). The contract package (for
// manifests and plugin options) and the engine (for stoq.cfg) share it, so
// a value means the same thing wherever it is written.
package configparser

import (
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Sections is a parsed file: section name → key → value, section names and
// keys lowercased.
type Sections map[string]map[string]string

// Parse reads configparser syntax as Python's configparser.ConfigParser
// reads a file with its defaults (RawConfigParser._read): `key = value` and
// `key: value` split on the first '=' or ':', keys lowercased, whole-line
// `#` and `;` comments (a `#` or `;` inside a value is kept, and quotes
// and backslashes are a value's own characters), continuation lines
// indented deeper than their option's line, blank lines kept inside a
// multi-line value (and dropped at its end), comment lines dropped from
// it, `\n`, `\r\n` and `\r` line ends. A [DEFAULT] section's keys are
// visible in every section. Values are read as BasicInterpolation reads
// them for `%%` (it is `%`); `%(name)s` is not expanded.
//
// It is strict as configparser is by default: text before the first
// section, a line that is neither a section header nor KEY = VALUE (an
// empty key included), and a section or an option given twice are errors
// naming the line ([DEFAULT] may be given twice, not its options).
// Unlike configparser, section names ignore case (stoq merges them so:
// "[Core]" and "[core]" given both is a duplicate), and a byte order mark
// is allowed before the first line. Errors quote what they echo (see
// Quote).
func Parse(data []byte) (Sections, error) {
	type option struct {
		lines []string
		line  int
	}
	type section struct {
		line    int
		options map[string]*option
	}
	sections := map[string]*section{}
	var cur *section // the section being read (Python's cursect)
	var last *option // the option blank and continuation lines belong to (optname)
	curKey := ""     // cur's name, lowercased
	indentLevel := 0 // indentation of the last header or option line
	lineNo := 0
	text := strings.TrimPrefix(string(data), "\ufeff")
	for len(text) > 0 {
		var line string
		line, text = nextLine(text)
		lineNo++
		value := pyStrip(line)
		if value == "" || value[0] == '#' || value[0] == ';' {
			if value == "" && last != nil {
				last.lines = append(last.lines, "")
			}
			continue
		}
		indent := indentOf(line)
		if last != nil && indent > indentLevel {
			last.lines = append(last.lines, value)
			continue
		}
		indentLevel = indent
		if name, ok := sectionHeader(value); ok {
			key := strings.ToLower(name)
			s, dup := sections[key]
			if dup && key != defaultSection {
				return nil, fmt.Errorf("line %d: section %s appears twice (first on line %d; names ignore case)", lineNo, Quote("["+name+"]"), s.line)
			}
			if !dup {
				s = &section{line: lineNo, options: map[string]*option{}}
				sections[key] = s
			}
			cur, curKey, last = s, key, nil
			continue
		}
		if cur == nil {
			return nil, fmt.Errorf("line %d: %s comes before any [section] header", lineNo, Quote(value))
		}
		delim := strings.IndexAny(value, "=:")
		if delim < 0 {
			return nil, fmt.Errorf("line %d: %s is neither a [section] header nor a key = value line", lineNo, Quote(value))
		}
		key := strings.ToLower(pyStrip(value[:delim]))
		if key == "" {
			return nil, fmt.Errorf("line %d: %s has no key before the '=' or ':'", lineNo, Quote(value))
		}
		if first, dup := cur.options[key]; dup {
			return nil, fmt.Errorf("line %d: option %s appears twice in section %s (first on line %d)", lineNo, Quote(key), Quote("["+curKey+"]"), first.line)
		}
		last = &option{lines: []string{pyStrip(value[delim+1:])}, line: lineNo}
		cur.options[key] = last
	}

	join := func(o *option) string {
		v := strings.TrimRightFunc(strings.Join(o.lines, "\n"), pyIsSpace)
		return strings.ReplaceAll(v, "%%", "%")
	}
	defaults := map[string]string{}
	if s := sections[defaultSection]; s != nil {
		for k, o := range s.options {
			defaults[k] = join(o)
		}
	}
	out := Sections{}
	for name, s := range sections {
		if name == defaultSection {
			continue
		}
		sec := make(map[string]string, len(s.options)+len(defaults))
		maps.Copy(sec, defaults)
		for k, o := range s.options {
			sec[k] = join(o)
		}
		out[name] = sec
	}
	return out, nil
}

// defaultSection is [DEFAULT], lowercased as every section name is.
const defaultSection = "default"

// nextLine cuts the first line off text, as Python reads a text file
// (universal newlines): it ends at "\n", "\r\n" or "\r", which are dropped.
func nextLine(text string) (line, rest string) {
	i := strings.IndexAny(text, "\r\n")
	if i < 0 {
		return text, ""
	}
	if text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n' {
		return text[:i], text[i+2:]
	}
	return text[:i], text[i+1:]
}

// pyIsSpace is Python's str.isspace for one character: Unicode's white
// space, as unicode.IsSpace, and the separators U+001C to U+001F.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// indentOf is the indentation of line in characters, as configparser
// measures it (the index of the first non-space character).
func indentOf(line string) int {
	n := 0
	for _, r := range line {
		if !pyIsSpace(r) {
			break
		}
		n++
	}
	return n
}

// sectionHeader reads "[NAME]" as configparser does: the name runs to the
// last ']' and must not be empty; text after it is ignored.
func sectionHeader(value string) (string, bool) {
	if !strings.HasPrefix(value, "[") {
		return "", false
	}
	end := strings.LastIndexByte(value, ']')
	if end < 2 {
		return "", false
	}
	return value[1:end], true
}

// Quote prints a value read from a file or a command line for an error
// message: quoted, with control bytes and invalid UTF-8 escaped, and cut
// short, so that a binary file given as stoq.cfg or as a manifest cannot
// write raw bytes to the terminal. Every error that echoes what a user
// wrote goes through it.
func Quote(v string) string {
	const most = 80
	if len(v) > most {
		return strconv.QuoteToASCII(v[:most]) + "…"
	}
	return strconv.QuoteToASCII(v)
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
