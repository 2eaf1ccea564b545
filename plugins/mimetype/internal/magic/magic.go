// Package magic is a small cgo binding to libmagic (the library behind
// `file`), for the mimetype plugin: a Cookie wraps one magic_t and answers
// MIME types, and a Pool hands cookies to goroutines one at a time.
//
// # Why a descriptor and not a buffer
//
// libmagic offers magic_buffer (identify bytes in memory) and
// magic_descriptor (identify what a file descriptor reads). `file` uses the
// second, through magic_file, and the two do not answer alike:
//
//   - ELF: libmagic's built-in ELF reader (readelf.c) runs only when there is
//     a descriptor (file_buffer checks fd != -1). It is what tells a PIE
//     executable from a shared library: an ET_DYN object's magic rule says
//     "application/x-${x?pie-executable:sharedlib}", where ${x?} tests the
//     executable bits of the file's mode, and the ELF reader overrides
//     those bits from the DF_1_PIE flag of the PT_DYNAMIC segment. With a
//     buffer the mode is 0 (there is no stat), the reader does not run, and
//     every PIE (gcc's default, /bin/ls, `go build -buildmode=pie`) comes out
//     application/x-sharedlib instead of application/x-pie-executable.
//   - Rules anchored at the end of the file (negative offsets: a zip with
//     data prepended is found by its end-of-central-directory record at -22,
//     "Zip archive, with extra data prepended") read the file's tail
//     (buffer_fill, buffer.c), which needs a regular file's descriptor and
//     size; with a buffer they never match.
//   - The CDF (OLE2) and ELF readers pread the descriptor at any offset, so
//     they see past the first bytes_max bytes of a large file.
//
// Cookie.Identify therefore writes the bytes to an anonymous in-memory file
// (memfd_create on Linux, an unlinked temporary file elsewhere), with mode
// 0600 as a saved sample would have, and runs magic_descriptor on it: the
// answers are the ones `file --mime-type -b` gives for the same bytes. The
// file holds the first limit bytes and, when the content is longer, its last
// limit bytes at their offsets, with a hole between them (reads as zeros,
// costs no memory): exactly what `file` reads of any file up to twice the
// limit, and of larger ones everything but ELF or CDF structures that lie in
// the middle. Cookie.Buffer (magic_buffer) is kept for comparison.
//
// # Threads
//
// A magic_t is not safe for concurrent use: its result buffer and match
// state live in the cookie. A Cookie must be used by one goroutine at a
// time; Pool enforces that. Loading databases is serialised process-wide,
// because libmagic initialises shared tables on first load without a lock.
package magic

