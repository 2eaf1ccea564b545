package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
)

// UninstallOptions says what stoq uninstall does.
type UninstallOptions struct {
	Home string
	Name string
	// Catalog, CoreDir and CLIDir are used only when $STOQ_HOME/src lacks
	// the sources to rebuild with.
	Catalog         Catalog
	CoreDir, CLIDir string
	CoreVersion     string
	Environ         []string
	Progress        *Progress
}

func (opts UninstallOptions) sources() sourceOptions {
	return sourceOptions{Catalog: opts.Catalog, CoreDir: opts.CoreDir, CLIDir: opts.CLIDir, CoreVersion: opts.CoreVersion, Progress: opts.Progress}
}

// Uninstall removes an installed plugin and rebuilds $STOQ_HOME/bin/stoq
// without it (removes the binary when it was the last one). A failed
// rebuild puts the plugin back.
func Uninstall(ctx context.Context, opts UninstallOptions) (*InstalledPlugin, *LinkResult, error) {
	if opts.CoreVersion == "" {
		opts.CoreVersion = core.Version
	}
	h := stoqHome{Dir: opts.Home}
	if _, err := os.Stat(h.Dir); err != nil {
		return nil, nil, fmt.Errorf("plugin %s is not installed (no stoq home %s)", opts.Name, h.Dir)
	}
	unlock, st, err := lockHome(h, opts.Progress)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	ip, err := installedToRemove(h, st, opts.Name)
	if err != nil {
		return nil, nil, err
	}
	change := newHomeChange(st)
	defer change.discard()
	delete(change.next.Plugins, ip.Name)
	change.next.setDeclined(ip.Name, true)
	change.moves = append(change.moves, func(tx *transaction) error { return tx.moveAside(ip.Dir) })

	var t *toolchain
	if len(change.next.Plugins) > 0 {
		// Plugins are left: the binary is rebuilt without this one.
		if t, err = findToolchain(ctx, opts.Environ); err != nil {
			return nil, nil, fmt.Errorf("%w; nothing was removed", err)
		}
		f, err := newFetcher(opts.Progress)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		if err := change.stageSources(ctx, f, h, opts.sources()); err != nil {
			return nil, nil, err
		}
	}
	res, err := change.commit(ctx, h, t, opts.CoreVersion, opts.Progress)
	if err != nil {
		return nil, nil, err
	}
	return &ip, res, nil
}

// installedToRemove is the installed plugin name, when st records it in a
// folder that is safe to remove (a folder named after it).
func installedToRemove(h stoqHome, st *installState, name string) (InstalledPlugin, error) {
	ip, ok := st.Plugins[name]
	if !ok {
		var names []string
		for _, p := range st.sorted() {
			names = append(names, p.Name)
		}
		installed := "none are"
		if len(names) > 0 {
			installed = "installed: " + strings.Join(names, ", ")
		}
		return ip, fmt.Errorf("plugin %s is not installed (%s)", name, installed)
	}
	if filepath.Base(ip.Dir) != ip.Name {
		return ip, fmt.Errorf("%s records plugin %s in %s, which is not a folder named %s: refusing to remove it", h.stateFile(), ip.Name, ip.Dir, ip.Name)
	}
	if fi, err := os.Lstat(ip.Dir); err == nil && !fi.IsDir() {
		return ip, fmt.Errorf("%s is not a folder: refusing to remove it", ip.Dir)
	}
	return ip, nil
}
