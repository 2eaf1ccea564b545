package cfb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

var le32 = binary.LittleEndian.PutUint32

func filler(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// sample is a small document: two large streams, two small ones, a storage.
func sample(shift int) ([]byte, *cfbwriter.Layout) {
	return cfbwriter.Build([]*cfbwriter.Node{
		cfbwriter.Stream("A", filler(1, 10000)),
		cfbwriter.Stream("B", filler(2, 6000)),
		cfbwriter.Stream("c", filler(3, 300)),
		cfbwriter.Storage("S", cfbwriter.Stream("d", filler(4, 1000))),
	}, cfbwriter.Options{SectorShift: shift})
}

// mustRead reads data and checks what every read must guarantee, however
// damaged the file: the streams never add up to more than the file and its
// mini stream, and a stream never holds more than it declares.
func mustRead(t *testing.T, data []byte, lim Limits) *File {
	t.Helper()
	f, err := Read(data, lim)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	checkBounded(t, f, data)
	return f
}

func checkBounded(t testing.TB, f *File, data []byte) {
	t.Helper()
	total := 0
	for _, s := range f.Streams {
		if uint64(len(s.Data)) > s.Size {
			t.Errorf("stream %q: %d bytes, more than the %d declared", s.Path, len(s.Data), s.Size)
		}
		total += len(s.Data)
	}
	if total > 2*len(data) {
		t.Errorf("streams add up to %d bytes from a %d-byte file", total, len(data))
	}
}

func stream(t *testing.T, f *File, path string) Stream {
	t.Helper()
	for _, s := range f.Streams {
		if strings.Join(s.Path, "/") == path {
			return s
		}
	}
	t.Fatalf("no stream %q among %d", path, len(f.Streams))
	return Stream{}
}

func paths(f *File) []string {
	var p []string
	for _, s := range f.Streams {
		p = append(p, strings.Join(s.Path, "/"))
	}
	return p
}

func wantProblem(t *testing.T, f *File, substr string) {
	t.Helper()
	for _, p := range f.Problems {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Errorf("no problem mentions %q; problems: %q", substr, f.Problems)
}

func wantErr(t *testing.T, s Stream, substr string) {
	t.Helper()
	if s.Err == nil || !strings.Contains(s.Err.Error(), substr) {
		t.Errorf("stream %q: error %v, want one mentioning %q", s.Path, s.Err, substr)
	}
}

func TestReadsWellFormedFiles(t *testing.T) {
	for _, shift := range []int{9, 12} {
		data, _ := sample(shift)
		f := mustRead(t, data, Limits{})
		if !f.Clean() || f.SectorSize != 1<<shift {
			t.Errorf("shift %d: sector size %d, problems %q, notes %q", shift, f.SectorSize, f.Problems, f.Notes)
		}
		if got, want := paths(f), []string{"A", "B", "S/d", "c"}; !slices.Equal(got, want) {
			t.Errorf("shift %d: streams %q, want %q (olefile's order: code points, upper case first)", shift, got, want)
		}
		for path, seed := range map[string]uint64{"A": 1, "B": 2, "c": 3, "S/d": 4} {
			s := stream(t, f, path)
			if !bytes.Equal(s.Data, filler(seed, int(s.Size))) {
				t.Errorf("shift %d: stream %s differs", shift, path)
			}
		}
	}
}

// A large stream whose sectors follow each other is a subslice of the file,
// capped so that appending cannot write into the file.
func TestContiguousStreamsAreSubslices(t *testing.T) {
	data, lay := sample(9)
	f := mustRead(t, data, Limits{})
	a := stream(t, f, "A")
	off := lay.SectorOffset(lay.Chain["A"][0])
	if &a.Data[0] != &data[off] || cap(a.Data) != len(a.Data) {
		t.Error("stream A is not a capped subslice of the file")
	}
	frag, _ := cfbwriter.Build([]*cfbwriter.Node{cfbwriter.Stream("A", filler(1, 10000)), cfbwriter.Stream("B", filler(2, 10000))}, cfbwriter.Options{Fragment: true})
	f = mustRead(t, frag, Limits{})
	if a := stream(t, f, "A"); !bytes.Equal(a.Data, filler(1, 10000)) {
		t.Error("fragmented stream A read wrong")
	}
}

func TestNotACompoundFile(t *testing.T) {
	data, _ := sample(9)
	for name, b := range map[string][]byte{
		"empty":        nil,
		"short":        data[:511],
		"text":         bytes.Repeat([]byte("not a compound file "), 100),
		"no sectors":   data[:512],
		"sector shift": patch(data, 30, 16, 31),
		"zero shift":   patch(data, 30, 16, 0),
		"mini shift":   patch(data, 32, 16, 10),
	} {
		if _, err := Read(b, Limits{}); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "text" && !errors.Is(err, ErrNotCFB) {
			t.Errorf("%s: %v, want ErrNotCFB", name, err)
		}
	}
}

// patch returns a copy of data with a 16- or 32-bit value written at off.
func patch(data []byte, off, bits int, v uint32) []byte {
	d := bytes.Clone(data)
	if bits == 16 {
		binary.LittleEndian.PutUint16(d[off:], uint16(v))
	} else {
		le32(d[off:], v)
	}
	return d
}

// Every kind of damage gives an error or problem, bounded output, and the
// rest of the file.
func TestHostileFiles(t *testing.T) {
	base, lay := sample(9)
	base4, lay4 := sample(12)
	fatAt := func(l *cfbwriter.Layout, s uint32) int { return l.FATEntryOffset(s) }
	entryAt := func(l *cfbwriter.Layout, path string, field int) int { return l.DirEntryOffset(l.SID[path]) + field }
	a0, a3 := lay.Chain["A"][0], lay.Chain["A"][3]

	cases := []struct {
		name  string
		data  []byte
		check func(t *testing.T, f *File)
	}{
		{"stream chain loops on itself, 4 GiB declared", func() []byte {
			d := patch(base, fatAt(lay, a0), 32, a0)
			return patch(d, entryAt(lay, "A", cfbwriter.EntrySize), 32, 0xFFFFFFFF)
		}(), func(t *testing.T, f *File) {
			a := stream(t, f, "A")
			wantErr(t, a, "loops back to sector")
			if len(a.Data) != 512 {
				t.Errorf("%d bytes, want the one sector before the loop", len(a.Data))
			}
		}},
		{"version 4 stream loops, 1 TiB declared", func() []byte {
			s := lay4.Chain["A"][0]
			d := patch(base4, fatAt(lay4, s), 32, s)
			binary.LittleEndian.PutUint64(d[entryAt(lay4, "A", cfbwriter.EntrySize):], 1<<40)
			return d
		}(), func(t *testing.T, f *File) { wantErr(t, stream(t, f, "A"), "loops back") }},
		{"chain loops further down", patch(base, fatAt(lay, a3), 32, lay.Chain["A"][1]), func(t *testing.T, f *File) {
			a := stream(t, f, "A")
			wantErr(t, a, "loops back to sector")
			if !bytes.Equal(a.Data, filler(1, 10000)[:4*512]) {
				t.Error("the sectors before the loop are not kept")
			}
		}},
		{"chain points past the end", patch(base, fatAt(lay, a3), 32, 0x00FFFFFF), func(t *testing.T, f *File) {
			a := stream(t, f, "A")
			wantErr(t, a, "not a sector of the file")
			if !bytes.Equal(a.Data, filler(1, 10000)[:4*512]) {
				t.Error("the sectors before the break are not kept")
			}
			if b := stream(t, f, "B"); b.Err != nil {
				t.Errorf("stream B: %v", b.Err)
			}
		}},
		{"chain ends early", patch(base, fatAt(lay, a3), 32, cfbwriter.EndOfChain), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "A"), "ends early")
		}},
		{"free sector in a chain", patch(base, fatAt(lay, a3), 32, cfbwriter.FreeSect), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "A"), "not a sector of the file")
		}},
		{"two streams share sectors", patch(base, entryAt(lay, "B", cfbwriter.EntryStart), 32, a3), func(t *testing.T, f *File) {
			if a := stream(t, f, "A"); a.Err != nil {
				t.Errorf("stream A: %v", a.Err)
			}
			b := stream(t, f, "B")
			wantErr(t, b, `runs into sector`)
			if len(b.Data) != 0 {
				t.Errorf("stream B: %d bytes of stream A read again", len(b.Data))
			}
		}},
		{"stream runs into the mini stream", patch(base, entryAt(lay, "B", cfbwriter.EntryStart), 32, lay.MiniStream[0]), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "B"), "mini stream")
		}},
		{"directory sector loops", patch(base, fatAt(lay, lay.Directory[0]), 32, lay.Directory[0]), func(t *testing.T, f *File) {
			wantProblem(t, f, "directory: the chain loops back")
		}},
		{"directory chain points past the end", patch(base, fatAt(lay, lay.Directory[0]), 32, 1<<30), func(t *testing.T, f *File) {
			wantProblem(t, f, "not a sector of the file")
			if got := paths(f); !slices.Equal(got, []string{"A", "B", "c"}) {
				t.Errorf("streams %q, want those of the first directory sector", got)
			}
		}},
		{"red-black tree cycle through siblings", func() []byte {
			d := patch(base, entryAt(lay, "c", cfbwriter.EntryLeft), 32, lay.SID["B"])
			return patch(d, entryAt(lay, "B", cfbwriter.EntryRight), 32, lay.SID["c"])
		}(), func(t *testing.T, f *File) { wantProblem(t, f, "reached a second time") }},
		{"entry is its own left sibling", patch(base, entryAt(lay, "A", cfbwriter.EntryLeft), 32, lay.SID["A"]), func(t *testing.T, f *File) {
			wantProblem(t, f, "reached a second time")
		}},
		{"storage's child is its parent", patch(base, entryAt(lay, "S/d", cfbwriter.EntryChild), 32, lay.SID["S"]), func(t *testing.T, f *File) {
			wantProblem(t, f, "reached a second time")
		}},
		{"child is the root", patch(base, entryAt(lay, "S", cfbwriter.EntryChild), 32, 0), func(t *testing.T, f *File) {
			wantProblem(t, f, "reached a second time")
		}},
		{"child beyond the directory", patch(base, entryAt(lay, "S", cfbwriter.EntryChild), 32, 5000), func(t *testing.T, f *File) {
			wantProblem(t, f, "beyond the")
		}},
		{"stream with children", patch(base, entryAt(lay, "c", cfbwriter.EntryChild), 32, uint32(lay.Entries)), func(t *testing.T, f *File) {
			wantProblem(t, f, "has child entries")
			if len(f.Streams) != 4 {
				t.Errorf("streams %q", paths(f))
			}
		}},
		{"entry of an unknown type", func() []byte {
			d := bytes.Clone(base)
			d[entryAt(lay, "B", cfbwriter.EntryType)] = 3
			return d
		}(), func(t *testing.T, f *File) { wantProblem(t, f, "neither a stream nor a storage") }},
		{"root entry is not a root", func() []byte {
			d := bytes.Clone(base)
			d[entryAt(lay, "", cfbwriter.EntryType)] = 1
			return d
		}(), func(t *testing.T, f *File) { wantProblem(t, f, "entry 0 has type 1") }},
		{"huge counts in the header", func() []byte {
			d := bytes.Clone(base)
			for _, off := range []int{40, 44, 64, 72} {
				le32(d[off:], 0xFFFFFFFF)
			}
			return d
		}(), func(t *testing.T, f *File) {
			if len(f.Streams) != 4 {
				t.Errorf("%d streams", len(f.Streams))
			}
		}},
		{"every header DIFAT entry names the same FAT sector", func() []byte {
			d := bytes.Clone(base)
			for i := range 109 {
				le32(d[76+4*i:], lay.FAT[0])
			}
			return d
		}(), func(t *testing.T, f *File) {
			if !f.Clean() {
				t.Errorf("problems %q", f.Problems)
			}
		}},
		{"FAT sector beyond the end", patch(base, 76, 32, 1<<20), func(t *testing.T, f *File) {
			wantProblem(t, f, "FAT sector 1048576 lies beyond the end")
		}},
		{"DIFAT chain loops", func() []byte {
			// The header lists no FAT sector; one DIFAT sector, appended,
			// lists none either and names itself as the next.
			d := bytes.Clone(base)
			extra := uint32(lay.Sectors)
			sec := bytes.Repeat([]byte{0xFF}, 512)
			le32(sec[508:], extra)
			d = append(d, sec...)
			le32(d[76:], cfbwriter.FreeSect)
			le32(d[68:], extra)
			le32(d[72:], 0xFFFFFFFF)
			return d
		}(), nil},
		{"mini chain loops on itself", func() []byte {
			m := lay.MiniChain["c"][0]
			return patch(base, lay.MiniFATEntryOffset(m), 32, m)
		}(), func(t *testing.T, f *File) {
			c := stream(t, f, "c")
			wantErr(t, c, "loops back to mini sector")
			if len(c.Data) != 64 {
				t.Errorf("%d bytes", len(c.Data))
			}
		}},
		{"mini chain beyond the mini FAT", patch(base, lay.MiniFATEntryOffset(lay.MiniChain["c"][1]), 32, 100000), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "c"), "not a sector of the mini stream")
		}},
		{"small streams share mini sectors", patch(base, entryAt(lay, "S/d", cfbwriter.EntryStart), 32, lay.MiniChain["c"][0]), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "c"), `mini sector`)
		}},
		{"mini stream chain broken", patch(base, fatAt(lay, lay.MiniStream[0]), 32, 1<<28), func(t *testing.T, f *File) {
			wantProblem(t, f, "mini stream:")
			wantErr(t, stream(t, f, "S/d"), "declared read")
		}},
		{"mini stream declared 4 GiB", patch(base, entryAt(lay, "", cfbwriter.EntrySize), 32, 0xFFFFFFFF), func(t *testing.T, f *File) {
			if c := stream(t, f, "c"); c.Err != nil {
				t.Errorf("stream c: %v", c.Err)
			}
		}},
		{"no mini FAT", patch(base, 60, 32, cfbwriter.EndOfChain), func(t *testing.T, f *File) {
			wantProblem(t, f, "mini FAT")
			wantErr(t, stream(t, f, "c"), "not a sector of the mini stream")
		}},
		{"mini FAT loops", func() []byte {
			d := patch(base, fatAt(lay, lay.MiniFAT[0]), 32, lay.MiniFAT[0])
			d = patch(d, 64, 32, 5)
			return patch(d, entryAt(lay, "", cfbwriter.EntrySize), 32, 0xFFFFFFFF)
		}(), func(t *testing.T, f *File) { wantProblem(t, f, "mini FAT: 1 of the 5 sectors") }},
		{"small stream's start beyond the mini stream", patch(base, entryAt(lay, "c", cfbwriter.EntryStart), 32, 0xFFFFFFF0), func(t *testing.T, f *File) {
			wantErr(t, stream(t, f, "c"), "not a sector of the mini stream")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Read(c.data, Limits{MaxStreams: 100})
			if err != nil {
				if c.check != nil {
					t.Fatalf("Read: %v", err)
				}
				return // a file with nothing left to read may be refused
			}
			checkBounded(t, f, c.data)
			if f.Clean() && c.name != "every header DIFAT entry names the same FAT sector" && c.name != "huge counts in the header" {
				t.Error("the damage went unreported")
			}
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var nodes []*cfbwriter.Node
	for i := range 300 {
		nodes = append(nodes, cfbwriter.Stream(fmt.Sprintf("s%03d", i), []byte{byte(i)}))
	}
	data, _ := cfbwriter.Build(nodes, cfbwriter.Options{})
	f := mustRead(t, data, Limits{MaxStreams: 250})
	if len(f.Streams) != 250 {
		t.Errorf("%d streams, want 250", len(f.Streams))
	}
	wantProblem(t, f, `max streams (250) reached: stream "s250"`)

	var inner []*cfbwriter.Node
	for d := 10; d > 0; d-- {
		inner = []*cfbwriter.Node{cfbwriter.Stream("x", []byte{byte(d)}), cfbwriter.Storage(fmt.Sprintf("l%d", d), inner...)}
	}
	data, _ = cfbwriter.Build(inner, cfbwriter.Options{})
	f = mustRead(t, data, Limits{MaxDepth: 4})
	if len(f.Streams) != 5 || len(f.Streams[0].Path) != 5 {
		t.Errorf("streams %q, want those of the first 4 storages and the root", paths(f))
	}
	wantProblem(t, f, "l1/l2/l3/l4/l5\" is nested 5 storages deep")
}

// A directory of 100,000 entries, with all of them in one sibling chain
// (a tree as deep as the directory is long), reads in linear time with no
// recursion.
func TestHugeDegenerateDirectory(t *testing.T) {
	const n = 100000
	var nodes []*cfbwriter.Node
	for i := range n {
		nodes = append(nodes, cfbwriter.Stream(fmt.Sprintf("s%06d", i), nil))
	}
	data, lay := cfbwriter.Build(nodes, cfbwriter.Options{})
	// Relink: the root's child is the first entry, each entry's right
	// sibling the next one.
	le32(data[lay.DirEntryOffset(0)+cfbwriter.EntryChild:], 1)
	for sid := uint32(1); sid <= n; sid++ {
		off := lay.DirEntryOffset(sid)
		le32(data[off+cfbwriter.EntryLeft:], cfbwriter.NoStream)
		next := sid + 1
		if sid == n {
			next = cfbwriter.NoStream
		}
		le32(data[off+cfbwriter.EntryRight:], next)
	}
	f := mustRead(t, data, Limits{MaxStreams: n})
	if len(f.Streams) != n || !f.Clean() {
		t.Errorf("%d streams, problems %q", len(f.Streams), f.Problems)
	}
}

// Cutting a file anywhere never panics, and what is read stays bounded.
func TestTruncatedFiles(t *testing.T) {
	data, _ := sample(9)
	for n := 512; n <= len(data); n += 37 {
		if f, err := Read(data[:n], Limits{}); err == nil {
			checkBounded(t, f, data[:n])
		}
	}
}

func TestDecodeName(t *testing.T) {
	field := make([]byte, 64)
	copy(field, []byte{'A', 0, 'b', 0, 0x00, 0xD8, 'x', 0, 0x00, 0xDC})
	for _, c := range []struct {
		length uint16
		want   string
	}{
		{0, "Ab\ufffdx\ufffd" + strings.Repeat("\x00", 26)}, // 62 bytes, as Python's [:-2]
		{1, "Ab\ufffdx\ufffd" + strings.Repeat("\x00", 26) + "\ufffd"},
		{2, ""},
		{4, "A"},
		{5, "A\ufffd"},
		{6, "Ab"},
		{8, "Ab\ufffd"},
		{12, "Ab\ufffdx\ufffd"},
		{200, "Ab\ufffdx\ufffd" + strings.Repeat("\x00", 26)},
	} {
		if got := decodeName(field, c.length); got != c.want {
			t.Errorf("length %d: %q, want %q", c.length, got, c.want)
		}
	}
}
