package mimetype

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The test corpus: one sample of every kind the issue names (PE, ELF
// including PIE, PDF, zip, 7z, gzip, bzip2, xz, tar, OLE .doc, RTF, e-mail,
// PNG, JPEG, plain text) and more, made by the real tools of each format
// where Debian has one (the Go toolchain, gcc, zip, 7z, tar, gzip, bzip2,
// xz, zstd, lz4, libgsf's and msitools' compound-file writers, Python's
// email package, Go's image encoders), and by hand after the format's
// specification otherwise (compound files with chosen streams and summary
// information: cfb_test.go, read back by olefile; PDF, RTF, CAB, an ELF
// without a dynamic segment, an MS-DOS executable). Every sample carries
// the MIME type `file` is expected to give it, so that a corpus that went
// wrong (a tool writing something else) shows up as such rather than as two
// equal wrong answers.

// sample is one corpus file.
type sample struct {
	name string
	data []byte
	want string // what `file --mime-type -b` says of it
}

var (
	corpusOnce    sync.Once
	corpusSamples []sample
	corpusMissing []string // tools that were not found, for the log
	corpusErr     error
)

// corpus builds the samples once per test binary. Samples whose tool is
// missing are left out (named in corpusMissing); under CI that fails.
func corpus(t testing.TB) []sample {
	t.Helper()
	corpusOnce.Do(func() { corpusSamples, corpusMissing, corpusErr = buildCorpus() })
	if corpusErr != nil {
		t.Fatalf("building the corpus: %v", corpusErr)
	}
	if len(corpusMissing) > 0 {
		msg := "corpus samples left out, tools missing: " + strings.Join(corpusMissing, ", ")
		if stoqtest.UnderCI() {
			t.Fatal(msg)
		}
		t.Log(msg)
	}
	return corpusSamples
}

// sampleNamed returns the corpus sample called name.
func sampleNamed(t testing.TB, name string) []byte {
	t.Helper()
	for _, s := range corpus(t) {
		if s.name == name {
			return s.data
		}
	}
	t.Skipf("corpus has no sample %s (its tool is missing)", name)
	return nil
}

// corpusBuilder runs tools in a scratch folder.
type corpusBuilder struct {
	dir     string
	samples []sample
	missing []string
}

func buildCorpus() ([]sample, []string, error) {
	dir, err := os.MkdirTemp("", "mimetype-corpus-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	b := &corpusBuilder{dir: dir}
	steps := []func() error{b.texts, b.images, b.documents, b.compoundFiles, b.realCompoundFiles, b.archives, b.executables, b.email}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	return b.samples, b.missing, nil
}

func (b *corpusBuilder) add(name, want string, data []byte) {
	b.samples = append(b.samples, sample{name: name, data: data, want: want})
}

// tool finds a command, or records it as missing and returns "".
func (b *corpusBuilder) tool(name, debianPackage string) string {
	path, err := exec.LookPath(name)
	if err != nil {
		b.missing = append(b.missing, fmt.Sprintf("%s (%s)", name, debianPackage))
		return ""
	}
	return path
}

// run runs a command in the scratch folder.
func (b *corpusBuilder) run(env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

func (b *corpusBuilder) write(name string, data []byte) (string, error) {
	path := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, data, 0o644)
}

func (b *corpusBuilder) read(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(b.dir, name))
}

// lorem is deterministic English-looking text.
func lorem(n int, seed uint64) []byte {
	words := strings.Fields("the quick brown fox jumps over a lazy dog while stoq scans every payload " +
		"that lands in its folder and reports what it finds")
	r := rand.New(rand.NewPCG(seed, 1))
	var buf bytes.Buffer
	for buf.Len() < n {
		buf.WriteString(words[r.IntN(len(words))])
		if r.IntN(12) == 0 {
			buf.WriteString(".\n")
		} else {
			buf.WriteByte(' ')
		}
	}
	return buf.Bytes()[:n]
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

func (b *corpusBuilder) texts() error {
	b.add("empty", "inode/x-empty", nil)
	b.add("one-byte", "application/octet-stream", []byte("x"))
	b.add("plain.txt", "text/plain", []byte("This is a magical string\n"))
	b.add("lorem.txt", "text/plain", lorem(20000, 1))
	b.add("utf8.txt", "text/plain", []byte("Grüße aus Köln, ça va? Ελληνικά κείμενα.\n"))
	b.add("page.html", "text/html", []byte("<!DOCTYPE html>\n<html><head><title>x</title></head><body><p>hi</p></body></html>\n"))
	b.add("data.xml", "text/xml", []byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root><item id=\"1\"/></root>\n"))
	b.add("data.json", "application/json", []byte(`{"name": "stoq", "plugins": ["hash", "mimetype"], "n": 3}`+"\n"))
	b.add("script.sh", "text/x-shellscript", []byte("#!/bin/sh\nset -e\necho hello\n"))
	b.add("script.py", "text/x-script.python", []byte("#!/usr/bin/env python3\nimport sys\nprint(sys.argv)\n"))
	b.add("random.bin", "application/octet-stream", randomBytes(4096, 3))
	b.add("zeros.bin", "application/octet-stream", make([]byte, 1000))
	return nil
}

func (b *corpusBuilder) images() error {
	img := image.NewPaletted(image.Rect(0, 0, 64, 48), []color.Color{color.White, color.Black, color.RGBA{200, 30, 30, 255}})
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			img.SetColorIndex(x, y, uint8((x/8+y/8)%3))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	b.add("image.png", "image/png", bytes.Clone(buf.Bytes()))
	buf.Reset()
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 80}); err != nil {
		return err
	}
	b.add("image.jpg", "image/jpeg", bytes.Clone(buf.Bytes()))
	buf.Reset()
	if err := gif.Encode(&buf, img, nil); err != nil {
		return err
	}
	b.add("image.gif", "image/gif", bytes.Clone(buf.Bytes()))
	return nil
}

