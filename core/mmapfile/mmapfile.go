// Package mmapfile loads a file's content for scanning without reading it
// onto the Go heap: a regular file is mapped read-only into memory, so a
// large payload costs address space and page cache, which the kernel can
// reclaim, rather than heap. It serves every part of stoq that loads
// files: `stoq scan FILE` and standard input, and the filedir provider in
// run mode.
//
// What it promises:
//
//   - Only regular files are loaded. A FIFO, a device, a socket or a folder
//     is refused at once, never waited on (files are opened O_NONBLOCK).
//   - A file larger than the caller's limit (max_payload_size) is refused
//     before anything is mapped or read (*TooLargeError).
//   - When mapping fails because the process has no address space left
//     (`ulimit -v`), Open fails with ErrNoAddressSpace rather than reading
//     the file onto the heap, where the same shortage would abort the
//     process. When mapping fails for another reason (a file system that
//     cannot map), the file is read instead; so is a file of 64 KiB or
//     less, which costs less to read than to map.
//   - A mapped file that shrinks is the danger of mapping: touching a page
//     past its new end raises SIGBUS, which kills a Go program with a stack
//     trace, in whatever goroutine or C library (yara) touched it. On
//     Linux, a Mapping holds a read lease (fcntl F_SETLEASE) on its file:
//     the kernel then makes any process that opens the file for writing or
//     truncates it wait while the lease holder is told (SIGIO), and the
//     Mapping, told, copies the content to an unlinked temporary file (or,
//     failing that, memory) and moves that copy to the mapping's address
//     before giving the lease up. Readers see the same bytes throughout,
//     the writer goes on a moment later, and nothing faults. Changed
//     reports that it happened. Where no lease can be had (a file of
//     another user without CAP_LEASE, a file open for writing already, a
//     network file system), the content is mapped unguarded: the engine
//     then turns a fault in a plugin call into an Error
//     (runtime/debug.SetPanicOnFault), which covers Go code on the calling
//     goroutine only.
//
// The lease guard needs one process-wide registry of the guarded mappings,
// since the kernel's signal says only that some lease is being broken.
package mmapfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"sync"
	"syscall"

	"github.com/stoq-go/stoq/core/v3/internal/filekind"
)

// ErrNoAddressSpace means the file could not be mapped for lack of address
// space (`ulimit -v`, vm.max_map_count): reading it instead would need as
// much, so it is not tried.
var ErrNoAddressSpace = errors.New("not enough address space to map it (is `ulimit -v` too low?)")

// ErrTooLarge is matched (errors.Is) by a *TooLargeError.
var ErrTooLarge = errors.New("file too large")

// TooLargeError is the refusal of a file larger than the caller's limit.
type TooLargeError struct {
	Name  string // the file
	Size  int64  // its size
	Limit int64  // the limit it exceeds (max_payload_size)
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, more than max_payload_size (%d bytes): not loaded", e.Name, e.Size, e.Limit)
}

// Is makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// errShrunk: the file shrank between being mapped and being guarded.
var errShrunk = errors.New("file shrank while being mapped")

// ErrNotRegular is matched by the refusal of a file that is not a regular
// file.
var ErrNotRegular = errors.New("not a regular file")

type notRegularError struct{ name, kind string }

func (e *notRegularError) Error() string        { return e.name + " is " + e.kind }
func (e *notRegularError) Is(target error) bool { return target == ErrNotRegular }

// Options choose how Open opens a file.
type Options struct {
	// MaxSize refuses a larger file (a *TooLargeError); 0 means no limit.
	MaxSize int64
	// NoFollow refuses to open path when its last element is a symbolic
	// link.
	NoFollow bool
}

// Mapping is a file's content, mapped or (when small, or when it cannot be
// mapped) read. Bytes stays valid until
// Close; it must be treated as read-only.
type Mapping struct {
	data   []byte
	mapped bool // data is a mapping to unmap; otherwise heap memory or empty
	guard  *guard
	once   sync.Once
	err    error
}

