package builder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/stoq-go/stoq/core/v3/atomicfile"
)

// stoqHome is the layout of $STOQ_HOME that install and uninstall manage:
//
//	plugins/NAME/     installed plugins (sources and NAME.stoq)
//	src/core, src/cli the core and cli sources the binary links
//	build/            the generated main module of bin/stoq
//	bin/stoq          the binary with every installed plugin
//	installed.json    what was installed, from where
type stoqHome struct{ Dir string }

// PluginsDir is the default install folder.
func (h stoqHome) PluginsDir() string { return filepath.Join(h.Dir, "plugins") }

// Binary is the custom stoq.
func (h stoqHome) Binary() string { return filepath.Join(h.Dir, "bin", "stoq") }

// BuildDir holds the generated module of Binary.
func (h stoqHome) BuildDir() string { return filepath.Join(h.Dir, "build") }

// CoreSrc and CLISrc hold the sources Binary links.
func (h stoqHome) CoreSrc() string { return filepath.Join(h.Dir, "src", "core") }

// CLISrc holds the cli sources Binary links.
func (h stoqHome) CLISrc() string { return filepath.Join(h.Dir, "src", "cli") }

func (h stoqHome) stateFile() string { return filepath.Join(h.Dir, "installed.json") }
func (h stoqHome) lockFile() string  { return filepath.Join(h.Dir, ".install.lock") }

// InstalledPlugin is one entry of installed.json.
type InstalledPlugin struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Module  string `json:"module"`
	// Dir is the installed folder ($STOQ_HOME/plugins/NAME or under
	// --install-dir).
	Dir       string    `json:"dir"`
	Source    string    `json:"source"`
	Installed time.Time `json:"installed"`
}

type installState struct {
	Plugins map[string]InstalledPlugin `json:"plugins"`
	// Uninstalled are the plugins the user uninstalled: never seeded again
	// (seed.go) until installed by name.
	Uninstalled []string `json:"uninstalled,omitempty"`
	// StandsInFor are the `stoq build` binaries that ran an install here
	// and seeded it (seed.go): they hand off to bin/stoq while it links
	// their plugins.
	StandsInFor []string `json:"stands_in_for,omitempty"`
}

// standInFor records that bin/stoq stands in for the binary at path.
func (st *installState) standInFor(path string) {
	if slices.Contains(st.StandsInFor, path) {
		return
	}
	st.StandsInFor = append(st.StandsInFor, path)
	sort.Strings(st.StandsInFor)
}

// declined reports whether the user uninstalled plugin name.
func (st *installState) declined(name string) bool {
	return slices.Contains(st.Uninstalled, name)
}

// setDeclined records (or forgets) that the user uninstalled plugin name.
func (st *installState) setDeclined(name string, declined bool) {
	kept := st.Uninstalled[:0:0]
	for _, n := range st.Uninstalled {
		if n != name {
			kept = append(kept, n)
		}
	}
	if declined {
		kept = append(kept, name)
		sort.Strings(kept)
	}
	st.Uninstalled = kept
}

func loadState(h stoqHome) (*installState, error) {
	st := &installState{Plugins: map[string]InstalledPlugin{}}
	data, err := os.ReadFile(h.stateFile())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("%s: %w (fix or remove it; the plugin folders are in %s)", h.stateFile(), err, h.PluginsDir())
	}
	if st.Plugins == nil {
		st.Plugins = map[string]InstalledPlugin{}
	}
	return st, nil
}

func (st *installState) save(h stoqHome) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = atomicfile.WriteFile(h.stateFile(), append(data, '\n'), atomicfile.Options{Perm: 0o644})
	return err
}

func (st *installState) sorted() []InstalledPlugin {
	out := make([]InstalledPlugin, 0, len(st.Plugins))
	for _, p := range st.Plugins {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (st *installState) clone() *installState {
	c := &installState{Plugins: make(map[string]InstalledPlugin, len(st.Plugins)), Uninstalled: append([]string(nil), st.Uninstalled...), StandsInFor: append([]string(nil), st.StandsInFor...)}
	for k, v := range st.Plugins {
		c.Plugins[k] = v
	}
	return c
}

// transaction records the file moves of an install so that a failure puts
// everything back: moves are undone in reverse order, and the folders moved
// aside are removed only on commit.
type transaction struct {
	undo    []func() error
	cleanup []string
}

// moveAside renames path (when it exists) to a hidden sibling, to be
// removed on commit or moved back on rollback.
func (tx *transaction) moveAside(path string) error {
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	aside := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.old-%d", filepath.Base(path), time.Now().UnixNano()))
	if err := os.Rename(path, aside); err != nil {
		return fmt.Errorf("moving %s aside: %w", path, err)
	}
	tx.undo = append(tx.undo, func() error { return os.Rename(aside, path) })
	tx.cleanup = append(tx.cleanup, aside)
	return nil
}

// moveInto renames the staged folder to path, which must be free.
func (tx *transaction) moveInto(staged, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.Rename(staged, path); err != nil {
		return fmt.Errorf("moving %s into place: %w", path, err)
	}
	tx.undo = append(tx.undo, func() error { return os.RemoveAll(path) })
	return nil
}

func (tx *transaction) rollback() error {
	var errs []error
	for i := len(tx.undo) - 1; i >= 0; i-- {
		if err := tx.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	tx.undo, tx.cleanup = nil, nil
	return errors.Join(errs...)
}

func (tx *transaction) commit() {
	for _, p := range tx.cleanup {
		_ = os.RemoveAll(p)
	}
	tx.undo, tx.cleanup = nil, nil
}
