package pe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Optional header magics (pefile's PE_TYPE values).
const (
	MagicPE32     = 0x10b
	MagicPE32Plus = 0x20b
)

// Data directory indexes.
const (
	DirExport    = 0
	DirImport    = 1
	DirResource  = 2
	DirException = 3
	DirSecurity  = 4
	DirBaseReloc = 5
	DirDebug     = 6
	DirTLS       = 9
	DirLoadConf  = 10
	DirBound     = 11
	DirDelay     = 13
)

// ErrNotPE is wrapped by the error Parse returns when data is not a PE that
// pefile would load (for the same reasons pefile gives).
var ErrNotPE = errors.New("not a PE file")

// errRVA is pefile's PEFormatError for an RVA that maps to no data.
var errRVA = errors.New("data at RVA can't be fetched")

var le = binary.LittleEndian

// DataDirectory is one entry of the optional header's data directory.
type DataDirectory struct {
	VirtualAddress uint32
	Size           uint32
}

// File is a parsed PE. Fields are pefile's header fields, as pefile reads
// them; the parsed directories are nil when pefile would not have them.
type File struct {
	data []byte

	Machine              uint16
	NumberOfSections     uint16
	TimeDateStamp        uint32
	PointerToSymbolTable uint32
	NumberOfSymbols      uint32
	SizeOfOptionalHeader uint16
	Characteristics      uint16

	// Magic is the optional header's magic; PEType is pefile's PE_TYPE:
	// Magic when it is PE32 or PE32+, else 0 (pefile then reads the file as
	// PE32).
	Magic               uint16
	PEType              uint16
	AddressOfEntryPoint uint32
	ImageBase           uint64
	SectionAlignment    uint32
	FileAlignment       uint32
	SizeOfImage         uint32
	Subsystem           uint16
	NumberOfRvaAndSizes uint32
	Directories         []DataDirectory

	// Sections are in pefile's order: sorted by VirtualAddress.
	Sections []*Section

	Imports    []ImportedDLL // nil: pefile has no DIRECTORY_ENTRY_IMPORT
	Exports    *ExportDirectory
	Resources  *ResourceDirectory
	Version    []VersionString // StringFileInfo pairs, in file order
	Debug      []DebugEntry
	TLS        *TLSDirectory
	RichHeader *RichHeader

	optOffset  int64
	header     []byte   // pefile's self.header
	lastUsed   *Section // pefile's "last section used" cache
	problems   []string
	seen       map[string]bool
	ctx        context.Context
	steps      int
	stopped    bool
	stringLeft int64 // bytes the UTF-16 string reads may still scan

	totalImportSymbols   int
	totalResourceEntries int
}

// Problems lists what could not be read, in the order found: each is a
// structure pefile would have read and this parse could not, or a limit
// reached. A file without problems is valid as far as peinfo can tell.
func (f *File) Problems() []string { return f.problems }

// Data is the file's content.
func (f *File) Data() []byte { return f.data }

// Parse reads data as pefile does when it loads a PE with full_load: headers,
// sections, then the import, export, resource (with version information),
// debug and TLS directories in pefile's order, and the Rich header. It
// returns an error wrapping ErrNotPE when pefile would refuse the file;
// anything else it cannot read is a Problem of the returned File. It stops
// early, with a Problem, when ctx is done.
func Parse(ctx context.Context, data []byte) (*File, error) {
	f := &File{data: data, ctx: ctx, stringLeft: max(stringBudgetFloor, 4*int64(len(data)))}
	if err := f.parseHeaders(); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotPE, err)
	}
	f.parseSections(f.optOffset + int64(f.SizeOfOptionalHeader))
	// pefile checks that the entry point lies in a section and the file.
	if f.sectionByRVA(int64(f.AddressOfEntryPoint)) != nil {
		f.touch(int64(f.AddressOfEntryPoint))
	}
	f.parseDataDirectories()
	f.RichHeader = f.parseRichHeader()
	return f, nil
}

