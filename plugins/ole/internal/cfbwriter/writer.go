// Package cfbwriter writes Compound File Binary files ([MS-CFB], the OLE2
// structured storage of .doc, .xls, .msg and .msi files) for the ole
// plugin's tests, fuzz seeds and benchmarks.
//
// The files follow the specification: a version 3 (512-byte sectors) or
// version 4 (4096-byte sectors) header, a FAT (with DIFAT sectors once more
// than 109 FAT sectors are needed), a directory whose storages hold their
// entries in red-black trees ordered as the specification orders names
// (shorter first, then by upper-cased UTF-16 code units), streams below
// 4096 bytes in the mini stream, larger ones in sectors of their own. The
// Layout that Build returns says where every structure lies, so that tests
// can corrupt one precisely.
package cfbwriter

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
)

// Special sector numbers and stream IDs of [MS-CFB] 2.1.
const (
	DIFSect    uint32 = 0xFFFFFFFC
	FATSect    uint32 = 0xFFFFFFFD
	EndOfChain uint32 = 0xFFFFFFFE
	FreeSect   uint32 = 0xFFFFFFFF
	NoStream   uint32 = 0xFFFFFFFF
)

// MiniStreamCutoff is the size from which a stream lives in sectors of its
// own rather than in the mini stream.
const MiniStreamCutoff = 4096

const (
	miniSectorSize = 64
	dirEntrySize   = 128
	headerDIFATs   = 109
)

// Node is a stream or a storage to write.
type Node struct {
	// Name is the entry's name, at most 31 UTF-16 code units.
	Name string
	// UTF16, when set, is written as the name instead of Name: it spells
	// names that no Go string can, such as lone surrogates.
	UTF16 []uint16
	// Data is a stream's content.
	Data []byte
	// Storage makes the node a storage holding Children.
	Storage  bool
	Children []*Node
}

// Stream returns a stream node.
func Stream(name string, data []byte) *Node { return &Node{Name: name, Data: data} }

// Storage returns a storage node holding children.
func Storage(name string, children ...*Node) *Node {
	return &Node{Name: name, Storage: true, Children: children}
}

func (n *Node) utf16Name() []uint16 {
	if n.UTF16 != nil {
		return n.UTF16
	}
	return utf16.Encode([]rune(n.Name))
}

// Options choose the file's format and layout.
type Options struct {
	// SectorShift is 9 (512-byte sectors, version 3; the default) or 12
	// (4096-byte sectors, version 4).
	SectorShift int
	// Fragment scatters sectors: the large streams' sectors are interleaved
	// and each chain runs backwards, the mini streams' chains too, and the
	// FAT, directory and mini FAT come after the streams. Readers must
	// follow the chains rather than read sectors in order.
	Fragment bool
}

// Layout says where Build put everything. Sector numbers are the file's
// (sector n starts at byte (n+1) * SectorSize); mini sector numbers index
// the mini stream in 64-byte steps.
type Layout struct {
	SectorSize int
	// Sectors is how many sectors follow the header.
	Sectors    int
	FAT        []uint32
	DIFAT      []uint32
	Directory  []uint32
	MiniFAT    []uint32
	MiniStream []uint32
	// SID maps a "/"-joined path (names as given) to its directory entry;
	// the root is "".
	SID map[string]uint32
	// Chain maps a large stream's path to its sectors, MiniChain a small
	// stream's path to its mini sectors.
	Chain     map[string][]uint32
	MiniChain map[string][]uint32
	// Entries is the number of directory entries in use.
	Entries int
}

// SectorOffset is the file offset of sector n.
func (l *Layout) SectorOffset(n uint32) int { return (int(n) + 1) * l.SectorSize }

// FATEntryOffset is the file offset of the FAT entry that follows sector n.
func (l *Layout) FATEntryOffset(n uint32) int {
	per := uint32(l.SectorSize / 4)
	return l.SectorOffset(l.FAT[n/per]) + int(n%per)*4
}

// DirEntryOffset is the file offset of directory entry sid.
func (l *Layout) DirEntryOffset(sid uint32) int {
	per := uint32(l.SectorSize / dirEntrySize)
	return l.SectorOffset(l.Directory[sid/per]) + int(sid%per)*dirEntrySize
}

