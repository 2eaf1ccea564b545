package pe

// ExportDirectory is pefile's DIRECTORY_ENTRY_EXPORT: the exported symbols,
// named ones first (in name table order), then those exported by ordinal
// only.
type ExportDirectory struct {
	Symbols []ExportedSymbol
}

// ExportedSymbol is one export; Name is empty for an export by ordinal only.
type ExportedSymbol struct {
	Name    string
	Ordinal int64
	Address uint32
}

// parseExportDirectory is pefile's parse_export_directory. Where pefile
// gives up on the whole directory (an ordinal past the address table, an
// unreadable entry), it returns nil, as pefile leaves no exports.
func (f *File) parseExportDirectory(rva, size int64) *ExportDirectory {
	raw, err := f.getData(rva, 40)
	if err != nil || len(raw) < 40 {
		if err == nil {
			f.touch(rva)
		}
		f.problem("export directory at RVA %#x cannot be read", rva)
		return nil
	}
	f.touch(rva) // the directory's file offset
	base := int64(le.Uint32(raw[16:]))
	numberOfFunctions := int64(le.Uint32(raw[20:]))
	numberOfNames := int64(le.Uint32(raw[24:]))
	addressOfFunctions := int64(le.Uint32(raw[28:]))
	addressOfNames := int64(le.Uint32(raw[32:]))
	addressOfNameOrdinals := int64(le.Uint32(raw[36:]))

	untilEOF := func(rva int64) (int64, error) {
		off, err := f.offsetFromRVA(rva)
		return int64(len(f.data)) - off, err
	}
	table := func(rva, entries int64) ([]byte, error) {
		n, err := untilEOF(rva)
		if err != nil {
			return nil, err
		}
		return f.getData(rva, min(n, entries*4))
	}
	names, err := table(addressOfNames, numberOfNames)
	var ordinals, functions []byte
	if err == nil {
		ordinals, err = table(addressOfNameOrdinals, numberOfNames)
	}
	if err == nil {
		functions, err = table(addressOfFunctions, numberOfFunctions)
	}
	if err != nil {
		f.problem("export directory at RVA %#x: its tables cannot be read", rva)
		return nil
	}

	if int64(len(names)) < numberOfNames*4 || int64(len(functions)) < numberOfFunctions*4 {
		f.problem("export directory at RVA %#x claims %d functions and %d names, more than its tables hold", rva, numberOfFunctions, numberOfNames)
	}
	var exports []ExportedSymbol
	// safetyBoundary is pefile's bound on the entries read from a table.
	safetyBoundary := func(tableRVA int64) int64 {
		if s := f.sectionByRVA(tableRVA); s != nil {
			return int64(s.VirtualAddress) + int64(len(s.Data(f))) - tableRVA
		}
		return int64(len(f.data))
	}
	isForwarder := func(addr uint32) bool { return int64(addr) >= rva && int64(addr) < rva+size }

	failuresLeft := 10
	type nameAddr struct {
		name string
		addr uint32
	}
	counts := map[nameAddr]int{}
	completed := true
	n := min(numberOfNames, safetyBoundary(addressOfNames)/4)
	for i := int64(0); i < n && f.step(); i++ {
		ordinal, ok := wordAt(ordinals, i)
		if !ok || int64(ordinal)*4 >= int64(len(functions)) {
			f.problem("export directory at RVA %#x: name %d has an ordinal past the address table: no exports are read (as pefile does)", rva, i)
			return nil
		}
		addr, ok := dwordAt(functions, int64(ordinal))
		if !ok || addr == 0 {
			continue
		}
		if isForwarder(addr) {
			f.touch(int64(addr)) // the forwarder's name
			if _, err := f.offsetFromRVA(int64(addr)); err != nil {
				continue
			}
		}
		nameRVA, ok := dwordAt(names, i)
		if !ok {
			// pefile then reads the name at None, which is not a valid name.
			completed = false
			break
		}
		name := f.stringAtRVA(int64(nameRVA), maxSymbolNameLength)
		if !validFunctionName(name, true) {
			completed = false
			break
		}
		if _, err := f.offsetFromRVA(int64(nameRVA)); err != nil {
			// pefile tries twice, counting each failure, then skips it.
			if failuresLeft--; failuresLeft <= 0 {
				completed = false
				break
			}
			f.touch(int64(nameRVA))
			if failuresLeft--; failuresLeft <= 0 {
				completed = false
				break
			}
			continue
		}
		key := nameAddr{string(name), addr}
		counts[key]++
		if counts[key] > 10 {
			f.problem("export directory repeats %q more than 10 times: the rest is not read (as pefile does)", name)
			break
		}
		if len(counts) > maxSymbolExportCount {
			f.problem("more than %d exports: the rest are not read (pefile's limit)", maxSymbolExportCount)
			break
		}
		// pefile computes these offsets for every export and drops the
		// whole directory when one cannot be.
		if _, err := f.offsetFromRVA(addressOfNameOrdinals + 2*i); err != nil {
			f.problem("export directory at RVA %#x: an ordinal lies outside the file: no exports are read (as pefile does)", rva)
			return nil
		}
		if _, err := f.offsetFromRVA(addressOfFunctions + 4*int64(ordinal)); err != nil {
			f.problem("export directory at RVA %#x: an address lies outside the file: no exports are read (as pefile does)", rva)
			return nil
		}
		exports = append(exports, ExportedSymbol{Name: string(name), Ordinal: base + int64(ordinal), Address: addr})
	}
	if !completed {
		f.problem("export directory at RVA %#x: the name table points to an invalid address", rva)
	}

	named := make(map[int64]bool, len(exports))
	for _, e := range exports {
		named[e.Ordinal] = true
	}
	failuresLeft = 10
	addrCounts := map[uint32]int{}
	completed = true
	n = min(numberOfFunctions, safetyBoundary(addressOfFunctions)/4)
	for idx := int64(0); idx < n && f.step(); idx++ {
		if named[idx+base] {
			continue
		}
		addr, ok := dwordAt(functions, idx)
		if !ok {
			// pefile counts the failure, then goes on with an address of
			// None, which it counts like any other.
			if failuresLeft--; failuresLeft <= 0 {
				completed = false
				break
			}
		} else if addr == 0 {
			continue
		} else if isForwarder(addr) {
			f.touch(int64(addr)) // the forwarder's name
		}
		addrCounts[addr]++
		if addrCounts[addr] > maxRepeatedSymbol {
			f.problem("export directory repeats address %#x more than %d times: the rest is not read (as pefile does)", addr, maxRepeatedSymbol)
			break
		}
		if len(addrCounts) > maxSymbolExportCount {
			f.problem("more than %d exports: the rest are not read (pefile's limit)", maxSymbolExportCount)
			break
		}
		exports = append(exports, ExportedSymbol{Ordinal: base + idx, Address: addr})
	}
	if !completed {
		f.problem("export directory at RVA %#x: the address table points to an invalid address: no exports are read (as pefile does)", rva)
		return nil
	}
	if len(exports) == 0 && isZero(raw[:40]) {
		return nil
	}
	f.touch(int64(le.Uint32(raw[12:]))) // the DLL's name
	return &ExportDirectory{Symbols: exports}
}
