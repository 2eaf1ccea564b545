package ole

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// debianPython is Debian's interpreter, which has python3-olefile; the
// python3 on PATH may be another one without it.
const debianPython = "/usr/bin/python3"

// needTool skips the test when a reference tool is missing, or fails it
// under CI, where every tool must be installed (scripts/deps.sh).
func needTool(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	stoqtest.Missing(t, "%s missing (install it with scripts/deps.sh): %v", what, err)
}

// olefileStream is one stream as testdata/olefile_streams.py reports it.
type olefileStream struct {
	Path   []string `json:"path"`
	Size   *int     `json:"size"`
	SHA256 *string  `json:"sha256"`
	Error  *string  `json:"error"`
}

type olefileResult struct {
	File    string          `json:"file"`
	Error   *string         `json:"error"`
	Streams []olefileStream `json:"streams"`
}

// olefileRead runs olefile on each file and returns what it listed and read.
func olefileRead(t testing.TB, files ...string) map[string]olefileResult {
	t.Helper()
	_, err := os.Stat(debianPython)
	if err == nil {
		err = exec.Command(debianPython, "-c", "import olefile").Run()
	}
	needTool(t, "Debian's python3-olefile ("+debianPython+")", err)
	script, err := filepath.Abs("testdata/olefile_streams.py")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(debianPython, append([]string{script}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("olefile_streams.py: %v\n%s", err, stderr.String())
	}
	results := map[string]olefileResult{}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var r olefileResult
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("olefile_streams.py printed %q: %v", line, err)
		}
		results[r.File] = r
	}
	return results
}

// writeFiles writes each named document into a new directory and returns
// the paths, in the order of names.
func writeFiles(t testing.TB, docs map[string][]byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := map[string]string{}
	for name, data := range docs {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths[name] = p
	}
	return paths
}

// extracted is what a test sees of one extracted payload.
type extracted struct {
	index   int
	name    string
	content []byte
}

// scanAll runs an ole worker configured with opts over content and returns
// what it extracted, checking the properties every extracted payload has.
func scanAll(t testing.TB, opts map[string]string, content []byte) ([]extracted, *core.WorkerResponse) {
	t.Helper()
	w := stoqtest.New[*Plugin](t, "ole", opts)
	orig := sha256.Sum256(content)
	resp := stoqtest.Scan(t, w, content)
	if resp.Results != nil {
		t.Errorf("Results = %v, want nil (stoQ's ole has no worker results)", resp.Results)
	}
	if sha256.Sum256(content) != orig {
		t.Fatal("the payload was modified")
	}
	var out []extracted
	for i, ex := range resp.Extracted {
		m := ex.PayloadMeta
		idx, ok1 := m.ExtraData["index"].(int)
		name, ok2 := m.ExtraData["name"].(string)
		if !ok1 || !ok2 || len(m.ExtraData) != 2 {
			t.Fatalf("extracted %d: extra_data %v, want an int index and a string name", i, m.ExtraData)
		}
		if m.ShouldArchive || !m.ShouldScan {
			t.Errorf("extracted %d: should_archive %v should_scan %v, want false, true as stoQ", i, m.ShouldArchive, m.ShouldScan)
		}
		if ex.Content == nil {
			t.Errorf("extracted %d (%q): nil content", i, name)
		}
		out = append(out, extracted{idx, name, ex.Content})
	}
	return out, resp
}

func errorTexts(resp *core.WorkerResponse) []string {
	var s []string
	for _, e := range resp.Errors {
		s = append(s, e.Message)
	}
	return s
}

