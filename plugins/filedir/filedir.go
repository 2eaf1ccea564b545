// Package filedir is stoq's file-system plugin, one type of three classes:
//
//   - Provider: Ingest queues one payload per file of source_dir (a file or
//     a folder, its subfolders too with recursive), skipping dotfiles and
//     dot-folders. Payloads carry extra_data filename (the base name) and
//     source_dir (the file's folder, absolute). With source_archiver set,
//     it queues archiver tasks {"path", "filename", "source_dir"} for that
//     source archiver instead of reading the files itself, which is how
//     `stoq run -P filedir -S filedir` re-scans an archive.
//   - Connector: Save writes each response to results_dir/SCAN_ID (under a
//     dated subfolder with date_mode), atomically and never replacing a file.
//   - Archiver: Archive stores a payload's content under archive_dir, named
//     by its SHA1 in stoQ's layout (archive_dir/a/b/c/d/e/abcde…) or by
//     payload id; Get loads a payload back from a task's path.
//
// Decisions where stoQ is silent or unsafe:
//
//   - source_dir is checked by Ingest, not by New: the same plugin is also a
//     connector and an archiver, which need no source_dir. Ingest fails at
//     once, naming the option or the path, when it is unset or missing.
//   - Relative results_dir, archive_dir and source_dir are relative to the
//     working directory, as in stoQ (not to the installed plugin folder).
//   - Files are queued by reference (core.Task's Open): a file is mapped
//     (core/mmapfile) only when a consumer takes its task, and unmapped
//     once its response is saved, so run mode's memory does not grow with
//     max_queue times the files' size. A file larger than max_payload_size
//     is not loaded; a file that cannot be opened then, or has vanished,
//     gets a response holding the Error.
//   - Only regular files are read; FIFOs, devices and sockets are skipped,
//     so a provider can never block on them. Symlinks to folders are never
//     followed. A symlink to a file is followed only when it resolves to a
//     file inside source_dir, unless follow_symlinks is set: then it is
//     read wherever it leads. The file is opened without following a
//     symlink its last name became meanwhile. A file named explicitly as
//     source_dir is read even when its name starts with a dot.
//   - Files are written atomically (core/atomicfile); the first time the
//     plugin writes into a folder, it removes the temporary files older
//     than five minutes that a killed stoq left there.
//   - Save never replaces a results file: saving the same scan again with
//     the same JSON succeeds, with different JSON it fails naming the file.
//   - Archive writes each content once: an existing archive file of the same
//     name is kept (by SHA1: when its size matches; by payload id: when its
//     content matches); anything else is an error naming the file.
//   - Get reads any path, as stoQ does, unless restrict_to_archive_dir is
//     set; a relative task path is relative to archive_dir. Its task may be
//     {"path": …} (decoded JSON or map[string]string) or a plain path string.
//   - date_mode uses the local time when the response is saved, as stoQ's
//     datetime.now(); date_format is strftime syntax (see parseStrftime).
package filedir

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "embed"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/atomicfile"
	"github.com/stoq-go/stoq/core/v3/mmapfile"
)

//go:embed filedir.stoq
var manifest []byte

func init() { core.Register("filedir", manifest, New) }

// Plugin is a configured filedir instance. It holds no open resources and is
// safe for concurrent use.
type Plugin struct {
	log *slog.Logger

	// Provider.
	sourceDir      string // as configured; "" when unset
	recursive      bool
	sourceArchiver string
	followSymlinks bool

	// Connector.
	resultsDir string // absolute
	dateMode   bool
	dateFormat dateFormat
	compactly  bool
	now        func() time.Time

	// Connector and archiver: flush every written file to disk.
	fsync bool

	// Archiver.
	archiveDir    string // absolute
	useSHA        bool
	restrictToDir bool

	// swept remembers the folders whose stale temporary files were removed
	// (see sweepOnce).
	swept sweptFolders
}

