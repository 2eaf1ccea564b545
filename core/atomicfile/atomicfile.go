// Package atomicfile writes files that readers never see half-written: the
// content goes to a hidden temporary file in the target's folder, which is
// then moved to its final name in one step. It serves every part of stoq
// that saves files others read: the engine's result spool, the filedir
// connector and archiver, and the elasticsearch connector's spool.
//
// A crash (SIGKILL, power loss) can leave a temporary file behind, never a
// partial file under the final name. Temporary names are
// ".NAME.tmp-RANDOM"; IsTemp recognises them, so folder readers skip them,
// and RemoveStale sweeps old ones.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Options choose how WriteFile writes.
type Options struct {
	// Perm is the new file's permission bits (0644 when zero).
	Perm fs.FileMode
	// Durable flushes the file to disk before the move and the folder
	// after it, so the file survives a power loss, at the cost of a disk
	// flush per file.
	Durable bool
	// NoReplace never replaces an existing file: WriteFile then reports
	// written=false and leaves the existing file alone. The move is one
	// renameat2(RENAME_NOREPLACE) on Linux, a hard link elsewhere; a file
	// system with neither gets an exclusive create of the final name.
	NoReplace bool
}

const tempMarker = ".tmp-"

// WriteFile writes data to path. It reports written=false, with no error,
// only with NoReplace when path already exists.
func WriteFile(path string, data []byte, opts Options) (written bool, err error) {
	if opts.Perm == 0 {
		opts.Perm = 0o644
	}
	dir := filepath.Dir(path)
	tmp, err := writeTemp(path, data, opts)
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp) // a no-op once the move succeeded
	if !opts.NoReplace {
		if err := os.Rename(tmp, path); err != nil {
			return false, err
		}
		if opts.Durable {
			syncDir(dir)
		}
		return true, nil
	}
	moved, err := moveNoReplace(tmp, path)
	if err != nil {
		// No atomic move on this file system: an exclusive create of the
		// final name still never replaces, but a crash may leave it partial.
		created, werr := writeExclusive(path, data, opts)
		if werr != nil {
			return false, errors.Join(fmt.Errorf("moving %s to %s: %w", tmp, path, err), werr)
		}
		return created, nil
	}
	if moved && opts.Durable {
		syncDir(dir)
	}
	return moved, nil
}

// IsTemp reports whether a file name is one of WriteFile's temporary files.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// RemoveStale removes WriteFile's temporary files in dir last modified
// more than olderThan ago: what a killed writer left behind. Younger ones
// may belong to a writer at work and are kept. It returns how many it
// removed.
func RemoveStale(dir string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	removed := 0
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < olderThan {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// writeTemp writes data to a new hidden file beside path and returns its
// name.
func writeTemp(path string, data []byte, opts Options) (string, error) {
	var random [8]byte
	_, _ = rand.Read(random[:])
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+tempMarker+hex.EncodeToString(random[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, opts.Perm)
	if err != nil {
		return "", err
	}
	if err := writeAndClose(f, data, opts.Durable); err != nil {
		return "", err
	}
	return tmp, nil
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

// moveByLink moves tmp to final unless final exists, with a hard link
// (which, unlike rename, refuses an existing name) and the removal of tmp.
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
func writeExclusive(path string, data []byte, opts Options) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, opts.Perm)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := writeAndClose(f, data, opts.Durable); err != nil {
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