// problem records a structure that could not be read (once per message).
func (f *File) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if !f.seen[msg] {
		f.seen[msg] = true
		f.problems = append(f.problems, msg)
	}
}

// step is called once per loop iteration; it reports false once the
// context is done, after recording why.
func (f *File) step() bool {
	if f.stopped {
		return false
	}
	if f.steps++; f.steps%ctxCheckInterval == 0 && f.ctx != nil {
		if err := f.ctx.Err(); err != nil {
			f.stopped = true
			f.problem("parsing stopped: %v", err)
			return false
		}
	}
	return true
}

func (f *File) parseHeaders() error {
	data := f.data
	if len(data) < 64 {
		return errors.New("shorter than a DOS header")
	}
	switch le.Uint16(data) {
	case 0x4d5a: // "ZM"
		return errors.New("a ZM executable (DOS header magic ZM)")
	case 0x5a4d: // "MZ"
	default:
		return errors.New("no DOS header magic (MZ)")
	}
	lfanew := int64(le.Uint32(data[0x3c:]))
	if lfanew > int64(len(data)) {
		return errors.New("e_lfanew points past the end of the file")
	}
	nt := data[lfanew:]
	if len(nt) < 4 || le.Uint32(nt) == 0 {
		return errors.New("no NT headers at e_lfanew")
	}
	switch sig := le.Uint32(nt); {
	case sig&0xffff == 0x454e:
		return errors.New("an NE file (NT headers signature NE)")
	case sig&0xffff == 0x454c:
		return errors.New("an LE file (NT headers signature LE)")
	case sig&0xffff == 0x584c:
		return errors.New("an LX file (NT headers signature LX)")
	case sig&0xffff == 0x5a56:
		return errors.New("a TE file (NT headers signature VZ)")
	case sig != 0x4550:
		return errors.New("invalid NT headers signature")
	}
	fh := nt[4:]
	if len(fh) < 20 {
		return errors.New("file header missing")
	}
	f.Machine = le.Uint16(fh)
	f.NumberOfSections = le.Uint16(fh[2:])
	f.TimeDateStamp = le.Uint32(fh[4:])
	f.PointerToSymbolTable = le.Uint32(fh[8:])
	f.NumberOfSymbols = le.Uint32(fh[12:])
	f.SizeOfOptionalHeader = le.Uint16(fh[16:])
	f.Characteristics = le.Uint16(fh[18:])

	// pefile reads the optional header from up to 0x200 bytes, padding a
	// short one with zeros when at least 69 bytes (73 for PE32+) are there.
	f.optOffset = lfanew + 24
	avail := pySlice(data, f.optOffset, f.optOffset+0x200)
	if len(avail) < 69 {
		return errors.New("no optional header")
	}
	var oh [0x200]byte
	copy(oh[:], avail)
	f.Magic = le.Uint16(oh[:])
	ohSize := int64(96)
	switch f.Magic {
	case MagicPE32:
		f.PEType = MagicPE32
	case MagicPE32Plus:
		if len(avail) < 73 {
			return errors.New("no optional header")
		}
		f.PEType = MagicPE32Plus
		ohSize = 112
	default:
		f.problem("invalid optional header magic %#04x: read as PE32", f.Magic)
	}
	f.AddressOfEntryPoint = le.Uint32(oh[16:])
	if f.PEType == MagicPE32Plus {
		f.ImageBase = le.Uint64(oh[24:])
	} else {
		f.ImageBase = uint64(le.Uint32(oh[28:]))
	}
	f.SectionAlignment = le.Uint32(oh[32:])
	f.FileAlignment = le.Uint32(oh[36:])
	f.SizeOfImage = le.Uint32(oh[56:])
	f.Subsystem = le.Uint16(oh[68:])
	f.NumberOfRvaAndSizes = le.Uint32(oh[ohSize-4:])
	if len(avail) < int(ohSize) {
		f.problem("optional header truncated: %d of %d bytes in the file", len(avail), ohSize)
	}

	// At most 16 directories follow the fixed part (whatever
	// SizeOfOptionalHeader says); past the end of the file they read as
	// zeros, as in pefile.
	offset := f.optOffset + ohSize
	for i := 0; i < int(f.NumberOfRvaAndSizes&0x7fffffff); i++ {
		rem := int64(len(data)) - offset
		if rem == 0 {
			break
		}
		var entry [8]byte
		copy(entry[:], pySlice(data, offset, offset+8))
		f.Directories = append(f.Directories, DataDirectory{le.Uint32(entry[:]), le.Uint32(entry[4:])})
		offset += 8
		if offset >= f.optOffset+ohSize+8*16 {
			break
		}
	}
	return nil
}

