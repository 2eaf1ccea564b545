// Package registry holds the plugins registered in this process. The
// contract package writes it (core.Register, from plugins' init functions);
// the engine and the test kit read it. It is the only global mutable state
// of the core, as database/sql's driver map is of database/sql.
//
// Entries hold the contract's types as any, because the contract package
// imports this one: core.Register stores a *core.Manifest, the zero value
// of the plugin's type and a func(*core.Config, *slog.Logger) (any, error),
// and readers assert them back.
package registry

import (
	"fmt"
	"regexp"
	"sort"
	"sync"
)

// Entry is one registered plugin.
type Entry struct {
	Name string
	// Manifest is the embedded manifest, a *core.Manifest.
	Manifest any
	// Zero is the zero value of the constructor's plugin type, from which
	// the engine reads the plugin's classes.
	Zero any
	// New is the constructor, a func(*core.Config, *slog.Logger) (any, error).
	New any
}

var (
	mu      sync.RWMutex
	entries = map[string]Entry{}
)

// Add registers e; a name registered twice is an error.
func Add(e Entry) error {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := entries[e.Name]; dup {
		return fmt.Errorf("plugin %q registered twice", e.Name)
	}
	entries[e.Name] = e
	return nil
}

// Lookup returns the plugin registered as name.
func Lookup(name string) (Entry, bool) {
	mu.RLock()
	defer mu.RUnlock()
	e, ok := entries[name]
	return e, ok
}

// All returns every registered plugin, sorted by name.
func All() []Entry {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validName is what a plugin name may look like: it names a folder under
// $STOQ_HOME/plugins and a stoq.cfg section.
var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// ValidName reports whether name is a safe plugin name: lowercase letters,
// digits, '_' and '-', starting with a letter or digit, at most 64 bytes.
func ValidName(name string) bool { return validName.MatchString(name) }
