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
		// Mapping can fail (a file system without mmap): read it instead,
		// into a buffer of the right size.
		data := make([]byte, fi.Size())
		if _, err := io.ReadFull(f, data); err != nil {
			return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
		}
		return &payloadContent{data: data, release: func() error { return nil }}, nil
	}
	return readStream(f, f.Name())
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
	return readStream(stdin, "standard input")
}

// spoolThreshold is the size past which a stream (a pipe) is spooled to a
// temporary file and mapped rather than grown on the heap, where reading a
// large stream would cost two to three times its size.
const spoolThreshold = 8 << 20

// readStream reads a stream whole: in memory when it is small, through an
// unlinked temporary file mapped into memory when it is large.
func readStream(r io.Reader, name string) (*payloadContent, error) {
	return readStreamSpooling(r, name, spoolThreshold)
}

// readStreamSpooling is readStream spooling past threshold bytes.
func readStreamSpooling(r io.Reader, name string, threshold int) (*payloadContent, error) {
	head, err := io.ReadAll(io.LimitReader(r, int64(threshold)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("%s: %w", name, errNoContent)
	}
	noRelease := func() error { return nil }
	if len(head) <= threshold {
		return &payloadContent{data: head, release: noRelease}, nil
	}
	spool, err := spoolStream(head, r)
	if err == nil {
		return spool, nil
	}
	if !errors.Is(err, errCannotSpool) {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return &payloadContent{data: append(head, rest...), release: noRelease}, nil
}

// errCannotSpool means no temporary file could be used: read in memory.
var errCannotSpool = errors.New("cannot spool to a temporary file")

// spoolStream writes head and the rest of r to a temporary file, removed
// at once (where the system allows) so nothing is left behind, and maps it.
func spoolStream(head []byte, r io.Reader) (*payloadContent, error) {
	f, err := os.CreateTemp("", "stoq-stdin-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCannotSpool, err)
	}
	name := f.Name()
	removed := os.Remove(name) == nil
	cleanup := func() {
		f.Close()
		if !removed {
			os.Remove(name)
		}
	}
	if _, err := f.Write(head); err != nil {
		cleanup()
		return nil, fmt.Errorf("%w: %v", errCannotSpool, err)
	}
	n, err := io.Copy(f, r)
	if err != nil {
		cleanup()
		return nil, err
	}
	size := int64(len(head)) + n
	if size > math.MaxInt {
		cleanup()
		return nil, fmt.Errorf("too large to scan (%d bytes)", size)
	}
	data, unmap, err := mapFile(f, int(size))
	if err != nil {
		// The stream is consumed: read the spooled copy back.
		defer cleanup()
		data = make([]byte, size)
		if _, err := f.ReadAt(data, 0); err != nil {
			return nil, err
		}
		return &payloadContent{data: data, release: func() error { return nil }}, nil
	}
	return &payloadContent{data: data, release: func() error {
		err := unmap()
		cleanup()
		return err
	}}, nil
}
