package pe

// VersionString is one key/value pair of a StringFileInfo string table.
type VersionString struct {
	Key, Value string
}

// versionHeader is the Length, ValueLength, Type header every version
// information structure starts with.
type versionHeader struct {
	length, valueLength, typ int64
}

func readVersionHeader(b []byte) (versionHeader, bool) {
	if len(b) < 6 {
		return versionHeader{}, false
	}
	return versionHeader{int64(le.Uint16(b)), int64(le.Uint16(b[2:])), int64(le.Uint16(b[4:]))}, true
}

// dwordAlign is pefile's dword_align: offset rounded up so that base+offset
// is a multiple of 4 (in 32-bit arithmetic, as pefile masks).
func dwordAlign(offset, base int64) int64 {
	return ((offset + base + 3) & 0xfffffffc) - (base & 0xfffffffc)
}

// parseVersionInformation is pefile's parse_version_information, for the
// StringFileInfo tables (VarFileInfo is skipped: peinfo does not report it,
// and it does not change where pefile reads the rest). Offsets are relative
// to the resource's data; strings are read at base+offset as RVAs, as
// pefile reads them. Pairs are appended to f.Version only when pefile keeps
// them (it drops a resource's pairs when a structure past them is short).
func (f *File) parseVersionInformation(d *ResourceData) {
	base := int64(d.OffsetToData)
	start, err := f.offsetFromRVA(base)
	if err != nil {
		f.problem("version information at RVA %#x lies outside the file", base)
		return
	}
	raw := pySlice(f.data, start, start+int64(d.Size))
	info, ok := readVersionHeader(raw)
	if !ok {
		f.problem("version information at RVA %#x is truncated", base)
		return
	}
	keyRVA := base + 6
	maxKey := int64(maxStringULength)
	if s := f.sectionByRVA(keyRVA); s != nil {
		maxKey = (int64(s.VirtualAddress) + int64(max(s.SizeOfRawData, s.VirtualSize)) - keyRVA) >> 1
	}
	key, keyLen, err := f.stringUAtRVA(keyRVA, maxKey, true)
	if err != nil || key != "VS_VERSION_INFO" {
		f.problem("version information at RVA %#x has no VS_VERSION_INFO header", base)
		return
	}
	fixedOffset := dwordAlign(6+2*(keyLen+1), base)
	if len(pySlice(raw, fixedOffset, int64(len(raw)))) < 52 {
		f.problem("version information at RVA %#x: VS_FIXEDFILEINFO is truncated", base)
		return
	}
	var pairs []VersionString
	fileInfo := dwordAlign(fixedOffset+52, base)
	for f.step() {
		hdr, ok := readVersionHeader(pySlice(raw, fileInfo, int64(len(raw))))
		if !ok {
			// pefile returns here, dropping what it read of this resource.
			f.problem("version information at RVA %#x: a StringFileInfo/VarFileInfo structure is truncated", base)
			return
		}
		name, nameLen, err := f.stringUAtRVA(base+fileInfo+6, maxStringULength, false)
		if err != nil {
			break
		}
		if len(name) >= 14 && name[:14] == "StringFileInfo" && hdr.typ <= 1 && hdr.valueLength == 0 {
			pairs = f.parseStringTables(raw, base, fileInfo, hdr, nameLen, pairs)
		}
		fileInfo = dwordAlign(hdr.length+fileInfo, base)
		if hdr.length == 0 || fileInfo >= info.length {
			break
		}
	}
	f.Version = append(f.Version, pairs...)
}

// parseStringTables reads the string tables of the StringFileInfo at
// offset fileInfo, appending their pairs.
func (f *File) parseStringTables(raw []byte, base, fileInfo int64, fileInfoHdr versionHeader, nameLen int64, pairs []VersionString) []VersionString {
	table := dwordAlign(fileInfo+6+2*(nameLen+1), base)
	for f.step() {
		hdr, ok := readVersionHeader(pySlice(raw, table, int64(len(raw))))
		if !ok {
			break
		}
		_, langLen, err := f.stringUAtRVA(base+table+6, maxStringULength, false)
		if err != nil {
			break
		}
		entry := dwordAlign(table+6+2*(langLen+1), base)
		for entry < table+hdr.length && f.step() {
			str, ok := readVersionHeader(pySlice(raw, entry, int64(len(raw))))
			if !ok {
				break
			}
			keyRVA := base + entry + 6
			key, keyLen, err := f.stringUAtRVA(keyRVA, maxStringULength, false)
			if err != nil {
				break
			}
			if _, err := f.offsetFromRVA(keyRVA); err != nil {
				break
			}
			valueRVA := base + dwordAlign(2*(keyLen+1)+entry+6, base)
			value, _, err := f.stringUAtRVA(valueRVA, str.valueLength, false)
			if err != nil {
				break
			}
			if _, err := f.offsetFromRVA(valueRVA); err != nil {
				break
			}
			if str.length == 0 {
				entry = table + hdr.length
			} else {
				entry = dwordAlign(str.length+entry, base)
			}
			pairs = append(pairs, VersionString{key, value})
		}
		next := dwordAlign(hdr.length+table, base)
		if next == table {
			break
		}
		table = next
		// pefile compares the table's offset with the StringFileInfo's
		// length (not its end).
		if table >= fileInfoHdr.length {
			break
		}
	}
	return pairs
}
