package pecarve

import "encoding/binary"

// PE/COFF layout, as far as carving needs it (Microsoft's "PE Format"
// specification). Offsets are relative to the structure they belong to.
const (
	dosHeaderSize    = 64   // IMAGE_DOS_HEADER
	dosLfanewOffset  = 0x3c // e_lfanew: file offset of the NT headers
	peSignatureSize  = 4    // "PE\0\0"
	fileHeaderSize   = 20   // IMAGE_FILE_HEADER
	sectionEntrySize = 40   // IMAGE_SECTION_HEADER

	fileNumberOfSectionsOffset    = 2
	fileSizeOfOptionalHdrOffset   = 16
	optSizeOfHeadersOffset        = 60 // the same in PE32 and PE32+
	optSizeOfHeadersEnd           = optSizeOfHeadersOffset + 4
	sectionSizeOfRawDataOffset    = 16
	sectionPointerToRawDataOffset = 20

	magicPE32     = 0x10b
	magicPE32Plus = 0x20b

	// The security directory (the Authenticode certificate table) is data
	// directory 4; unlike the others its address is a file offset.
	securityDirectoryIndex = 4
	dataDirectoryEntrySize = 8
)

// optionalHeaderLayout says where NumberOfRvaAndSizes and the data
// directories are in the optional header of the given magic, and whether
// the magic is one of a PE image (PE32 or PE32+).
func optionalHeaderLayout(magic uint16) (numberOfRvaAndSizes, dataDirectories uint64, ok bool) {
	switch magic {
	case magicPE32:
		return 92, 96, true
	case magicPE32Plus:
		return 108, 112, true
	}
	return 0, 0, false
}

var peSignature = [peSignatureSize]byte{'P', 'E', 0, 0}

// peHeaders is what parseHeaders read of a valid PE's headers: where they
// end, and where to look for its extent. Offsets are from the PE's first
// byte.
type peHeaders struct {
	optHeader           uint64 // the optional header
	sectionTable        uint64 // the section table ...
	sectionTableEnd     uint64 // ... and its end
	numberOfRvaAndSizes uint64 // offsets in the optional header
	dataDirectories     uint64
}

// parseHeaders reports whether b starts with a valid PE and, if so, returns
// its headers. It reads a fixed number of fields: its cost does not depend
// on the PE.
//
// A PE is valid when b holds, entirely: a DOS header starting "MZ"; at
// e_lfanew (any value, checked against len(b)) the "PE\0\0" signature and
// a file header; an optional header whose magic is PE32 (0x10b) or PE32+
// (0x20b), at least up to SizeOfHeaders; and the whole section table
// (NumberOfSections entries after SizeOfOptionalHeader bytes of optional
// header).
//
// All arithmetic is on uint64 from 32- and 16-bit fields, so it cannot
// overflow; every read is checked against len(b) first.
func parseHeaders(b []byte) (peHeaders, bool) {
	n := uint64(len(b))
	if n < dosHeaderSize || b[0] != 'M' || b[1] != 'Z' {
		return peHeaders{}, false
	}
	le := binary.LittleEndian

	ntHeaders := uint64(le.Uint32(b[dosLfanewOffset:]))
	fileHeader := ntHeaders + peSignatureSize
	optHeader := fileHeader + fileHeaderSize
	if optHeader+optSizeOfHeadersEnd > n || [peSignatureSize]byte(b[ntHeaders:fileHeader]) != peSignature {
		return peHeaders{}, false
	}
	numberOfRvaAndSizes, dataDirectories, ok := optionalHeaderLayout(le.Uint16(b[optHeader:]))
	if !ok {
		return peHeaders{}, false
	}

	numberOfSections := uint64(le.Uint16(b[fileHeader+fileNumberOfSectionsOffset:]))
	sectionTable := optHeader + uint64(le.Uint16(b[fileHeader+fileSizeOfOptionalHdrOffset:]))
	sectionTableEnd := sectionTable + numberOfSections*sectionEntrySize
	if sectionTableEnd > n {
		return peHeaders{}, false
	}
	return peHeaders{optHeader, sectionTable, sectionTableEnd, numberOfRvaAndSizes, dataDirectories}, true
}

// headersEnd is the end of the headers parseHeaders read: the DOS header,
// the NT headers as far as SizeOfHeaders, and the section table. A real PE
// nested in another one lies in a section's data, never in these bytes.
func (h peHeaders) headersEnd() uint64 {
	return max(dosHeaderSize, h.optHeader+optSizeOfHeadersEnd, h.sectionTableEnd)
}

// size is how many bytes of b, the PE that h describes, the carved file
// keeps: the largest of the end of the headers parsed, SizeOfHeaders,
// PointerToRawData+SizeOfRawData of every section with raw data, and the end
// of the Authenticode certificate table when there is one lying entirely
// within b. A size past len(b) (a truncated PE) is cut to len(b).
//
// Its one loop is over the section table, which parseHeaders found within b.
func (h peHeaders) size(b []byte) int {
	n := uint64(len(b))
	le := binary.LittleEndian
	end := max(h.optHeader+optSizeOfHeadersEnd, h.sectionTableEnd, uint64(le.Uint32(b[h.optHeader+optSizeOfHeadersOffset:])))
	for s := h.sectionTable; s < h.sectionTableEnd; s += sectionEntrySize {
		if size := uint64(le.Uint32(b[s+sectionSizeOfRawDataOffset:])); size > 0 {
			end = max(end, uint64(le.Uint32(b[s+sectionPointerToRawDataOffset:]))+size)
		}
	}
	if certEnd, ok := certificateTableEnd(b, h.optHeader, h.numberOfRvaAndSizes, h.dataDirectories); ok {
		end = max(end, certEnd)
	}
	return int(min(end, n))
}

// certificateTableEnd returns the file offset just past the Authenticode
// certificate table of the PE in b, when its optional header declares a
// security directory and the table lies entirely within b.
func certificateTableEnd(b []byte, optHeader, numberOfRvaAndSizesOffset, dataDirectoriesOffset uint64) (uint64, bool) {
	n := uint64(len(b))
	le := binary.LittleEndian
	countAt := optHeader + numberOfRvaAndSizesOffset
	entry := optHeader + dataDirectoriesOffset + securityDirectoryIndex*dataDirectoryEntrySize
	if entry+dataDirectoryEntrySize > n || le.Uint32(b[countAt:]) <= securityDirectoryIndex {
		return 0, false
	}
	offset, size := uint64(le.Uint32(b[entry:])), uint64(le.Uint32(b[entry+4:]))
	if offset == 0 || size == 0 || offset+size > n {
		return 0, false
	}
	return offset + size, true
}
