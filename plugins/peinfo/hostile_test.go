package peinfo

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// hostileCase is a crafted PE. Every one gives an Error naming what is
// wrong (wantError) and is_valid false; where pefile loads it, the results
// equal pefile's (mutantKeys).
type hostileCase struct {
	name      string
	build     func() []byte
	wantError string
	// pefileFails: pefile raises on it (peinfo reads what it can).
	pefileFails bool
	// pefileSlow: pefile takes too long on it to run in a test (it has no
	// bound there); results are not compared.
	pefileSlow bool
	// maxExtracted bounds the payloads extracted.
	maxExtracted int
}

var le16, le32, le64 = binary.LittleEndian.PutUint16, binary.LittleEndian.PutUint32, binary.LittleEndian.PutUint64

// putResourceDir writes a resource directory with ID entries {name, offset}
// (offset with bit 31 set for a subdirectory) at b[at:].
func putResourceDir(b []byte, at int, entries [][2]uint32) {
	le16(b[at+14:], uint16(len(entries)))
	for i, e := range entries {
		le32(b[at+16+8*i:], e[0])
		le32(b[at+20+8*i:], e[1])
	}
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{
			name: "100000 imports",
			build: func() []byte {
				b := newBuilder()
				b.importSection([]string{"KERNEL32.dll"}, func(int) []string { return functionNames("Function", 100_000) })
				return b.build()
			},
			wantError: "more than 8192 import thunks",
		},
		{
			name: "10000 imported DLLs",
			build: func() []byte {
				b := newBuilder()
				dlls := make([]string, 10_000)
				for i := range dlls {
					dlls[i] = fmt.Sprintf("lib%05d.dll", i)
				}
				b.importSection(dlls, func(i int) []string { return []string{fmt.Sprintf("f%d", i)} })
				return b.build()
			},
			wantError: "more than 8192 import thunks",
		},
		{
			name: "resource directory looping to itself",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".rsrc", 0x200)
				putResourceDir(s.data, 0, [][2]uint32{{3, 0x80000000}})
				b.dir(2, s.va, 0x200)
				return b.build()
			},
			wantError: "loops back",
		},
		{
			name: "resource directories looping through a child",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".rsrc", 0x200)
				putResourceDir(s.data, 0, [][2]uint32{{3, 0x80000020}})
				putResourceDir(s.data, 0x20, [][2]uint32{{1, 0x80000040}})
				putResourceDir(s.data, 0x40, [][2]uint32{{1033, 0x80000000}})
				b.dir(2, s.va, 0x200)
				return b.build()
			},
			wantError: "loops back",
		},
		{
			name: "resource directories 40 deep",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".rsrc", 0x1000)
				for level := range 40 {
					putResourceDir(s.data, 0x40*level, [][2]uint32{{uint32(level + 1), 0x80000000 | uint32(0x40*(level+1))}})
				}
				b.dir(2, s.va, 0x1000)
				return b.build()
			},
			wantError: "nested more than 32 deep",
		},
		{
			name: "32768 resource entries",
			build: func() []byte {
				// 4,096 types share one name directory, whose language
				// directory has 4,096 entries sharing one data entry.
				b := newBuilder()
				s := b.section(".rsrc", 0x12000)
				types := make([][2]uint32, 4096)
				for i := range types {
					types[i] = [2]uint32{uint32(i + 1), 0x80000000 | 0x8010}
				}
				putResourceDir(s.data, 0, types)
				putResourceDir(s.data, 0x8010, [][2]uint32{{1, 0x80000000 | 0x8030}})
				langs := make([][2]uint32, 4096)
				for i := range langs {
					langs[i] = [2]uint32{1033, 0x10040}
				}
				putResourceDir(s.data, 0x8030, langs)
				le32(s.data[0x10040:], s.va+0x10050)
				le32(s.data[0x10044:], 16)
				copy(s.data[0x10050:], "shared resource!")
				b.dir(2, s.va, uint32(len(s.data)))
				return b.build()
			},
			wantError:    "more than 32768 resource entries",
			maxExtracted: 1,
		},
		{
			name: "section table past the end of the file",
			build: func() []byte {
				b := newBuilder()
				b.section(".text", 0x200)
				b.sectionCount = 0xffff
				data := b.build()
				table := int(binary.LittleEndian.Uint32(data[0x3c:])) + 24 + 240
				return data[:table+40+20] // half of the second header
			},
			wantError:   "section table runs past the end of the file",
			pefileFails: true,
		},
		{
			name: "section table beyond the file",
			build: func() []byte {
				b := newBuilder()
				b.section(".text", 0x200)
				data := b.build()
				le16(data[int(binary.LittleEndian.Uint32(data[0x3c:]))+4+16:], 0xffff) // SizeOfOptionalHeader
				return data
			},
			wantError: "section table runs past the end of the file",
		},
		{
			name: "2048 sections over the same data",
			build: func() []byte {
				b := newBuilder()
				b.section(".text", 64<<10)
				data := b.build()
				lfanew := int(binary.LittleEndian.Uint32(data[0x3c:]))
				table := lfanew + 24 + 240
				header := append([]byte(nil), data[table:table+40]...)
				headers := (table + 40*2048 + 0x1ff) &^ 0x1ff
				out := make([]byte, headers+64<<10)
				copy(out, data[:table])
				for i := range 2048 {
					h := out[table+40*i:]
					copy(h, header)
					le32(h[12:], uint32(0x1000*(i+1))) // distinct addresses
					le32(h[20:], uint32(headers))      // one raw data
				}
				le16(out[lfanew+6:], 2048)
				le32(out[lfanew+24+60:], uint32(headers))
				for i := headers; i < len(out); i++ {
					out[i] = byte(i * 31)
				}
				return out
			},
			wantError:  "sections overlap",
			pefileSlow: true,
		},
		{
			name: "export directory claiming 2^32 names",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".edata", 0x10000)
				le32(s.data[20:], 0xffffffff) // NumberOfFunctions
				le32(s.data[24:], 0xffffffff) // NumberOfNames
				le32(s.data[28:], s.va+0x100) // AddressOfFunctions: zeros
				le32(s.data[32:], s.va+0x100) // AddressOfNames
				le32(s.data[36:], s.va+0x100) // AddressOfNameOrdinals
				b.dir(0, s.va, 40)
				return b.build()
			},
			wantError: "export directory",
		},
		{
			name: "100000 exports",
			build: func() []byte {
				b := newBuilder()
				n := 100_000
				s := b.section(".edata", 40+4*n+4*n+2*n+8*n)
				funcs, names, ords, strs := 40, 40+4*n, 40+8*n, 40+10*n
				le32(s.data[16:], 1)
				le32(s.data[20:], uint32(n))
				le32(s.data[24:], uint32(n))
				le32(s.data[28:], s.va+uint32(funcs))
				le32(s.data[32:], s.va+uint32(names))
				le32(s.data[36:], s.va+uint32(ords))
				for i := range n {
					le32(s.data[funcs+4*i:], 0x1000+uint32(i))
					le32(s.data[names+4*i:], s.va+uint32(strs+8*i))
					le16(s.data[ords+2*i:], uint16(i))
					copy(s.data[strs+8*i:], fmt.Sprintf("e%06d", i))
				}
				b.dir(0, s.va, 40)
				return b.build()
			},
			wantError: "more than 8192 exports",
		},
		{
			name: "debug directory of 4 GiB",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".rdata", 0x100000)
				b.dir(6, s.va, 0xfffffff0)
				return b.build()
			},
			wantError: "debug directory entries",
		},
		{
			name: "version information with zero lengths",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".rsrc", 0x400)
				putResourceDir(s.data, 0, [][2]uint32{{16, 0x80000020}})
				putResourceDir(s.data, 0x20, [][2]uint32{{1, 0x80000040}})
				putResourceDir(s.data, 0x40, [][2]uint32{{1033, 0x60}})
				le32(s.data[0x60:], s.va+0x80)
				le32(s.data[0x64:], 0x300)
				v := s.data[0x80:]
				le16(v, 0x300) // VS_VERSIONINFO Length
				utf16At(v[6:], "VS_VERSION_INFO")
				// VS_FIXEDFILEINFO at 40, StringFileInfo at 92 with a
				// table whose Length is 0 (pefile's loop check).
				utf16At(v[92+6:], "StringFileInfo")
				le16(v[92:], 0x200)
				le16(v[128:], 0)
				utf16At(v[128+6:], "040904b0")
				return b.build()
			},
			wantError: "",
		},
		{
			name: "TLS callback table running off the section",
			build: func() []byte {
				b := newBuilder()
				s := b.section(".tls", 0x200)
				le64(s.data[24:], 0x140000000+uint64(s.va)+0x1f8) // AddressOfCallBacks: the last 8 bytes
				for i := 0x1f8; i < 0x200; i++ {
					s.data[i] = 0x41
				}
				b.dir(9, s.va, 40)
				return b.build()
			},
			wantError: "TLS callback table",
		},
	}
}

