package peinfo

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stoq-go/stoq/plugins/peinfo/v3/internal/pe"
)

// mutantKeys are compared on damaged files: every key of compared but
// debug_info, where peinfo keeps the entries before a bad one and pefile
// drops them all (a documented difference).
var mutantKeys = []string{
	"imphash", "compile_time_epoch", "compile_time", "image_base", "entrypoint", "machine_type",
	"is_exe", "is_dll", "is_driver", "is_packed", "imports", "exports", "sections", "resources",
	"version_info", "rich_header",
}

// Damaged copies of real executables (header fields, section headers,
// directory contents, the tables they point to, truncations:
// deterministic, seeded), compared
// with pefile key by key wherever pefile loads them: the rules that decide
// what a damaged file yields are pefile's. peinfo must also read every file
// pefile reads, and never panic.
func TestMutantsMatchPefile(t *testing.T) {
	bases := append(debugPEExes(t)[1:], goBuiltExes(t)[:2]...)
	bases = append(bases, mingwBuilt(t)...)
	perBase := 24 // PEINFO_MUTANTS=N for a longer hunt
	if n, err := strconv.Atoi(os.Getenv("PEINFO_MUTANTS")); err == nil && n > 0 {
		perBase = n
	} else if testing.Short() {
		perBase = 6
	}
	dir := t.TempDir()
	type mutant struct {
		name string
		path string
		data []byte
	}
	var mutants []mutant
	for bi, base := range bases {
		regions := interestingRegions(t, base.data)
		rng := rand.New(rand.NewPCG(uint64(bi)+mutantSeed(), 0x9e3779b97f4a7c15))
		for i := range perBase {
			data, how := mutate(rng, base.data, regions)
			name := fmt.Sprintf("%s-%02d-%s", base.name, i, how)
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			mutants = append(mutants, mutant{name, path, data})
		}
	}
	var paths []string
	for _, m := range mutants {
		paths = append(paths, m.path)
	}
	refs := reference(t, paths...)
	loaded, compared, changed := 0, 0, 0
	baseResults := map[string]map[string]any{}
	for _, b := range bases {
		_, baseResults[b.name] = scan(t, nil, b.data)
	}
	for i, m := range mutants {
		ref := refs[i]
		resp, ours := scan(t, nil, m.data)
		msg, refFailed := ref["error"].(string)
		switch {
		case refFailed && strings.HasPrefix(msg, "reference script"):
			t.Logf("%s: %s", m.name, msg)
			continue
		case refFailed:
			continue // pefile raises; peinfo may still read part of it
		case ours == nil:
			t.Errorf("%s: pefile loads it, peinfo says %v", m.name, resp.Errors)
			continue
		}
		loaded++
		base := baseResults[m.name[:strings.LastIndex(m.name[:strings.LastIndex(m.name, "-")], "-")]]
		for _, key := range mutantKeys {
			if !reflect.DeepEqual(ours[key], base[key]) {
				changed++
				break
			}
		}
		for _, key := range mutantKeys {
			got, want := normalize(key, ours[key]), normalize(key, ref[key])
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s differs from pefile's\n  peinfo: %s\n  pefile: %s", m.name, key, compact(got), compact(want))
			}
		}
		compared++
	}
	t.Logf("%d mutants, %d loaded by pefile and compared, %d of them with results unlike the original's", len(mutants), compared, changed)
	if loaded < len(mutants)/2 {
		t.Errorf("only %d of %d mutants load in pefile: the mutations are too destructive to test much", loaded, len(mutants))
	}
}

// normalize makes text decoded from garbage comparable: pefile's and Go's
// UTF-8 decoders replace invalid bytes differently, so every non-ASCII run
// becomes one "?"; entropies are rounded without cgo.
func normalize(key string, v any) any {
	switch key {
	case "sections":
		if !exactEntropy {
			v = roundEntropies(v)
		}
		list, _ := v.([]any)
		var out []any
		for _, s := range list {
			m := maps(s)
			m["name"] = asciiOnly(m["name"].(string))
			out = append(out, m)
		}
		return out
	case "resources":
		list, _ := v.([]any)
		var out []any
		for _, r := range list {
			m := maps(r)
			m["name"] = asciiOnly(m["name"].(string))
			out = append(out, m)
		}
		return out
	case "version_info":
		m, _ := v.(map[string]any)
		out := map[string]any{}
		for k, x := range m {
			out[asciiOnly(k)] = asciiOnly(x.(string))
		}
		return out
	}
	return v
}

