package engine

import (
	"fmt"

	"github.com/stoq-go/stoq/core/v3/internal/configparser"
)

// INI is a parsed stoq.cfg in Python configparser syntax: section name →
// key → value, section names and keys lowercased. [core] holds the
// engine's settings, [NAME] the options of plugin NAME.
type INI map[string]map[string]string

// ParseINI reads configparser syntax as Python's configparser reads a
// stoq.cfg with stoQ's defaults: `key = value` and `key: value`, empty
// values, whole-line `#` and `;` comments (a `#` or `;` inside a value is
// kept, as are quotes and backslashes), continuation lines indented deeper
// than their option (blank and comment lines may sit between them), `%%`
// for `%`, case-insensitive section names and keys. Keys of a [DEFAULT]
// section are visible in every section. It is strict as configparser is: an
// error names the first line configparser refuses.
func ParseINI(data []byte) (INI, error) {
	s, err := configparser.Parse(data)
	return INI(s), err
}

// ReadINI reads and parses a configparser file; errors name the file. Only
// a regular file is read (a FIFO or a device is refused at once).
func ReadINI(path string) (INI, error) {
	data, err := configparser.ReadFile(path)
	if err != nil {
		return nil, err
	}
	parsed, err := ParseINI(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return parsed, nil
}

// SplitList splits a comma-separated list as stoq.cfg writes them,
// trimming items and dropping empty ones.
func SplitList(s string) []string { return configparser.SplitList(s) }
