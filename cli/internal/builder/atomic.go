package builder

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// replaceFile writes path atomically: write fills a temporary file beside
// it (same folder, so the rename cannot cross file systems), which then
// gets perm and is renamed over path. Readers see the old file or the new
// one, never a part; a running binary keeps running when it is replaced.
// The temporary file is removed when anything fails. Errors of write are
// returned as they are.
func replaceFile(path string, perm fs.FileMode, write func(tmp string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot write beside %s: %w", path, err)
	}
	tmp := f.Name()
	f.Close()
	defer os.Remove(tmp) // a no-op once renamed
	if err := write(tmp); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}