func (b *corpusBuilder) documents() error {
	b.add("document.pdf", "application/pdf", minimalPDF("Hello from the stoq mimetype tests"))
	b.add("document.rtf", "text/rtf", []byte(`{\rtf1\ansi\deff0{\fonttbl{\f0 Times New Roman;}}`+"\n"+`\f0\fs24 Hello from the stoq mimetype tests.\par`+"\n}\n"))
	return nil
}

// minimalPDF writes a one-page PDF 1.4 with a text line, with a correct
// cross-reference table (PDF 32000-1, 7.5).
func minimalPDF(text string) []byte {
	stream := fmt.Sprintf("BT /F1 18 Tf 72 720 Td (%s) Tj ET", text)
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var buf bytes.Buffer
	buf.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objects))
	for i, obj := range objects {
		offsets[i] = buf.Len()
		fmt.Fprintf(&buf, "%d 0 obj\n%s\nendobj\n", i+1, obj)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return buf.Bytes()
}

// compoundDoc is a compound file of the corpus, with the application
// name its summary information carries (empty: it has none).
type compoundDoc struct {
	name, want, app string
	cfb             cfbFile
}

func compoundDocs() []compoundDoc {
	filler := func(seed uint64) []byte { return lorem(cfbMinStream, seed) }
	withSummary := func(d compoundDoc) compoundDoc {
		d.cfb.entries = append(d.cfb.entries, cfbEntry{path: "\x05SummaryInformation", data: summaryInformation(d.app)})
		return d
	}
	return []compoundDoc{
		withSummary(compoundDoc{name: "word.doc", want: "application/msword", app: "Microsoft Office Word", cfb: cfbFile{entries: []cfbEntry{
			{path: "WordDocument", data: filler(10)},
			{path: "1Table", data: filler(11)},
		}}}),
		{name: "word-nosummary.doc", want: "application/msword", cfb: cfbFile{entries: []cfbEntry{
			{path: "WordDocument", data: filler(12)},
		}}},
		{name: "sheet.xls", want: "application/vnd.ms-excel", cfb: cfbFile{entries: []cfbEntry{
			{path: "Workbook", data: filler(13)},
		}}},
		withSummary(compoundDoc{name: "slides.ppt", want: "application/vnd.ms-powerpoint", app: "Microsoft Office PowerPoint", cfb: cfbFile{entries: []cfbEntry{
			{path: "PowerPoint Document", data: filler(14)},
		}}}),
		{name: "mail.msg", want: "application/vnd.ms-outlook", cfb: cfbFile{entries: []cfbEntry{
			{path: "__properties_version1.0", data: filler(15)},
			{path: "__recip_version1.0_#00000000", storage: true},
			{path: "__recip_version1.0_#00000000/__substg1.0_3001001F", data: filler(16)},
		}}},
		withSummary(compoundDoc{name: "installer.msi", want: "application/x-msi", app: "Windows Installer XML Toolset", cfb: cfbFile{rootCLSID: msiCLSID, entries: []cfbEntry{
			{path: "\x05DocumentSummaryInformation", data: filler(17)},
		}}}),
		withSummary(compoundDoc{name: "installer-noclsid.msi", want: "application/vnd.ms-msi", app: "Windows Installer XML Toolset"}),
		{name: "storage.ole", want: "application/x-ole-storage", cfb: cfbFile{entries: []cfbEntry{
			{path: "Data", data: filler(18)},
			{path: "Objects", storage: true},
			{path: "Objects/\x01Ole10Native", data: filler(19)},
		}}},
	}
}

