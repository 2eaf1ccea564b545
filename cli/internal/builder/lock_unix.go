//go:build unix

package builder

import (
	"fmt"
	"os"
	"syscall"
)

// lockFile takes an exclusive lock on path (created when missing), waiting
// for another stoq install to finish; unlock releases it.
func lockFile(path string, progress *Progress) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		progress.printf("Waiting for another stoq install or uninstall to finish (%s) ...", path)
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
