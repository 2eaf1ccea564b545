package cfb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/richardlehane/mscfb"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// fuzzSeeds are well-formed files of every shape cfbwriter makes, and
// damaged variants of one.
func fuzzSeeds() [][]byte {
	var seeds [][]byte
	nested := []*cfbwriter.Node{
		cfbwriter.Stream("\x05SummaryInformation", filler(1, 200)),
		cfbwriter.Stream("WordDocument", filler(2, 5000)),
		cfbwriter.Storage("ObjectPool", cfbwriter.Storage("_1", cfbwriter.Stream("\x01Ole10Native", filler(3, 100)))),
		cfbwriter.Stream("e", nil),
	}
	for _, shift := range []int{9, 12} {
		for _, frag := range []bool{false, true} {
			d, _ := cfbwriter.Build(nested, cfbwriter.Options{SectorShift: shift, Fragment: frag})
			seeds = append(seeds, d)
		}
	}
	var many []*cfbwriter.Node
	for i := range 40 {
		many = append(many, cfbwriter.Stream(fmt.Sprintf("s%02d", i), filler(uint64(i), 150*i)))
	}
	d, lay := cfbwriter.Build(many, cfbwriter.Options{})
	seeds = append(seeds, d)
	// Damaged: a loop, a cross-link, a tree cycle.
	for _, off := range []int{lay.FATEntryOffset(lay.Chain["s39"][1]), lay.DirEntryOffset(lay.SID["s10"]) + cfbwriter.EntryLeft} {
		b := bytes.Clone(d)
		binary.LittleEndian.PutUint32(b[off:], 1)
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzRead feeds arbitrary bytes to Read. It must never panic; the streams
// must never add up to more than twice the file (each sector read once,
// the mini stream's included); and a file read without any problem must
// read the same in mscfb, where mscfb accepts it: the same streams (names
// compared without a non-printable first character, which mscfb strips)
// with the same bytes.
func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Reading is linear in the input's size: an input that takes
		// seconds is a bug, reported as a crash with the input saved.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("Read is still running after 10 s on a %d-byte input", len(data))) })
		defer watchdog.Stop()
		file, err := Read(data, Limits{MaxStreams: 1000})
		if err != nil {
			return
		}
		checkBounded(t, file, data)
		if file.Clean() {
			compareWithMscfb(t, file, data)
		}
	})
}

// mscfbKey is a path as mscfb spells it.
func mscfbKey(path []string) (string, bool) {
	parts := make([]string, len(path))
	for i, p := range path {
		if strings.ContainsRune(p, utf8.RuneError) {
			return "", false
		}
		if r, n := utf8.DecodeRuneInString(p); n > 0 && !unicode.IsPrint(r) {
			p = p[n:]
		}
		parts[i] = p
	}
	return strings.Join(parts, "/"), true
}

func compareWithMscfb(t *testing.T, file *File, data []byte) {
	t.Helper()
	doc, err := mscfb.New(bytes.NewReader(data))
	if err != nil {
		return // mscfb is stricter in places (a mini FAT count beyond its chain)
	}
	theirs := map[string][]byte{}
	for _, e := range doc.File {
		if e.FileInfo().IsDir() {
			continue
		}
		name := e.Name
		if e.Initial != 0 && !unicode.IsPrint(rune(e.Initial)) {
			name = string(rune(e.Initial)) + name
		}
		key, ok := mscfbKey(append(append([]string{}, e.Path...), name))
		if !ok {
			return
		}
		b, err := io.ReadAll(io.LimitReader(e, int64(len(data))+1))
		if err != nil {
			return
		}
		theirs[key] = b
	}
	ours := map[string][]byte{}
	for _, s := range file.Streams {
		key, ok := mscfbKey(s.Path)
		if !ok || ours[key] != nil {
			return
		}
		ours[key] = s.Data
	}
	if len(ours) != len(theirs) {
		t.Fatalf("%d streams, mscfb reads %d", len(ours), len(theirs))
	}
	for k, b := range ours {
		if !bytes.Equal(b, theirs[k]) {
			t.Fatalf("stream %q: %d bytes, mscfb reads %d different ones", k, len(b), len(theirs[k]))
		}
	}
}

// The seeds themselves read the same in mscfb.
func TestSeedsReadAsMscfb(t *testing.T) {
	for i, s := range fuzzSeeds()[:5] {
		f := mustRead(t, s, Limits{})
		if !f.Clean() {
			t.Fatalf("seed %d: problems %q notes %q", i, f.Problems, f.Notes)
		}
		if _, err := mscfb.New(bytes.NewReader(s)); err != nil {
			t.Fatalf("seed %d: mscfb: %v", i, err)
		}
		compareWithMscfb(t, f, s)
	}
}
