//go:build linux

package dirmon

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// On Linux, dirmon reads inotify itself: only inotify says when a writer
// has closed a file (IN_CLOSE_WRITE).
var defaultBackend = (*monitor).runInotify

// watchMask is what each watched folder reports: completed writes, files
// moved in and out, deletions and the folder's own removal (plus
// IN_CREATE, for new subfolders, when recursive). IN_MODIFY only tells that
// a newer write of a file has begun (see superseded). IN_EXCL_UNLINK skips
// events of deleted files still open; IN_ONLYDIR and IN_DONT_FOLLOW make
// sure a watch is on a real folder.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_MODIFY |
	unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

// inotifyEvent is one parsed struct inotify_event.
type inotifyEvent struct {
	wd     int32
	mask   uint32
	cookie uint32
	name   string
}

// parseInotifyEvents decodes the events of one read of an inotify file
// descriptor. Every length is checked against the buffer: a malformed or
// truncated buffer is an error, never a panic.
func parseInotifyEvents(buf []byte) ([]inotifyEvent, error) {
	var events []inotifyEvent
	for off := 0; off < len(buf); {
		if len(buf)-off < unix.SizeofInotifyEvent {
			return events, fmt.Errorf("inotify: truncated event header at offset %d (%d bytes left)", off, len(buf)-off)
		}
		hdr := buf[off : off+unix.SizeofInotifyEvent]
		ev := inotifyEvent{
			wd:     int32(binary.NativeEndian.Uint32(hdr[0:4])),
			mask:   binary.NativeEndian.Uint32(hdr[4:8]),
			cookie: binary.NativeEndian.Uint32(hdr[8:12]),
		}
		nameLen := binary.NativeEndian.Uint32(hdr[12:16])
		off += unix.SizeofInotifyEvent
		if uint64(nameLen) > uint64(len(buf)-off) {
			return events, fmt.Errorf("inotify: event name of %d bytes overruns the buffer at offset %d", nameLen, off)
		}
		name := buf[off : off+int(nameLen)]
		if i := indexByte(name, 0); i >= 0 { // the name is NUL-padded
			name = name[:i]
		}
		ev.name = string(name)
		off += int(nameLen)
		events = append(events, ev)
	}
	return events, nil
}

// openForWriting reports whether any process has f's file open for
// writing. It asks for a read lease, which the kernel refuses (EAGAIN)
// while the file is open for writing, and drops it at once. Where leases
// cannot tell (another user's file without CAP_LEASE, file systems without
// leases, fs.leases-enable off) it reports false.
func openForWriting(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	busy := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_RDLCK)
		if err == nil {
			_, _ = unix.FcntlInt(fd, unix.F_SETLEASE, unix.F_UNLCK)
			return
		}
		busy = errors.Is(err, unix.EAGAIN)
	})
	return busy
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// inotifyWatch is the inotify instance of one Ingest call.
type inotifyWatch struct {
	m    *monitor
	fd   int      // for add/rm watch and draining reads; owned and closed by file
	file *os.File // non-blocking, so reads wait in the netpoller
	buf  []byte
	dirs map[int32]string
	wds  map[string]int32

	// pending holds events read but not handled yet, oldest first, from
	// index head; later counts, per file, the pending events that make an
	// earlier close-write of it stale.
	pending []inotifyEvent
	head    int
	later   map[eventKey]int
}

type eventKey struct {
	wd   int32
	name string
}

// supersedingMask: a pending event of one of these kinds means a file has
// changed again (or is gone) since an earlier event about it.
const supersedingMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE

// maxPending bounds the events held in memory; beyond it they wait in the
// kernel's queue (whose overflow is handled by a rescan).
const maxPending = 1 << 16