// New builds a filedir plugin from its options (see filedir.stoq).
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{
		log:            log,
		sourceDir:      strings.TrimSpace(cfg.String("source_dir", "")),
		sourceArchiver: strings.TrimSpace(cfg.String("source_archiver", "")),
		now:            time.Now,
	}
	var err error
	if p.recursive, err = cfg.Bool("recursive", false); err != nil {
		return nil, err
	}
	if p.followSymlinks, err = cfg.Bool("follow_symlinks", false); err != nil {
		return nil, err
	}
	if p.dateMode, err = cfg.Bool("date_mode", false); err != nil {
		return nil, err
	}
	if p.fsync, err = cfg.Bool("fsync", false); err != nil {
		return nil, err
	}
	if p.compactly, err = cfg.Bool("compactly", true); err != nil {
		return nil, err
	}
	if p.useSHA, err = cfg.Bool("use_sha", true); err != nil {
		return nil, err
	}
	if p.restrictToDir, err = cfg.Bool("restrict_to_archive_dir", false); err != nil {
		return nil, err
	}
	if p.sourceArchiver != "" && !core.ValidPluginName(p.sourceArchiver) {
		return nil, cfg.OptionError("source_archiver", "want the name of a source archiver plugin, such as filedir")
	}
	format := cfg.String("date_format", "%Y/%m/%d")
	if p.dateFormat, err = parseStrftime(format); err != nil {
		return nil, cfg.OptionError("date_format", err.Error())
	}
	// A dated folder must stay inside results_dir: reject formats that
	// print an absolute path or climb out with "..".
	if sample := p.dateFormat.Format(time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC)); !filepath.IsLocal(sample) {
		return nil, cfg.OptionError("date_format", fmt.Sprintf("prints %q, which is not a relative path inside results_dir", sample))
	}
	if p.resultsDir, err = absDir(cfg, "results_dir", "./results"); err != nil {
		return nil, err
	}
	if p.archiveDir, err = absDir(cfg, "archive_dir", "./archive"); err != nil {
		return nil, err
	}
	return p, nil
}

func absDir(cfg *core.Config, key, def string) (string, error) {
	dir := strings.TrimSpace(cfg.String(key, def))
	if dir == "" {
		return "", cfg.OptionError(key, "want a folder path")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", cfg.OptionError(key, err.Error())
	}
	return abs, nil
}

// Ingest queues every file of source_dir (see the package doc), one at a
// time, by reference. It returns nil when every file was queued, ctx's
// error when ctx ended first, and an error naming the option or the path
// when source_dir is unset or cannot be read.
func (p *Plugin) Ingest(ctx context.Context, queue *core.Queue) error {
	if p.sourceDir == "" {
		return errors.New("option source_dir is not set: name a file or folder to ingest, e.g. --plugin-opts filedir:source_dir=/path/to/files")
	}
	root, err := filepath.Abs(p.sourceDir)
	if err != nil {
		return fmt.Errorf("source_dir %s: %w", p.sourceDir, err)
	}
	info, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("source_dir %s: %w", root, err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return fmt.Errorf("source_dir %s is neither a folder nor a regular file", root)
		}
		// Named explicitly: read where it leads.
		return p.queueFile(ctx, queue, root, root, false)
	}
	// Symlinks are judged against the folder as resolved.
	w := &walk{p: p, queue: queue, root: root}
	if w.resolvedRoot, err = filepath.EvalSymlinks(root); err != nil {
		return fmt.Errorf("source_dir %s: %w", root, err)
	}
	if !p.recursive {
		return w.flat(ctx)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				return fmt.Errorf("reading source_dir %s: %w", root, err)
			}
			p.log.Error("skipping unreadable folder", "path", path, "error", err)
			return nil // WalkDir skips the folder
		}
		if d.IsDir() {
			if path != root && isHidden(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		return w.entry(ctx, path, d)
	})
}

// walk is one Ingest over a folder.
type walk struct {
	p            *Plugin
	queue        *core.Queue
	root         string // source_dir, absolute
	resolvedRoot string // source_dir with symlinks resolved
}

// listBatch is how many entries of a folder are read at a time: a flat
// source_dir of millions of files costs the memory of one batch, not of
// its whole listing.
const listBatch = 1024

// flat queues the files of source_dir itself, in the folder's own order,
// reading its entries a batch at a time.
func (w *walk) flat(ctx context.Context) error {
	d, err := os.Open(w.root)
	if err != nil {
		return fmt.Errorf("reading source_dir %s: %w", w.root, err)
	}
	defer d.Close()
	for {
		entries, err := d.ReadDir(listBatch)
		for _, e := range entries {
			if err := w.entry(ctx, filepath.Join(w.root, e.Name()), e); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) { // ReadDir(n > 0) ends every listing with it
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading source_dir %s: %w", w.root, err)
		}
	}
}

