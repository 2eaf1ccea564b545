package filedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// createNew writes data to dir/name atomically and never replaces an
// existing file: it writes a hidden temporary file in dir, syncs it, then
// hard-links it to its final name (link fails when the name exists, where a
// rename would silently replace it), syncs dir and removes the temporary
// name. Readers see either no file or the whole file.
//
// It reports created=false, with no error, when dir/name already exists;
// the caller decides whether the existing file is acceptable. Where hard
// links are not supported it falls back to an exclusive create of the final
// name (still never replacing, but a crash may leave a partial file).
func createNew(dir, name string, data []byte) (created bool, err error) {
	final := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after a link the data lives on under the final name
	// CreateTemp makes 0600 files; results and archives are ordinary files.
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, fmt.Errorf("chmod %s: %w", tmpName, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("writing %s: %w", tmpName, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("syncing %s: %w", tmpName, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("closing %s: %w", tmpName, err)
	}
	linkErr := os.Link(tmpName, final)
	switch {
	case linkErr == nil:
		syncDir(dir)
		return true, nil
	case errors.Is(linkErr, fs.ErrExist):
		return false, nil
	}
	// Hard links unsupported here (some network and FAT file systems).
	created, err = writeExclusive(final, data)
	if err != nil {
		return false, errors.Join(fmt.Errorf("linking %s: %w", final, linkErr), err)
	}
	return created, nil
}

// writeExclusive creates path with O_EXCL and writes data to it; it
// reports created=false when path already exists.
func writeExclusive(path string, data []byte) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return false, fmt.Errorf("writing %s: %w", path, err)
	}
	return true, nil
}

// syncDir makes a new directory entry durable. Some platforms cannot sync
// a directory; the file's own data is already synced, so that is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