func (b *corpusBuilder) compoundFiles() error {
	for _, d := range compoundDocs() {
		data, err := d.cfb.build()
		if err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		b.add(d.name, d.want, data)
	}
	return nil
}

// realCompoundFiles has libgsf and msitools write compound files (with
// mini streams, as Office writes small streams), next to the hand-built
// ones above.
func (b *corpusBuilder) realCompoundFiles() error {
	if gsf := b.tool("gsf", "libgsf-bin"); gsf != "" {
		for _, doc := range []struct {
			name, want string
			files      map[string][]byte
		}{
			{"gsf-word.doc", "application/msword", map[string][]byte{"WordDocument": lorem(900, 50), "1Table": randomBytes(6000, 51)}},
			{"gsf-book.xls", "application/vnd.ms-excel", map[string][]byte{"Workbook": randomBytes(300, 52)}},
			{"gsf-generic.ole", "application/x-ole-storage", map[string][]byte{"readme.txt": lorem(200, 53), "sub/data.bin": randomBytes(5000, 54)}},
		} {
			dir := "gsf-" + doc.name
			var tops []string
			for name, data := range doc.files {
				if _, err := b.write(filepath.Join(dir, name), data); err != nil {
					return err
				}
				top := filepath.Join(b.dir, dir, strings.SplitN(name, "/", 2)[0])
				if !slices.Contains(tops, top) {
					tops = append(tops, top)
				}
			}
			slices.Sort(tops)
			if err := b.run(nil, gsf, append([]string{"createole", doc.name}, tops...)...); err != nil {
				return err
			}
			data, err := b.read(doc.name)
			if err != nil {
				return err
			}
			b.add(doc.name, doc.want, data)
		}
	}
	if msibuild := b.tool("msibuild", "msitools"); msibuild != "" {
		for _, step := range [][]string{
			{"-s", "stoq test installer", "stoq", "x64;1033", "{8D6C1E2A-3B4F-4C5D-9E6F-7A8B9C0D1E2F}"},
			{"-q", "CREATE TABLE `Property` (`Property` CHAR(72) NOT NULL, `Value` CHAR(0) NOT NULL LOCALIZABLE PRIMARY KEY `Property`)"},
			{"-q", "INSERT INTO `Property` (`Property`,`Value`) VALUES ('ProductName','stoq')"},
		} { // msibuild does one operation per run
			if err := b.run(nil, msibuild, append([]string{"msibuild.msi"}, step...)...); err != nil {
				return err
			}
		}
		data, err := b.read("msibuild.msi")
		if err != nil {
			return err
		}
		b.add("msibuild.msi", "application/x-msi", data)
	}
	return nil
}

