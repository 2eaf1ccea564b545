package dirmon

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

// monitor is the state of one Ingest call, shared by both backends and
// used from the backend's one goroutine only.
type monitor struct {
	p     *Plugin
	queue *core.Queue
	// seen maps a file's path to the version of it that was queued, or that
	// was already there when the watch started: another event or rescan
	// finding that same version queues nothing.
	seen map[string]os.FileInfo
	// settling holds files found without a completed-write event: each is
	// queued once it stays unchanged for the settle period.
	settling map[string]*candidate
}

type candidate struct {
	info         os.FileInfo
	unchangedFor time.Time // when info was last seen to change
}

func isHidden(name string) bool { return strings.HasPrefix(name, ".") }

// sameVersion reports whether a and b are the same file with the same size
// and modification time.
func sameVersion(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// checkInterval is how often settling files are looked at.
func (m *monitor) checkInterval() time.Duration {
	return max(m.p.settle/4, 10*time.Millisecond)
}

// walkDirs calls fn for dir and, when recursive, every visible subfolder.
func (m *monitor) walkDirs(dir string, fn func(dir string)) {
	if !m.p.recursive {
		fn(dir)
		return
	}
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				m.p.log.Error("cannot read folder", "path", path, "error", err)
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if path != dir && isHidden(d.Name()) {
			return filepath.SkipDir
		}
		fn(path)
		return nil
	})
}

// walkFiles calls fn for every visible regular file of dir (and, when
// recursive, of its visible subfolders).
func (m *monitor) walkFiles(dir string, fn func(path string, info os.FileInfo)) {
	m.walkDirs(dir, func(d string) {
		entries, err := os.ReadDir(d)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				m.p.log.Error("cannot read folder", "path", d, "error", err)
			}
			return
		}
		for _, e := range entries {
			if isHidden(e.Name()) || !e.Type().IsRegular() {
				continue
			}
			path := filepath.Join(d, e.Name())
			if info, err := os.Lstat(path); err == nil && info.Mode().IsRegular() {
				fn(path, info)
			}
		}
	})
}

// start takes in the files present under dir when the watch begins:
// remembered as seen, so that only new or rewritten files are queued, or,
// with process_existing, set to settle, the quiet period counted from each
// file's last modification (a file untouched for that long is queued at
// the first look).
func (m *monitor) start(dir string) {
	if !m.p.processExisting {
		m.remember(dir)
		return
	}
	now := time.Now()
	m.walkFiles(dir, func(path string, info os.FileInfo) {
		quietSince := info.ModTime()
		if quietSince.After(now) { // a clock set back: count from now
			quietSince = now
		}
		m.settling[path] = &candidate{info: info, unchangedFor: quietSince}
	})
}

// remember records the files already present under dir as seen, so that
// only new or rewritten files are queued.
func (m *monitor) remember(dir string) {
	m.walkFiles(dir, func(path string, info os.FileInfo) { m.seen[path] = info })
}

// rescan puts every file under dir that is not a version already seen in
// the settling set.
func (m *monitor) rescan(dir string) {
	m.walkFiles(dir, func(path string, info os.FileInfo) {
		if !sameVersion(m.seen[path], info) {
			m.settleLater(path, info)
		}
	})
}

// settleLater adds or refreshes a settling file.
func (m *monitor) settleLater(path string, info os.FileInfo) {
	if c, ok := m.settling[path]; ok && sameVersion(c.info, info) {
		return
	}
	m.settling[path] = &candidate{info: info, unchangedFor: time.Now()}
}

// recheck makes path settle again: after a full quiet period, or, when soon
// is set, at the next look (its writer was closing it as it was read).
func (m *monitor) recheck(path string, soon bool) {
	info, err := os.Lstat(path)
	if err != nil || !info.Mode().IsRegular() {
		return
	}
	since := time.Now()
	if soon {
		since = since.Add(-m.p.settle)
	}
	m.settling[path] = &candidate{info: info, unchangedFor: since}
}

