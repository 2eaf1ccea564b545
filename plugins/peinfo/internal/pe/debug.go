package pe

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
)

// DebugEntry is one IMAGE_DEBUG_DIRECTORY entry.
type DebugEntry struct {
	MajorVersion     uint16
	MinorVersion     uint16
	Type             uint32
	SizeOfData       uint32
	TimeDateStamp    uint32
	PointerToRawData uint32
}

// parseDebugDirectory reads the debug directory's entries. Where pefile
// drops the whole directory because one entry cannot be read, this keeps
// the entries before it (and records a problem).
func (f *File) parseDebugDirectory(rva, size int64) []DebugEntry {
	var entries []DebugEntry
	n := size / 28
	for i := int64(0); i < n && f.step(); i++ {
		if i == maxDebugEntries {
			f.problem("more than %d debug directory entries: the rest are not read", maxDebugEntries)
			break
		}
		raw, err := f.getData(rva+28*i, 28)
		if err != nil || len(raw) < 28 {
			f.problem("debug directory entry %d at RVA %#x cannot be read", i, rva+28*i)
			break
		}
		entries = append(entries, DebugEntry{
			TimeDateStamp:    le.Uint32(raw[4:]),
			MajorVersion:     le.Uint16(raw[8:]),
			MinorVersion:     le.Uint16(raw[10:]),
			Type:             le.Uint32(raw[12:]),
			SizeOfData:       le.Uint32(raw[16:]),
			PointerToRawData: le.Uint32(raw[24:]),
		})
	}
	return entries
}

// CodeView is the PDB reference of a CodeView debug entry.
type CodeView struct {
	Signature string // "RSDS" (PDB 7.0) or "NB10" (PDB 2.0)
	GUID      string // RSDS: the PDB's GUID, 8-4-4-4-12 lower-case hex
	Time      uint32 // NB10: the PDB's signature (a timestamp)
	Age       uint32
	PDB       []byte // the PDB path, up to its NUL
}

// CodeView reads the CodeView record an entry of Type 2 points to (by file
// offset), as stoQ does: records under 24 bytes or over 64 KiB, and records
// that are neither RSDS nor NB10, give false.
func (f *File) CodeView(e DebugEntry) (CodeView, bool) {
	if e.Type != 2 || e.SizeOfData < 24 || e.SizeOfData > 0xffff {
		return CodeView{}, false
	}
	off := int64(e.PointerToRawData)
	b := pySlice(f.data, off, off+int64(e.SizeOfData))
	if len(b) < 24 {
		return CodeView{}, false
	}
	cut := func(b []byte) []byte {
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return b[:i]
		}
		return b
	}
	switch string(b[:4]) {
	case "RSDS":
		g := b[4:20]
		guid := fmt.Sprintf("%08x-%04x-%04x-%x-%x", le.Uint32(g), le.Uint16(g[4:]), le.Uint16(g[6:]), g[8:10], g[10:16])
		return CodeView{Signature: "RSDS", GUID: guid, Age: le.Uint32(b[20:]), PDB: cut(b[24:])}, true
	case "NB10":
		return CodeView{Signature: "NB10", Time: le.Uint32(b[8:]), Age: le.Uint32(b[12:]), PDB: cut(b[16:])}, true
	}
	return CodeView{}, false
}

// TLSDirectory is the part of IMAGE_TLS_DIRECTORY peinfo reports.
type TLSDirectory struct {
	AddressOfCallBacks uint64 // a virtual address
}

// parseTLSDirectory is pefile's parse_directory_tls.
func (f *File) parseTLSDirectory(rva int64) *TLSDirectory {
	size := int64(24)
	if f.PEType == MagicPE32Plus {
		size = 40
	}
	raw, err := f.getData(rva, size)
	if err != nil || int64(len(raw)) < size {
		f.problem("TLS directory at RVA %#x cannot be read", rva)
		return nil
	}
	if size == 40 {
		return &TLSDirectory{AddressOfCallBacks: le.Uint64(raw[24:])}
	}
	return &TLSDirectory{AddressOfCallBacks: uint64(le.Uint32(raw[12:]))}
}

// TLSCallbacks reads the callback table (virtual addresses) up to its zero
// entry, at most 255 of them as stoQ does; entries are pointer-sized (stoQ
// read 4-byte entries in PE32+ files too).
func (f *File) TLSCallbacks() []uint64 {
	if f.TLS == nil || f.TLS.AddressOfCallBacks == 0 {
		return nil
	}
	if f.TLS.AddressOfCallBacks < f.ImageBase {
		f.problem("TLS callback table address %#x is below the image base", f.TLS.AddressOfCallBacks)
		return nil
	}
	size := int64(4)
	if f.PEType == MagicPE32Plus {
		size = 8
	}
	table := clampRVA(f.TLS.AddressOfCallBacks - f.ImageBase)
	var callbacks []uint64
	for i := int64(0); i < maxTLSCallbacks; i++ {
		b, err := f.getData(table+size*i, size)
		if err != nil || int64(len(b)) < size {
			f.problem("TLS callback table at RVA %#x runs past the data", table)
			break
		}
		v := uint64(le.Uint32(b))
		if size == 8 {
			v = le.Uint64(b)
		}
		if v == 0 {
			break
		}
		callbacks = append(callbacks, v)
	}
	return callbacks
}

// RichHeader is pefile's parse of the Rich header.
type RichHeader struct {
	ClearData []byte // the header from offset 0x80 up to "Rich", XOR-decoded
}

// MD5 is pefile's get_rich_header_hash(): the MD5 of the decoded header.
func (r *RichHeader) MD5() string {
	sum := md5.Sum(r.ClearData)
	return hex.EncodeToString(sum[:])
}

// parseRichHeader is pefile's parse_rich_header. pefile raises (and loads
// nothing) when "Rich" is too close to the DOS stub's end for its key or
// checksums to be read; that is no Rich header here.
func (f *File) parseRichHeader() *RichHeader {
	const dans, rich = 0x536e6144, 0x68636952
	stubEnd := min(f.optOffset, int64(len(f.data)))
	if stubEnd < 0x80+4 {
		return nil
	}
	at := bytes.Index(f.data[0x80:stubEnd], []byte("Rich"))
	if at < 0 {
		return nil
	}
	at += 0x80
	block := pySlice(f.data, 0x80, int64(at)+8)
	block = block[:len(block)/4*4]
	words := make([]uint32, len(block)/4)
	for i := range words {
		words[i] = le.Uint32(block[4*i:])
	}
	richAt := -1
	for i, w := range words {
		if w == rich {
			richAt = i
			break
		}
	}
	if richAt < 0 || richAt+1 >= len(words) || len(words) < 4 {
		return nil
	}
	var key [4]byte
	le.PutUint32(key[:], words[richAt+1])
	raw := block[:at-0x80]
	clear := make([]byte, len(raw))
	for i := range raw {
		clear[i] = raw[i] ^ key[i%4]
	}
	checksum := words[1]
	if words[0]^checksum != dans || words[2] != checksum || words[3] != checksum {
		return nil
	}
	return &RichHeader{ClearData: clear}
}