// MiniFATEntryOffset is the file offset of the mini FAT entry that follows
// mini sector n.
func (l *Layout) MiniFATEntryOffset(n uint32) int {
	per := uint32(l.SectorSize / 4)
	return l.SectorOffset(l.MiniFAT[n/per]) + int(n%per)*4
}

// Directory entry field offsets, for tests that rewrite one.
const (
	EntryNameLength = 64
	EntryType       = 66
	EntryColor      = 67
	EntryLeft       = 68
	EntryRight      = 72
	EntryChild      = 76
	EntryStart      = 116
	EntrySize       = 120
)

// entry is one directory entry being laid out.
type entry struct {
	node                *Node
	path                string
	name                []uint16
	typ                 byte
	color               byte
	left, right, child  uint32
	start               uint32
	size                uint64
	kids                []uint32 // a storage's entries, in [MS-CFB] order
	mini                bool
	sectors, miniChains []uint32
}

// Build writes a compound file whose root storage holds nodes.
func Build(nodes []*Node, opts Options) ([]byte, *Layout) {
	shift := opts.SectorShift
	if shift == 0 {
		shift = 9
	}
	if shift != 9 && shift != 12 {
		panic(fmt.Sprintf("cfbwriter: sector shift %d, want 9 or 12", shift))
	}
	ss := 1 << shift
	lay := &Layout{SectorSize: ss, SID: map[string]uint32{}, Chain: map[string][]uint32{}, MiniChain: map[string][]uint32{}}

	// Directory entries: the root, then every node depth first.
	entries := []*entry{{name: utf16.Encode([]rune("Root Entry")), typ: 5, left: NoStream, right: NoStream, child: NoStream}}
	var add func(parent uint32, children []*Node, prefix string)
	add = func(parent uint32, children []*Node, prefix string) {
		for _, n := range children {
			name := n.utf16Name()
			if len(name) > 31 {
				panic(fmt.Sprintf("cfbwriter: name %q is %d UTF-16 code units, at most 31", n.Name, len(name)))
			}
			e := &entry{node: n, name: name, path: prefix + n.Name, left: NoStream, right: NoStream, child: NoStream}
			sid := uint32(len(entries))
			entries = append(entries, e)
			entries[parent].kids = append(entries[parent].kids, sid)
			lay.SID[e.path] = sid
			if n.Storage {
				e.typ = 1
				add(sid, n.Children, e.path+"/")
			} else {
				e.typ = 2
				e.size = uint64(len(n.Data))
				e.mini = len(n.Data) < MiniStreamCutoff
			}
		}
	}
	add(0, nodes, "")
	lay.SID[""] = 0
	lay.Entries = len(entries)
	for _, e := range entries {
		slices.SortStableFunc(e.kids, func(a, b uint32) int { return compareNames(entries[a].name, entries[b].name) })
		e.child = balance(entries, e.kids, 0)
	}

	// Mini stream: each small stream's mini sectors, consecutive (or in
	// reverse order when fragmenting).
	var miniFAT []uint32
	var ministream []byte
	for _, e := range entries {
		if e.typ != 2 || !e.mini || e.size == 0 {
			continue
		}
		n := (len(e.node.Data) + miniSectorSize - 1) / miniSectorSize
		first := uint32(len(miniFAT))
		chain := make([]uint32, n)
		for i := range chain {
			chain[i] = first + uint32(i)
		}
		if opts.Fragment {
			slices.Reverse(chain)
		}
		miniFAT = append(miniFAT, make([]uint32, n)...)
		ministream = append(ministream, make([]byte, n*miniSectorSize)...)
		for i, ms := range chain {
			miniFAT[ms] = EndOfChain
			if i+1 < len(chain) {
				miniFAT[ms] = chain[i+1]
			}
			lo := i * miniSectorSize
			copy(ministream[int(ms)*miniSectorSize:], e.node.Data[lo:min(lo+miniSectorSize, len(e.node.Data))])
		}
		e.miniChains = chain
		e.start = chain[0]
		lay.MiniChain[e.path] = chain
	}

	// Sector counts, then the FAT and DIFAT that must cover them all.
	ceil := func(a, b int) int { return (a + b - 1) / b }
	nDir := ceil(len(entries)*dirEntrySize, ss)
	nMiniFAT := ceil(len(miniFAT)*4, ss)
	nMiniStream := ceil(len(ministream), ss)
	nBig := 0
	for _, e := range entries {
		if e.typ == 2 && !e.mini {
			nBig += ceil(int(e.size), ss)
		}
	}
	per := ss / 4
	nFAT, nDIFAT := 0, 0
	for {
		total := nDir + nMiniFAT + nMiniStream + nBig + nFAT + nDIFAT
		f := ceil(total, per)
		d := 0
		if f > headerDIFATs {
			d = ceil(f-headerDIFATs, per-1)
		}
		if f == nFAT && d == nDIFAT {
			break
		}
		nFAT, nDIFAT = f, d
	}
	total := nDir + nMiniFAT + nMiniStream + nBig + nFAT + nDIFAT
	lay.Sectors = total

	// Sector assignment.
	next := uint32(0)
	take := func(n int) []uint32 {
		s := make([]uint32, n)
		for i := range s {
			s[i] = next
			next++
		}
		return s
	}
	bigStreams := func() {
		var bigs []*entry
		for _, e := range entries {
			if e.typ == 2 && !e.mini {
				e.sectors = make([]uint32, 0, ceil(int(e.size), ss))
				bigs = append(bigs, e)
			}
		}
		if !opts.Fragment {
			for _, e := range bigs {
				e.sectors = take(cap(e.sectors))
			}
			return
		}
		for more := true; more; {
			more = false
			for _, e := range bigs {
				if len(e.sectors) < cap(e.sectors) {
					e.sectors = append(e.sectors, next)
					next++
					more = true
				}
			}
		}
		for _, e := range bigs {
			slices.Reverse(e.sectors)
		}
	}
	if opts.Fragment {
		bigStreams()
		lay.MiniStream = take(nMiniStream)
		slices.Reverse(lay.MiniStream)
		lay.MiniFAT = take(nMiniFAT)
		lay.Directory = take(nDir)
		lay.DIFAT = take(nDIFAT)
		lay.FAT = take(nFAT)
	} else {
		lay.FAT = take(nFAT)
		lay.DIFAT = take(nDIFAT)
		lay.Directory = take(nDir)
		lay.MiniFAT = take(nMiniFAT)
		lay.MiniStream = take(nMiniStream)
		bigStreams()
	}

	fat := make([]uint32, nFAT*per)
	for i := range fat {
		fat[i] = FreeSect
	}
	link := func(chain []uint32) {
		for i, s := range chain {
			fat[s] = EndOfChain
			if i+1 < len(chain) {
				fat[s] = chain[i+1]
			}
		}
	}
	for _, s := range lay.FAT {
		fat[s] = FATSect
	}
	for _, s := range lay.DIFAT {
		fat[s] = DIFSect
	}
	link(lay.Directory)
	link(lay.MiniFAT)
	link(lay.MiniStream)
	for _, e := range entries {
		if e.typ == 2 && !e.mini {
			link(e.sectors)
			lay.Chain[e.path] = e.sectors
			e.start = EndOfChain
			if len(e.sectors) > 0 {
				e.start = e.sectors[0]
			}
		}
		if e.typ == 2 && e.size == 0 {
			e.start = EndOfChain
		}
	}

	out := make([]byte, (total+1)*ss)
	le := binary.LittleEndian
	sector := func(n uint32) []byte { return out[lay.SectorOffset(n):][:ss] }

	// Header.
	copy(out, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	le.PutUint16(out[24:], 0x3E)
	le.PutUint16(out[26:], uint16(map[int]int{9: 3, 12: 4}[shift]))
	le.PutUint16(out[28:], 0xFFFE)
	le.PutUint16(out[30:], uint16(shift))
	le.PutUint16(out[32:], 6)
	if shift == 12 {
		le.PutUint32(out[40:], uint32(nDir))
	}
	le.PutUint32(out[44:], uint32(nFAT))
	le.PutUint32(out[48:], lay.Directory[0])
	le.PutUint32(out[56:], MiniStreamCutoff)
	le.PutUint32(out[60:], EndOfChain)
	if nMiniFAT > 0 {
		le.PutUint32(out[60:], lay.MiniFAT[0])
	}
	le.PutUint32(out[64:], uint32(nMiniFAT))
	le.PutUint32(out[68:], EndOfChain)
	if nDIFAT > 0 {
		le.PutUint32(out[68:], lay.DIFAT[0])
	}
	le.PutUint32(out[72:], uint32(nDIFAT))
	for i := range headerDIFATs {
		v := FreeSect
		if i < nFAT {
			v = lay.FAT[i]
		}
		le.PutUint32(out[76+4*i:], v)
	}
	for d, ds := range lay.DIFAT {
		b := sector(ds)
		for j := range per - 1 {
			v := FreeSect
			if k := headerDIFATs + d*(per-1) + j; k < nFAT {
				v = lay.FAT[k]
			}
			le.PutUint32(b[4*j:], v)
		}
		nextDIFAT := EndOfChain
		if d+1 < len(lay.DIFAT) {
			nextDIFAT = lay.DIFAT[d+1]
		}
		le.PutUint32(b[4*(per-1):], nextDIFAT)
	}
	for i, s := range lay.FAT {
		b := sector(s)
		for j := range per {
			le.PutUint32(b[4*j:], fat[i*per+j])
		}
	}

	// Mini FAT and mini stream.
	for i, s := range lay.MiniFAT {
		b := sector(s)
		for j := range per {
			v := FreeSect
			if k := i*per + j; k < len(miniFAT) {
				v = miniFAT[k]
			}
			le.PutUint32(b[4*j:], v)
		}
	}
	for i, s := range lay.MiniStream {
		copy(sector(s), ministream[i*ss:])
	}
	if len(lay.MiniStream) > 0 {
		entries[0].start = lay.MiniStream[0]
		entries[0].size = uint64(len(ministream))
	} else {
		entries[0].start = EndOfChain
	}

	// Large streams.
	for _, e := range entries {
		for i, s := range e.sectors {
			copy(sector(s), e.node.Data[i*ss:])
		}
	}

	// Directory: entries in use, then free ones.
	for sid := range len(lay.Directory) * ss / dirEntrySize {
		b := out[lay.DirEntryOffset(uint32(sid)):][:dirEntrySize]
		if sid >= len(entries) {
			le.PutUint32(b[EntryLeft:], NoStream)
			le.PutUint32(b[EntryRight:], NoStream)
			le.PutUint32(b[EntryChild:], NoStream)
			continue
		}
		e := entries[sid]
		for i, u := range e.name {
			le.PutUint16(b[2*i:], u)
		}
		le.PutUint16(b[EntryNameLength:], uint16(2*(len(e.name)+1)))
		b[EntryType] = e.typ
		b[EntryColor] = e.color
		le.PutUint32(b[EntryLeft:], e.left)
		le.PutUint32(b[EntryRight:], e.right)
		le.PutUint32(b[EntryChild:], e.child)
		if e.typ != 1 {
			le.PutUint32(b[EntryStart:], e.start)
			if shift == 12 {
				le.PutUint64(b[EntrySize:], e.size)
			} else {
				le.PutUint32(b[EntrySize:], uint32(e.size))
			}
		}
	}
	return out, lay
}

// compareNames orders names as [MS-CFB] 2.6.4 does: shorter first, then by
// upper-cased code units.
func compareNames(a, b []uint16) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	for i := range a {
		x, y := unicode.ToUpper(rune(a[i])), unicode.ToUpper(rune(b[i]))
		if x != y {
			return int(x) - int(y)
		}
	}
	return 0
}

// balance links sorted sids into a balanced binary search tree and returns
// its root. Nodes on the deepest level of a tree that is not perfect are red,
// the others black, so every path holds as many black nodes: a valid
// red-black tree.
func balance(entries []*entry, sids []uint32, depth int) uint32 {
	if len(sids) == 0 {
		return NoStream
	}
	height := 0
	for 1<<(height+1)-1 < len(sids) {
		height++
	}
	perfect := len(sids) == 1<<(height+1)-1
	var build func(s []uint32, d int) uint32
	build = func(s []uint32, d int) uint32 {
		if len(s) == 0 {
			return NoStream
		}
		mid := len(s) / 2
		e := entries[s[mid]]
		e.color = 1 // black
		if d == height && !perfect && d > 0 {
			e.color = 0
		}
		e.left = build(s[:mid], d+1)
		e.right = build(s[mid+1:], d+1)
		return s[mid]
	}
	return build(sids, depth)
}

// PathString joins path components as Layout's maps do.
func PathString(path []string) string { return strings.Join(path, "/") }
