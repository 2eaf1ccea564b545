package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
)

// errNoContent is returned for empty input: there is nothing to scan.
var errNoContent = errors.New("the content to scan is empty")

// payloadContent is the content of the payload `stoq scan` reads, with the
// function that releases it once the scan and its connectors are done.
type payloadContent struct {
	data    []byte
	release func() error
}

// readPayloadFile returns the content of path. A regular file is mapped
// read-only into memory rather than read onto the Go heap, so scanning a
// large file costs page cache, not heap; the mapping is released by
// release, after which data must not be used. Anything else (a pipe, a
// device) or a file the system refuses to map is read whole.
func readPayloadFile(path string) (*payloadContent, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a file", path)
	}
	return readOpenFile(f, fi)
}

// readOpenFile maps or reads an open file from its start.
func readOpenFile(f *os.File, fi os.FileInfo) (*payloadContent, error) {
	if fi.Mode().IsRegular() {
		if fi.Size() == 0 {
			return nil, fmt.Errorf("%s: %w", f.Name(), errNoContent)
		}
		if fi.Size() > math.MaxInt {
			return nil, fmt.Errorf("%s: too large to scan (%d bytes)", f.Name(), fi.Size())
		}
		if data, unmap, err := mapFile(f, int(fi.Size())); err == nil {
			return &payloadContent{data: data, release: unmap}, nil
		}
		// Mapping can fail (a file system without mmap): read it instead.
	}
	return readAllContent(f, f.Name())
}

// readPayloadStdin reads the payload from stdin. When stdin is a regular
// file (`stoq scan - < FILE`) at its start, it is mapped like a FILE.
func readPayloadStdin(stdin io.Reader) (*payloadContent, error) {
	if f, ok := stdin.(*os.File); ok {
		fi, err := f.Stat()
		if err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return nil, errors.New("no FILE given and standard input is a terminal: give a FILE, or pipe the content (stoq scan - < FILE)")
		}
		if err == nil && fi.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && off == 0 {
				return readOpenFile(f, fi)
			}
		}
	}
	return readAllContent(stdin, "standard input")
}

func readAllContent(r io.Reader, name string) (*payloadContent, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s: %w", name, errNoContent)
	}
	return &payloadContent{data: data, release: func() error { return nil }}, nil
}