func (b *corpusBuilder) archives() error {
	if _, err := b.write("in/readme.txt", lorem(3000, 20)); err != nil {
		return err
	}
	if _, err := b.write("in/data.bin", randomBytes(2000, 21)); err != nil {
		return err
	}
	if _, err := b.write("big.txt", lorem(100000, 22)); err != nil {
		return err
	}
	if zip := b.tool("zip", "zip"); zip != "" {
		if err := b.run(nil, zip, "-q", "-r", "-X", "a.zip", "in"); err != nil {
			return err
		}
		data, err := b.read("a.zip")
		if err != nil {
			return err
		}
		b.add("archive.zip", "application/zip", data)
		// A zip with data in front (a self-extractor's stub, a polyglot):
		// found by its end-of-central-directory record, 22 bytes from the
		// end, which libmagic's buffer mode cannot see.
		b.add("prepended.zip", "application/zip", append(randomBytes(1500, 23), data...))
		// An Office Open XML document is a zip with [Content_Types].xml.
		for name, text := range map[string]string{
			"ox/[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
			"ox/_rels/.rels":         `<?xml version="1.0" encoding="UTF-8"?><Relationships/>`,
			"ox/word/document.xml":   `<?xml version="1.0" encoding="UTF-8"?><w:document/>`,
		} {
			if _, err := b.write(name, []byte(text)); err != nil {
				return err
			}
		}
		cmd := exec.Command(zip, "-q", "-X", "../a.docx", "[Content_Types].xml", "_rels/.rels", "word/document.xml")
		cmd.Dir = filepath.Join(b.dir, "ox")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("zip docx: %v\n%s", err, out)
		}
		if data, err = b.read("a.docx"); err != nil {
			return err
		}
		b.add("document.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", data)
	}
	if sz := b.tool("7z", "p7zip-full"); sz != "" {
		if err := b.run(nil, sz, "a", "-bd", "-bso0", "-bsp0", "a.7z", "in"); err != nil {
			return err
		}
		data, err := b.read("a.7z")
		if err != nil {
			return err
		}
		b.add("archive.7z", "application/x-7z-compressed", data)
	}
	if tar := b.tool("tar", "tar"); tar != "" {
		if err := b.run(nil, tar, "--format=gnu", "-cf", "a.tar", "in"); err != nil {
			return err
		}
		data, err := b.read("a.tar")
		if err != nil {
			return err
		}
		b.add("archive.tar", "application/x-tar", data)
		if err := b.run(nil, tar, "--format=posix", "-cf", "a-posix.tar", "in"); err != nil {
			return err
		}
		if data, err = b.read("a-posix.tar"); err != nil {
			return err
		}
		b.add("archive-posix.tar", "application/x-tar", data)
	}
	// Single-stream compressors, each on the same text.
	for _, c := range []struct{ cmd, pkg, ext, want string }{
		{"gzip", "gzip", "gz", "application/gzip"},
		{"bzip2", "bzip2", "bz2", "application/x-bzip2"},
		{"xz", "xz-utils", "xz", "application/x-xz"},
		{"lzma", "xz-utils", "lzma", "application/x-lzma"},
		{"zstd", "zstd", "zst", "application/zstd"},
		{"lz4", "lz4", "lz4", "application/x-lz4"},
	} {
		tool := b.tool(c.cmd, c.pkg)
		if tool == "" {
			continue
		}
		cmd := exec.Command(tool, "-c", "big.txt")
		cmd.Dir = b.dir
		data, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("%s -c: %v", c.cmd, err)
		}
		b.add("big.txt."+c.ext, c.want, data)
	}
	b.add("archive.cab", "application/vnd.ms-cab-compressed", minimalCAB("readme.txt", lorem(500, 24)))
	return nil
}

