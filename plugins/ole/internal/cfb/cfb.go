// Package cfb reads the streams of a Compound File Binary file ([MS-CFB]:
// OLE2 structured storage, the container of .doc, .xls, .ppt, .msg and .msi
// files) from bytes in memory, as olefile reads them, and survives hostile
// ones.
//
// # What it reads like olefile
//
// Read lists the streams as olefile's listdir(streams=True) does: depth
// first, the entries of every storage sorted by name (code point order),
// storages entered where they sort; each stream's Path is its storages'
// names and its own, decoded from UTF-16 as olefile decodes them (invalid
// code units replaced by U+FFFD, the name cut at its declared length, so a
// non-printable first character such as the \x05 of \x05SummaryInformation
// is kept). A stream's Data is what olefile's openstream reads: streams
// under 4096 bytes from the mini stream, larger ones from the FAT, the
// header's DIFAT entries read up to the first free or end-of-chain value,
// the FAT cut to the sectors the file holds. Where a chain breaks (an
// end-of-chain before the declared size, a sector number beyond the FAT),
// Data holds the bytes read up to there, as olefile's does, and Err says
// what went wrong.
//
// # Where it does not
//
// Bytes are never read twice: every FAT sector belongs to at most one stream
// (the mini stream counts as one), every mini sector to at most one small
// stream. A chain that runs into a sector already read, its own (a loop) or
// another stream's (cross-linked), stops there with Err set, where olefile
// would read the sectors again up to the declared size. So the streams of a
// file never add up to more than the file itself, however they are linked,
// and parsing costs time and memory linear in the file's size. The directory
// tree is walked with an explicit stack (no recursion limit), and an entry
// reached a second time is skipped, as olefile skips it; the root entry is
// never a child. Damage olefile gives up on (a FAT sector beyond the end of
// the file, a DIFAT count that disagrees with the FAT count) is reported in
// Problems and the rest of the file is still read. Storages nested deeper
// than Limits.MaxDepth are not entered, and listing stops after
// Limits.MaxStreams streams.
//
// Read never panics on any input, never reads outside the slice it is
// given, and never modifies it.
package cfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Special sector numbers and stream IDs ([MS-CFB] 2.1).
const (
	endOfChain uint32 = 0xFFFFFFFE
	freeSect   uint32 = 0xFFFFFFFF
	noStream   uint32 = 0xFFFFFFFF
)

// Object types of directory entries ([MS-CFB] 2.6.1).
const (
	typeStorage = 1
	typeStream  = 2
	typeRoot    = 5
)

const (
	headerSize       = 512
	headerDIFATs     = 109
	dirEntrySize     = 128
	miniStreamCutoff = 4096
	// maxProblems bounds the Problems kept; the rest are counted.
	maxProblems = 100
)

var signature = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

// ErrNotCFB is returned for bytes that do not start with a compound file
// header.
var ErrNotCFB = errors.New("not an OLE2 compound file: no D0 CF 11 E0 A1 B1 1A E1 header")

// Limits bound what one file may cost beyond its size.
type Limits struct {
	// MaxStreams is the most streams listed; a file with more gets a
	// Problem naming the first one left out. Zero means no limit.
	MaxStreams int
	// MaxDepth is how many storages may nest (so a stream's path holds at
	// most MaxDepth+1 names); deeper storages are not entered and get a
	// Problem. Zero means DefaultMaxDepth.
	MaxDepth int
}

// DefaultMaxDepth is the nesting depth used when Limits.MaxDepth is zero:
// far beyond real documents (an .msg attaching an .msg attaching an .msg is
// a handful of levels), and small enough that stream paths stay short.
const DefaultMaxDepth = 64

// Stream is one stream of the file.
type Stream struct {
	// Path holds the names of the storages leading to the stream, then its
	// own name.
	Path []string
	// SID is the stream's directory entry number.
	SID uint32
	// Size is the size its directory entry declares.
	Size uint64
	// Data is its content: a subslice of the file when its sectors follow
	// each other, freshly allocated otherwise. It is shorter than Size when
	// the chain of sectors broke, and then Err says why.
	Data []byte
	// Err is set when Data could not be read whole.
	Err error
}

