// Package repo finds the stoq repository a tool works on.
package repo

import (
	"fmt"
	"os"
	"path/filepath"
)

// FindRoot walks up from the current folder to the repository root: the
// first folder holding both plugins/ and core/.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isDir(filepath.Join(dir, "plugins")) && isDir(filepath.Join(dir, "core")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no repository root (a folder with plugins/ and core/) above the current folder: pass it")
		}
		dir = parent
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