// Directory returns data directory i, and whether pefile has it.
func (f *File) Directory(i int) (DataDirectory, bool) {
	if i < len(f.Directories) {
		return f.Directories[i], true
	}
	return DataDirectory{}, false
}

// parseDataDirectories parses the directories peinfo reports, in pefile's
// order; pefile stops at the first directory in its list that the optional
// header does not have, so later ones are not parsed even when present.
func (f *File) parseDataDirectories() {
	order := []int{DirImport, DirExport, DirResource, DirDebug, DirBaseReloc, DirTLS, DirLoadConf, DirDelay, DirBound, DirException}
	for _, idx := range order {
		dir, ok := f.Directory(idx)
		if !ok {
			return
		}
		if dir.VirtualAddress == 0 || f.stopped {
			continue
		}
		rva, size := int64(dir.VirtualAddress), int64(dir.Size)
		switch idx {
		case DirImport:
			if imports := f.parseImportDirectory(rva); len(imports) > 0 {
				f.Imports = imports
			}
		case DirExport:
			f.Exports = f.parseExportDirectory(rva, size)
		case DirResource:
			f.Resources = f.parseResourcesDirectory(rva, rva, 0, []int64{rva})
		case DirDebug:
			f.Debug = f.parseDebugDirectory(rva, size)
		case DirTLS:
			f.TLS = f.parseTLSDirectory(rva)
		}
	}
}

// Section is one section header, with what pefile derives from it.
type Section struct {
	RawName          [8]byte
	Name             string // up to the first NUL, a /N long name resolved
	VirtualSize      uint32
	VirtualAddress   uint32
	SizeOfRawData    uint32
	PointerToRawData uint32
	Characteristics  uint32

	vaAdj, ptrAdj    int64 // pefile's VirtualAddress_adj, PointerToRawData_adj
	minAddr, maxAddr int64 // the RVA range pefile's contains_rva accepts
}

