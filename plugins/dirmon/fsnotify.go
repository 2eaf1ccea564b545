package dirmon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// runFsnotify is the portable backend (the default outside Linux): every
// created, written or moved-in file settles, and is queued once its size
// and mtime stayed unchanged for the settle period.
func (m *monitor) runFsnotify(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("dirmon: starting fsnotify: %w", err)
	}
	defer w.Close()

	root := m.p.sourceDir
	m.start(root)
	if err := m.addFsnotifyTree(w, root); err != nil {
		return err
	}
	m.rescan(root)
	m.watching()

	ticker := time.NewTicker(m.checkInterval())
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("dirmon: fsnotify stopped")
			}
			if err := m.handleFsnotify(w, ev); err != nil {
				return err
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("dirmon: fsnotify stopped")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				m.p.log.Warn("file event queue overflowed: rescanning the folder so no file is missed", "source_dir", root)
				if err := m.addFsnotifyTree(w, root); err != nil {
					return err
				}
				m.pruneSeen()
				m.rescan(root)
			} else {
				m.p.log.Error("file watcher error", "error", err)
			}
		case <-ticker.C:
			if len(m.settling) > 0 {
				if err := m.settleNow(ctx); err != nil {
					return err
				}
			}
		}
	}
}

func (m *monitor) handleFsnotify(w *fsnotify.Watcher, ev fsnotify.Event) error {
	path := ev.Name
	hidden := isHidden(filepath.Base(path))
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		// fsnotify drops watches of removed folders itself.
		m.forget(path, true)
		if path == m.p.sourceDir {
			return fmt.Errorf("dirmon: source_dir %s was removed or moved away", path)
		}
	}
	if hidden || !(ev.Has(fsnotify.Create) || ev.Has(fsnotify.Write)) {
		return nil
	}
	info, err := os.Lstat(path)
	if err != nil {
		return nil // gone again
	}
	switch {
	case info.IsDir():
		if ev.Has(fsnotify.Create) && m.p.recursive {
			if err := m.addFsnotifyTree(w, path); err != nil {
				m.p.log.Error("cannot watch new folder", "path", path, "error", err)
			}
			m.rescan(path)
		}
	case info.Mode().IsRegular() && !sameVersion(m.seen[path], info):
		m.settleLater(path, info)
	}
	return nil
}

// addFsnotifyTree watches dir and, when recursive, its visible subfolders.
func (m *monitor) addFsnotifyTree(w *fsnotify.Watcher, dir string) error {
	var rootErr error
	m.walkDirs(dir, func(d string) {
		if err := w.Add(d); err != nil {
			if d == m.p.sourceDir {
				rootErr = fmt.Errorf("dirmon: watching source_dir %s: %w", d, err)
			} else {
				m.p.log.Error("cannot watch folder", "path", d, "error", err)
			}
		}
	})
	return rootErr
}
