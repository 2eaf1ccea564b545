package ole

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfb"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// Tests against olefile (Debian's python3-olefile), the library stoQ's ole
// plugin reads compound files with: the same streams, in the same order,
// with the same names and the same bytes, and the plugin's extracted
// payloads are those stoQ would extract (index, name, content).

// generatedDocs are the documents cfbwriter builds, in both sector sizes,
// laid out in order and fragmented.
func generatedDocs() map[string][]byte {
	docs := map[string][]byte{}
	samples := map[string][]*cfbwriter.Node{
		"word": wordLike(), "mini": miniEdges(), "msi": msiLike(), "msg": msgLike(), "unicode": unicodeNames(),
	}
	for name, nodes := range samples {
		for _, shift := range []int{9, 12} {
			for _, frag := range []bool{false, true} {
				key := name + map[int]string{9: "-512", 12: "-4096"}[shift] + map[bool]string{false: "", true: "-fragmented"}[frag]
				docs[key], _ = cfbwriter.Build(nodes, cfbwriter.Options{SectorShift: shift, Fragment: frag})
			}
		}
	}
	docs["many-512"], _ = cfbwriter.Build(manyStreams(1500), cfbwriter.Options{})
	docs["deep-4096"], _ = cfbwriter.Build(deepNesting(40), cfbwriter.Options{SectorShift: 12})
	docs["empty-512"], _ = cfbwriter.Build(nil, cfbwriter.Options{})
	docs["difat-512"] = largeDoc(7_600_000, cfbwriter.Options{})
	docs["difat-512-fragmented"] = largeDoc(7_600_000, cfbwriter.Options{Fragment: true})
	return docs
}

func TestGeneratedDocumentsReadAsOlefile(t *testing.T) {
	compareDocs(t, generatedDocs(), true)
}

