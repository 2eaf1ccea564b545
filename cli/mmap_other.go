//go:build !unix

package cli

import (
	"errors"
	"os"
)

// mapFile is not available here: files are read instead.
func mapFile(*os.File, int) ([]byte, func() error, error) {
	return nil, nil, errors.New("memory mapping is not supported on this system")
}