// File is what Read found in a compound file.
type File struct {
	// SectorSize is 512 or 4096 (other powers of two are read too).
	SectorSize int
	// Streams lists the streams in olefile's listdir order.
	Streams []Stream
	// Problems describe damage to the file's structure (its FAT, directory
	// or mini stream) that did not stop the read: the streams listed are
	// those that could be found despite it. At most 100 are kept; see
	// MoreProblems.
	Problems []string
	// MoreProblems counts the problems found beyond those kept.
	MoreProblems int
	// Notes are departures from the specification that change nothing
	// for the reader (a header field with an unexpected value).
	Notes []string
}

// Clean reports whether the file was read without any problem, note or
// stream error: a file that any reader should read the same way.
func (f *File) Clean() bool {
	if len(f.Problems) > 0 || len(f.Notes) > 0 {
		return false
	}
	for _, s := range f.Streams {
		if s.Err != nil {
			return false
		}
	}
	return true
}

func (f *File) problem(format string, args ...any) {
	if len(f.Problems) < maxProblems {
		f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
	} else {
		f.MoreProblems++
	}
}

func (f *File) note(format string, args ...any) {
	if len(f.Notes) < maxProblems {
		f.Notes = append(f.Notes, fmt.Sprintf(format, args...))
	}
}

// reader holds the state of one Read.
type reader struct {
	*File
	data     []byte
	ss       int    // sector size
	mss      int    // mini sector size
	nSectors uint32 // sectors the file holds after its header, the last maybe partial
	fat      []uint32
	dir      []byte
	entries  []dirEntry
	lim      Limits

	// owner[s] is 1 + the index in Streams of the stream that read FAT
	// sector s (ministreamOwner for the mini stream), 0 while unread.
	owner []int32
	// miniOwner is the same for mini sectors.
	miniOwner []int32

	ministream []byte // the mini stream's bytes that could be read
	minifat    []uint32
}

const ministreamOwner = -1

// dirEntry is one parsed directory entry ([MS-CFB] 2.6.1).
type dirEntry struct {
	loaded             bool
	used               bool
	name               string
	typ                byte
	left, right, child uint32
	start              uint32
	size               uint64
	kids               []uint32
}

// Read parses a compound file held in data and reads its streams. It
// returns an error (ErrNotCFB, or one describing the damage) only when no
// stream can be found at all; lesser damage is reported in File.Problems
// and in each Stream's Err.
func Read(data []byte, lim Limits) (*File, error) {
	if len(data) < headerSize || !bytes.Equal(data[:len(signature)], signature) {
		return nil, ErrNotCFB
	}
	if lim.MaxDepth <= 0 {
		lim.MaxDepth = DefaultMaxDepth
	}
	r := &reader{File: &File{}, data: data, lim: lim}
	if err := r.readHeader(); err != nil {
		return nil, err
	}
	r.loadFAT()
	if err := r.loadDirectory(); err != nil {
		return nil, err
	}
	r.buildTree()
	r.listStreams()
	// The mini stream is read before any stream, so that a large stream
	// whose chain runs into it is the one reported, not every small stream.
	for _, s := range r.Streams {
		if s.Size > 0 && s.Size < miniStreamCutoff {
			r.loadMini()
			break
		}
	}
	for i := range r.Streams {
		r.readStream(i)
	}
	return r.File, nil
}

var le = binary.LittleEndian

func (r *reader) readHeader() error {
	h := r.data[:headerSize]
	major := le.Uint16(h[26:])
	shift := le.Uint16(h[30:])
	miniShift := le.Uint16(h[32:])
	// olefile goes on with any sector size; sizes from 128 bytes (a
	// directory entry) to 64 KiB are read, beyond that the file is refused
	// rather than guessed at.
	if shift < 7 || shift > 16 {
		return fmt.Errorf("sector shift %d in the header: not a sector size this reader supports (MS-CFB: 9 or 12)", shift)
	}
	if miniShift > shift {
		return fmt.Errorf("mini sector shift %d in the header is larger than the sector shift %d", miniShift, shift)
	}
	r.ss = 1 << shift
	r.mss = 1 << miniShift
	r.SectorSize = r.ss
	if !(major == 3 && shift == 9) && !(major == 4 && shift == 12) {
		r.note("header: major version %d with %d-byte sectors (MS-CFB: version 3 with 512, version 4 with 4096)", major, r.ss)
	}
	if miniShift != 6 {
		r.note("header: %d-byte mini sectors (MS-CFB: 64)", r.mss)
	}
	if cutoff := le.Uint32(h[56:]); cutoff != miniStreamCutoff {
		r.note("header: mini stream cutoff %d, read as 4096 (MS-CFB: 4096)", cutoff)
	}
	if bo := le.Uint16(h[28:]); bo != 0xFFFE {
		r.note("header: byte order mark %#04x, read as little-endian (MS-CFB: 0xFFFE)", bo)
	}
	n := (len(r.data)+r.ss-1)/r.ss - 1
	if n <= 0 {
		return fmt.Errorf("the file holds no sector after its header (%d bytes, %d-byte sectors)", len(r.data), r.ss)
	}
	r.nSectors = uint32(min(n, int(noStream)))
	return nil
}

