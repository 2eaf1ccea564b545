//go:build !unix

package mmapfile

import (
	"errors"
	"os"
)

const noFollow = 0

// mmap is not available here: files are read instead.
func mmap(*os.File, int) ([]byte, error) {
	return nil, errors.New("memory mapping is not supported on this system")
}

func munmap([]byte) error { return nil }