// minimalCAB writes a cabinet holding one uncompressed file ([MS-CAB]:
// CFHEADER, one CFFOLDER, one CFFILE, one CFDATA; checksums left 0, which
// the format allows).
func minimalCAB(name string, data []byte) []byte {
	const headerSize, folderSize, fileFixed, dataFixed = 36, 8, 16, 8
	fileSize := fileFixed + len(name) + 1
	dataOff := headerSize + folderSize + fileSize
	total := dataOff + dataFixed + len(data)
	le := binary.LittleEndian
	out := make([]byte, 0, total)
	out = append(out, "MSCF"...)
	out = le.AppendUint32(out, 0)                     // reserved1
	out = le.AppendUint32(out, uint32(total))         // cbCabinet
	out = le.AppendUint32(out, 0)                     // reserved2
	out = le.AppendUint32(out, headerSize+folderSize) // coffFiles
	out = le.AppendUint32(out, 0)                     // reserved3
	out = append(out, 3, 1)                           // version 1.3
	out = le.AppendUint16(out, 1)                     // cFolders
	out = le.AppendUint16(out, 1)                     // cFiles
	out = le.AppendUint16(out, 0)                     // flags
	out = le.AppendUint16(out, 0x1234)                // setID
	out = le.AppendUint16(out, 0)                     // iCabinet
	out = le.AppendUint32(out, uint32(dataOff))       // CFFOLDER.coffCabStart
	out = le.AppendUint16(out, 1)                     // cCFData
	out = le.AppendUint16(out, 0)                     // typeCompress: none
	out = le.AppendUint32(out, uint32(len(data)))     // CFFILE.cbFile
	out = le.AppendUint32(out, 0)                     // uoffFolderStart
	out = le.AppendUint16(out, 0)                     // iFolder
	out = le.AppendUint16(out, 0x5821)                // date: 2024-01-01
	out = le.AppendUint16(out, 0)                     // time
	out = le.AppendUint16(out, 0x20)                  // attribs: archive
	out = append(append(out, name...), 0)             // szName
	out = le.AppendUint32(out, 0)                     // CFDATA.csum
	out = le.AppendUint16(out, uint16(len(data)))     // cbData
	out = le.AppendUint16(out, uint16(len(data)))     // cbUncomp
	return append(out, data...)
}

// goPrograms are the Go sources built for the executable samples.
const goProgram = "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"hello from the stoq mimetype tests\\n\") }\n"

func (b *corpusBuilder) executables() error {
	goCmd := b.tool("go", "golang")
	if goCmd != "" {
		if _, err := b.write("prog/main.go", []byte(goProgram)); err != nil {
			return err
		}
		if _, err := b.write("prog/go.mod", []byte("module prog\n\ngo 1.21\n")); err != nil {
			return err
		}
		for _, c := range []struct {
			name, want string
			env        []string
			args       []string
		}{
			{"go-windows-amd64.exe", "application/vnd.microsoft.portable-executable", []string{"GOOS=windows", "GOARCH=amd64"}, nil},
			{"go-windows-386.exe", "application/vnd.microsoft.portable-executable", []string{"GOOS=windows", "GOARCH=386"}, nil},
			{"go-linux-static", "application/x-executable", []string{"GOOS=linux", "GOARCH=amd64"}, nil},
			{"go-linux-pie", "application/x-pie-executable", []string{"GOOS=linux", "GOARCH=amd64"}, []string{"-buildmode=pie"}},
		} {
			env := append([]string{"CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod"}, c.env...)
			args := append(append([]string{"build", "-trimpath", "-ldflags=-s -w"}, c.args...), "-o", "../"+c.name, ".")
			cmd := exec.Command(goCmd, args...)
			cmd.Dir = filepath.Join(b.dir, "prog")
			cmd.Env = append(os.Environ(), env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			}
			data, err := b.read(c.name)
			if err != nil {
				return err
			}
			b.add(c.name, c.want, data)
		}
	}
	if gcc := b.tool("gcc", "gcc"); gcc != "" {
		if _, err := b.write("c/hello.c", []byte("#include <stdio.h>\nint hello(void) { return puts(\"hello\"); }\nint main(void) { return hello(); }\n")); err != nil {
			return err
		}
		for _, c := range []struct {
			name, want string
			args       []string
		}{
			{"gcc-pie", "application/x-pie-executable", []string{"-pie", "-fPIE"}},
			{"gcc-nopie", "application/x-executable", []string{"-no-pie"}},
			{"gcc-shared.so", "application/x-sharedlib", []string{"-shared", "-fPIC"}},
			{"gcc-object.o", "application/x-object", []string{"-c"}},
		} {
			args := append(append([]string{"-O1", "-o", c.name}, c.args...), "c/hello.c")
			if err := b.run(nil, gcc, args...); err != nil {
				return err
			}
			data, err := b.read(c.name)
			if err != nil {
				return err
			}
			b.add(c.name, c.want, data)
		}
	}
	// An ELF shared object with no PT_DYNAMIC segment: libmagic cannot read
	// a DF_1_PIE flag, so `file` decides by the file's executable bits. A
	// sample saved without them (0644) is a shared library.
	b.add("elf-dyn-nodynamic", "application/x-sharedlib", elfWithoutDynamic())
	// An MS-DOS executable, no PE header.
	dos := make([]byte, 512)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint16(dos[2:], 0)     // bytes in the last page: a full page
	binary.LittleEndian.PutUint16(dos[4:], 1)     // pages
	binary.LittleEndian.PutUint16(dos[8:], 4)     // header paragraphs
	binary.LittleEndian.PutUint16(dos[24:], 0x1c) // e_lfarlc below 0x40: no new header
	copy(dos[64:], "\xb4\x4c\xcd\x21")            // mov ah,4Ch; int 21h
	b.add("dos.exe", "application/x-dosexec", dos)
	return nil
}

