package filedir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// createNew writes data to dir/name atomically and never replaces an
// existing file: it writes a hidden temporary file in dir (created 0644
// with O_EXCL), then moves it to its final name with a rename that refuses
// an existing name (renameat2 RENAME_NOREPLACE on Linux; a hard link plus
// unlink elsewhere). Readers, and a stoq that crashes midway, never see a
// partial file under the final name.
//
// With durable set, the file is fsynced before the move and the folder
// after it, so the file also survives a power loss; that costs a disk
// flush per file (about 4x the time of the whole write on this project's
// machines), which is why it is an option.
//
// It reports created=false, with no error, when dir/name already exists;
// the caller decides whether the existing file is acceptable.
func createNew(dir, name string, data []byte, durable bool) (created bool, err error) {
	final := filepath.Join(dir, name)
	tmpName, err := writeTemp(dir, name, data, durable)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmpName) // a no-op once the move succeeded
	moved, err := moveNoReplace(tmpName, final)
	if err != nil {
		// No atomic move on this file system: fall back to an exclusive
		// create of the final name (never replacing, but a crash midway may
		// leave a partial file).
		created, werr := writeExclusive(final, data, durable)
		if werr != nil {
			return false, errors.Join(fmt.Errorf("moving %s to %s: %w", tmpName, final, err), werr)
		}
		return created, nil
	}
	if moved && durable {
		syncDir(dir)
	}
	return moved, nil
}

// writeTemp writes data to a new hidden file in dir and returns its path.
func writeTemp(dir, name string, data []byte, durable bool) (string, error) {
	var random [8]byte
	_, _ = rand.Read(random[:])
	path := filepath.Join(dir, "."+name+".tmp-"+hex.EncodeToString(random[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if err := writeAndClose(f, data, durable); err != nil {
		return "", err
	}
	return path, nil
}

// writeAndClose writes data to the new file f, flushes it to disk when
// durable, and closes it; on failure it removes the file.
func writeAndClose(f *os.File, data []byte, durable bool) error {
	_, err := f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	return nil
}

// moveByLink moves tmp to final unless final exists, with a hard link (which,
// unlike rename, refuses an existing name) and the removal of tmp.
func moveByLink(tmp, final string) (moved bool, err error) {
	err = os.Link(tmp, final)
	switch {
	case err == nil:
		os.Remove(tmp)
		return true, nil
	case errors.Is(err, fs.ErrExist):
		return false, nil
	}
	return false, err
}

// writeExclusive creates path with O_EXCL and writes data to it; it
// reports created=false when path already exists.
func writeExclusive(path string, data []byte, durable bool) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := writeAndClose(f, data, durable); err != nil {
		return false, err
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
