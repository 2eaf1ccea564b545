//go:build !unix

package filedir_test

import "errors"

func mkfifo(string) error { return errors.New("no FIFOs here") }
