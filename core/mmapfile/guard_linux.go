//go:build linux

package mmapfile

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The lease guard (see the package doc). A guard holds a read lease on
// the mapped file through a descriptor of its own. When some process opens
// the file for writing or truncates it, the kernel holds that process back
// and sends SIGIO; the guard then copies the content, moves the copy onto
// the mapping's address (mremap MREMAP_FIXED, one atomic step for the
// readers) and drops the lease, letting the writer go on. The kernel waits
// /proc/sys/fs/lease-break-time (45 s by default) before breaking a lease
// by force: ample time to copy.

// guard protects one mapping.
type guard struct {
	mu       sync.Mutex
	fd       int    // holds the lease: a duplicate of the mapped file's descriptor
	data     []byte // the mapping
	detached bool   // the mapping now holds a copy
	closed   bool
}

// guards is every guard whose mapping is open: a SIGIO says only that some
// lease is being broken, so each is asked.
var guards struct {
	mu     sync.Mutex
	all    map[*guard]struct{}
	listen sync.Once
}

// pollInterval is how often leases are checked even without a signal, in
// case one is missed: well within the kernel's lease-break-time.
const pollInterval = time.Second

// newGuard leases f's file for the mapping data. It returns nil when no
// lease can be had (another user's file without CAP_LEASE, a file open for
// writing, a file system without leases), and errShrunk when the file
// shrank below the mapping before the lease was in place.
func newGuard(f *os.File, data []byte) (*guard, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, nil
	}
	g := &guard{fd: fd, data: data}
	guards.listen.Do(listenForLeaseBreaks)
	register(g) // before leasing: a break right after is then seen
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
		g.close()
		return nil, nil
	}
	// A truncation between the mapping and the lease is past guarding.
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Size < int64(len(data)) {
		g.close()
		return nil, errShrunk
	}
	return g, nil
}

func register(g *guard) {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	if guards.all == nil {
		guards.all = map[*guard]struct{}{}
	}
	guards.all[g] = struct{}{}
}

func unregister(g *guard) {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	delete(guards.all, g)
}

func snapshot() []*guard {
	guards.mu.Lock()
	defer guards.mu.Unlock()
	out := make([]*guard, 0, len(guards.all))
	for g := range guards.all {
		out = append(out, g)
	}
	return out
}

// lookupGuard returns the open guard whose mapping holds content's first
// byte.
func lookupGuard(content []byte) *guard {
	p := uintptr(unsafe.Pointer(unsafe.SliceData(content)))
	for _, g := range snapshot() {
		g.mu.Lock()
		inside := !g.closed && len(g.data) > 0 &&
			p >= uintptr(unsafe.Pointer(&g.data[0])) && p < uintptr(unsafe.Pointer(&g.data[0]))+uintptr(len(g.data))
		g.mu.Unlock()
		if inside {
			return g
		}
	}
	return nil
}

// listenForLeaseBreaks starts the goroutine that answers lease breaks, on
// SIGIO and every pollInterval.
func listenForLeaseBreaks() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGIO)
	go func() {
		tick := time.NewTicker(pollInterval)
		defer tick.Stop()
		for {
			select {
			case <-sig:
			case <-tick.C:
			}
			for _, g := range snapshot() {
				g.answerBreak()
			}
		}
	}()
}

// answerBreak detaches the mapping from its file when the lease is being
// broken, then lets the lease go.
func (g *guard) answerBreak() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || g.detached {
		return
	}
	lease, err := unix.FcntlInt(uintptr(g.fd), unix.F_GETLEASE, 0)
	if err != nil || lease == unix.F_RDLCK {
		return // not being broken
	}
	// When no copy can be made, the writer goes on regardless once the
	// kernel's patience ends, and a reader may then fault (see the package
	// doc): the lease is let go at once, and Changed reports it either way.
	_ = g.detach()
	g.detached = true
	_, _ = unix.FcntlInt(uintptr(g.fd), unix.F_SETLEASE, unix.F_UNLCK)
}

// detach moves a copy of the content onto the mapping's address: a copy in
// an unlinked temporary file (page cache, no heap), else in anonymous
// memory.
func (g *guard) detach() error {
	n := len(g.data)
	addr := unsafe.Pointer(&g.data[0])
	copied, errFile := copyToTempFile(g.fd, n)
	if errFile == nil {
		if errFile = moveOnto(copied, addr, n); errFile == nil {
			return nil
		}
	}
	copied, errMem := copyToMemory(g.fd, n)
	if errMem == nil {
		if errMem = moveOnto(copied, addr, n); errMem == nil {
			return nil
		}
	}
	return errors.Join(errFile, errMem)
}

// moveOnto moves the mapping at from onto to, replacing what was there.
func moveOnto(from, to unsafe.Pointer, n int) error {
	if _, err := unix.MremapPtr(from, uintptr(n), to, uintptr(n), unix.MREMAP_MAYMOVE|unix.MREMAP_FIXED); err != nil {
		_ = unix.MunmapPtr(from, uintptr(n))
		return fmt.Errorf("mremap: %w", err)
	}
	return nil
}

// copyToTempFile copies the first n bytes of the file src into a new,
// unlinked temporary file, in the kernel (the mapping is never read), and
// maps the copy.
func copyToTempFile(src, n int) (unsafe.Pointer, error) {
	tmp, err := os.CreateTemp("", "stoq-mapped-copy-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(tmp.Name())
	defer tmp.Close()
	dst := int(tmp.Fd())
	if err := copyRange(src, dst, n); err != nil {
		return nil, fmt.Errorf("copying to %s: %w", tmp.Name(), err)
	}
	p, err := unix.MmapPtr(dst, 0, nil, uintptr(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// copyRange copies the first n bytes of src to dst: in the kernel with
// copy_file_range, else through a buffer with pread and write.
func copyRange(src, dst, n int) error {
	var roff, woff int64
	for woff < int64(n) {
		k, err := unix.CopyFileRange(src, &roff, dst, &woff, n-int(woff), 0)
		if err != nil {
			break // across file systems or unsupported: copy by hand
		}
		if k == 0 {
			return fmt.Errorf("file ended at %d bytes of %d", woff, n)
		}
	}
	buf := make([]byte, 1<<20)
	for woff < int64(n) {
		k, err := unix.Pread(src, buf[:min(len(buf), n-int(woff))], woff)
		if err != nil {
			return err
		}
		if k == 0 {
			return fmt.Errorf("file ended at %d bytes of %d", woff, n)
		}
		if _, err := unix.Pwrite(dst, buf[:k], woff); err != nil {
			return err
		}
		woff += int64(k)
	}
	return nil
}

// copyToMemory reads the first n bytes of the file src into new anonymous
// memory.
func copyToMemory(src, n int) (unsafe.Pointer, error) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	buf := unsafe.Slice((*byte)(p), n)
	for off := 0; off < n; {
		k, err := unix.Pread(src, buf[off:], int64(off))
		if err != nil || k == 0 {
			_ = unix.MunmapPtr(p, uintptr(n))
			if err == nil {
				err = fmt.Errorf("file ended at %d bytes of %d", off, n)
			}
			return nil, err
		}
		off += k
	}
	if err := unix.Mprotect(buf, unix.PROT_READ); err != nil {
		_ = unix.MunmapPtr(p, uintptr(n))
		return nil, err
	}
	return p, nil
}

// changed reports whether the mapping holds a copy.
func (g *guard) changed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.detached
}

// close drops the lease; the mapping itself is the Mapping's to unmap.
func (g *guard) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	unregister(g)
	return unix.Close(g.fd)
}