// realDocs are compound files written by other programs: the Word, Excel,
// PowerPoint and Outlook files that mscfb ships as its test data (from the
// module cache), a file written by libgsf (gsf createole) and an installer
// written by msitools (msibuild).
func realDocs(t *testing.T) map[string][]byte {
	t.Helper()
	docs := map[string][]byte{}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/richardlehane/mscfb").Output()
	if err != nil {
		t.Fatalf("locating mscfb's test documents: go list: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "test")
	for _, name := range []string{"test.doc", "novpapplan.doc", "test.xls", "test.ppt", "test.msg"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("mscfb's test document: %v", err)
		}
		docs["mscfb-"+name] = data
	}
	docs["gsf.ole"] = gsfDocument(t)
	docs["msibuild.msi"] = msibuildInstaller(t)
	return docs
}

func TestRealDocumentsReadAsOlefile(t *testing.T) {
	compareDocs(t, realDocs(t), false)
}

// gsfDocument has libgsf write a compound file from a directory tree.
func gsfDocument(t *testing.T) []byte {
	t.Helper()
	gsf := stoqtest.Command(t, "gsf", "libgsf-bin")
	dir := t.TempDir()
	files := map[string][]byte{
		"src/readme.txt":             []byte("written by libgsf\n"),
		"src/big.bin":                filler(60, 70000),
		"src/edge.bin":               filler(61, 4096),
		"src/sub/nested/deep.bin":    filler(62, 5000),
		"src/sub/nested/small.txt":   []byte("tiny"),
		"src/sub/another storage.md": filler(63, 3000),
	}
	var args []string
	for _, name := range slices.Sorted(maps.Keys(files)) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, top := range []string{"readme.txt", "big.bin", "edge.bin", "sub"} {
		args = append(args, filepath.Join(dir, "src", top))
	}
	out := filepath.Join(dir, "out.ole")
	if msg, err := exec.Command(gsf, append([]string{"createole", out}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("gsf createole: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// msibuildInstaller has msitools write an installer database with summary
// information, a table and binary streams.
func msibuildInstaller(t *testing.T) []byte {
	t.Helper()
	msibuild := stoqtest.Command(t, "msibuild", "msitools")
	dir := t.TempDir()
	msi := filepath.Join(dir, "setup.msi")
	big, small := filepath.Join(dir, "big.bin"), filepath.Join(dir, "small.bin")
	if err := os.WriteFile(big, filler(70, 20000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(small, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"-s", "Test Product", "stoq", "x64;1033", "{12345678-1234-1234-1234-123456789012}"},
		{"-q", "CREATE TABLE `Property` (`Property` CHAR(72) NOT NULL, `Value` CHAR(0) NOT NULL LOCALIZABLE PRIMARY KEY `Property`)"},
		{"-q", "INSERT INTO `Property` (`Property`,`Value`) VALUES ('ProductName','Test')"},
		{"-a", "Binary.big", big},
		{"-a", "small", small},
	}
	for _, step := range steps { // msibuild takes one operation per run
		if msg, err := exec.Command(msibuild, append([]string{msi}, step...)...).CombinedOutput(); err != nil {
			t.Fatalf("msibuild %v: %v\n%s", step, err, msg)
		}
	}
	data, err := os.ReadFile(msi)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// compareDocs checks every document against olefile; clean documents must
// also read without any problem.
func compareDocs(t *testing.T, docs map[string][]byte, clean bool) {
	t.Helper()
	paths := writeFiles(t, docs)
	var files []string
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		files = append(files, paths[name])
	}
	ref := olefileRead(t, files...)
	for _, name := range slices.Sorted(maps.Keys(docs)) {
		t.Run(name, func(t *testing.T) {
			compareWithOlefile(t, docs[name], ref[paths[name]], clean)
		})
	}
}

// compareWithOlefile checks that cfb lists and reads the streams olefile
// does, and that the plugin extracts what stoQ's plugin would.
func compareWithOlefile(t *testing.T, data []byte, ref olefileResult, clean bool) {
	t.Helper()
	if ref.Error != nil {
		t.Fatalf("olefile could not read the file: %s", *ref.Error)
	}
	f, err := cfb.Read(data, cfb.Limits{})
	if err != nil {
		t.Fatalf("cfb.Read: %v", err)
	}
	if clean && !f.Clean() {
		t.Errorf("problems %q, notes %q in a well-formed file", f.Problems, f.Notes)
	}
	if len(f.Streams) != len(ref.Streams) {
		t.Errorf("%d streams, olefile lists %d", len(f.Streams), len(ref.Streams))
	}
	for i := range min(len(f.Streams), len(ref.Streams)) {
		got, want := f.Streams[i], ref.Streams[i]
		if want.Error != nil {
			t.Errorf("stream %d %q: olefile could not read it: %s", i, want.Path, *want.Error)
			continue
		}
		if !slices.Equal(got.Path, want.Path) {
			t.Errorf("stream %d: path %q, olefile %q", i, got.Path, want.Path)
		}
		if sha(got.Data) != *want.SHA256 || len(got.Data) != *want.Size {
			t.Errorf("stream %d %q: %d bytes sha256 %.12s, olefile %d bytes %.12s", i, got.Path, len(got.Data), sha(got.Data), *want.Size, *want.SHA256)
		}
		if clean && got.Err != nil {
			t.Errorf("stream %d %q: %v", i, got.Path, got.Err)
		}
	}

	ex, resp := scanAll(t, nil, data)
	if clean && len(resp.Errors) > 0 {
		t.Errorf("errors %q for a well-formed file", errorTexts(resp))
	}
	if len(ex) != len(ref.Streams) {
		t.Fatalf("%d payloads extracted, stoQ would extract %d", len(ex), len(ref.Streams))
	}
	for i, want := range ref.Streams {
		got := ex[i]
		wantName := stoqName(want.Path)
		if strings.EqualFold(want.Path[len(want.Path)-1], "\x01Ole10Native") {
			native, err := parseOleNative(f.Streams[i].Data)
			switch {
			case err != nil && clean:
				t.Errorf("stream %d %q: %v", i, want.Path, err)
			case err != nil: // extracted as it is
				if sha(got.content) != *want.SHA256 {
					t.Errorf("stream %d %q: content differs from olefile's", i, want.Path)
				}
			default:
				wantName += "_" + native.filename
				if sha(got.content) != sha(native.data) {
					t.Errorf("stream %d %q: content is not the embedded file", i, want.Path)
				}
			}
		} else if sha(got.content) != *want.SHA256 {
			t.Errorf("stream %d %q: content differs from olefile's", i, want.Path)
		}
		if got.index != i || got.name != wantName {
			t.Errorf("extracted %d: index %d name %q, stoQ gives index %d name %q", i, got.index, got.name, i, wantName)
		}
	}
}

// damagedDocs are files olefile still reads, with defects it notes and
// reads past: it returns the bytes up to the damage, and so must we (with
// an Error saying what broke).
func damagedDocs() map[string][]byte {
	le := binary.LittleEndian
	docs := map[string][]byte{}
	base, lay := cfbwriter.Build(wordLike(), cfbwriter.Options{})
	big := lay.Chain["WordDocument"]
	fatEntry := func(s uint32, v uint32) []byte {
		d := bytes.Clone(base)
		le.PutUint32(d[lay.FATEntryOffset(s):], v)
		return d
	}
	docs["chain-past-the-end"] = fatEntry(big[5], 0x00FFFFFF)
	docs["chain-ends-early"] = fatEntry(big[5], cfbwriter.EndOfChain)
	docs["free-sector-in-chain"] = fatEntry(big[5], cfbwriter.FreeSect)
	docs["mini-stream-chain-broken"] = fatEntry(lay.MiniStream[1], cfbwriter.EndOfChain)

	d := bytes.Clone(base)
	m := lay.MiniChain["\x05DocumentSummaryInformation"]
	le.PutUint32(d[lay.MiniFATEntryOffset(m[1]):], 90000)
	docs["mini-chain-beyond-mini-fat"] = d

	d = bytes.Clone(base)
	le.PutUint32(d[lay.DirEntryOffset(lay.SID["1Table"])+cfbwriter.EntrySize:], 20000)
	docs["size-beyond-chain"] = d

	// The last stream's last sector, cut short and cut off.
	frag, flay := cfbwriter.Build([]*cfbwriter.Node{cfbwriter.Stream("small", []byte("x")), cfbwriter.Stream("Last", filler(80, 9000))}, cfbwriter.Options{})
	if last := flay.Chain["Last"]; int(last[len(last)-1]) != flay.Sectors-1 {
		panic("cfbwriter no longer puts the last stream last")
	}
	docs["last-sector-short"] = frag[:len(frag)-300]
	docs["last-sectors-missing"] = frag[:len(frag)-1500]
	return docs
}

func TestDamagedDocumentsReadAsOlefile(t *testing.T) {
	docs := damagedDocs()
	compareDocs(t, docs, false)
	for name, data := range docs {
		_, resp := scanAll(t, nil, data)
		if len(resp.Errors) == 0 {
			t.Errorf("%s: no Error reports the damage", name)
		}
	}
}

// Names are decoded as olefile decodes them: the declared length honoured
// whatever it is (0 and 1 read as Python slices with a negative end, odd
// lengths leave a half code unit, more than 64 read as 64), invalid UTF-16
// replaced.
func TestNamesDecodeAsOlefile(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var nodes []*cfbwriter.Node
	pick := []uint16{'a', 'Z', '_', 0x05, 0x01, 0x00, 0xE9, 0x4E2D, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFD, 0xFFFF}
	for i := range 100 {
		units := []uint16{'0' + uint16(i/10), '0' + uint16(i%10)}
		for range rng.IntN(20) {
			units = append(units, pick[rng.IntN(len(pick))])
		}
		nodes = append(nodes, &cfbwriter.Node{UTF16: units, Data: filler(uint64(i), 10+i)})
	}
	data, lay := cfbwriter.Build(nodes, cfbwriter.Options{})
	lengths := []uint16{0, 1, 7, 9, 13, 15, 64, 65, 200, 0xFFFF} // each keeps the unique two-digit prefix
	for sid := 1; sid <= len(nodes); sid += 2 {
		length := lengths[rng.IntN(len(lengths))]
		binary.LittleEndian.PutUint16(data[lay.DirEntryOffset(uint32(sid))+cfbwriter.EntryNameLength:], length)
	}
	compareDocs(t, map[string][]byte{"names": data}, false)
}