// runInotify is the Linux backend: it watches with inotify until ctx is
// done.
func (m *monitor) runInotify(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("dirmon: inotify_init1: %w (see fs.inotify.max_user_instances)", err)
	}
	// A non-blocking descriptor gives a pollable *os.File: Read parks in the
	// netpoller and honours read deadlines.
	w := &inotifyWatch{
		m: m, fd: fd, file: os.NewFile(uintptr(fd), "inotify"), buf: make([]byte, 64<<10),
		dirs: map[int32]string{}, wds: map[string]int32{}, later: map[eventKey]int{},
	}
	defer w.file.Close()

	// Remember what is there, watch, then rescan: a file finished between
	// the two walks is found by the rescan rather than lost.
	root := m.p.sourceDir
	m.start(root)
	if err := w.addTree(root); err != nil {
		return err
	}
	m.rescan(root)
	m.watching()

	stop := context.AfterFunc(ctx, func() { _ = w.file.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	lastSettle := time.Now()
	for {
		if ctx.Err() != nil {
			return nil
		}
		if ev, ok := w.pop(); ok {
			if err := w.handle(ctx, ev); err != nil {
				return err
			}
		} else if err := w.wait(ctx); err != nil {
			return err
		}
		if len(m.settling) > 0 && time.Since(lastSettle) >= m.checkInterval() {
			lastSettle = time.Now()
			if err := m.settleNow(ctx); err != nil {
				return err
			}
		}
	}
}

// wait blocks until events arrive (and reads them), a settling file needs
// a look, or ctx is done.
func (w *inotifyWatch) wait(ctx context.Context) error {
	deadline := time.Time{}
	if len(w.m.settling) > 0 {
		deadline = time.Now().Add(w.m.checkInterval())
	}
	if err := w.file.SetReadDeadline(deadline); err != nil {
		return fmt.Errorf("dirmon: inotify deadline: %w", err)
	}
	if ctx.Err() != nil { // checked after setting the deadline: see AfterFunc
		return nil
	}
	n, err := w.file.Read(w.buf)
	switch {
	case ctx.Err() != nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case err != nil:
		return fmt.Errorf("dirmon: reading inotify events: %w", err)
	}
	return w.push(w.buf[:n])
}

// drain reads, without blocking, the events the kernel has queued since
// the last read, so that superseded sees them.
func (w *inotifyWatch) drain() error {
	for len(w.pending)-w.head < maxPending {
		n, err := unix.Read(w.fd, w.buf)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR), err == nil && n <= 0:
			return nil
		case err != nil:
			return fmt.Errorf("dirmon: reading inotify events: %w", err)
		}
		if err := w.push(w.buf[:n]); err != nil {
			return err
		}
	}
	return nil
}

// push parses one read's events onto pending.
func (w *inotifyWatch) push(buf []byte) error {
	events, perr := parseInotifyEvents(buf)
	for _, ev := range events {
		if ev.mask&supersedingMask != 0 && ev.name != "" {
			w.later[eventKey{ev.wd, ev.name}]++
		}
		w.pending = append(w.pending, ev)
	}
	if perr != nil {
		w.m.p.log.Warn("malformed inotify events: rescanning", "error", perr)
		return w.recover()
	}
	return nil
}

// pop takes the oldest pending event.
func (w *inotifyWatch) pop() (inotifyEvent, bool) {
	if w.head == len(w.pending) {
		w.pending, w.head = w.pending[:0], 0
		return inotifyEvent{}, false
	}
	ev := w.pending[w.head]
	w.pending[w.head] = inotifyEvent{}
	w.head++
	if ev.mask&supersedingMask != 0 && ev.name != "" {
		k := eventKey{ev.wd, ev.name}
		if w.later[k]--; w.later[k] <= 0 {
			delete(w.later, k)
		}
	}
	if w.head > 4096 && w.head*2 > len(w.pending) { // reclaim the consumed front
		w.pending = append(w.pending[:0], w.pending[w.head:]...)
		w.head = 0
	}
	return ev, true
}

// superseded reports whether the file of ev changed again, or went away,
// after ev: a newer write has begun (IN_MODIFY, also sent by truncation),
// finished, or the name was moved or deleted. Its later event handles it;
// reading it now could catch the newer write half done.
func (w *inotifyWatch) superseded(ev inotifyEvent) (bool, error) {
	if err := w.drain(); err != nil {
		return false, err
	}
	return w.later[eventKey{ev.wd, ev.name}] > 0, nil
}