// parseSections reads the section table at offset as pefile's parse_sections
// does, and sets pefile's header slice.
func (f *File) parseSections(offset int64) {
	data := f.data
	n := int(f.NumberOfSections)
	for i := 0; i < n; i++ {
		if i >= maxSections {
			f.problem("%d sections: only the first %d are read (pefile's limit)", n, maxSections)
			break
		}
		at := offset + 40*int64(i)
		raw := pySlice(data, at, at+40)
		if len(raw) == 40 && isZero(raw) {
			break // pefile ends the table at an all-zero header
		}
		if len(raw) < 40 {
			// pefile raises here and loads nothing.
			f.problem("section table runs past the end of the file: %d of %d sections read", i, n)
			break
		}
		s := &Section{
			VirtualSize:      le.Uint32(raw[8:]),
			VirtualAddress:   le.Uint32(raw[12:]),
			SizeOfRawData:    le.Uint32(raw[16:]),
			PointerToRawData: le.Uint32(raw[20:]),
			Characteristics:  le.Uint32(raw[36:]),
		}
		copy(s.RawName[:], raw)
		// pefile drops a section, and the rest of the table, when three of
		// these are wrong with it.
		wrong := 0
		if int64(s.SizeOfRawData)+int64(s.PointerToRawData) > int64(len(data)) {
			wrong++
		}
		if f.adjustFileAlignment(int64(s.PointerToRawData)) > int64(len(data)) {
			wrong++
		}
		if s.VirtualSize > 0x10000000 {
			wrong++
		}
		if f.adjustSectionAlignment(int64(s.VirtualAddress)) > 0x10000000 {
			wrong++
		}
		if f.FileAlignment != 0 && s.PointerToRawData%f.FileAlignment != 0 {
			wrong++
		}
		if wrong >= 3 {
			f.problem("section %d is corrupt (pefile stops reading the section table there)", i)
			break
		}
		if int64(s.SizeOfRawData)+int64(s.PointerToRawData) > int64(len(data)) && s.SizeOfRawData > 0 {
			f.problem("section %d's raw data runs past the end of the file", i)
		}
		s.Name = f.sectionName(s.RawName)
		f.Sections = append(f.Sections, s)
	}
	slices.SortStableFunc(f.Sections, func(a, b *Section) int {
		return int(int64(a.VirtualAddress) - int64(b.VirtualAddress))
	})
	for i, s := range f.Sections {
		s.vaAdj = f.adjustSectionAlignment(int64(s.VirtualAddress))
		s.ptrAdj = f.adjustFileAlignment(int64(s.PointerToRawData))
		var size int64
		if int64(len(data))-s.ptrAdj < int64(s.SizeOfRawData) {
			size = int64(s.VirtualSize)
		} else {
			size = int64(max(s.SizeOfRawData, s.VirtualSize))
		}
		if i+1 < len(f.Sections) {
			next := int64(f.Sections[i+1].VirtualAddress)
			if next > int64(s.VirtualAddress) && s.vaAdj+size > next {
				size = next - s.vaAdj
			}
		}
		s.minAddr, s.maxAddr = s.vaAdj, s.vaAdj+size
	}
	end := offset
	if n > 0 && len(f.Sections) > 0 {
		end = offset + 40*int64(n)
	}
	var lowest int64 = -1
	for _, s := range f.Sections {
		if s.PointerToRawData > 0 {
			if adj := f.adjustFileAlignment(int64(s.PointerToRawData)); lowest < 0 || adj < lowest {
				lowest = adj
			}
		}
	}
	if lowest <= 0 || lowest < end {
		f.header = pySlice(data, 0, end)
	} else {
		f.header = pySlice(data, 0, lowest)
	}
}

// sectionName is the name up to its first NUL; a long name ("/4", an
// offset in the COFF string table, as mingw writes) is resolved.
func (f *File) sectionName(raw [8]byte) string {
	name := raw[:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) > 1 && name[0] == '/' {
		if off, ok := decimal(name[1:]); ok && f.PointerToSymbolTable != 0 {
			table := int64(f.PointerToSymbolTable) + 18*int64(f.NumberOfSymbols)
			long := pySlice(f.data, table+off, table+off+maxSymbolNameLength)
			if i := bytes.IndexByte(long, 0); i > 0 {
				return string(long[:i])
			}
		}
	}
	return string(name)
}

// Data is the section's raw data as pefile's get_data() returns it: from
// PointerToRawData rounded down to 512 bytes (when FileAlignment is at least
// 512) for SizeOfRawData bytes, cut at PointerToRawData+SizeOfRawData and
// at the end of the file.
func (s *Section) Data(f *File) []byte {
	end := min(s.ptrAdj+int64(s.SizeOfRawData), int64(s.PointerToRawData)+int64(s.SizeOfRawData))
	return pySlice(f.data, s.ptrAdj, end)
}

// dataAt is pefile's section get_data(start, length).
func (s *Section) dataAt(f *File, start, length int64) []byte {
	offset := start - s.vaAdj + s.ptrAdj
	end := min(offset+length, int64(s.PointerToRawData)+int64(s.SizeOfRawData))
	return pySlice(f.data, offset, end)
}

func (s *Section) containsRVA(rva int64) bool { return s.minAddr <= rva && rva < s.maxAddr }

