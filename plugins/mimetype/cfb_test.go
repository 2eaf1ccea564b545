package mimetype

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// A compound file (OLE2, [MS-CFB]) writer for the test corpus: Debian has
// readers (olefile) but nothing that writes one, so the test builds .doc,
// .xls, .ppt, .msg and .msi lookalikes itself, after the specification, and
// TestCompoundFilesReadByOlefile checks that olefile reads them back as
// written. Version 3 (512-byte sectors), one FAT sector, no mini stream:
// every stream is at least cfbMinStream bytes (the mini stream cutoff), so
// all of them live in regular sectors, as the format requires of streams
// that large.

const (
	cfbSector    = 512
	cfbMinStream = 4096
	cfbFree      = 0xFFFFFFFF
	cfbEnd       = 0xFFFFFFFE
	cfbFATSect   = 0xFFFFFFFD
	cfbNoStream  = 0xFFFFFFFF
)

// msiCLSID is the root storage CLSID of Windows Installer packages,
// {000C1084-0000-0000-C000-000000000046}, as stored (GUID byte order).
var msiCLSID = [16]byte{0x84, 0x10, 0x0C, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46}

// cfbFile describes a compound file: its storages and streams by path
// ("Storage/Stream"), and the root's CLSID.
type cfbFile struct {
	rootCLSID [16]byte
	entries   []cfbEntry
}

type cfbEntry struct {
	path    string
	storage bool
	data    []byte // streams only
}

// dirEntry is a directory entry being laid out.
type dirEntry struct {
	name     string
	kind     byte // 1 storage, 2 stream, 5 root
	children []int
	clsid    [16]byte
	data     []byte
	start    uint32
	left     uint32
	right    uint32
	child    uint32
}

