// Package filekind names the kinds of file stoq refuses to read as
// content or configuration, for errors: only regular files are read, since
// reading a FIFO, a device or a socket may block forever or never end.
package filekind

import "io/fs"

// Describe names the kind of a file that is not a regular one: "a
// folder", "a named pipe (FIFO)", "a device", "a socket", "a symbolic
// link", else "a special file".
func Describe(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "a special file"
}