// Open opens path and loads its content (see the package doc).
func Open(path string, opts Options) (*Mapping, error) {
	flags := os.O_RDONLY | syscall.O_NONBLOCK // never wait on a FIFO
	if opts.NoFollow {
		flags |= noFollow
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Map(f, opts.MaxSize)
}

// Map loads the content of f, an open regular file, from its start; it
// refuses a file larger than maxSize (when not 0). f may be closed once Map
// returns: the Mapping keeps what it needs.
func Map(f *os.File, maxSize int64) (*Mapping, error) { return mapFile(f, maxSize, 3) }

func mapFile(f *os.File, maxSize int64, retries int) (*Mapping, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &notRegularError{name: f.Name(), kind: describeMode(fi.Mode())}
	}
	size := fi.Size()
	if maxSize > 0 && size > maxSize {
		return nil, &TooLargeError{Name: f.Name(), Size: size, Limit: maxSize}
	}
	if size > math.MaxInt {
		return nil, &TooLargeError{Name: f.Name(), Size: size, Limit: math.MaxInt}
	}
	if size == 0 {
		return &Mapping{data: []byte{}}, nil
	}
	if size <= readBelow {
		return readWhole(f, size)
	}
	data, err := mmap(f, int(size))
	switch {
	case err == nil:
		g, err := newGuard(f, data)
		if err != nil { // shrank while being mapped: map what is there now
			_ = munmap(data)
			if retries == 0 {
				return nil, fmt.Errorf("mapping %s: it keeps shrinking", f.Name())
			}
			return mapFile(f, maxSize, retries-1)
		}
		return &Mapping{data: data, mapped: true, guard: g}, nil
	case errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EAGAIN):
		return nil, fmt.Errorf("mapping %s (%d bytes): %w", f.Name(), size, ErrNoAddressSpace)
	}
	// The file system cannot map it: read it, within the limit.
	return readWhole(f, size)
}

// readBelow is the size up to which a file is read rather than mapped: for
// a small file, one read costs less than mapping, leasing and unmapping it,
// and the heap it takes is small.
const readBelow = 64 << 10

// readWhole reads the first size bytes of f onto the heap (fewer when the
// file shrank meanwhile).
func readWhole(f *os.File, size int64) (*Mapping, error) {
	data := make([]byte, size)
	n, err := f.ReadAt(data, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return &Mapping{data: data[:n]}, nil
}

// Bytes is the content. It must not be used after Close.
func (m *Mapping) Bytes() []byte { return m.data }

// Mapped reports whether the content is mapped (rather than read).
func (m *Mapping) Mapped() bool { return m.mapped }

// Guarded reports whether the mapping holds a lease that protects it from
// the file shrinking (see the package doc).
func (m *Mapping) Guarded() bool { return m.guard != nil }

// Changed reports whether the file was opened for writing or truncated
// while mapped: the content is then a copy of what the file held before.
func (m *Mapping) Changed() bool { return m.guard != nil && m.guard.changed() }

// Close releases the content: after it, Bytes must not be used. It is safe
// to call more than once.
func (m *Mapping) Close() error {
	m.once.Do(func() {
		if m.guard != nil {
			m.err = m.guard.close()
		}
		if m.mapped {
			m.err = errors.Join(m.err, munmap(m.data))
		}
		m.data = nil
	})
	return m.err
}

// Changed reports whether content lies in a guarded Mapping, not closed
// yet, whose file was opened for writing or truncated while mapped. The
// engine asks it of each root payload before saving a response, to record
// that the file changed during the scan.
func Changed(content []byte) bool {
	if len(content) == 0 {
		return false
	}
	g := lookupGuard(content)
	return g != nil && g.changed()
}

// describeMode says what a file that is not a regular one is instead.
func describeMode(m fs.FileMode) string {
	if m.IsDir() {
		return "a folder, not a file"
	}
	return filekind.Describe(m) + ", not a regular file"
}