// sector returns sector s of the file, shorter than a sector when it is
// the file's last and the file ends early, nil when it lies beyond the end.
func (r *reader) sector(s uint32) []byte {
	if s >= r.nSectors {
		return nil
	}
	off := (int(s) + 1) * r.ss
	return r.data[off:min(off+r.ss, len(r.data))]
}

// loadFAT reads the FAT sectors the header's DIFAT and the DIFAT sectors
// list, up to the FAT entries the file's sectors need (olefile cuts its
// FAT there, so the FAT sectors after them cannot change what is read).
func (r *reader) loadFAT() {
	h := r.data[:headerSize]
	need := int(r.nSectors)
	per := r.ss / 4
	r.fat = make([]uint32, 0, min(need+per, len(r.data)/4))
	appendFATSector := func(s uint32) {
		b := r.sector(s)
		if len(b) < r.ss {
			r.problem("FAT sector %d lies beyond the end of the file: the %d sectors it would describe are read as free", s, per)
		}
		for i := range per {
			v := freeSect
			if 4*i+4 <= len(b) {
				v = le.Uint32(b[4*i:])
			}
			r.fat = append(r.fat, v)
		}
	}
	for i := range headerDIFATs {
		if len(r.fat) >= need {
			break
		}
		s := le.Uint32(h[76+4*i:])
		if s == endOfChain || s == freeSect {
			break
		}
		appendFATSector(s)
	}
	numDIFAT := le.Uint32(h[72:])
	if numDIFAT > 0 && len(r.fat) < need {
		visited := newBitset(int(r.nSectors))
		s := le.Uint32(h[68:])
		for i := uint32(0); i < numDIFAT && len(r.fat) < need; i++ {
			if s == endOfChain || s == freeSect {
				r.problem("DIFAT: the chain ends after %d of the %d sectors the header counts", i, numDIFAT)
				break
			}
			b := r.sector(s)
			if len(b) < r.ss {
				r.problem("DIFAT sector %d lies beyond the end of the file", s)
				break
			}
			if visited.testAndSet(int(s)) {
				r.problem("DIFAT: the chain loops back to sector %d", s)
				break
			}
			for j := 0; j < per-1 && len(r.fat) < need; j++ {
				v := le.Uint32(b[4*j:])
				if v == endOfChain || v == freeSect {
					break
				}
				appendFATSector(v)
			}
			s = le.Uint32(b[4*(per-1):])
		}
	}
	if len(r.fat) > need {
		r.fat = r.fat[:need]
	}
}

// chain follows the FAT from sector start, calling visit for each sector
// until visit returns false, the chain ends, or it breaks. It returns nil
// when the chain ended with ENDOFCHAIN or visit stopped it, otherwise what
// broke it. Every step visits a sector that visit accepts as unread, so a
// chain costs at most one step per sector of the file.
func (r *reader) chain(start uint32, visit func(s uint32) (more bool, err error)) error {
	for s := start; ; {
		if s == endOfChain {
			return nil
		}
		if s >= uint32(len(r.fat)) {
			return fmt.Errorf("sector number %#x is not a sector of the file (%d sectors)", s, len(r.fat))
		}
		more, err := visit(s)
		if err != nil || !more {
			return err
		}
		s = r.fat[s]
	}
}

func (r *reader) loadDirectory() error {
	first := le.Uint32(r.data[48:])
	visited := newBitset(len(r.fat))
	var dir []byte
	err := r.chain(first, func(s uint32) (bool, error) {
		if visited.testAndSet(int(s)) {
			return false, fmt.Errorf("the chain loops back to sector %d", s)
		}
		dir = append(dir, r.sector(s)...)
		return true, nil
	})
	if err != nil {
		r.problem("directory: %v; entries in the %d bytes read before are kept", err, len(dir))
	}
	r.dir = dir
	n := len(dir) / dirEntrySize
	if n == 0 {
		return fmt.Errorf("the directory (from sector %#x) holds no entry: %v", first, err)
	}
	r.entries = make([]dirEntry, n)
	root := r.entry(0)
	if root.typ != typeRoot {
		r.problem("directory: entry 0 has type %d, not a root storage; read as the root", root.typ)
	}
	root.used = true
	if root.left != noStream || root.right != noStream {
		r.note("directory: the root entry has siblings (%#x, %#x), which olefile and this reader ignore", root.left, root.right)
	}
	return nil
}