func utf16At(b []byte, s string) {
	for i, r := range s {
		le16(b[2*i:], uint16(r))
	}
}

func TestHostilePEs(t *testing.T) {
	cases := hostileCases()
	dir := t.TempDir()
	built := make([][]byte, len(cases))
	refs := make([]map[string]any, len(cases))
	var paths []string
	var compared []int
	for i, c := range cases {
		built[i] = c.build()
		if c.pefileSlow {
			continue
		}
		path := filepath.Join(dir, fmt.Sprintf("case%02d", i))
		if err := os.WriteFile(path, built[i], 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		compared = append(compared, i)
	}
	for j, ref := range reference(t, paths...) {
		refs[compared[j]] = ref
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, ours := scan(t, nil, built[i])
			if ours == nil {
				t.Fatalf("no results: %v", resp.Errors)
			}
			var msgs []string
			for _, e := range resp.Errors {
				msgs = append(msgs, e.Message)
			}
			joined := strings.Join(msgs, "\n")
			switch {
			case c.wantError == "" && len(msgs) != 0:
				t.Errorf("errors:\n%s", joined)
			case c.wantError != "" && !strings.Contains(joined, c.wantError):
				t.Errorf("errors:\n%s\nwant one saying %q", joined, c.wantError)
			}
			if ours["is_valid"] != (c.wantError == "") {
				t.Errorf("is_valid %v with errors %q", ours["is_valid"], joined)
			}
			if c.maxExtracted > 0 && len(resp.Extracted) > c.maxExtracted {
				t.Errorf("%d payloads extracted, want at most %d", len(resp.Extracted), c.maxExtracted)
			}
			if c.pefileSlow {
				return
			}
			_, refFailed := refs[i]["error"]
			if refFailed != c.pefileFails {
				t.Fatalf("pefile: %v, expected it to fail: %v", refs[i]["error"], c.pefileFails)
			}
			if refFailed {
				return
			}
			for _, key := range mutantKeys {
				if got, want := normalize(key, ours[key]), normalize(key, refs[i][key]); !reflect.DeepEqual(got, want) {
					t.Errorf("%s differs from pefile's\n  peinfo: %s\n  pefile: %s", key, compact(got), compact(want))
				}
			}
		})
	}
}