/*
#cgo LDFLAGS: -lmagic
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <magic.h>

// stoq_magic_tmpfd returns a read-write descriptor of an anonymous regular
// file with mode 0600, or -1 with errno set.
static int stoq_magic_tmpfd(void) {
	int fd = -1;
#ifdef MFD_CLOEXEC
	fd = memfd_create("stoq-mimetype", MFD_CLOEXEC);
#endif
	if (fd < 0) {
		const char *dir = getenv("TMPDIR");
		char path[4096];
		if (dir == NULL || *dir == '\0')
			dir = "/tmp";
		if ((size_t)snprintf(path, sizeof(path), "%s/stoq-mimetype-XXXXXX", dir) >= sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = mkstemp(path);
		if (fd < 0)
			return -1;
		unlink(path);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	// memfd_create makes files of mode 0777; an executable mode would make
	// libmagic call an ELF shared object without PT_DYNAMIC a PIE executable.
	if (fchmod(fd, 0600) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int stoq_pwrite_all(int fd, const char *p, size_t n, off_t off) {
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

// stoq_magic_fd lays out a file of total bytes in fd (head at offset 0,
// tail at tailoff, a hole between them if they do not meet), identifies it
// with magic_descriptor reading at most bytes_max bytes, and empties the
// file unless keep is set (small files keep their pages for the next call:
// allocating them again costs more than libmagic's work on a small file).
// It returns libmagic's answer, or NULL: with *syserr set to errno when a
// file operation failed, else libmagic failed (magic_error tells why).
static const char *stoq_magic_fd(magic_t m, int fd, const void *head, size_t headlen,
		const void *tail, size_t taillen, off_t tailoff, off_t total, size_t bytes_max,
		int keep, int *syserr) {
	const char *r = NULL;
	*syserr = 0;
	// Without a hole every byte up to total is written below and ftruncate
	// cuts what a longer previous file left; a hole must read as zeros.
	int hole = taillen > 0 && (size_t)tailoff > headlen;
	if ((hole && ftruncate(fd, 0) != 0) ||
	    stoq_pwrite_all(fd, head, headlen, 0) != 0 ||
	    (taillen > 0 && stoq_pwrite_all(fd, tail, taillen, tailoff) != 0) ||
	    ftruncate(fd, total) != 0 ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		*syserr = errno ? errno : EIO;
	} else if (magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max) != 0) {
		r = NULL; // magic_error tells
	} else {
		r = magic_descriptor(m, fd);
	}
	// Should this fail, the answer stands and the next call truncates anyway.
	if (!keep && ftruncate(fd, 0) != 0) {
	}
	return r;
}

static int stoq_magic_set_bytes_max(magic_t m, size_t n) {
	return magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &n);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"
)

// DefaultLimit is how many bytes of a file `file` examines (libmagic's
// bytes_max default, FILE_BYTES_MAX: 7 MiB).
const DefaultLimit = 7 << 20

// Empty is what `file --mime-type` answers for an empty file. It decides
// from the file's size before reading it (fsmagic.c); libmagic's buffer
// and descriptor functions, which read, answer application/x-empty.
const Empty = "inode/x-empty"

// keepBytes is the largest file whose pages the in-memory file keeps
// between calls; larger ones are given back at once.
const keepBytes = 8 << 20

// loadMu serialises magic_load: libmagic fills process-wide tables on the
// first load without a lock (apprentice.c, init_file_tables).
var loadMu sync.Mutex

// Version is libmagic's version number (544 for 5.44).
func Version() int { return int(C.magic_version()) }

// Cookie is one libmagic handle configured for MIME types, with the
// anonymous file Identify writes to. It must not be used by two goroutines
// at once.
type Cookie struct {
	m     C.magic_t
	fd    C.int
	limit int
}

// Open makes a cookie answering MIME types (MAGIC_MIME_TYPE, as
// `file --mime-type`), loading the magic database at dbPath (a
// colon-separated list of files; empty: libmagic's default, or $MAGIC, as
// `file` does) and examining at most limit bytes of each file (libmagic's
// bytes_max; 0 or less means DefaultLimit).
func Open(dbPath string, limit int) (*Cookie, error) {
	if limit <= 0 {
		limit = DefaultLimit
	}
	m := C.magic_open(C.MAGIC_MIME_TYPE)
	if m == nil {
		return nil, errors.New("magic_open: out of memory")
	}
	c := &Cookie{m: m, fd: -1, limit: limit}
	var cpath *C.char
	if dbPath != "" {
		cpath = C.CString(dbPath)
		defer C.free(unsafe.Pointer(cpath))
	}
	loadMu.Lock()
	rc := C.magic_load(m, cpath)
	loadMu.Unlock()
	if rc != 0 {
		err := c.lastError("magic_load")
		if dbPath == "" {
			err = fmt.Errorf("loading libmagic's default database: %w", err)
		} else {
			err = fmt.Errorf("loading magic database %s: %w", dbPath, err)
		}
		c.Close()
		return nil, err
	}
	if C.stoq_magic_set_bytes_max(m, C.size_t(limit)) != 0 {
		err := c.lastError("magic_setparam")
		c.Close()
		return nil, err
	}
	fd, err := C.stoq_magic_tmpfd()
	if fd < 0 {
		c.Close()
		return nil, fmt.Errorf("creating an in-memory file for libmagic: %w", err)
	}
	c.fd = fd
	return c, nil
}

// Limit is how many bytes of a file the cookie examines.
func (c *Cookie) Limit() int { return c.limit }

// Identify answers the MIME type of content as `file --mime-type -b`
// answers for a file holding it: through magic_descriptor on an in-memory
// file that holds the first Limit bytes of content and, when it is longer,
// its last Limit bytes (see the package documentation). Empty content is
// Empty, as `file` says.
func (c *Cookie) Identify(content []byte) (string, error) {
	if c.m == nil {
		return "", errors.New("magic: cookie is closed")
	}
	n := len(content)
	if n == 0 {
		return Empty, nil
	}
	head := content[:min(n, c.limit)]
	var tail []byte
	tailOff := 0
	if n > c.limit {
		tailOff = max(c.limit, n-c.limit)
		tail = content[tailOff:]
	}
	var tailPtr unsafe.Pointer
	if len(tail) > 0 {
		tailPtr = unsafe.Pointer(&tail[0])
	}
	// libmagic mallocs bytes_max bytes for every file it reads: asking for
	// one more byte than a short payload has (so that "fewer bytes than
	// bytes_max" stays true, as for `file`) keeps that allocation small.
	bytesMax := c.limit
	if n < c.limit {
		bytesMax = n + 1
	}
	keep := C.int(0)
	if n <= keepBytes {
		keep = 1
	}
	var syserr C.int
	r := C.stoq_magic_fd(c.m, c.fd, unsafe.Pointer(&head[0]), C.size_t(len(head)),
		tailPtr, C.size_t(len(tail)), C.off_t(tailOff), C.off_t(n), C.size_t(bytesMax), keep, &syserr)
	if r == nil {
		if syserr != 0 {
			return "", fmt.Errorf("magic: writing %d bytes to libmagic's in-memory file: %w", n, syscall.Errno(syserr))
		}
		return "", c.lastError("magic_descriptor")
	}
	return C.GoString(r), nil
}

// Buffer answers libmagic's magic_buffer for the first Limit bytes of
// content. It differs from `file` for PIE executables and rules anchored
// at the end of a file (see the package documentation); the plugin uses
// Identify, and Buffer is kept for comparisons and benchmarks.
func (c *Cookie) Buffer(content []byte) (string, error) {
	if c.m == nil {
		return "", errors.New("magic: cookie is closed")
	}
	content = content[:min(len(content), c.limit)]
	var p unsafe.Pointer
	if len(content) > 0 {
		p = unsafe.Pointer(&content[0])
	}
	r := C.magic_buffer(c.m, p, C.size_t(len(content)))
	if r == nil {
		return "", c.lastError("magic_buffer")
	}
	return C.GoString(r), nil
}

// Close frees the handle and its in-memory file. It is safe to call twice.
func (c *Cookie) Close() {
	if c.m != nil {
		C.magic_close(c.m)
		c.m = nil
	}
	if c.fd >= 0 {
		C.close(c.fd)
		c.fd = -1
	}
}

// lastError is libmagic's last error on the cookie, named after the
// function that failed.
func (c *Cookie) lastError(fn string) error {
	msg := C.magic_error(c.m)
	if msg == nil {
		errno := int(C.magic_errno(c.m))
		if errno != 0 {
			return fmt.Errorf("%s: %w", fn, syscall.Errno(errno))
		}
		return fmt.Errorf("%s failed without a message", fn)
	}
	return fmt.Errorf("%s: %s", fn, C.GoString(msg))
}