func asciiOnly(s string) string {
	var b strings.Builder
	wasOther := false
	for _, r := range s {
		if r < utf8.RuneSelf && r != '\\' {
			b.WriteRune(r)
			wasOther = false
		} else if !wasOther {
			b.WriteByte('?')
			wasOther = true
		}
	}
	return b.String()
}

// interestingRegions are the file ranges whose damage tests pefile's rules
// most: the headers and section table, and each parsed directory with what
// follows it (where thunks, names and resource data usually are).
func interestingRegions(t testing.TB, data []byte) [][2]int {
	f, err := pe.Parse(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	regions := [][2]int{{0, min(len(data), 0x400)}}
	for _, idx := range []int{pe.DirImport, pe.DirExport, pe.DirResource, pe.DirDebug, pe.DirTLS} {
		dir, ok := f.Directory(idx)
		if !ok || dir.VirtualAddress == 0 {
			continue
		}
		for _, s := range f.Sections {
			if dir.VirtualAddress >= s.VirtualAddress && dir.VirtualAddress < s.VirtualAddress+max(s.VirtualSize, s.SizeOfRawData) {
				off := int(dir.VirtualAddress - s.VirtualAddress + s.PointerToRawData)
				if off < len(data) {
					regions = append(regions, [2]int{off, min(len(data), off+int(dir.Size)+0x400)})
				}
			}
		}
	}
	return regions
}

// mutate returns a damaged copy of data and a word saying how.
func mutate(rng *rand.Rand, data []byte, regions [][2]int) ([]byte, string) {
	b := make([]byte, len(data))
	copy(b, data)
	value := func() uint32 {
		switch rng.IntN(6) {
		case 0:
			return 0
		case 1:
			return 0xffffffff
		case 2:
			return rng.Uint32() & 0xff
		case 3:
			return rng.Uint32() & 0xffff
		case 4:
			return 0x80000000 | rng.Uint32()&0xffff
		}
		return rng.Uint32()
	}
	if os.Getenv("PEINFO_SECTION_MUTANTS") != "" {
		lfanew := int(binary.LittleEndian.Uint32(b[0x3c:]))
		n := int(binary.LittleEndian.Uint16(b[lfanew+6:]))
		table := lfanew + 24 + int(binary.LittleEndian.Uint16(b[lfanew+20:]))
		for range 1 + rng.IntN(2) {
			i, j := rng.IntN(n), rng.IntN(n)
			field := []int{8, 12, 16, 20}[rng.IntN(4)]
			v := binary.LittleEndian.Uint32(b[table+40*j+field:])
			v += uint32(rng.IntN(0x400)) - 0x200
			binary.LittleEndian.PutUint32(b[table+40*i+field:], v)
		}
		return b, "sections"
	}
	switch rng.IntN(6) {
	case 5:
		// A section header field set near another section's: overlapping,
		// misaligned or truncated sections, where pefile's address mapping
		// rules (and its cache) decide what is read.
		lfanew := int(binary.LittleEndian.Uint32(b[0x3c:]))
		n := int(binary.LittleEndian.Uint16(b[lfanew+6:]))
		table := lfanew + 24 + int(binary.LittleEndian.Uint16(b[lfanew+20:]))
		for range 1 + rng.IntN(2) {
			i, j := rng.IntN(n), rng.IntN(n)
			field := []int{8, 12, 16, 20}[rng.IntN(4)] // VirtualSize, VirtualAddress, SizeOfRawData, PointerToRawData
			v := binary.LittleEndian.Uint32(b[table+40*j+field:]) + uint32(rng.IntN(0x400)) - 0x200
			binary.LittleEndian.PutUint32(b[table+40*i+field:], v)
		}
		return b, "sections"
	case 0, 1:
		r := regions[rng.IntN(len(regions))]
		for range 1 + rng.IntN(3) {
			if r[1]-r[0] >= 4 {
				binary.LittleEndian.PutUint32(b[r[0]+rng.IntN(r[1]-r[0]-3):], value())
			}
		}
		return b, "region"
	case 2:
		r := regions[0]
		binary.LittleEndian.PutUint32(b[r[0]+rng.IntN(r[1]-r[0]-3):], value())
		return b, "header"
	case 3:
		return b[:64+rng.IntN(len(b)-64)], "truncated"
	}
	for range 1 + rng.IntN(8) {
		b[rng.IntN(len(b))] = byte(rng.Uint32())
	}
	return b, "bytes"
}

// mutantSeed varies the mutants with PEINFO_MUTANTS_SEED (default 0).
func mutantSeed() uint64 {
	n, _ := strconv.ParseUint(os.Getenv("PEINFO_MUTANTS_SEED"), 10, 64)
	return n << 8
}