// entry parses directory entry sid on first use. sid must be in range.
func (r *reader) entry(sid uint32) *dirEntry {
	e := &r.entries[sid]
	if e.loaded {
		return e
	}
	b := r.dir[int(sid)*dirEntrySize:][:dirEntrySize]
	e.loaded = true
	length := le.Uint16(b[64:])
	e.name = decodeName(b[:64], length)
	if length%2 == 1 || length < 2 || length > 64 {
		r.note("directory: entry %d's name is %d bytes long (MS-CFB: an even number up to 64, ending in a null character); read as olefile reads it, %q", sid, length, e.name)
	}
	e.typ = b[66]
	e.left = le.Uint32(b[68:])
	e.right = le.Uint32(b[72:])
	e.child = le.Uint32(b[76:])
	e.start = le.Uint32(b[116:])
	// As olefile: the high half of the size counts only with sectors
	// other than 512 bytes; version 3 writers leave junk there.
	e.size = uint64(le.Uint32(b[120:]))
	if r.ss != 512 {
		e.size |= uint64(le.Uint32(b[124:])) << 32
	}
	return e
}

// decodeName decodes a directory entry's name as olefile does: the first
// length-2 bytes of the 64-byte field (length capped at 64; 0 and 1 cut 2
// and 1 bytes off the end, as a Python slice with a negative end does),
// UTF-16LE with every invalid code unit, and an odd last byte, replaced by
// U+FFFD.
func decodeName(field []byte, length uint16) string {
	n := int(min(length, 64)) - 2
	if n < 0 {
		n += 64
	}
	return decodeUTF16LE(field[:n])
}

func decodeUTF16LE(b []byte) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = le.Uint16(b[2*i:])
	}
	odd := len(b)%2 == 1
	// Python reads a high surrogate followed by a lone byte as one
	// truncated character: one U+FFFD for both.
	if n := len(units); odd && n > 0 && units[n-1] >= 0xD800 && units[n-1] < 0xDC00 {
		units = units[:n-1]
	}
	s := string(utf16.Decode(units))
	if odd {
		s += string(utf8.RuneError)
	}
	return s
}

// buildTree collects every storage's entries by walking the red-black trees
// of the directory as olefile's build_storage_tree does (left subtree,
// the entry, right subtree, then the entry's own children), each entry
// reached at most once, then sorts them by name. It uses an explicit stack:
// a degenerate tree as deep as the directory is long costs no recursion.
func (r *reader) buildTree() {
	type step struct {
		op     byte // visit, appendKid, descend, sortKids
		sid    uint32
		parent uint32
	}
	const (
		visit = iota
		appendKid
		descend
		sortKids
	)
	stack := []step{{op: descend, sid: 0}}
	for len(stack) > 0 {
		st := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch st.op {
		case visit:
			if st.sid == noStream {
				continue
			}
			if st.sid >= uint32(len(r.entries)) {
				r.problem("directory: entry %d links to entry %d, beyond the %d entries of the directory", st.parent, st.sid, len(r.entries))
				continue
			}
			e := r.entry(st.sid)
			if e.used {
				r.problem("directory: entry %d (%q) is reached a second time (a loop in the directory tree); skipped", st.sid, e.name)
				continue
			}
			e.used = true
			// Pushed in reverse: left subtree, the entry, right subtree,
			// then the entry's own children.
			stack = append(stack,
				step{op: descend, sid: st.sid},
				step{op: visit, sid: e.right, parent: st.parent},
				step{op: appendKid, sid: st.sid, parent: st.parent},
				step{op: visit, sid: e.left, parent: st.parent})
		case appendKid:
			p := &r.entries[st.parent]
			p.kids = append(p.kids, st.sid)
		case descend:
			e := &r.entries[st.sid]
			if e.child != noStream {
				stack = append(stack, step{op: sortKids, sid: st.sid}, step{op: visit, sid: e.child, parent: st.sid})
			}
		case sortKids:
			e := &r.entries[st.sid]
			slices.SortStableFunc(e.kids, func(a, b uint32) int {
				return strings.Compare(r.entries[a].name, r.entries[b].name)
			})
			r.checkDuplicates(st.sid)
		}
	}
}