func (f cfbFile) build() ([]byte, error) {
	dirs := []*dirEntry{{name: "Root Entry", kind: 5, clsid: f.rootCLSID}}
	byPath := map[string]int{"": 0}
	for _, e := range f.entries {
		parent, name := "", e.path
		if i := strings.LastIndexByte(e.path, '/'); i >= 0 {
			parent, name = e.path[:i], e.path[i+1:]
		}
		p, ok := byPath[parent]
		if !ok || dirs[p].kind == 2 {
			return nil, fmt.Errorf("cfb: %s: parent storage %q not declared before it", e.path, parent)
		}
		if len(utf16.Encode([]rune(name))) > 31 {
			return nil, fmt.Errorf("cfb: %s: name longer than 31 characters", e.path)
		}
		d := &dirEntry{name: name, kind: 2, data: e.data}
		if e.storage {
			d.kind = 1
		} else if len(e.data) < cfbMinStream {
			return nil, fmt.Errorf("cfb: %s: stream of %d bytes, this writer needs at least %d", e.path, len(e.data), cfbMinStream)
		}
		byPath[e.path] = len(dirs)
		dirs[p].children = append(dirs[p].children, len(dirs))
		dirs = append(dirs, d)
	}
	// Siblings form a tree ordered by name (shorter first, then by
	// upper-case code units); a chain of right children, all black, is
	// such a tree.
	for _, d := range dirs {
		d.left, d.right, d.child = cfbNoStream, cfbNoStream, cfbNoStream
	}
	for _, d := range dirs {
		kids := slices.Clone(d.children)
		slices.SortFunc(kids, func(a, b int) int { return cfbCompare(dirs[a].name, dirs[b].name) })
		for i, k := range kids {
			if i == 0 {
				d.child = uint32(k)
			}
			if i+1 < len(kids) {
				dirs[k].right = uint32(kids[i+1])
			}
		}
	}

	// Sector 0 is the FAT, then the directory, then each stream.
	dirSectors := (len(dirs)*128 + cfbSector - 1) / cfbSector
	fat := []uint32{cfbFATSect}
	chain := func(n int) uint32 {
		start := uint32(len(fat))
		for i := 0; i < n; i++ {
			next := uint32(len(fat) + 1)
			if i == n-1 {
				next = cfbEnd
			}
			fat = append(fat, next)
		}
		return start
	}
	dirStart := chain(dirSectors)
	for _, d := range dirs {
		if d.kind == 2 {
			d.start = chain((len(d.data) + cfbSector - 1) / cfbSector)
		}
	}
	if len(fat) > cfbSector/4 {
		return nil, fmt.Errorf("cfb: %d sectors, this writer has one FAT sector (%d)", len(fat), cfbSector/4)
	}
	le := binary.LittleEndian
	header := make([]byte, cfbSector)
	copy(header, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
	le.PutUint16(header[24:], 0x003E) // minor version
	le.PutUint16(header[26:], 0x0003) // major version 3
	le.PutUint16(header[28:], 0xFFFE) // byte order
	le.PutUint16(header[30:], 9)      // 512-byte sectors
	le.PutUint16(header[32:], 6)      // 64-byte mini sectors
	le.PutUint32(header[44:], 1)      // FAT sectors
	le.PutUint32(header[48:], dirStart)
	le.PutUint32(header[56:], cfbMinStream)
	le.PutUint32(header[60:], cfbEnd) // no mini FAT
	le.PutUint32(header[68:], cfbEnd) // no DIFAT sectors
	le.PutUint32(header[76:], 0)      // DIFAT[0]: the FAT is sector 0
	for i := 1; i < 109; i++ {
		le.PutUint32(header[76+4*i:], cfbFree)
	}
	var out bytes.Buffer
	out.Write(header)
	fatSector := make([]byte, cfbSector)
	for i := range cfbSector / 4 {
		v := uint32(cfbFree)
		if i < len(fat) {
			v = fat[i]
		}
		le.PutUint32(fatSector[4*i:], v)
	}
	out.Write(fatSector)
	dirBytes := make([]byte, dirSectors*cfbSector)
	for i := range dirSectors * cfbSector / 128 {
		e := dirBytes[128*i : 128*(i+1)]
		if i >= len(dirs) {
			le.PutUint32(e[68:], cfbNoStream)
			le.PutUint32(e[72:], cfbNoStream)
			le.PutUint32(e[76:], cfbNoStream)
			continue
		}
		d := dirs[i]
		units := utf16.Encode([]rune(d.name))
		for j, u := range units {
			le.PutUint16(e[2*j:], u)
		}
		le.PutUint16(e[64:], uint16(2*len(units)+2))
		e[66] = d.kind
		e[67] = 1 // black
		le.PutUint32(e[68:], d.left)
		le.PutUint32(e[72:], d.right)
		le.PutUint32(e[76:], d.child)
		copy(e[80:96], d.clsid[:])
		switch d.kind {
		case 2:
			le.PutUint32(e[116:], d.start)
			le.PutUint64(e[120:], uint64(len(d.data)))
		case 5:
			le.PutUint32(e[116:], cfbEnd) // empty mini stream
		}
	}
	out.Write(dirBytes)
	for _, d := range dirs {
		if d.kind == 2 {
			out.Write(d.data)
			if pad := len(d.data) % cfbSector; pad != 0 {
				out.Write(make([]byte, cfbSector-pad))
			}
		}
	}
	return out.Bytes(), nil
}

// cfbCompare orders sibling names as [MS-CFB] 2.6.4 does: by length in
// UTF-16 code units, then code unit by code unit in upper case.
func cfbCompare(a, b string) int {
	ua, ub := utf16.Encode([]rune(strings.ToUpper(a))), utf16.Encode([]rune(strings.ToUpper(b)))
	if len(ua) != len(ub) {
		return len(ua) - len(ub)
	}
	return slices.Compare(ua, ub)
}

// summaryInformation is a \x05SummaryInformation stream ([MS-OLEPS]) with
// a code page and the name of the creating application (PIDSI_APPNAME),
// which is what libmagic reads to tell a Word document from an installer;
// padded to cfbMinStream bytes.
func summaryInformation(app string) []byte {
	le := binary.LittleEndian
	fmtid := []byte{0xE0, 0x85, 0x9F, 0xF2, 0xF9, 0x4F, 0x68, 0x10, 0xAB, 0x91, 0x08, 0x00, 0x2B, 0x27, 0xB3, 0xD9}
	var props []byte
	codepage := le.AppendUint16(le.AppendUint32(nil, 2), 1252) // VT_I2 1252
	codepage = append(codepage, 0, 0)
	str := append([]byte(app), 0)
	appname := le.AppendUint32(le.AppendUint32(nil, 0x1E), uint32(len(str))) // VT_LPSTR
	appname = append(appname, str...)
	for len(appname)%4 != 0 {
		appname = append(appname, 0)
	}
	const ids = 8 + 2*8 // size, count, two (id, offset) pairs
	props = le.AppendUint32(props, uint32(ids+len(codepage)+len(appname)))
	props = le.AppendUint32(props, 2)
	props = le.AppendUint32(props, 1) // PID_CODEPAGE
	props = le.AppendUint32(props, ids)
	props = le.AppendUint32(props, 0x12) // PIDSI_APPNAME
	props = le.AppendUint32(props, uint32(ids+len(codepage)))
	props = append(append(props, codepage...), appname...)

	out := le.AppendUint16(nil, 0xFFFE)
	out = le.AppendUint16(out, 0)
	out = le.AppendUint32(out, 0x00020006) // Windows, version 6.2
	out = append(out, make([]byte, 16)...)
	out = le.AppendUint32(out, 1)
	out = append(out, fmtid...)
	out = le.AppendUint32(out, 48)
	out = append(out, props...)
	return append(out, make([]byte, cfbMinStream-len(out))...)
}

// olefileScript prints, for each file, olefile's list of streams and
// storages (with their sizes) and the application name it reads from the
// summary information, as JSON.
const olefileScript = `
import json, sys, olefile
out = {}
for path in sys.argv[1:]:
    ole = olefile.OleFileIO(path)
    entries = {}
    for parts in ole.listdir(streams=True, storages=True):
        name = "/".join(parts)
        entries[name] = ole.get_size(name) if ole.get_type(name) == olefile.STGTY_STREAM else -1
    meta = ole.get_metadata()
    app = meta.creating_application.decode() if meta.creating_application else ""
    out[path] = {"entries": entries, "app": app, "clsid": ole.root.clsid}
    ole.close()
print(json.dumps(out))
`

// TestCompoundFilesReadByOlefile checks the corpus' compound files with
// Debian's python3-olefile: every storage and stream is there with its size,
// the summary information's application name and the root CLSID read back.
func TestCompoundFilesReadByOlefile(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import olefile").Run(); err != nil {
		stoqtest.Missing(t, "Debian's python3-olefile is not installed (apt-get install -y python3-olefile)")
	}
	dir := t.TempDir()
	docs := compoundDocs()
	paths := make([]string, len(docs))
	for i, d := range docs {
		data, err := d.cfb.build()
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		paths[i] = filepath.Join(dir, d.name)
		if err := os.WriteFile(paths[i], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command(py, append([]string{"-c", olefileScript}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("olefile: %v\n%s", err, out)
	}
	var got map[string]struct {
		Entries map[string]int
		App     string
		CLSID   string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("olefile output: %v\n%s", err, out)
	}
	for i, d := range docs {
		want := map[string]int{}
		for _, e := range d.cfb.entries {
			if e.storage {
				want[e.path] = -1
			} else {
				want[e.path] = len(e.data)
			}
		}
		g := got[paths[i]]
		if !maps.Equal(g.Entries, want) {
			t.Errorf("%s: olefile lists %v, want %v", d.name, g.Entries, want)
		}
		if g.App != d.app {
			t.Errorf("%s: olefile reads creating application %q, want %q", d.name, g.App, d.app)
		}
		wantCLSID := ""
		if d.cfb.rootCLSID == msiCLSID {
			wantCLSID = "000C1084-0000-0000-C000-000000000046"
		}
		if g.CLSID != wantCLSID {
			t.Errorf("%s: olefile reads root CLSID %q, want %q", d.name, g.CLSID, wantCLSID)
		}
	}
}
