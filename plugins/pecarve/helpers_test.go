package pecarve

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test executables: Windows programs built with the Go toolchain once per
// test binary, and the mingw executables of Go's debug/pe test data.

var (
	goExesOnce sync.Once
	goExes     map[string][]byte
	goExesErr  error
)

// goSources are tiny Windows programs; two different ones give two
// different executables to embed.
var goSources = map[string]string{
	"go-hello": `package main

func main() { println("hello from the stoq pecarve tests") }
`,
	"go-other": `package main

import "os"

func main() { os.Exit(len(os.Args) + 41) }
`,
}

// goToolchain returns the go command of `go env GOROOT`.
func goToolchain() (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("no go command on PATH: %w", err)
	}
	out, err := exec.Command(goCmd, "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "bin", "go"), nil
}

// buildGoExes cross-compiles goSources for windows/amd64 without symbol
// tables (-s), so each executable ends where its last section ends.
func buildGoExes() (map[string][]byte, error) {
	goCmd, err := goToolchain()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pecarve-exes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := map[string][]byte{}
	for name, src := range goSources {
		srcDir := filepath.Join(dir, name)
		if err := os.Mkdir(srcDir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module "+name+"\n\ngo 1.21\n"), 0o644); err != nil {
			return nil, err
		}
		exe := filepath.Join(dir, name+".exe")
		cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags=-s", "-o", exe, ".")
		cmd.Dir = srcDir
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building %s for windows/amd64: %v\n%s", name, err, msg)
		}
		if out[name], err = os.ReadFile(exe); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// goExe returns the Windows executable built from goSources[name].
func goExe(t testing.TB, name string) []byte {
	t.Helper()
	goExesOnce.Do(func() { goExes, goExesErr = buildGoExes() })
	if goExesErr != nil {
		t.Fatal(goExesErr)
	}
	return goExes[name]
}

// debugPEExe returns one of debug/pe's test executables.
func debugPEExe(t testing.TB, name string) []byte {
	t.Helper()
	goCmd, err := goToolchain()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(filepath.Dir(filepath.Dir(goCmd)), "src", "debug", "pe", "testdata", name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("debug/pe test data: %v", err)
	}
	return b
}

// trimmedSize computes, with debug/pe (independently of peSize), where
// pefile's trim() cuts exe: the end of the last section's raw data, or
// SizeOfHeaders when that is larger.
func trimmedSize(t testing.TB, exe []byte) int {
	t.Helper()
	f, err := pe.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatalf("debug/pe: %v", err)
	}
	var end uint64
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader32:
		end = uint64(oh.SizeOfHeaders)
	case *pe.OptionalHeader64:
		end = uint64(oh.SizeOfHeaders)
	}
	for _, s := range f.Sections {
		if s.Size > 0 {
			end = max(end, uint64(s.Offset)+uint64(s.Size))
		}
	}
	return int(end)
}

// filler returns n pseudo-random bytes (fixed seed) sprinkled with "MZ" and
// "ZM" strings and near-PE headers that are not PEs.
func filler(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for _, fake := range fakeHeaders() {
		if len(fake) < n {
			copy(b[r.IntN(n-len(fake)):], fake)
		}
	}
	return b
}

// fakeHeaders are byte strings that look like PE headers to a scanner but
// fail validation one way or another.
func fakeHeaders() [][]byte {
	bare := []byte("MZ")
	zm := []byte("ZM\x90\x00 this is not a PE")
	noSignature := synthPE(synth{}).build()
	copy(noSignature[64:], "NE\x00\x00")
	badMagic := synthPE(synth{}).build()
	binary.LittleEndian.PutUint16(badMagic[64+24:], 0x107)
	farLfanew := synthPE(synth{}).build()
	binary.LittleEndian.PutUint32(farLfanew[0x3c:], 0xfffffff0)
	manySections := synthPE(synth{}).build()
	binary.LittleEndian.PutUint16(manySections[64+4+2:], 0xffff)
	return [][]byte{bare, zm, noSignature[:200], badMagic[:400], farLfanew[:400], manySections[:400], bare, []byte("MZMZMZ")}
}

// embed writes each exe into payload at its offset.
func embed(payload []byte, at map[int][]byte) []byte {
	for off, exe := range at {
		copy(payload[off:], exe)
	}
	return payload
}

// synth describes a synthetic PE: just enough structure for peSize.
type synth struct {
	plus          bool        // PE32+ rather than PE32
	lfanew        uint32      // 0: 64
	sizeOfHeaders uint32      // 0: 0x200
	sections      [][2]uint32 // PointerToRawData, SizeOfRawData
	numberOfRva   uint32      // 0: 16
	cert          [2]uint32   // security directory: file offset, size
	fileSize      int         // 0: up to the furthest end declared
}

type synthPE synth

// build lays out the synthetic PE and fills every byte it does not define
// with a recognisable pattern.
func (s synthPE) build() []byte {
	if s.lfanew == 0 {
		s.lfanew = 64
	}
	if s.sizeOfHeaders == 0 {
		s.sizeOfHeaders = 0x200
	}
	if s.numberOfRva == 0 {
		s.numberOfRva = 16
	}
	magic, dataDirs := uint16(magicPE32), uint32(96)
	if s.plus {
		magic, dataDirs = magicPE32Plus, 112
	}
	sizeOfOpt := dataDirs + 16*8
	opt := s.lfanew + 4 + 20
	sectionTable := opt + sizeOfOpt
	end := uint64(max(s.sizeOfHeaders, sectionTable+uint32(len(s.sections))*40))
	for _, sec := range s.sections {
		if sec[1] > 0 {
			end = max(end, uint64(sec[0])+uint64(sec[1]))
		}
	}
	if s.cert[0] != 0 && s.cert[1] != 0 {
		end = max(end, uint64(s.cert[0])+uint64(s.cert[1]))
	}
	size := int(min(end, 16<<20))
	if s.fileSize != 0 {
		size = s.fileSize
	}
	b := make([]byte, max(size, int(sectionTable)+len(s.sections)*40))
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	le := binary.LittleEndian
	copy(b, "MZ")
	le.PutUint32(b[0x3c:], s.lfanew)
	copy(b[s.lfanew:], "PE\x00\x00")
	fh := s.lfanew + 4
	le.PutUint16(b[fh:], 0x8664)
	le.PutUint16(b[fh+2:], uint16(len(s.sections)))
	le.PutUint16(b[fh+16:], uint16(sizeOfOpt))
	le.PutUint16(b[opt:], magic)
	le.PutUint32(b[opt+60:], s.sizeOfHeaders)
	rvaAt := opt + dataDirs - 4
	le.PutUint32(b[rvaAt:], s.numberOfRva)
	for i := uint32(0); i < 16; i++ {
		le.PutUint64(b[opt+dataDirs+i*8:], 0)
	}
	le.PutUint32(b[opt+dataDirs+4*8:], s.cert[0])
	le.PutUint32(b[opt+dataDirs+4*8+4:], s.cert[1])
	for i, sec := range s.sections {
		at := sectionTable + uint32(i)*40
		copy(b[at:at+8], fmt.Sprintf(".s%d\x00\x00\x00\x00\x00\x00", i))
		le.PutUint32(b[at+16:], sec[1])
		le.PutUint32(b[at+20:], sec[0])
	}
	return b[:size:size]
}

// peSize reports whether b starts with a valid PE (parseHeaders) and, if
// so, how many of its bytes the carved file keeps (peHeaders.size).
func peSize(b []byte) (int, bool) {
	h, ok := parseHeaders(b)
	if !ok {
		return 0, false
	}
	return h.size(b), true
}
