package pe

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ImportedDLL is one import descriptor: the DLL's name (pefile's
// "*invalid*" when it has characters no DOS file name has) and its symbols.
type ImportedDLL struct {
	DLL     string
	Symbols []ImportedSymbol
}

// ImportedSymbol is one import. Name is empty for an import by ordinal,
// unless the DLL is one of those whose ordinals pefile's ordlookup names
// (ws2_32.dll, wsock32.dll, oleaut32.dll), where it is the function's name
// or "ordN".
type ImportedSymbol struct {
	Name      string
	Ordinal   uint32
	ByOrdinal bool
}

// errInvalidImports is pefile's "Invalid entries, aborting parsing." (or
// "Too many invalid names"): the descriptor's symbols are all dropped.
var errInvalidImports = errors.New("invalid import entries")

// parseImportDirectory is pefile's parse_import_directory.
func (f *File) parseImportDirectory(rva int64) []ImportedDLL {
	var descs []ImportedDLL
	errorCount := 0
	for f.step() {
		data, err := f.getData(rva, 20)
		if err != nil {
			f.problem("import directory at RVA %#x cannot be read", rva)
			break
		}
		fileOffset, _ := f.offsetFromRVA(rva)
		if len(data) < 20 {
			f.problem("import directory at RVA %#x is truncated", rva)
			break
		}
		oft, name, ft := int64(le.Uint32(data)), int64(le.Uint32(data[12:])), int64(le.Uint32(data[16:]))
		if isZero(data[:20]) {
			break
		}
		rva += 20
		maxLen := int64(len(f.data)) - fileOffset
		if rva > oft || rva > ft {
			maxLen = max(rva-oft, rva-ft)
		}
		symbols, err := f.parseImports(oft, ft, maxLen)
		if err != nil {
			f.problem("import descriptor at RVA %#x: %v: its imports are dropped (as pefile does)", rva-20, err)
			symbols = nil
		}
		if errorCount > 5 {
			f.problem("too many unreadable import descriptors: the rest of the import directory is not read (as pefile does)")
			break
		}
		if len(symbols) == 0 {
			errorCount++
			continue
		}
		dll := f.stringAtRVA(name, maxDLLLength)
		if !validDOSFilename(dll) {
			dll = []byte("*invalid*")
		}
		if len(dll) == 0 {
			continue
		}
		lower := strings.ToLower(string(dll))
		if names, ok := ordinalNames[lower]; ok {
			for i := range symbols {
				if symbols[i].ByOrdinal && symbols[i].Name == "" {
					symbols[i].Name = ordinalName(names, symbols[i].Ordinal)
				}
			}
		}
		descs = append(descs, ImportedDLL{DLL: string(dll), Symbols: symbols})
	}
	return descs
}

func ordinalName(names map[uint32]string, ordinal uint32) string {
	if name, ok := names[ordinal]; ok {
		return name
	}
	return fmt.Sprintf("ord%d", ordinal)
}

// parseImports is pefile's parse_imports: the symbols of one descriptor,
// from its import lookup table, or its address table when that is empty.
func (f *File) parseImports(oft, ft, maxLen int64) ([]ImportedSymbol, error) {
	ilt := f.importTable(oft, maxLen)
	iat := f.importTable(ft, maxLen)
	if len(ilt) == 0 && len(iat) == 0 {
		f.problem("import tables at RVAs %#x and %#x are damaged", oft, ft)
		return nil, nil
	}
	table := ilt
	if len(table) == 0 {
		table = iat
	}
	ordinalFlag, addressMask := uint64(1)<<31, uint64(0x7fffffff)
	if f.PEType == MagicPE32Plus {
		ordinalFlag, addressMask = 1<<63, 1<<63-1
	}
	var symbols []ImportedSymbol
	invalid := 0
	for idx, entry := range table {
		var sym ImportedSymbol
		hasName := false
		if entry&ordinalFlag != 0 {
			sym.ByOrdinal, sym.Ordinal = true, uint32(entry&0xffff)
		} else if _, err := f.getData(clampRVA(entry&addressMask), 2); err == nil {
			name := f.stringAtRVA(clampRVA(entry+2), maxImportNameLength)
			if !validFunctionName(name, false) {
				name = []byte("*invalid*")
			}
			f.touch(clampRVA(entry + 2)) // the name's file offset
			sym.Name, hasName = string(name), true
		}
		if !sym.ByOrdinal && !hasName {
			return nil, errInvalidImports
		}
		if hasName && sym.Name == "*invalid*" {
			if invalid > 1000 && invalid == idx {
				return nil, errInvalidImports
			}
			invalid++
			continue
		}
		// pefile keeps an import with a non-zero ordinal or a non-empty name.
		if (sym.ByOrdinal && sym.Ordinal != 0) || sym.Name != "" {
			symbols = append(symbols, sym)
		}
	}
	return symbols, nil
}

