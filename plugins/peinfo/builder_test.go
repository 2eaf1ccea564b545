package peinfo

import (
	"encoding/binary"
	"fmt"
)

// peBuilder lays out a synthetic PE32+ image for the hostile-input tests:
// a DOS header and stub, the NT headers with 16 data directories, a section
// table and each section's data at 0x200-byte file alignment and 0x1000-byte
// section alignment. Section contents are written after their virtual
// address is known, so they can point at each other.
type peBuilder struct {
	stub            []byte // DOS stub after the 64-byte header (a Rich header goes here)
	sections        []*builtSection
	dirs            [16][2]uint32 // RVA, size
	characteristics uint16
	subsystem       uint16
	nextVA          uint32
	sectionCount    int // 0: len(sections); else the file header's NumberOfSections
}

type builtSection struct {
	name  string
	va    uint32
	data  []byte
	chars uint32
}

func newBuilder() *peBuilder {
	return &peBuilder{characteristics: 0x22, subsystem: 3, nextVA: 0x1000} // executable, large address aware; console
}

// section adds a section of size bytes and returns it; its data may be
// filled (not grown) before build.
func (b *peBuilder) section(name string, size int) *builtSection {
	s := &builtSection{name: name, va: b.nextVA, data: make([]byte, size), chars: 0x40000040}
	b.sections = append(b.sections, s)
	b.nextVA += (uint32(size) + 0xfff) &^ 0xfff
	if size == 0 {
		b.nextVA += 0x1000
	}
	return s
}

func (b *peBuilder) dir(i int, rva, size uint32) { b.dirs[i] = [2]uint32{rva, size} }

func (b *peBuilder) build() []byte {
	le := binary.LittleEndian
	lfanew := (64 + len(b.stub) + 7) &^ 7
	opt := lfanew + 24
	table := opt + 240
	headers := (table + 40*len(b.sections) + 0x1ff) &^ 0x1ff
	size := headers
	for _, s := range b.sections {
		size += (len(s.data) + 0x1ff) &^ 0x1ff
	}
	out := make([]byte, size)
	copy(out, "MZ")
	le.PutUint32(out[0x3c:], uint32(lfanew))
	copy(out[64:], b.stub)
	copy(out[lfanew:], "PE\x00\x00")
	fh := out[lfanew+4:]
	le.PutUint16(fh, 0x8664)
	count := len(b.sections)
	if b.sectionCount != 0 {
		count = b.sectionCount
	}
	le.PutUint16(fh[2:], uint16(count))
	le.PutUint32(fh[4:], 0x65000000)
	le.PutUint16(fh[16:], 240)
	le.PutUint16(fh[18:], b.characteristics)
	oh := out[opt:]
	le.PutUint16(oh, 0x20b)
	le.PutUint32(oh[16:], 0x1000) // AddressOfEntryPoint
	le.PutUint64(oh[24:], 0x140000000)
	le.PutUint32(oh[32:], 0x1000)
	le.PutUint32(oh[36:], 0x200)
	le.PutUint16(oh[40:], 6)
	le.PutUint16(oh[48:], 6)
	le.PutUint32(oh[56:], b.nextVA) // SizeOfImage
	le.PutUint32(oh[60:], uint32(headers))
	le.PutUint16(oh[68:], b.subsystem)
	le.PutUint32(oh[108:], 16)
	for i, d := range b.dirs {
		le.PutUint32(oh[112+8*i:], d[0])
		le.PutUint32(oh[116+8*i:], d[1])
	}
	raw := headers
	for i, s := range b.sections {
		h := out[table+40*i:]
		copy(h[:8], s.name)
		le.PutUint32(h[8:], uint32(len(s.data)))
		le.PutUint32(h[12:], s.va)
		rawSize := (len(s.data) + 0x1ff) &^ 0x1ff
		le.PutUint32(h[16:], uint32(rawSize))
		if rawSize > 0 {
			le.PutUint32(h[20:], uint32(raw))
		}
		le.PutUint32(h[36:], s.chars)
		copy(out[raw:], s.data)
		raw += rawSize
	}
	return out
}

// importSection builds an .idata section: for each DLL, a descriptor, an
// import lookup table and an address table of the named functions.
func (b *peBuilder) importSection(dlls []string, functions func(dll int) []string) {
	// Layout: descriptors, then names, then per DLL its ILT and IAT.
	nameBytes, thunks := 0, 0
	for i, dll := range dlls {
		nameBytes += len(dll) + 1
		for _, f := range functions(i) {
			nameBytes += 2 + len(f) + 1
		}
		thunks += 2 * (len(functions(i)) + 1)
	}
	descSize := 20 * (len(dlls) + 1)
	s := b.section(".idata", descSize+nameBytes+8*thunks+8)
	le := binary.LittleEndian
	names := descSize
	tables := descSize + nameBytes + 8
	tables &^= 7
	for i, dll := range dlls {
		fns := functions(i)
		desc := s.data[20*i:]
		dllAt := names
		names += copy(s.data[names:], dll) + 1
		ilt := tables
		iat := tables + 8*(len(fns)+1)
		tables = iat + 8*(len(fns)+1)
		for j, f := range fns {
			hint := names
			names += 2 + copy(s.data[names+2:], f) + 1
			le.PutUint64(s.data[ilt+8*j:], uint64(s.va)+uint64(hint))
			le.PutUint64(s.data[iat+8*j:], uint64(s.va)+uint64(hint))
		}
		le.PutUint32(desc, s.va+uint32(ilt))
		le.PutUint32(desc[12:], s.va+uint32(dllAt))
		le.PutUint32(desc[16:], s.va+uint32(iat))
	}
	b.dir(1, s.va, uint32(descSize))
}

func functionNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d", prefix, i)
	}
	return out
}
