package pe

import (
	"bytes"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ResourceDirectory is one level of the resource tree.
type ResourceDirectory struct {
	Entries []*ResourceEntry
}

// ResourceEntry is a directory entry: named (NameIsString, Name) or with an
// ID, and either a subdirectory or a data leaf.
type ResourceEntry struct {
	NameIsString bool
	ID           uint32 // when !NameIsString
	Name         string // when NameIsString
	Directory    *ResourceDirectory
	Data         *ResourceData
	// Lang and Sublang are pefile's split of a leaf entry's Name field.
	Lang, Sublang uint32

	nameRVA int64 // where the name's length-prefixed UTF-16 string is
}

// ResourceData is an IMAGE_RESOURCE_DATA_ENTRY.
type ResourceData struct {
	OffsetToData uint32
	Size         uint32
	CodePage     uint32
}

// ResourceTypeName is pefile.RESOURCE_TYPE's name for a type ID (RT_ICON,
// RT_VERSION...), and whether it has one.
func ResourceTypeName(id uint32) (string, bool) {
	name, ok := resourceTypeNames[id]
	return name, ok
}

// LanguageName is pefile.LANG's name for a primary language ID, and whether
// it has one.
func LanguageName(lang uint32) (string, bool) {
	name, ok := langNames[lang]
	return name, ok
}

// SublanguageName is pefile's get_sublang_name_for_lang: among the names of
// the sublanguage value, the first that contains the language's name, else
// the first one, else "*unknown*".
func SublanguageName(lang, sublang uint32) string {
	langName, ok := langNames[lang]
	if !ok {
		langName = "*unknown*"
	}
	names := sublangNames[sublang]
	for _, name := range names {
		if strings.Contains(name, langName) {
			return name
		}
	}
	if len(names) == 0 {
		return "*unknown*"
	}
	return names[0]
}

// MachineName is pefile.MACHINE_TYPE's name for a machine value, and
// whether it has one.
func MachineName(machine uint16) (string, bool) {
	name, ok := machineNames[uint32(machine)]
	return name, ok
}

// parseResourcesDirectory is pefile's parse_resources_directory, limits and
// loop checks included; version information is parsed as pefile does, when
// the type level has an RT_VERSION entry.
func (f *File) parseResourcesDirectory(rva, baseRVA int64, level int, path []int64) *ResourceDirectory {
	if level > maxResourceDepth {
		f.problem("resource directories nested more than %d deep (pefile's limit)", maxResourceDepth)
		return nil
	}
	raw, err := f.getData(rva, 16)
	if err != nil || len(raw) < 16 {
		f.problem("resource directory at RVA %#x cannot be read", rva)
		return nil
	}
	count := int(le.Uint16(raw[12:])) + int(le.Uint16(raw[14:]))
	rva += 16
	if count > maxEntriesPerDir {
		f.problem("resource directory with %d entries (pefile's limit is %d)", count, maxEntriesPerDir)
		return nil
	}
	f.totalResourceEntries += count
	if f.totalResourceEntries > maxResourceEntries {
		f.problem("more than %d resource entries (pefile's limit)", maxResourceEntries)
		return nil
	}
	dir := &ResourceDirectory{}
	var names []*ResourceEntry // named entries whose names get rendered
	var lastName [2]int64
	haveLastName := false
	for idx := 0; idx < count && f.step(); idx++ {
		raw, err := f.getData(rva, 8)
		if err != nil || len(raw) < 8 {
			f.problem("resource directory entry at RVA %#x cannot be read", rva)
			break
		}
		name, offsetToData := le.Uint32(raw), le.Uint32(raw[4:])
		entry := &ResourceEntry{}
		if name>>31 == 0 {
			entry.ID = name
		} else {
			entry.NameIsString = true
			entry.nameRVA = baseRVA + int64(name&0x7fffffff)
			length := f.pascal16Length(entry.nameRVA)
			// Overlapping names suggest a corrupt directory: pefile drops the
			// previous name and stops reading this directory.
			if haveLastName && lastName[0] < entry.nameRVA && lastName[1] >= entry.nameRVA {
				names = names[:len(names)-1]
				f.problem("resource entry names overlap at RVA %#x", entry.nameRVA)
				break
			}
			lastName, haveLastName = [2]int64{entry.nameRVA, entry.nameRVA + length}, true
			names = append(names, entry)
		}
		if offsetToData>>31 == 1 {
			child := baseRVA + int64(offsetToData&0x7fffffff)
			if slices.Contains(path, child) {
				f.problem("resource directory at RVA %#x loops back to itself or a parent", child)
				break
			}
			sub := f.parseResourcesDirectory(child, baseRVA, level+1, append(path[:len(path):len(path)], child))
			if sub == nil {
				break
			}
			entry.Directory = sub
		} else {
			data := f.parseResourceDataEntry(baseRVA + int64(offsetToData&0x7fffffff))
			if data == nil {
				break
			}
			entry.Data, entry.Lang, entry.Sublang = data, name&0x3ff, name>>10
		}
		dir.Entries = append(dir.Entries, entry)
		if level == 0 && name&0xffff == 16 { // RT_VERSION
			f.parseVersionEntries(entry)
		}
		rva += 8
	}
	for _, entry := range names {
		length := f.pascal16Length(entry.nameRVA)
		if s, _, err := f.stringUAtRVA(entry.nameRVA+2, length, false); err == nil {
			entry.Name = s
		}
	}
	return dir
}

// parseVersionEntries parses the version information under an RT_VERSION
// entry: every leaf under its first name, as pefile does.
func (f *File) parseVersionEntries(entry *ResourceEntry) {
	if entry.Directory == nil || len(entry.Directory.Entries) == 0 || entry.Directory.Entries[0].Directory == nil {
		return
	}
	for _, lang := range entry.Directory.Entries[0].Directory.Entries {
		if lang.Data != nil {
			f.parseVersionInformation(lang.Data)
		}
	}
}

// pascal16Length is the word at rva (0 when it cannot be read).
func (f *File) pascal16Length(rva int64) int64 {
	b, err := f.getData(rva, 2)
	if err != nil || len(b) < 2 {
		return 0
	}
	return int64(le.Uint16(b))
}

func (f *File) parseResourceDataEntry(rva int64) *ResourceData {
	raw, err := f.getData(rva, 16)
	if err != nil || len(raw) < 16 {
		f.problem("resource data entry at RVA %#x cannot be read", rva)
		return nil
	}
	return &ResourceData{OffsetToData: le.Uint32(raw), Size: le.Uint32(raw[4:]), CodePage: le.Uint32(raw[8:])}
}

// ResourceBytes is the resource's content as pefile's get_data(OffsetToData,
// Size) returns it (cut at the end of its section's raw data), and its file
// offset; ok is false when pefile could not map it.
func (f *File) ResourceBytes(d *ResourceData) (content []byte, offset int64, ok bool) {
	offset, err := f.offsetFromRVA(int64(d.OffsetToData))
	if err != nil {
		return nil, 0, false
	}
	content, _ = f.getData(int64(d.OffsetToData), int64(d.Size)) // nil when pefile's get_data fails
	return content, offset, true
}

// stringUAtRVA is pefile's get_string_u_at_rva: UTF-16LE code units from
// rva up to an aligned NUL, at most maxLength of them (read in two steps as
// pefile does, which matters where the string crosses a section's end). It
// returns the string and the length pefile gives its bytes (pefile encodes
// each code unit separately, as UTF-8 or, asASCII, as ASCII with backslash
// escapes), which later offsets are computed from.
func (f *File) stringUAtRVA(rva, maxLength int64, asASCII bool) (string, int64, error) {
	if maxLength == 0 {
		return "", 0, nil
	}
	if _, err := f.getData(rva, 2); err != nil {
		return "", 0, err
	}
	maxBytes := maxLength * 2
	requested := min(maxBytes, 256)
	data, err := f.getData(rva, requested)
	if err != nil {
		return "", 0, err
	}
	f.stringLeft -= int64(len(data))
	end := int64(-1)
	for from := int64(0); ; {
		i := int64(bytes.Index(data[from:], []byte{0, 0}))
		if i < 0 {
			n := int64(len(data))
			if n < requested || n == maxBytes {
				end = n >> 1
				break
			}
			if f.stringLeft < 0 {
				f.problem("strings in the resources take too long to read: the rest are cut short")
				end = n >> 1
				break
			}
			more, err := f.getData(rva+n, maxBytes-n)
			if err != nil {
				return "", 0, err
			}
			f.stringLeft -= int64(len(more))
			data = append(data[:n:n], more...)
			from, requested = requested, maxBytes
			continue
		}
		i += from
		if i%2 == 0 {
			end = i >> 1
			break
		}
		from = i + 1
	}
	units := make([]uint16, end)
	var encoded int64
	for i := range units {
		u := le.Uint16(data[2*i:])
		units[i] = u
		switch {
		case asASCII && u < 0x80:
			encoded++
		case asASCII && u < 0x100:
			encoded += 4 // \xNN
		case asASCII, u >= 0xd800 && u <= 0xdfff:
			encoded += 6 // \uNNNN
		default:
			encoded += int64(utf8.RuneLen(rune(u)))
		}
	}
	return string(utf16.Decode(units)), encoded, nil
}
