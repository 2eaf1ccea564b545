package builder

import "github.com/stoq-go/stoq/core/v3"

// The builder's only calls into the engine's API (the rest of what it uses
// from core is the plugin contract: Version, Manifest, ReadManifest), kept
// here so that moving them to the engine package changes one file.

// validPluginName reports whether name can name a plugin: lowercase
// letters, digits, '_' and '-'.
func validPluginName(name string) bool { return core.ValidPluginName(name) }

// readINI reads an INI file in Python configparser syntax (stoq.cfg).
func readINI(path string) (map[string]map[string]string, error) { return core.ReadINI(path) }
