// Package dirmon is stoq's folder monitor, a Provider: it watches
// source_dir and queues every new file once it is completely written, until
// the run is cancelled. It ports stoQ's dirmon, which queued files at their
// creation, often before their writer had finished.
//
// How "completely written" is known:
//
//   - On Linux, from inotify directly (golang.org/x/sys/unix): IN_CLOSE_WRITE
//     (a writer closed the file) and IN_MOVED_TO (a file was renamed or moved
//     in). fsnotify cannot be used there: it reports a file at its creation,
//     before the writer is done, and exports no close-write event.
//   - Elsewhere, with fsnotify and a quiet period: a created or written file
//     is queued once its size and mtime stayed unchanged for settle.
//   - On Linux too, files found by scanning rather than by an event (in a
//     subfolder created or moved in while recursive, in the short window
//     while the watch starts, after an event queue overflow) go through the
//     quiet period, unless a close-write event for them comes first.
//   - On Linux, a file that some process still holds open for writing is
//     never queued, however long its writer pauses: dirmon asks for a read
//     lease (fcntl F_SETLEASE), which the kernel refuses while the file is
//     open for writing, and drops it at once. Leases answer for files of
//     dirmon's own user, or any file with CAP_LEASE (root); for others the
//     quiet period alone decides.
//
// Promises and decisions:
//
//   - Files present when Ingest starts are not queued (stoQ's dirmon only
//     handles new files); they are queued again when rewritten. With
//     process_existing, they are queued too (files that arrived while stoq
//     was down), each once it has been quiet for the settle period (a file
//     last modified longer ago than that is queued at once); on Linux one
//     still open for writing waits until it is closed.
//   - Each completed write of a file is queued once: a file is remembered
//     by identity (device and inode, size, mtime) and an event or a rescan
//     that finds the same version again is ignored. Renaming a file, or a
//     folder of files, inside the watched tree counts as a new file. When a
//     file is written again before its previous close-write was handled
//     (IN_MODIFY shows the newer write has begun, before or while it is
//     read), only the newer version is queued, once it is complete: a
//     half-rewritten file is never read as if it were done.
//   - Dotfiles (editors' and downloaders' temporary files) and, when
//     recursive, dot-folders are skipped; a dotfile renamed to a visible name
//     is queued then. Only regular files are read: symlinks, FIFOs and
//     devices are ignored. A file that vanished or cannot be read is logged
//     and skipped.
//   - After an inotify queue overflow (IN_Q_OVERFLOW) the plugin logs a
//     warning and rescans the tree, so nothing is lost.
//   - Payloads carry extra_data filename (base name) and source_dir (the
//     file's folder, absolute), as stoQ's dirmon.
//   - Ingest returns nil promptly when its context is cancelled. It fails
//     when source_dir itself is removed or moved away.
package dirmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "embed"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed dirmon.stoq
var manifest []byte

func init() { core.Register("dirmon", manifest, New) }

// Plugin is a configured folder monitor. Each Ingest call watches on its
// own; the plugin holds no resources between calls.
type Plugin struct {
	log       *slog.Logger
	sourceDir string // absolute, symlinks resolved
	recursive bool
	settle    time.Duration
	// processExisting queues the files already there when Ingest starts.
	processExisting bool

	// backend runs the watch loop: inotify on Linux, fsnotify elsewhere.
	// Tests swap it to exercise the fsnotify backend on Linux too.
	backend func(m *monitor, ctx context.Context) error
	// onWatching, when set (by tests), is called once the watches are in
	// place and files written from then on will be seen.
	onWatching func()
}

// New builds a dirmon plugin. source_dir must name an existing folder.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{log: log, backend: defaultBackend}
	var err error
	if p.recursive, err = cfg.Bool("recursive", false); err != nil {
		return nil, err
	}
	if p.processExisting, err = cfg.Bool("process_existing", false); err != nil {
		return nil, err
	}
	if p.settle, err = cfg.Duration("settle", 2*time.Second); err != nil {
		return nil, err
	}
	if p.settle <= 0 {
		return nil, cfg.OptionError("settle", "want a positive duration, such as 2 (seconds) or 500ms")
	}
	dir := strings.TrimSpace(cfg.String("source_dir", ""))
	if dir == "" {
		return nil, cfg.OptionError("source_dir", "want the folder to monitor, e.g. --plugin-opts dirmon:source_dir=/path/to/folder")
	}
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, cfg.OptionError("source_dir", fmt.Sprintf("folder %s cannot be used: %v", dir, err))
	}
	info, err := os.Stat(abs)
	if err != nil {
		return nil, cfg.OptionError("source_dir", fmt.Sprintf("folder %s cannot be used: %v", dir, err))
	}
	if !info.IsDir() {
		return nil, cfg.OptionError("source_dir", fmt.Sprintf("%s is not a folder", dir))
	}
	p.sourceDir = abs
	return p, nil
}

// Ingest watches source_dir and queues each new file once it is completely
// written, until ctx is cancelled (then it returns nil).
func (p *Plugin) Ingest(ctx context.Context, queue *core.Queue) error {
	p.log.Info("monitoring folder for new files", "source_dir", p.sourceDir, "recursive", p.recursive)
	m := &monitor{
		p:        p,
		queue:    queue,
		seen:     map[string]os.FileInfo{},
		settling: map[string]*candidate{},
	}
	err := p.backend(m, ctx)
	if ctx.Err() != nil && (err == nil || errors.Is(err, ctx.Err()) || errors.Is(err, core.ErrQueueClosed)) {
		return nil
	}
	return err
}

// Interface guard: dirmon is a Provider.
var _ core.Provider = (*Plugin)(nil)
