//go:build unix

package mmapfile

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

const noFollow = syscall.O_NOFOLLOW

// mmap maps the first size bytes of f read-only and shared.
func mmap(f *os.File, size int) ([]byte, error) {
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	// Workers read the content front to back: ask for read-ahead. Advice
	// only, so its failure does not matter.
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return data, nil
}

func munmap(data []byte) error { return unix.Munmap(data) }