// checkDuplicates reports entries of one storage whose names differ only in
// case: [MS-CFB] forbids them, and olefile's openstream, which finds
// streams by name regardless of case, reads the first for both.
func (r *reader) checkDuplicates(sid uint32) {
	e := &r.entries[sid]
	if len(e.kids) < 2 {
		return
	}
	seen := make(map[string]bool, len(e.kids))
	for _, k := range e.kids {
		name := strings.ToLower(r.entries[k].name)
		if seen[name] {
			r.problem("directory: storage %q holds two entries named %q (names must differ regardless of case)", e.name, r.entries[k].name)
		}
		seen[name] = true
	}
}

// listStreams lists the streams depth first in each storage's sorted order,
// as olefile's listdir(streams=True, storages=False).
func (r *reader) listStreams() {
	type frame struct {
		sid  uint32
		next int
		path []string
	}
	stack := []frame{{sid: 0}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		node := &r.entries[top.sid]
		if top.next >= len(node.kids) {
			stack = stack[:len(stack)-1]
			continue
		}
		sid := node.kids[top.next]
		top.next++
		e := &r.entries[sid]
		path := make([]string, len(top.path)+1)
		copy(path, top.path)
		path[len(top.path)] = e.name
		switch e.typ {
		case typeStorage:
			if len(path) > r.lim.MaxDepth {
				r.problem("directory: storage %q is nested %d storages deep, beyond the limit of %d; its entries are not read", strings.Join(path, "/"), len(path), r.lim.MaxDepth)
				continue
			}
			stack = append(stack, frame{sid: sid, path: path})
		case typeStream:
			if r.lim.MaxStreams > 0 && len(r.Streams) == r.lim.MaxStreams {
				r.problem("max streams (%d) reached: stream %q and any after it are not read", r.lim.MaxStreams, strings.Join(path, "/"))
				return
			}
			if e.child != noStream {
				r.problem("directory: stream %q has child entries; streams hold none, so they are not read", strings.Join(path, "/"))
			}
			r.Streams = append(r.Streams, Stream{Path: path, SID: sid, Size: e.size})
		default:
			r.problem("directory: entry %d (%q) has type %d, neither a stream nor a storage; skipped", sid, strings.Join(path, "/"), e.typ)
		}
	}
}

// readStream reads stream i's content from the FAT or the mini stream.
func (r *reader) readStream(i int) {
	st := &r.Streams[i]
	e := &r.entries[st.SID]
	if st.Size == 0 {
		st.Data = []byte{}
		return
	}
	if st.Size < miniStreamCutoff {
		st.Data, st.Err = r.readMini(int32(i+1), e.start, int(st.Size))
		return
	}
	st.Data, st.Err = r.readFAT(int32(i+1), e.start, st.Size)
}

// claim marks FAT sector s as read by owner, failing when it already was.
func (r *reader) claim(owner int32, s uint32) error {
	if r.owner == nil {
		r.owner = make([]int32, len(r.fat))
	}
	switch prev := r.owner[s]; {
	case prev == 0:
		r.owner[s] = owner
		return nil
	case prev == owner:
		return fmt.Errorf("its chain loops back to sector %d", s)
	case prev == ministreamOwner:
		return fmt.Errorf("its chain runs into sector %d of the mini stream", s)
	default:
		return fmt.Errorf("its chain runs into sector %d of stream %q", s, strings.Join(r.Streams[prev-1].Path, "/"))
	}
}

// readFAT reads size bytes from the chain at start: a subslice of the file
// when the sectors follow each other, a copy otherwise. The result is
// shorter than size when the chain breaks, with the error saying why.
func (r *reader) readFAT(owner int32, start uint32, size uint64) ([]byte, error) {
	nSectors := (size + uint64(r.ss) - 1) / uint64(r.ss)
	var sectors []uint32
	var got uint64 // bytes in those sectors (the file's last may be short)
	contiguous := true
	err := r.chain(start, func(s uint32) (bool, error) {
		if err := r.claim(owner, s); err != nil {
			return false, err
		}
		if n := len(sectors); n > 0 && s != sectors[n-1]+1 {
			contiguous = false
		}
		sectors = append(sectors, s)
		got += uint64(len(r.sector(s)))
		return uint64(len(sectors)) < nSectors, nil
	})
	if err == nil && uint64(len(sectors)) < nSectors {
		err = errors.New("its chain ends early")
	}
	want := min(got, size)
	var out []byte
	switch {
	case len(sectors) == 0:
		out = []byte{}
	case contiguous:
		off := (int(start) + 1) * r.ss
		end := off + int(want)
		out = r.data[off:end:end]
	default:
		out = make([]byte, 0, want)
		for _, s := range sectors {
			b := r.sector(s)
			out = append(out, b[:min(uint64(len(b)), want-uint64(len(out)))]...)
		}
	}
	if uint64(len(out)) < size {
		if err == nil {
			err = errors.New("the file ends")
		}
		return out, fmt.Errorf("%d of the %d bytes declared read: %w", len(out), size, err)
	}
	return out, nil
}

