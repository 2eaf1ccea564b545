package ole

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
	gsf, err := exec.LookPath("gsf")
	needTool(t, "gsf (Debian's libgsf-bin)", err)
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
	msibuild, err := exec.LookPath("msibuild")
	needTool(t, "msibuild (Debian's msitools)", err)
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
			if err != nil {
				t.Errorf("stream %d %q: %v", i, want.Path, err)
				continue
			}
			wantName += "_" + native.filename
			if sha(got.content) != sha(native.data) {
				t.Errorf("stream %d %q: content is not the embedded file", i, want.Path)
			}
		} else if sha(got.content) != *want.SHA256 {
			t.Errorf("stream %d %q: content differs from olefile's", i, want.Path)
		}
		if got.index != i || got.name != wantName {
			t.Errorf("extracted %d: index %d name %q, stoQ gives index %d name %q", i, got.index, got.name, i, wantName)
		}
	}
}
