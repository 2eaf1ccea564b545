//go:build !unix

package cli

import "errors"

// execBinary cannot replace the process where exec(2) does not exist: the
// stoq on PATH then runs itself.
func execBinary(path string, argv, environ []string) error {
	return errors.New("handing off to another binary is not supported on this system")
}
