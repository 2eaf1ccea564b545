package archive

import (
	"encoding/binary"
	"io"
)

// A zip directory can list far more entries than max_members, and
// archive/zip holds every entry in memory (about 230 bytes each: a 50 MB
// payload of empty members is half a million entries, over 100 MiB). When
// the directory declares more entries than directoryLimit, archive/zip is
// given a view of the payload whose directory ends after the first
// directoryLimit entries (a new end record follows them), so that it
// parses no more. The view shares the payload's bytes: nothing is copied.

// directoryLimit is how many directory entries are parsed for a members
// limit of n: directories and links do not count as members, so some
// slack is left.
func directoryLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return max(4*n, 4096)
}

// zipEnd is what the end-of-central-directory records say.
type zipEnd struct {
	entries   uint64
	dirSize   uint64
	dirOffset uint64
	endOffset int64 // where the (plain) end record starts
	dirEnd    int64 // where the directory ends: the zip64 end record, or the plain one
}

// findZipEnd locates and reads the end records, zip64 ones included.
func findZipEnd(data []byte) (zipEnd, bool) {
	from := max(0, len(data)-(1<<16+22))
	for i := len(data) - 22; i >= from; i-- {
		if string(data[i:i+4]) != "PK\x05\x06" {
			continue
		}
		if int(binary.LittleEndian.Uint16(data[i+20:]))+i+22 > len(data) {
			continue // its comment would run past the end
		}
		e := zipEnd{
			entries:   uint64(binary.LittleEndian.Uint16(data[i+10:])),
			dirSize:   uint64(binary.LittleEndian.Uint32(data[i+12:])),
			dirOffset: uint64(binary.LittleEndian.Uint32(data[i+16:])),
			endOffset: int64(i),
			dirEnd:    int64(i),
		}
		if i >= 20 && string(data[i-20:i-16]) == "PK\x06\x07" {
			off := binary.LittleEndian.Uint64(data[i-12:])
			if off <= uint64(len(data)-56) && string(data[off:off+4]) == "PK\x06\x06" {
				e.entries = binary.LittleEndian.Uint64(data[off+32:])
				e.dirSize = binary.LittleEndian.Uint64(data[off+40:])
				e.dirOffset = binary.LittleEndian.Uint64(data[off+48:])
				e.dirEnd = int64(off)
			}
		}
		return e, true
	}
	return zipEnd{}, false
}

// truncatedZipView returns a reader of data whose directory holds only its
// first limit entries, and its size, or nil when data needs no truncation.
func truncatedZipView(data []byte, limit int) (io.ReaderAt, int64, uint64) {
	if limit < 0 {
		return nil, 0, 0
	}
	end, ok := findZipEnd(data)
	if !ok || end.entries <= uint64(limit) || end.dirSize > uint64(end.dirEnd) {
		return nil, 0, 0
	}
	// The directory's first byte in data (data may carry a prefix).
	start := end.dirEnd - int64(end.dirSize)
	p := start
	for range limit {
		if p < 0 || p+46 > int64(len(data)) || string(data[p:p+4]) != "PK\x01\x02" {
			return nil, 0, 0 // not the directory it claims: let archive/zip report it
		}
		p += 46 + int64(binary.LittleEndian.Uint16(data[p+28:])) +
			int64(binary.LittleEndian.Uint16(data[p+30:])) + int64(binary.LittleEndian.Uint16(data[p+32:]))
	}
	if p > end.dirEnd {
		return nil, 0, 0
	}
	dirSize := uint64(p - start)
	var tail []byte
	if end.dirOffset >= 0xffffffff || dirSize >= 0xffffffff || limit >= 0xffff {
		// zip64 end record and locator, then a plain record pointing at them.
		z := p
		rec := make([]byte, 56)
		copy(rec, "PK\x06\x06")
		binary.LittleEndian.PutUint64(rec[4:], 44)
		binary.LittleEndian.PutUint16(rec[12:], 45)
		binary.LittleEndian.PutUint16(rec[14:], 45)
		binary.LittleEndian.PutUint64(rec[24:], uint64(limit))
		binary.LittleEndian.PutUint64(rec[32:], uint64(limit))
		binary.LittleEndian.PutUint64(rec[40:], dirSize)
		binary.LittleEndian.PutUint64(rec[48:], end.dirOffset)
		loc := make([]byte, 20)
		copy(loc, "PK\x06\x07")
		binary.LittleEndian.PutUint64(loc[8:], uint64(z))
		binary.LittleEndian.PutUint32(loc[16:], 1)
		tail = append(rec, loc...)
		tail = append(tail, plainEnd(0xffff, 0xffffffff, 0xffffffff)...)
	} else {
		tail = plainEnd(uint16(limit), uint32(dirSize), uint32(end.dirOffset))
	}
	return joinedReaderAt{data[:p], tail}, p + int64(len(tail)), end.entries
}

func plainEnd(entries uint16, size, offset uint32) []byte {
	b := make([]byte, 22)
	copy(b, "PK\x05\x06")
	binary.LittleEndian.PutUint16(b[8:], entries)
	binary.LittleEndian.PutUint16(b[10:], entries)
	binary.LittleEndian.PutUint32(b[12:], size)
	binary.LittleEndian.PutUint32(b[16:], offset)
	return b
}

// joinedReaderAt reads a then b as one.
type joinedReaderAt struct{ a, b []byte }

func (j joinedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(j.a)) {
		n = copy(p, j.a[off:])
	}
	if n < len(p) {
		boff := off + int64(n) - int64(len(j.a))
		if boff < int64(len(j.b)) {
			n += copy(p[n:], j.b[boff:])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
