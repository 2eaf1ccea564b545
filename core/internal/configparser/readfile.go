package configparser

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"github.com/stoq-go/stoq/core/v3/internal/filekind"
)

// MaxFileSize bounds what ReadFile reads: stoq.cfg and manifests are a few
// KiB; anything larger is not one.
const MaxFileSize = 16 << 20

// ReadFile reads a stoq.cfg or a manifest. Only a regular file is read: a
// FIFO, a device or a socket is refused (reading one could block forever
// or never end), without blocking on it, and so is a file larger than
// MaxFileSize. Errors name path, as os errors do.
func ReadFile(path string) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO without a writer must not wait for one.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is %s, not a regular file", fs.ErrInvalid, path, filekind.Describe(fi.Mode()))
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a configuration file may hold", path, fi.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s grew past the %d bytes a configuration file may hold", path, MaxFileSize)
	}
	return data, nil
}