// handle acts on one event.
func (w *inotifyWatch) handle(ctx context.Context, ev inotifyEvent) error {
	m := w.m
	if ev.mask&unix.IN_Q_OVERFLOW != 0 {
		m.p.log.Warn("inotify event queue overflowed: rescanning the folder so no file is missed (raise fs.inotify.max_queued_events if it recurs)", "source_dir", m.p.sourceDir)
		return w.recover()
	}
	dir, ok := w.dirs[ev.wd]
	if !ok {
		return nil // a watch removed meanwhile
	}
	if ev.mask&unix.IN_IGNORED != 0 {
		delete(w.dirs, ev.wd)
		if w.wds[dir] == ev.wd {
			delete(w.wds, dir)
		}
		if dir == m.p.sourceDir {
			return fmt.Errorf("dirmon: source_dir %s is no longer watched (removed or unmounted)", dir)
		}
		return nil
	}
	if ev.mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
		if dir == m.p.sourceDir {
			return fmt.Errorf("dirmon: source_dir %s was removed or moved away", dir)
		}
		return nil // the parent's IN_DELETE or IN_MOVED_FROM handles it
	}
	if ev.name == "" {
		return nil
	}
	path := filepath.Join(dir, ev.name)
	isDir := ev.mask&unix.IN_ISDIR != 0
	hidden := isHidden(ev.name)
	switch {
	case ev.mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
		if isDir {
			w.removeTree(path)
		}
		m.forget(path, isDir)
	case isDir && ev.mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
		if m.p.recursive && !hidden {
			// Watch first, then scan: files written into the new folder
			// before its watch existed are found by the scan.
			if err := w.addTree(path); err != nil {
				m.p.log.Error("cannot watch new folder", "path", path, "error", err)
			}
			m.rescan(path)
		}
	case isDir, hidden:
	case ev.mask&(unix.IN_CLOSE_WRITE|unix.IN_MOVED_TO) != 0:
		return w.emit(ctx, ev, path)
	}
	return nil
}

// emit queues the file of a close-write or moved-to event. A later event
// of the same file (already read from the kernel) handles it instead; it is
// checked again once the content is read, since a write that began
// meanwhile has queued its IN_MODIFY by then. A file left unqueued settles,
// so that nothing is lost even if no further event comes (a truncate(2)
// sends IN_MODIFY and no close-write); the same version is never queued
// twice.
func (w *inotifyWatch) emit(ctx context.Context, ev inotifyEvent, path string) error {
	m := w.m
	if stale, err := w.superseded(ev); err != nil || stale {
		if stale {
			m.recheck(path, false)
		}
		return err
	}
	var drainErr error
	res, err := m.emit(ctx, path, func() bool {
		stale, err := w.superseded(ev)
		drainErr = err
		return stale || err != nil
	})
	switch {
	case err != nil:
		return err
	case drainErr != nil:
		return drainErr
	case res == writerActive:
		// The kernel reports a close-write just before the closing file
		// gives up its write access: look again at the next tick.
		m.recheck(path, true)
	case res == changedMeanwhile:
		m.recheck(path, false)
	}
	return nil
}

// recover re-establishes a complete view after events were lost: it
// watches any folder whose creation was missed, forgets deleted files and
// rescans everything.
func (w *inotifyWatch) recover() error {
	if err := w.addTree(w.m.p.sourceDir); err != nil {
		return err
	}
	w.m.pruneSeen()
	w.m.rescan(w.m.p.sourceDir)
	return nil
}

// addTree watches dir and, when recursive, its visible subfolders. Failing
// to watch source_dir itself is an error; a subfolder is logged.
func (w *inotifyWatch) addTree(dir string) error {
	var rootErr error
	w.m.walkDirs(dir, func(d string) {
		mask := uint32(watchMask)
		if w.m.p.recursive {
			mask |= unix.IN_CREATE
		}
		wd, err := unix.InotifyAddWatch(w.fd, d, mask)
		if err != nil {
			if errors.Is(err, unix.ENOSPC) {
				err = fmt.Errorf("%w: too many watches, raise fs.inotify.max_user_watches", err)
			}
			if d == w.m.p.sourceDir {
				rootErr = fmt.Errorf("dirmon: watching source_dir %s: %w", d, err)
			} else if !errors.Is(err, unix.ENOENT) {
				w.m.p.log.Error("cannot watch folder", "path", d, "error", err)
			}
			return
		}
		// The same folder under a new name (renamed) keeps its watch.
		if old, ok := w.dirs[int32(wd)]; ok && old != d && w.wds[old] == int32(wd) {
			delete(w.wds, old)
		}
		w.dirs[int32(wd)] = d
		w.wds[d] = int32(wd)
	})
	return rootErr
}

// removeTree stops watching path and the folders under it (moved away, or
// deleted: then the kernel has dropped the watches already).
func (w *inotifyWatch) removeTree(path string) {
	prefix := path + string(filepath.Separator)
	for d, wd := range w.wds {
		if d == path || strings.HasPrefix(d, prefix) {
			_, _ = unix.InotifyRmWatch(w.fd, uint32(wd))
			delete(w.wds, d)
			delete(w.dirs, wd)
		}
	}
}
