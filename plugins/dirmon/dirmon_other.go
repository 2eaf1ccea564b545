//go:build !linux

package dirmon

import "os"

// Outside Linux, dirmon uses fsnotify and the settle quiet period: the
// portable events say a file was created or written, not that its writer
// is done.
var defaultBackend = (*monitor).runFsnotify

// openForWriting cannot be asked portably: the settle period alone decides.
func openForWriting(*os.File) bool { return false }
