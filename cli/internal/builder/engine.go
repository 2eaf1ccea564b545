package builder

import (
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// The builder's calls into stoq's API beyond the manifest (Version,
// Manifest, ReadManifest), kept in one file.

// validPluginName reports whether name can name a plugin: lowercase
// letters, digits, '_' and '-'.
func validPluginName(name string) bool { return core.ValidPluginName(name) }

// readINI reads an INI file in Python configparser syntax (stoq.cfg).
func readINI(path string) (map[string]map[string]string, error) { return engine.ReadINI(path) }
