//go:build unix

package cli

import "syscall"

// execBinary replaces the process with path; it returns only on failure.
func execBinary(path string, argv, environ []string) error {
	return syscall.Exec(path, argv, environ)
}
