//go:build !unix

package builder

// lockFile does nothing where flock is not available: concurrent installs
// into one $STOQ_HOME are then the user's to avoid.
func lockFile(path string, progress *Progress) (unlock func(), err error) {
	return func() {}, nil
}