// stoqName is the name stoQ's ole plugin gives a stream olefile lists:
// the path joined with "_", characters outside string.printable dropped.
func stoqName(path []string) string {
	const printableChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ \t\n\r\x0b\x0c"
	var b strings.Builder
	for _, r := range strings.Join(path, "_") {
		if strings.ContainsRune(printableChars, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// filler returns n deterministic pseudo-random bytes.
func filler(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x01e))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// nativeStream builds an \x01Ole10Native stream embedding data under
// filename, laid out as Word and Packager write it.
func nativeStream(filename, srcPath, tmpPath string, data []byte) []byte {
	var body bytes.Buffer
	le := binary.LittleEndian
	body.Write(le.AppendUint16(nil, 2))
	body.WriteString(filename + "\x00")
	body.WriteString(srcPath + "\x00")
	body.Write(le.AppendUint32(nil, 0x00030000))
	body.Write(le.AppendUint32(nil, uint32(len(tmpPath)+1)))
	body.WriteString(tmpPath + "\x00")
	body.Write(le.AppendUint32(nil, uint32(len(data))))
	body.Write(data)
	// Word appends the paths again in UTF-16; readers ignore them.
	body.Write(le.AppendUint32(nil, 0))
	return append(le.AppendUint32(nil, uint32(body.Len())), body.Bytes()...)
}

// msiName encodes an MSI table or stream name as msi.dll stores it: pairs
// of characters of [0-9A-Za-z._] folded into one code unit from U+3800,
// tables marked with a leading U+4840. None of them is printable.
func msiName(name string, table bool) []uint16 {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._"
	var units []uint16
	if table {
		units = append(units, 0x4840)
	}
	for i := 0; i < len(name); i += 2 {
		a := strings.IndexByte(alphabet, name[i])
		if i+1 < len(name) {
			b := strings.IndexByte(alphabet, name[i+1])
			units = append(units, uint16(0x3800+a+b<<6))
		} else {
			units = append(units, uint16(0x4800+a))
		}
	}
	return units
}

// Sample documents, built per [MS-CFB] by cfbwriter.

// wordLike is laid out as a Word 97 document with an embedded package and
// a VBA project: property sets, big and small streams, nested storages.
func wordLike() []*cfbwriter.Node {
	s := cfbwriter.Stream
	st := cfbwriter.Storage
	return []*cfbwriter.Node{
		s("\x05SummaryInformation", filler(1, 4000)),
		s("\x05DocumentSummaryInformation", filler(2, 300)),
		s("WordDocument", filler(3, 24000)),
		s("1Table", filler(4, 7000)),
		s("Data", filler(5, 4096)),
		s("\x01CompObj", filler(6, 114)),
		st("ObjectPool",
			st("_1711632409",
				s("\x01CompObj", filler(7, 76)),
				s("\x03ObjInfo", filler(8, 6)),
				s("\x01Ole10Native", nativeStream("invoice.exe", `C:\Users\a\invoice.exe`, `C:\Temp\invoice.exe`, filler(9, 9000)))),
			st("_1711632410",
				s("\x01Ole10Native", nativeStream("notes.txt", `C:\notes.txt`, `C:\Temp\notes.txt`, []byte("small embedded text\n"))))),
		st("Macros",
			s("PROJECT", []byte("ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nDocument=ThisDocument/&H00000000\r\n")),
			s("PROJECTwm", []byte("ThisDocument\x00T\x00h\x00\x00\x00\x00\x00")),
			st("VBA",
				s("_VBA_PROJECT", filler(10, 2000)),
				s("dir", filler(11, 700)),
				s("ThisDocument", filler(12, 5200)))),
	}
}

// miniEdges holds streams on both sides of every mini stream boundary, and
// enough small streams that the mini stream and mini FAT span many sectors.
func miniEdges() []*cfbwriter.Node {
	var nodes []*cfbwriter.Node
	for i, n := range []int{0, 1, 63, 64, 65, 127, 128, 511, 512, 513, 4095, 4096, 4097, 8191, 8192} {
		nodes = append(nodes, cfbwriter.Stream(fmt.Sprintf("size%05d", n), filler(uint64(100+i), n)))
	}
	var many []*cfbwriter.Node
	for i := range 40 {
		many = append(many, cfbwriter.Stream(fmt.Sprintf("small%02d", i), filler(uint64(200+i), 3000+i*13)))
	}
	return append(nodes, cfbwriter.Storage("many", many...))
}

// msiLike has an installer's names: tables and streams with MSI's encoded
// (non-printable) names, summary information, a cabinet.
func msiLike() []*cfbwriter.Node {
	nodes := []*cfbwriter.Node{
		cfbwriter.Stream("\x05SummaryInformation", filler(20, 420)),
		cfbwriter.Stream("\x05DigitalSignature", filler(21, 1500)),
		{UTF16: []uint16{0x4840, 0x3F3F, 0x4577, 0x446C, 0x3B6A, 0x45E4, 0x4831}, Data: filler(22, 24)},
		{UTF16: msiName("Binary.setup.dll", false), Data: filler(23, 20000)},
		{UTF16: msiName("product1.cab", false), Data: filler(24, 60000)},
	}
	for i, table := range []string{"File", "Component", "Directory", "Feature", "Property", "_Tables", "_Columns", "_StringData", "_StringPool"} {
		nodes = append(nodes, &cfbwriter.Node{UTF16: msiName(table, true), Data: filler(uint64(30+i), 50+i*300)})
	}
	return nodes
}

// msgLike is laid out as an Outlook message with a recipient, an attachment
// and an attached message.
func msgLike() []*cfbwriter.Node {
	s := cfbwriter.Stream
	st := cfbwriter.Storage
	props := func(n int) []byte { return filler(uint64(40+n), 32+16*n) }
	return []*cfbwriter.Node{
		s("__properties_version1.0", props(4)),
		s("__substg1.0_0037001F", []byte("S\x00u\x00b\x00j\x00e\x00c\x00t\x00")),
		s("__substg1.0_1000001F", filler(41, 2600)),
		s("__nameid_version1.0/x", nil),
		st("__nameid_version1.0", s("__substg1.0_00020102", filler(42, 16)), s("__substg1.0_00030102", filler(43, 8))),
		st("__recip_version1.0_#00000000", s("__properties_version1.0", props(3)), s("__substg1.0_3001001F", []byte("B\x00o\x00b\x00"))),
		st("__attach_version1.0_#00000000",
			s("__properties_version1.0", props(2)),
			s("__substg1.0_3707001F", []byte("r\x00e\x00p\x00o\x00r\x00t\x00.\x00p\x00d\x00f\x00")),
			s("__substg1.0_37010102", filler(44, 50000))),
		st("__attach_version1.0_#00000001",
			s("__properties_version1.0", props(1)),
			st("__substg1.0_3701000D",
				s("__properties_version1.0", props(5)),
				s("__substg1.0_0037001F", []byte("F\x00w\x00d\x00")),
				st("__attach_version1.0_#00000000", s("__substg1.0_37010102", filler(45, 5000))))),
	}
}

// unicodeNames has names olefile must decode: accents, CJK, a character
// outside the BMP (a surrogate pair), a lone surrogate, the longest name.
func unicodeNames() []*cfbwriter.Node {
	return []*cfbwriter.Node{
		cfbwriter.Stream("Résumé", []byte("accents")),
		cfbwriter.Stream("文档内容", filler(50, 5000)),
		cfbwriter.Stream("emoji😀stream", []byte("astral")),
		{UTF16: []uint16{'l', 'o', 'n', 'e', 0xD800, 'x'}, Data: []byte("lone high surrogate")},
		{UTF16: []uint16{0xDC00, 'l', 'o', 'w'}, Data: []byte("lone low surrogate")},
		cfbwriter.Stream(strings.Repeat("L", 31), []byte("longest name")),
		cfbwriter.Stream("tab\tand\nnewline", []byte("whitespace kept")),
		cfbwriter.Stream("\x7fdel\x00nul", []byte("control characters")),
	}
}

// manyStreams has n streams spread over a few storages.
func manyStreams(n int) []*cfbwriter.Node {
	stores := make([]*cfbwriter.Node, 4)
	for i := range stores {
		stores[i] = cfbwriter.Storage(fmt.Sprintf("store%d", i))
	}
	for i := range n {
		st := stores[i%len(stores)]
		st.Children = append(st.Children, cfbwriter.Stream(fmt.Sprintf("s%05d", i), filler(uint64(i), 1+i%700)))
	}
	return stores
}

// deepNesting nests storages depth deep with a stream at every level.
func deepNesting(depth int) []*cfbwriter.Node {
	var inner []*cfbwriter.Node
	for d := depth; d > 0; d-- {
		inner = []*cfbwriter.Node{cfbwriter.Stream(fmt.Sprintf("at%d", d), []byte{byte(d)}), cfbwriter.Storage(fmt.Sprintf("level%d", d), inner...)}
	}
	return inner
}

// largeDoc is a document of about size bytes, mostly one big stream; from
// 7.2 MB on, a 512-byte-sector file needs DIFAT sectors.
func largeDoc(size int, opts cfbwriter.Options) []byte {
	nodes := wordLike()
	nodes = append(nodes, cfbwriter.Stream("Big", filler(99, size)))
	data, _ := cfbwriter.Build(nodes, opts)
	return data
}