// entry queues a folder entry when it is a visible regular file, or a
// symlink to one that follow_symlinks (or staying inside source_dir)
// allows.
func (w *walk) entry(ctx context.Context, path string, d fs.DirEntry) error {
	if isHidden(d.Name()) {
		return nil
	}
	mode := d.Type()
	if mode.IsRegular() {
		return w.p.queueFile(ctx, w.queue, path, path, true)
	}
	if mode&fs.ModeSymlink == 0 {
		return nil // a FIFO, a device, a socket: never opened
	}
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		w.p.log.Error("skipping broken symlink", "path", path, "error", err)
		return nil
	}
	info, err := os.Stat(target)
	if err != nil || !info.Mode().IsRegular() {
		return nil // a symlink to a folder or a special file
	}
	if !w.p.followSymlinks {
		if rel, err := filepath.Rel(w.resolvedRoot, target); err != nil || !filepath.IsLocal(rel) {
			w.p.log.Info("skipping symlink that leads out of source_dir (set follow_symlinks to read it)", "path", path, "target", target)
			return nil
		}
	}
	return w.p.queueFile(ctx, w.queue, path, target, true)
}

// queueFile queues the file at path, opened at open (the target of a
// symlink it is), as a task loaded by reference, or as an archiver task
// for source_archiver. extra_data names path.
func (p *Plugin) queueFile(ctx context.Context, queue *core.Queue, path, open string, noFollow bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir, name := filepath.Dir(path), filepath.Base(path)
	if p.sourceArchiver != "" {
		task := map[string]any{"path": path, "filename": name, "source_dir": dir}
		return queue.PutArchived(ctx, p.sourceArchiver, task)
	}
	load := func(_ context.Context, maxSize int64) (*core.Payload, func(), error) {
		m, err := mmapfile.Open(open, mmapfile.Options{MaxSize: maxSize, NoFollow: noFollow})
		if err != nil {
			return nil, nil, fmt.Errorf("filedir: %w", err)
		}
		meta := core.NewPayloadMeta()
		meta.ExtraData["filename"] = name
		meta.ExtraData["source_dir"] = dir
		return core.NewPayload(m.Bytes(), meta), func() { _ = m.Close() }, nil
	}
	return queue.Put(ctx, core.Task{Open: load})
}

func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

// Save writes response as JSON to results_dir[/DATE]/SCAN_ID (see the
// package doc for what happens when that file exists).
func (p *Plugin) Save(ctx context.Context, response *core.StoqResponse) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := response.ScanID
	if name == "" || !filepath.IsLocal(name) || filepath.Base(name) != name || isHidden(name) {
		return fmt.Errorf("filedir: scan_id %q cannot name a results file", name)
	}
	dir := p.resultsDir
	if p.dateMode {
		dir = filepath.Join(dir, p.dateFormat.Format(p.now()))
	}
	var buf bytes.Buffer
	if err := response.Encode(&buf, p.compactly); err != nil {
		return fmt.Errorf("filedir: %w", err)
	}
	data := buf.Bytes()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("filedir: creating results folder: %w", err)
	}
	path := filepath.Join(dir, name)
	created, err := p.writeNew(path, data)
	if err != nil {
		return fmt.Errorf("filedir: saving scan %s: %w", name, err)
	}
	if created {
		return nil
	}
	existing, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("filedir: results file %s exists and cannot be read: %w", path, err)
	}
	if !bytes.Equal(existing, data) {
		return fmt.Errorf("filedir: results file %s already exists with different content: not replaced", path)
	}
	p.log.Debug("results already saved", "path", path)
	return nil
}

// Archive stores payload's content under archive_dir and returns
// {"path": ABSOLUTE_PATH}.
func (p *Plugin) Archive(ctx context.Context, payload *core.Payload, request *core.Request) (*core.ArchiverResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, name := p.archiveDir, payload.ID()
	if p.useSHA {
		sum := sha1.Sum(payload.Content)
		name = hex.EncodeToString(sum[:])
		dir = filepath.Join(dir, name[0:1], name[1:2], name[2:3], name[3:4], name[4:5])
	} else if name == "" || !filepath.IsLocal(name) || filepath.Base(name) != name || isHidden(name) {
		return nil, fmt.Errorf("filedir: payload id %q cannot name an archive file", name)
	}
	path := filepath.Join(dir, name)
	response := &core.ArchiverResponse{Results: map[string]any{"path": path}}

	// By SHA1 the name is the content: an existing file of the right size is
	// this payload, archived before.
	if p.useSHA {
		if info, err := os.Stat(path); err == nil && info.Mode().IsRegular() && info.Size() == int64(len(payload.Content)) {
			return response, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("filedir: creating archive folder: %w", err)
	}
	created, err := p.writeNew(path, payload.Content)
	if err != nil {
		return nil, fmt.Errorf("filedir: archiving payload %s: %w", payload.ID(), err)
	}
	if created {
		return response, nil
	}
	if p.useSHA {
		info, err := os.Stat(path)
		if err == nil && info.Mode().IsRegular() && info.Size() == int64(len(payload.Content)) {
			return response, nil
		}
		return nil, fmt.Errorf("filedir: archive file %s exists but is not a %d-byte copy of this payload (damaged?): remove it to archive again", path, len(payload.Content))
	}
	existing, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("filedir: archive file %s exists and cannot be read: %w", path, err)
	}
	if !bytes.Equal(existing, payload.Content) {
		return nil, fmt.Errorf("filedir: archive file %s already exists with different content: not replaced", path)
	}
	return response, nil
}