// pefile's adjust_FileAlignment: pointers are rounded down to 512 bytes
// when FileAlignment is at least 512.
func (f *File) adjustFileAlignment(v int64) int64 {
	if f.FileAlignment < 0x200 {
		return v
	}
	return v / 0x200 * 0x200
}

// pefile's adjust_SectionAlignment: addresses are rounded down to the
// section alignment, or to the file alignment when SectionAlignment is
// below a page.
func (f *File) adjustSectionAlignment(v int64) int64 {
	align := int64(f.SectionAlignment)
	if align < 0x1000 {
		align = int64(f.FileAlignment)
	}
	if align != 0 && v%align != 0 {
		return align * (v / align)
	}
	return v
}

// sectionByRVA is pefile's get_section_by_rva, with its cache: the section
// found last is tried first. Where sections' address ranges overlap (only
// in crafted files), which section an RVA maps to depends on the lookups
// made before it; so that imports and exports map as in pefile, their
// parsers make the lookups pefile makes (see touch), in its order.
func (f *File) sectionByRVA(rva int64) *Section {
	if f.lastUsed != nil && f.lastUsed.containsRVA(rva) {
		return f.lastUsed
	}
	for _, s := range f.Sections {
		if s.containsRVA(rva) {
			f.lastUsed = s
			return s
		}
	}
	return nil
}

// getData is pefile's get_data(rva, length): from the section holding rva,
// else from the headers, else from the file at offset rva. A length of 0
// reads to the end, as in pefile, except within a section.
func (f *File) getData(rva, length int64) ([]byte, error) {
	if s := f.sectionByRVA(rva); s != nil {
		return s.dataAt(f, rva, length), nil
	}
	src := f.header
	if rva >= int64(len(f.header)) {
		if rva >= int64(len(f.data)) {
			return nil, errRVA
		}
		src = f.data
	}
	if length == 0 {
		return pySlice(src, rva, int64(len(src))), nil
	}
	return pySlice(src, rva, rva+length), nil
}

// touch looks rva up as pefile does at this point of its parse, for the
// cache's sake: pefile reads something there that peinfo does not need.
func (f *File) touch(rva int64) { f.sectionByRVA(rva) }

// offsetFromRVA is pefile's get_offset_from_rva.
func (f *File) offsetFromRVA(rva int64) (int64, error) {
	if s := f.sectionByRVA(rva); s != nil {
		return rva - s.vaAdj + s.ptrAdj, nil
	}
	if rva < int64(len(f.data)) {
		return rva, nil
	}
	return 0, errRVA
}

// stringAtRVA is pefile's get_string_at_rva: bytes up to the first NUL,
// at most maxLen of them.
func (f *File) stringAtRVA(rva, maxLen int64) []byte {
	var b []byte
	if s := f.sectionByRVA(rva); s != nil {
		b = s.dataAt(f, rva, maxLen)
	} else {
		b = pySlice(f.data, rva, rva+maxLen)
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return b
}

// pySlice is Python's b[start:end] on a bytes object: negative indexes count
// from the end, out-of-range ones are clamped.
func pySlice(b []byte, start, end int64) []byte {
	n := int64(len(b))
	clamp := func(i int64) int64 {
		if i < 0 {
			i += n
			if i < 0 {
				return 0
			}
		}
		return min(i, n)
	}
	start, end = clamp(start), clamp(end)
	if end <= start {
		return b[start:start:start]
	}
	return b[start:end:end]
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decimal parses ASCII digits (at most 9 of them, so it cannot overflow).
func decimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// wordAt and dwordAt are pefile's get_word_from_data / get_dword_from_data:
// element i of an array of 16- or 32-bit values, or false past its end.
func wordAt(b []byte, i int64) (uint16, bool) {
	if i < 0 || (i+1)*2 > int64(len(b)) {
		return 0, false
	}
	return le.Uint16(b[i*2:]), true
}

func dwordAt(b []byte, i int64) (uint32, bool) {
	if i < 0 || (i+1)*4 > int64(len(b)) {
		return 0, false
	}
	return le.Uint32(b[i*4:]), true
}
