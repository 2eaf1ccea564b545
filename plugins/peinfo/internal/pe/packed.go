package pe

// overlayStart is pefile's get_overlay_data_start_offset: the end of the
// furthest of the optional header, the sections' raw data and the data
// directories (but the certificate table) that lies within the file, when
// data follows it; -1 otherwise.
func (f *File) overlayStart() int64 {
	size := int64(len(f.data))
	var largest int64
	consider := func(offset, length int64) {
		if end := offset + length; end <= size && end > largest {
			largest = end
		}
	}
	consider(f.optOffset, int64(f.SizeOfOptionalHeader))
	for _, s := range f.Sections {
		consider(int64(s.PointerToRawData), int64(s.SizeOfRawData))
	}
	for i, d := range f.Directories {
		if i == DirSecurity {
			continue
		}
		if off, err := f.offsetFromRVA(int64(d.VirtualAddress)); err == nil {
			consider(off, int64(d.Size))
		}
	}
	if size > largest {
		return largest
	}
	return -1
}

// IsProbablyPacked is pefile's peutils.is_probably_packed: more than 20% of
// the file (up to its overlay) is section data whose entropy is above 7.4.
// entropy gives each section's entropy (Entropy of its Data), so that a
// caller that computed them already need not again.
func (f *File) IsProbablyPacked(entropy func(*Section) float64) bool {
	total := int64(len(f.data))
	if start := f.overlayStart(); start >= 0 {
		total = start
	}
	if total == 0 {
		return true
	}
	var compressed int64
	for _, s := range f.Sections {
		if entropy(s) > 7.4 {
			compressed += int64(len(s.Data(f)))
		}
	}
	return float64(compressed)/float64(total) > 0.2
}

// IsDLL is pefile's is_dll: the IMAGE_FILE_DLL characteristic.
func (f *File) IsDLL() bool { return f.Characteristics&0x2000 != 0 }

// IsDriver is pefile's is_driver: it imports from a kernel component, or
// it imports something and has a PAGE or PAGED section and a native
// subsystem (without imports pefile gives up, section names unread).
func (f *File) IsDriver() bool {
	if len(f.Imports) == 0 {
		return false
	}
	for _, imp := range f.Imports {
		switch toLowerASCII(imp.DLL) {
		case "ntoskrnl.exe", "hal.dll", "ndis.sys", "bootvid.dll", "kdcom.dll":
			return true
		}
	}
	if f.Subsystem != 1 && f.Subsystem != 8 { // IMAGE_SUBSYSTEM_NATIVE, _NATIVE_WINDOWS
		return false
	}
	for _, s := range f.Sections {
		name := s.RawName[:]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		if n := toLowerASCII(string(name)); n == "page" || n == "paged" {
			return true
		}
	}
	return false
}

// IsExe is pefile's is_exe: an executable image that is neither a DLL nor a
// driver.
func (f *File) IsExe() bool {
	return !f.IsDLL() && !f.IsDriver() && f.Characteristics&0x2 != 0
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