// loadMini reads the mini stream (the root entry's chain) and the mini FAT,
// once, when the file has small streams to read.
func (r *reader) loadMini() {
	root := &r.entries[0]
	if root.size == 0 {
		return
	}
	var err error
	r.ministream, err = r.readFAT(ministreamOwner, root.start, root.size)
	if err != nil {
		r.problem("mini stream: %v", err)
	}

	// The mini FAT: as many sectors as the header counts, cut to the mini
	// sectors the mini stream holds.
	count := le.Uint32(r.data[64:])
	first := le.Uint32(r.data[60:])
	need := (root.size + uint64(r.mss) - 1) / uint64(r.mss)
	visited := newBitset(len(r.fat))
	var n uint32
	err = r.chain(first, func(s uint32) (bool, error) {
		if n >= count || uint64(len(r.minifat)) >= need {
			return false, nil
		}
		if visited.testAndSet(int(s)) {
			return false, fmt.Errorf("the chain loops back to sector %d", s)
		}
		b := r.sector(s)
		for i := 0; i+4 <= len(b); i += 4 {
			r.minifat = append(r.minifat, le.Uint32(b[i:]))
		}
		n++
		return true, nil
	})
	if err == nil && n < count && uint64(len(r.minifat)) < need {
		err = errors.New("the chain ends early")
	}
	if err != nil {
		r.problem("mini FAT: %d of the %d sectors the header counts read: %v", n, count, err)
	}
	if uint64(len(r.minifat)) > need {
		r.minifat = r.minifat[:need]
	}
}

// miniSector returns mini sector m of the mini stream, short or empty where
// the mini stream ends (olefile reads those as they are and goes on).
func (r *reader) miniSector(m uint32) []byte {
	off := min(int(m)*r.mss, len(r.ministream))
	return r.ministream[off:min(off+r.mss, len(r.ministream))]
}

// readMini reads a small stream from the mini stream (always a copy),
// which Read has loaded before reading any stream.
func (r *reader) readMini(owner int32, start uint32, size int) ([]byte, error) {
	if r.miniOwner == nil {
		r.miniOwner = make([]int32, len(r.minifat))
	}
	nSectors := (size + r.mss - 1) / r.mss
	out := make([]byte, 0, size)
	var err error
	for m, i := start, 0; i < nSectors; i++ {
		if m == endOfChain {
			err = errors.New("its mini chain ends early")
			break
		}
		if m >= uint32(len(r.minifat)) {
			err = fmt.Errorf("mini sector number %#x is not a sector of the mini stream (%d mini sectors)", m, len(r.minifat))
			break
		}
		switch prev := r.miniOwner[m]; {
		case prev == owner:
			err = fmt.Errorf("its mini chain loops back to mini sector %d", m)
		case prev != 0:
			err = fmt.Errorf("its mini chain runs into mini sector %d of stream %q", m, strings.Join(r.Streams[prev-1].Path, "/"))
		}
		if err != nil {
			break
		}
		r.miniOwner[m] = owner
		out = append(out, r.miniSector(m)...)
		m = r.minifat[m]
	}
	if len(out) > size {
		out = out[:size]
	}
	if len(out) < size {
		if err == nil {
			err = errors.New("the mini stream ends")
		}
		return out, fmt.Errorf("%d of the %d bytes declared read: %w", len(out), size, err)
	}
	return out, nil
}

// bitset is a fixed-size set of small integers.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

// testAndSet adds i and reports whether it was already there.
func (b bitset) testAndSet(i int) bool {
	w, m := i/64, uint64(1)<<(i%64)
	was := b[w]&m != 0
	b[w] |= m
	return was
}