// writeNew writes data to path atomically, flushed to disk when fsync is
// on, and never over an existing file: created is false when path exists.
// The first write to a folder sweeps its stale temporary files.
func (p *Plugin) writeNew(path string, data []byte) (created bool, err error) {
	p.sweepOnce(filepath.Dir(path))
	return atomicfile.WriteFile(path, data, atomicfile.Options{NoReplace: true, Durable: p.fsync})
}

// Get loads a payload from the path in task.Results. The payload's
// extra_data holds the task's metadata with path (absolute) and filename
// (its base name) set.
func (p *Plugin) Get(ctx context.Context, task *core.ArchiverResponse) (*core.Payload, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if task == nil {
		return nil, errors.New("filedir: no archiver task")
	}
	extra, raw, err := taskPath(task.Results)
	if err != nil {
		return nil, err
	}
	path := raw
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.archiveDir, path)
	}
	path = filepath.Clean(path)
	if p.restrictToDir {
		if err := p.checkInsideArchive(path); err != nil {
			return nil, err
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("filedir: archived payload %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("filedir: archived payload %s is not a regular file", path)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("filedir: archived payload %s: %w", path, err)
	}
	meta := core.NewPayloadMeta()
	for k, v := range extra {
		meta.ExtraData[k] = v
	}
	meta.ExtraData["path"] = path
	meta.ExtraData["filename"] = filepath.Base(path)
	return core.NewPayload(content, meta), nil
}

// taskPath reads the path out of a source archiver task: {"path": …} as a
// map[string]any or map[string]string, or a plain string.
func taskPath(results any) (extra map[string]any, path string, err error) {
	extra = map[string]any{}
	switch r := results.(type) {
	case string:
		path = r
	case map[string]any:
		for k, v := range r {
			extra[k] = v
		}
		s, ok := r["path"].(string)
		if !ok {
			return nil, "", fmt.Errorf("filedir: archiver task %v has no string \"path\"", r)
		}
		path = s
	case map[string]string:
		for k, v := range r {
			extra[k] = v
		}
		path = r["path"]
	default:
		return nil, "", fmt.Errorf("filedir: archiver task is a %T, want {\"path\": PATH} or a path string", results)
	}
	if strings.TrimSpace(path) == "" {
		return nil, "", errors.New("filedir: archiver task has an empty path")
	}
	if strings.ContainsRune(path, 0) {
		return nil, "", fmt.Errorf("filedir: archiver task path %q contains a NUL byte", path)
	}
	return extra, path, nil
}

// checkInsideArchive refuses a path that leads, after resolving symlinks,
// outside archive_dir.
func (p *Plugin) checkInsideArchive(path string) error {
	base, err := filepath.EvalSymlinks(p.archiveDir)
	if err != nil {
		return fmt.Errorf("filedir: archive_dir %s: %w", p.archiveDir, err)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Errorf("filedir: archived payload %s: %w", path, err)
	}
	rel, err := filepath.Rel(base, resolved)
	if err != nil || !filepath.IsLocal(rel) {
		return fmt.Errorf("filedir: archived payload %s is outside archive_dir %s (restrict_to_archive_dir is set)", path, p.archiveDir)
	}
	return nil
}

// Interface guards: filedir is a Provider, a Connector and an Archiver
// (dest and source).
var (
	_ core.Provider       = (*Plugin)(nil)
	_ core.Connector      = (*Plugin)(nil)
	_ core.Archiver       = (*Plugin)(nil)
	_ core.SourceArchiver = (*Plugin)(nil)
)