// elfWithoutDynamic is a 64-bit ET_DYN ELF header with a single PT_LOAD.
func elfWithoutDynamic() []byte {
	le := binary.LittleEndian
	out := []byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	out = le.AppendUint16(out, 3)    // e_type ET_DYN
	out = le.AppendUint16(out, 0x3e) // e_machine x86-64
	out = le.AppendUint32(out, 1)    // e_version
	out = le.AppendUint64(out, 0x1000)
	out = le.AppendUint64(out, 64) // e_phoff
	out = le.AppendUint64(out, 0)  // e_shoff
	out = le.AppendUint32(out, 0)  // e_flags
	out = le.AppendUint16(out, 64) // e_ehsize
	out = le.AppendUint16(out, 56) // e_phentsize
	out = le.AppendUint16(out, 1)  // e_phnum
	out = le.AppendUint16(out, 64) // e_shentsize
	out = le.AppendUint16(out, 0)  // e_shnum
	out = le.AppendUint16(out, 0)  // e_shstrndx
	out = le.AppendUint32(out, 1)  // PT_LOAD
	out = le.AppendUint32(out, 5)  // R+X
	out = le.AppendUint64(out, 0)
	out = le.AppendUint64(out, 0)
	out = le.AppendUint64(out, 0)
	out = le.AppendUint64(out, 0x200)
	out = le.AppendUint64(out, 0x200)
	out = le.AppendUint64(out, 0x1000)
	return append(out, make([]byte, 0x200-len(out))...)
}

// emailScript makes two messages with Python's email package: a plain one
// and a multipart one with an attachment.
const emailScript = `
import sys
from email.message import EmailMessage
from email.utils import formatdate

m = EmailMessage()
m["From"] = "Alice <alice@example.com>"
m["To"] = "bob@example.com"
m["Subject"] = "stoq mimetype test"
m["Date"] = formatdate(0, usegmt=True)
m["Message-ID"] = "<plain@example.com>"
m.set_content("Hello Bob,\n\nthe report is attached.\n")
open(sys.argv[1], "wb").write(bytes(m))

m.add_attachment(b"MZ\x90\x00" + bytes(200), maintype="application", subtype="octet-stream", filename="invoice.exe")
m.replace_header("Message-ID", "<multipart@example.com>")
open(sys.argv[2], "wb").write(bytes(m))
`

func (b *corpusBuilder) email() error {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		b.missing = append(b.missing, "/usr/bin/python3 (python3)")
		return nil
	}
	script, err := b.write("mail.py", []byte(emailScript))
	if err != nil {
		return err
	}
	if err := b.run(nil, py, script, "plain.eml", "multipart.eml"); err != nil {
		return err
	}
	for _, name := range []string{"plain.eml", "multipart.eml"} {
		data, err := b.read(name)
		if err != nil {
			return err
		}
		b.add(name, "message/rfc822", data)
	}
	return nil
}
