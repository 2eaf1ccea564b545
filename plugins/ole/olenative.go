package ole

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// oleNativeStreamName is the name of the stream in which an embedded OLE 1.0
// object (the "Package" of a file dragged into a document) keeps the file,
// compared regardless of case as oletools does.
const oleNativeStreamName = "\x01ole10native"

// maxNativeString is how far a zero-terminated string of an Ole10Native
// header is looked for, oletools' STR_MAX_LEN.
const maxNativeString = 1024

// oleNative is an \x01Ole10Native stream's embedded file.
type oleNative struct {
	// filename is the label stored for it, each byte read as a Latin-1
	// character (oletools tries ASCII then Latin-1, which never fails).
	filename string
	// data is the embedded file: a subslice of the stream.
	data []byte
	// declared is the size the header declares; data is shorter when the
	// stream ends first.
	declared uint32
}

// parseOleNative reads an OLENativeStream ([MS-OLEDS] 2.3.6) as oletools'
// oleobj.OleNativeStream does: a 32-bit size of what follows, a 16-bit
// type, the file's name, its source path, two 32-bit values, a temporary
// path (each string zero-terminated, within 1,024 bytes), then the 32-bit
// size of the embedded file and the file. A stream that ends before the
// size of the embedded file is a link with no data, reported as an error.
func parseOleNative(b []byte) (*oleNative, error) {
	pos := 0
	u32 := func(what string) (uint32, error) {
		if len(b)-pos < 4 {
			return 0, fmt.Errorf("the stream ends at byte %d, before the %s", len(b), what)
		}
		v := binary.LittleEndian.Uint32(b[pos:])
		pos += 4
		return v, nil
	}
	cstring := func(what string) ([]byte, error) {
		window := b[pos:min(len(b), pos+maxNativeString)]
		n := bytes.IndexByte(window, 0)
		if n < 0 {
			return nil, fmt.Errorf("no zero byte ends the %s within %d bytes of byte %d", what, maxNativeString, pos)
		}
		s := b[pos : pos+n]
		pos += n + 1
		return s, nil
	}
	if _, err := u32("native data size"); err != nil {
		return nil, err
	}
	if len(b)-pos < 2 {
		return nil, fmt.Errorf("the stream ends at byte %d, before the object type", len(b))
	}
	pos += 2
	name, err := cstring("file name")
	if err != nil {
		return nil, err
	}
	if _, err := cstring("source path"); err != nil {
		return nil, err
	}
	for _, what := range []string{"first reserved value", "second reserved value"} {
		if _, err := u32(what); err != nil {
			return nil, err
		}
	}
	if _, err := cstring("temporary path"); err != nil {
		return nil, err
	}
	size, err := u32("size of the embedded file")
	if err != nil {
		return nil, errors.New("a link to a file, with no file embedded: " + err.Error())
	}
	end := pos + int(min(uint64(size), uint64(len(b)-pos)))
	return &oleNative{filename: latin1(name), data: b[pos:end:end], declared: size}, nil
}

// latin1 reads every byte as the character of the same number.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