// importTable is pefile's get_import_table: the thunks from rva up to a zero
// one, or nil when pefile deems the table bogus.
func (f *File) importTable(rva, maxLen int64) []uint64 {
	size, ordinalFlag := int64(4), uint64(1)<<31
	if f.PEType == MagicPE32Plus {
		size, ordinalFlag = 8, 1<<63
	}
	var table []uint64
	start := rva
	repeated := 0
	var low, high addressSet
	for rva != 0 && f.step() {
		if rva >= start+maxLen {
			break
		}
		if f.totalImportSymbols > maxImportSymbols {
			f.problem("more than %d import thunks: the rest are not read (pefile's limit)", maxImportSymbols)
			break
		}
		f.totalImportSymbols++
		if repeated >= maxRepeatedAddresses || low.diff() > maxAddressSpread || high.diff() > maxAddressSpread {
			return nil
		}
		data, err := f.getData(rva, size)
		if err != nil || int64(len(data)) != size {
			f.problem("import table at RVA %#x cannot be read", rva)
			return nil
		}
		f.touch(rva) // the thunk's file offset
		var v uint64
		if size == 8 {
			v = le.Uint64(data)
		} else {
			v = uint64(le.Uint32(data))
		}
		// A thunk pointing back into its own table ends it.
		if v >= uint64(start) && v <= uint64(rva) {
			break
		}
		if v != 0 {
			if v&ordinalFlag != 0 {
				if v&0x7fffffff > 0xffff {
					return nil
				}
			} else {
				set := &low
				if v >= 1<<32 {
					set = &high
				}
				if set.add(v) {
					repeated++
				}
			}
		}
		if v == 0 {
			break
		}
		rva += size
		table = append(table, v)
	}
	return table
}

// addressSet is pefile's AddressSet: the values seen, and their spread.
type addressSet struct {
	seen      map[uint64]struct{}
	low, high uint64
}

// add records v and reports whether it had been seen before.
func (s *addressSet) add(v uint64) bool {
	if s.seen == nil {
		s.seen = map[uint64]struct{}{}
		s.low, s.high = v, v
	}
	_, dup := s.seen[v]
	s.seen[v] = struct{}{}
	s.low, s.high = min(s.low, v), max(s.high, v)
	return dup
}

func (s *addressSet) diff() uint64 { return s.high - s.low }

// clampRVA turns a 64-bit thunk value into an RVA; values that do not fit
// in an int64 are beyond every section and the file either way.
func clampRVA(v uint64) int64 {
	if v > 1<<62 {
		return 1 << 62
	}
	return int64(v)
}

// Imphash is pefile's get_imphash: the MD5 of "dll.function" for every
// import, lower-cased, the DLL's .dll/.ocx/.sys extension dropped and
// unnamed ordinals named "ordN" (or by ordlookup). It is "" without imports.
func (f *File) Imphash() string {
	if len(f.Imports) == 0 {
		return ""
	}
	h := md5.New()
	first := true
	for _, desc := range f.Imports {
		lib := strings.ToLower(desc.DLL)
		if i := strings.LastIndexByte(lib, '.'); i >= 0 {
			switch lib[i+1:] {
			case "ocx", "sys", "dll":
				lib = lib[:i]
			}
		}
		for _, sym := range desc.Symbols {
			// Ordinals of the DLLs ordlookup knows were named when parsed.
			name := sym.Name
			if name == "" {
				name = fmt.Sprintf("ord%d", sym.Ordinal)
			}
			if !first {
				h.Write([]byte{','})
			}
			first = false
			h.Write([]byte(lib))
			h.Write([]byte{'.'})
			h.Write([]byte(strings.ToLower(name)))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// validDOSFilename is pefile's is_valid_dos_filename: letters, digits,
// !#$%&'()-@^_`{}~+,.;=[] and path separators (an empty name is valid).
func validDOSFilename(b []byte) bool {
	for _, c := range b {
		if !isAlnum(c) && !strings.ContainsRune("!#$%&'()-@^_`{}~+,.;=[]\\/", rune(c)) {
			return false
		}
	}
	return true
}

// validFunctionName is pefile's is_valid_function_name: letters, digits and
// ._?@$()<> (relaxed, for exports: any ASCII punctuation); an empty name is
// valid.
func validFunctionName(b []byte, relaxed bool) bool {
	extra := "._?@$()<>"
	if relaxed {
		extra = "!\"#$%&'()*+,-./:<>?[\\]^_`{|}~@"
	}
	for _, c := range b {
		if !isAlnum(c) && !strings.ContainsRune(extra, rune(c)) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
