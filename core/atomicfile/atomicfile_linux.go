package atomicfile

import (
	"errors"

	"golang.org/x/sys/unix"
)

// moveNoReplace renames tmp to final unless final exists: one system call
// (renameat2 with RENAME_NOREPLACE). File systems without it fall back to a
// hard link.
func moveNoReplace(tmp, final string) (moved bool, err error) {
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, final, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EEXIST):
		return false, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return moveByLink(tmp, final)
	}
	return false, err
}
