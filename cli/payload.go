package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/stoq-go/stoq/core/v3/mmapfile"
	"golang.org/x/term"
)

// errNoContent is returned for empty input: there is nothing to scan.
var errNoContent = errors.New("the content to scan is empty")

// payloadContent is the content of the payload `stoq scan` reads, with the
// function that releases it once the scan and its connectors are done.
type payloadContent struct {
	data    []byte
	release func() error
}

// fromMapping wraps a loaded file, refusing an empty one.
func fromMapping(m *mmapfile.Mapping, name string) (*payloadContent, error) {
	if len(m.Bytes()) == 0 {
		_ = m.Close()
		return nil, fmt.Errorf("%s: %w", name, errNoContent)
	}
	return &payloadContent{data: m.Bytes(), release: m.Close}, nil
}

// readPayloadFile returns the content of path, which must be a regular
// file of at most maxSize bytes (max_payload_size): a FIFO, a device or a
// folder is refused without being waited on, and a larger file before
// anything is read. The file is mapped read-only into memory (see
// core/mmapfile) rather than read onto the Go heap, so scanning a large
// file costs page cache, not heap; release unmaps it, after which data
// must not be used.
func readPayloadFile(path string, maxSize int64) (*payloadContent, error) {
	m, err := mmapfile.Open(path, mmapfile.Options{MaxSize: maxSize})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, err
	}
	return fromMapping(m, path)
}

// readPayloadStdin reads the payload from stdin, at most maxSize bytes.
// When stdin is a regular file (`stoq scan - < FILE`) at its start, it is
// mapped like a FILE; a terminal is refused (nothing would come); anything
// else (a pipe, /dev/null) is read as a stream.
func readPayloadStdin(stdin io.Reader, maxSize int64) (*payloadContent, error) {
	if f, ok := stdin.(*os.File); ok {
		if term.IsTerminal(int(f.Fd())) {
			return nil, errors.New("no FILE given and standard input is a terminal: give a FILE, or pipe the content (stoq scan - < FILE)")
		}
		fi, err := f.Stat()
		if err == nil && fi.Mode().IsRegular() {
			if off, err := f.Seek(0, io.SeekCurrent); err == nil && off == 0 {
				m, err := mmapfile.Map(f, maxSize)
				if err != nil {
					return nil, fmt.Errorf("standard input: %w", err)
				}
				return fromMapping(m, "standard input")
			}
		}
	}
	return readStream(stdin, "standard input", maxSize)
}

// spoolThreshold is the size past which a stream (a pipe) is spooled to a
// temporary file and mapped rather than grown on the heap, where reading a
// large stream would cost two to three times its size.
const spoolThreshold = 8 << 20

// readStream reads a stream whole, at most maxSize bytes: in memory when it
// is small, through an unlinked temporary file mapped into memory when it
// is large.
func readStream(r io.Reader, name string, maxSize int64) (*payloadContent, error) {
	return readStreamSpooling(r, name, spoolThreshold, maxSize)
}

// tooLarge is the refusal of a stream that holds more than maxSize bytes:
// it is never read to its end.
func tooLarge(name string, maxSize int64) error {
	return fmt.Errorf("%s holds more than max_payload_size (%d bytes): not scanned", name, maxSize)
}

// readStreamSpooling is readStream spooling past threshold bytes.
func readStreamSpooling(r io.Reader, name string, threshold int, maxSize int64) (*payloadContent, error) {
	headMax := int64(threshold)
	if maxSize > 0 {
		headMax = min(headMax, maxSize)
	}
	head, err := io.ReadAll(io.LimitReader(r, headMax+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(head) == 0 {
		return nil, fmt.Errorf("%s: %w", name, errNoContent)
	}
	if maxSize > 0 && int64(len(head)) > maxSize {
		return nil, tooLarge(name, maxSize)
	}
	noRelease := func() error { return nil }
	if len(head) <= threshold {
		return &payloadContent{data: head, release: noRelease}, nil
	}
	spool, err := spoolStream(head, r, name, maxSize)
	if err == nil {
		return spool, nil
	}
	if !errors.Is(err, errCannotSpool) {
		return nil, err
	}
	rest, err := io.ReadAll(limitReader(r, maxSize, int64(len(head))))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if maxSize > 0 && int64(len(head)+len(rest)) > maxSize {
		return nil, tooLarge(name, maxSize)
	}
	return &payloadContent{data: append(head, rest...), release: noRelease}, nil
}

// limitReader reads r up to one byte past maxSize, read bytes already
// counted, so that a stream over the limit is noticed without reading it
// all; maxSize 0 is no limit.
func limitReader(r io.Reader, maxSize, read int64) io.Reader {
	if maxSize <= 0 {
		return r
	}
	return io.LimitReader(r, maxSize-read+1)
}

// errCannotSpool means no temporary file could be used: read in memory.
var errCannotSpool = errors.New("cannot spool to a temporary file")

// spoolStream writes head and the rest of r, up to maxSize bytes, to a
// temporary file, removed at once (where the system allows) so nothing is
// left behind, and maps it.
func spoolStream(head []byte, r io.Reader, name string, maxSize int64) (*payloadContent, error) {
	f, err := os.CreateTemp("", "stoq-stdin-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errCannotSpool, err)
	}
	tmpName := f.Name()
	removed := os.Remove(tmpName) == nil
	defer func() {
		f.Close() // the mapping, if any, keeps what it needs
		if !removed {
			os.Remove(tmpName)
		}
	}()
	if _, err := f.Write(head); err != nil {
		return nil, fmt.Errorf("%w: %v", errCannotSpool, err)
	}
	n, err := io.Copy(f, limitReader(r, maxSize, int64(len(head))))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if maxSize > 0 && int64(len(head))+n > maxSize {
		return nil, tooLarge(name, maxSize)
	}
	m, err := mmapfile.Map(f, maxSize)
	if err != nil {
		return nil, fmt.Errorf("%s (spooled to a temporary file): %w", name, err)
	}
	return fromMapping(m, name)
}
