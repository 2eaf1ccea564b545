package configparser

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// checkStrict walks the file line by line with the grammar of Python's
// configparser in its strict mode (the default, strict=True) and refuses
// what configparser refuses, naming the line: text before the first
// section header, an option line with no key or no '=' or ':', a section
// given twice and an option given twice in one section. Section names and
// keys are compared case-insensitively, since stoq merges them so.
//
// gopkg.in/ini.v1 does the parsing proper; it accepts all of these
// (keys before a section join [DEFAULT], duplicates are merged) and its
// errors carry no line number, so the check runs first.
func checkStrict(data []byte) error {
	type place struct{ line int }
	sections := map[string]place{}
	var options map[string]place    // of the current section
	section, inSection := "", false // the current section
	optionIndent := -1              // indentation of the last option line; -1: no option to continue
	for n, raw := range bytes.Split(data, []byte("\n")) {
		lineNo := n + 1
		line := strings.TrimRight(string(raw), "\r")
		if lineNo == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		value := strings.TrimSpace(line)
		if value == "" || strings.HasPrefix(value, "#") || strings.HasPrefix(value, ";") {
			continue // empty lines and comments (may sit inside a multi-line value)
		}
		indent := len(line) - len(strings.TrimLeftFunc(line, unicode.IsSpace))
		if optionIndent >= 0 && indent > optionIndent {
			continue // a continuation line of the last option's value
		}
		if name, ok := sectionHeader(value); ok {
			key := strings.ToLower(name)
			if first, dup := sections[key]; dup {
				return fmt.Errorf("line %d: section %s appears twice (first on line %d; names ignore case)", lineNo, Quote("["+name+"]"), first.line)
			}
			sections[key] = place{lineNo}
			section, inSection, options, optionIndent = key, true, map[string]place{}, -1
			continue
		}
		if !inSection {
			return fmt.Errorf("line %d: %s comes before any [section] header", lineNo, Quote(value))
		}
		// configparser splits an option line on its first '=' or ':'.
		delim := strings.IndexAny(value, "=:")
		if delim < 0 {
			return fmt.Errorf("line %d: %s is neither a [section] header nor a key = value line", lineNo, Quote(value))
		}
		key := strings.ToLower(strings.TrimSpace(value[:delim]))
		if key == "" {
			return fmt.Errorf("line %d: %s has no key before the '=' or ':'", lineNo, Quote(value))
		}
		if first, dup := options[key]; dup {
			return fmt.Errorf("line %d: option %s appears twice in section %s (first on line %d)", lineNo, Quote(key), Quote("["+section+"]"), first.line)
		}
		options[key] = place{lineNo}
		optionIndent = indent
	}
	return nil
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

// Sanitize escapes control bytes and invalid UTF-8 in an error message
// from elsewhere (a library's) that may echo a file's bytes, and cuts it
// short; printable text is left as it is.
func Sanitize(msg string) string {
	const most = 300
	if len(msg) > most {
		msg = msg[:most] + "…"
	}
	q := strconv.QuoteToASCII(msg)
	q = q[1 : len(q)-1]
	return strings.ReplaceAll(q, `\"`, `"`)
}