// richStub is a DOS stub holding a Rich header at 0x80 (where pefile looks
// for it): 0x40 bytes of stub code, then DanS and three checksums, the
// (tool id, count) pairs and "Rich" with the key, all XORed with the key.
func richStub(pairs [][2]uint32) []byte {
	const key = 0x5a17c0de
	stub := make([]byte, 0x40)
	copy(stub, "\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21This program cannot be run in DOS mode.\r\r\n$")
	words := []uint32{0x536e6144 ^ key, key, key, key}
	for _, p := range pairs {
		words = append(words, p[0]^key, p[1]^key)
	}
	words = append(words, 0x68636952, key, 0, 0)
	for _, w := range words {
		stub = binary.LittleEndian.AppendUint32(stub, w)
	}
	return stub
}

// The Rich header's hash equals pefile's get_rich_header_hash(); a "Rich"
// with nothing after it (on which pefile raises) is no Rich header.
func TestRichHeader(t *testing.T) {
	b := newBuilder()
	b.stub = richStub([][2]uint32{{0x00fd6b14, 3}, {0x01036b14, 12}, {0x00010000, 1}})
	b.section(".text", 0x200)
	valid := b.build()

	// "Rich" at 0x80 and a key that makes it its own DanS: pefile then
	// reads a checksum past the header's end and raises IndexError.
	b = newBuilder()
	b.stub = binary.LittleEndian.AppendUint32(append(make([]byte, 0x40), "Rich"...), 0x68636952^0x536e6144)
	b.section(".text", 0x200)
	cut := b.build()

	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "valid"), filepath.Join(dir, "cut")}
	for i, data := range [][]byte{valid, cut} {
		if err := os.WriteFile(paths[i], data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	refs := reference(t, paths...)
	resp, ours := scan(t, nil, valid)
	checkClean(t, "valid", resp, ours)
	if ours["rich_header"] == "" || ours["rich_header"] != refs[0]["rich_header"] {
		t.Errorf("rich_header %q, pefile's %q", ours["rich_header"], refs[0]["rich_header"])
	}
	if _, failed := refs[1]["error"]; !failed {
		t.Errorf("pefile was expected to raise on a Rich header cut short: %v", refs[1])
	}
	resp, ours = scan(t, nil, cut)
	checkClean(t, "cut", resp, ours)
	if ours["rich_header"] != "" {
		t.Errorf("rich_header %q for a cut Rich header", ours["rich_header"])
	}
}
