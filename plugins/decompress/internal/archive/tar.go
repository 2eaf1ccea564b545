package archive

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// isTarHeader reports whether b starts with a tar header block: 512 bytes
// whose checksum field matches the sum of the block's bytes (the field
// counted as spaces), the test GNU tar and file(1) apply, so that old V7
// archives without the "ustar" magic are recognised too.
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	block := b[:512]
	field := strings.TrimRight(strings.TrimLeft(string(block[148:156]), " \x00"), " \x00")
	if field == "" {
		return false
	}
	want, err := strconv.ParseUint(field, 8, 32)
	if err != nil {
		return false
	}
	var unsigned, signed int64
	for i, c := range block {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return int64(want) == unsigned || int64(want) == signed
}

// tar extracts the regular files of a tar read from r. data is the payload
// itself when r reads it directly (a plain tar): members are then
// subslices of it. compressed reports the compressed bytes consumed so far
// when the tar comes out of a compressed stream; nil for a plain tar.
func (x *extractor) tar(r io.Reader, data []byte, compressed func() int64) {
	plain, _ := r.(*bytes.Reader)
	position := func() int64 { return plain.Size() - int64(plain.Len()) }
	if compressed == nil && plain != nil {
		compressed = position
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			x.problem("tar: %v", err)
			return
		}
		if !isRegular(hdr) {
			continue // directories, links, devices: nothing to extract
		}
		if !x.admit(hdr.Name) {
			return
		}
		m := Member{Name: hdr.Name, Size: hdr.Size, CompressedSize: -1, Modified: hdr.ModTime}
		if plain != nil {
			// The 512-byte blocks the content occupies, as 7z reports it.
			m.CompressedSize = (hdr.Size + 511) / 512 * 512
		}
		if plain != nil && data != nil && !isSparse(hdr) {
			off := position()
			if off >= 0 && hdr.Size >= 0 && hdr.Size <= int64(len(data))-off {
				if err := x.checkStored(hdr.Name, hdr.Size); err != nil {
					x.finish(m, nil, err)
				} else {
					end := off + hdr.Size
					x.finish(m, data[off:end:end], nil)
				}
				if x.stopped {
					return
				}
				continue
			}
		}
		start := compressed()
		x.record(m, tr, func() int64 { return compressed() - start })
		if x.stopped {
			return
		}
	}
}

func isRegular(hdr *tar.Header) bool {
	switch hdr.Typeflag {
	case tar.TypeReg, '\x00', tar.TypeCont, tar.TypeGNUSparse:
		return true
	}
	return false
}

// isSparse reports whether the member's content is not stored as is
// (GNU or PAX sparse files, whose holes the reader fills with zeros).
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}