// settleNow queues the settling files that stayed unchanged for the settle
// period, and drops those that vanished.
func (m *monitor) settleNow(ctx context.Context) error {
	now := time.Now()
	for path, c := range m.settling {
		info, err := os.Lstat(path)
		switch {
		case err != nil || !info.Mode().IsRegular():
			delete(m.settling, path)
		case !sameVersion(c.info, info):
			c.info, c.unchangedFor = info, now
		case now.Sub(c.unchangedFor) >= m.p.settle:
			res, err := m.emit(ctx, path, nil)
			if err != nil {
				return err
			}
			if res == writerActive { // quiet, but still open for writing: look again
				m.settling[path] = c
			}
		}
	}
	return nil
}

// emitResult says what emit did.
type emitResult int

const (
	handled          emitResult = iota // queued, or nothing to queue (seen, gone, unreadable)
	writerActive                       // some process has it open for writing: not queued
	changedMeanwhile                   // a newer write began while it was read: not queued
)

// emit reads the file at path and queues it, unless this version of it was
// queued already, or it is not complete: a process still has it open for
// writing, or stale (when given) reports, once the content is read, that a
// newer write has begun meanwhile. Its error is only a failure to queue
// (the run is ending); a file that cannot be read is logged and skipped.
func (m *monitor) emit(ctx context.Context, path string, stale func() bool) (emitResult, error) {
	delete(m.settling, path)
	if info, err := os.Lstat(path); err != nil || !info.Mode().IsRegular() {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.p.log.Error("cannot read new file", "path", path, "error", err)
		}
		return handled, nil // gone already, or a symlink, FIFO or device: never opened
	} else if sameVersion(m.seen[path], info) {
		return handled, nil
	}
	content, info, busy, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			m.p.log.Debug("new file vanished before it was read", "path", path)
		} else {
			m.p.log.Error("cannot read new file", "path", path, "error", err)
		}
		return handled, nil
	}
	if busy {
		m.p.log.Debug("file is open for writing: waiting until it is closed", "path", path)
		return writerActive, nil
	}
	if sameVersion(m.seen[path], info) {
		return handled, nil
	}
	if stale != nil && stale() {
		m.p.log.Debug("file changed while it was read: waiting for that write to finish", "path", path)
		return changedMeanwhile, nil
	}
	m.seen[path] = info
	meta := core.NewPayloadMeta()
	meta.ExtraData["filename"] = filepath.Base(path)
	meta.ExtraData["source_dir"] = filepath.Dir(path)
	m.p.log.Debug("queueing new file", "path", path, "size", len(content))
	return handled, m.queue.PutPayload(ctx, core.NewPayload(content, meta))
}

// readFile reads a whole file and returns its state after the read (the
// version the content belongs to) and whether, once read, some process
// still had it open for writing.
func readFile(path string) (content []byte, info os.FileInfo, busy bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, nil, false, err
	}
	if !before.Mode().IsRegular() {
		return nil, nil, false, errors.New("not a regular file")
	}
	if openForWriting(f) { // not done yet: spare the read
		return nil, before, true, nil
	}
	// One read for a file whose size is known; a file still growing reads
	// on to its end.
	content = make([]byte, 0, before.Size()+1)
	for {
		n, err := f.Read(content[len(content):cap(content)])
		content = content[:len(content)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, false, err
		}
		if len(content) == cap(content) {
			content = append(content, 0)[:len(content)]
		}
	}
	if info, err = f.Stat(); err != nil {
		return nil, nil, false, err
	}
	return content, info, openForWriting(f), nil
}

// forget drops what is known about path (and, for a folder, everything
// under it) after it was deleted or moved away.
func (m *monitor) forget(path string, isDir bool) {
	delete(m.seen, path)
	delete(m.settling, path)
	if !isDir {
		return
	}
	prefix := path + string(filepath.Separator)
	for p := range m.seen {
		if strings.HasPrefix(p, prefix) {
			delete(m.seen, p)
		}
	}
	for p := range m.settling {
		if strings.HasPrefix(p, prefix) {
			delete(m.settling, p)
		}
	}
}

// pruneSeen drops remembered files that no longer exist (after an overflow
// lost their delete events), so memory tracks the folder's contents.
func (m *monitor) pruneSeen() {
	for path := range m.seen {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			delete(m.seen, path)
		}
	}
}

// watching tells a test that the watch is in place.
func (m *monitor) watching() {
	if m.p.onWatching != nil {
		m.p.onWatching()
	}
}
