package exif

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// needExiftool skips tests that run the real ExifTool when it is missing
// (fails them under CI).
func needExiftool(t testing.TB) string {
	t.Helper()
	return stoqtest.Command(t, "exiftool", "libimage-exiftool-perl")
}

func newPlugin(t testing.TB, opts map[string]string) *Plugin {
	t.Helper()
	return stoqtest.New[*Plugin](t, "exif", opts)
}

func scan(t testing.TB, p *Plugin, content []byte) (map[string]any, error) {
	t.Helper()
	pl := stoqtest.Payload(content, nil)
	resp, err := p.Scan(context.Background(), pl, stoqtest.Request(pl))
	if err != nil {
		return nil, err
	}
	return resp.Results.(map[string]any), nil
}

func mustScan(t testing.TB, p *Plugin, content []byte) map[string]any {
	t.Helper()
	res, err := scan(t, p, content)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return res
}

// Samples of several file types, made here.

func goTestdataPE(t testing.TB) []byte {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Skipf("go env GOROOT: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "debug", "pe", "testdata", "gcc-amd64-mingw-exec"))
	if err != nil {
		t.Skipf("Go's debug/pe test executable: %v", err)
	}
	return b
}

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	for y := range 48 {
		for x := range 64 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), 128, 255})
		}
	}
	return img
}

func pngFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pdfFile is a minimal valid PDF with an Info dictionary, its xref offsets
// computed as it is written.
func pdfFile() []byte {
	var b bytes.Buffer
	var offsets []int
	b.WriteString("%PDF-1.4\n")
	for _, obj := range []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
		"<< /Title (stoq test document) /Author (stoq developers) /Producer (hand written) >>",
	} {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), obj)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// docxFile is a minimal Office Open XML word document.
func docxFile(t testing.TB) []byte {
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>`},
		{"word/document.xml", `<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>stoq</w:t></w:r></w:p></w:body></w:document>`},
		{"docProps/core.xml", `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>stoq docx</dc:title><dc:creator>stoq developers</dc:creator></cp:coreProperties>`},
	} {
		w, err := z.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func randomBytes(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// exiftoolCLI runs `exiftool -j -n FILE` on content and returns its object.
func exiftoolCLI(t testing.TB, content []byte) map[string]any {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	// exiftool exits 1 for an unknown file type but still prints its JSON
	out, _ := exec.Command("exiftool", "-j", "-n", path).Output()
	var objs []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&objs); err != nil || len(objs) != 1 {
		t.Fatalf("exiftool -j -n: %v: %s", err, out)
	}
	return objs[0]
}

// TestResultsMatchExiftoolCommandLine compares the plugin's results for
// files of several types with `exiftool -j -n FILE`: the same tags and
// values, FileType and MIMEType first of all, apart from those that describe
// the temporary file.
func TestResultsMatchExiftoolCommandLine(t *testing.T) {
	needExiftool(t)
	p := newPlugin(t, map[string]string{"pool_size": "2"})
	for _, tc := range []struct {
		name, fileType, mimeType string
		content                  []byte
	}{
		{"pe", "Win64 EXE", "application/octet-stream", goTestdataPE(t)},
		{"png", "PNG", "image/png", pngFile(t)},
		{"jpeg", "JPEG", "image/jpeg", jpegFile(t)},
		{"gif", "GIF", "image/gif", gifFile(t)},
		{"pdf", "PDF", "application/pdf", pdfFile()},
		{"docx", "DOCX", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docxFile(t)},
		{"unknown", "", "", randomBytes(4096)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustScan(t, p, tc.content)
			want := exiftoolCLI(t, tc.content)
			if got["FileType"] != want["FileType"] || got["MIMEType"] != want["MIMEType"] {
				t.Errorf("FileType %v, MIMEType %v; exiftool says %v, %v", got["FileType"], got["MIMEType"], want["FileType"], want["MIMEType"])
			}
			if tc.fileType != "" && (got["FileType"] != tc.fileType || got["MIMEType"] != tc.mimeType) {
				t.Errorf("FileType %v, MIMEType %v; want %s, %s", got["FileType"], got["MIMEType"], tc.fileType, tc.mimeType)
			}
			if tc.fileType == "" && got["Error"] != "Unknown file type" {
				t.Errorf("unknown data: Error = %v, want Unknown file type", got["Error"])
			}
			if got["SourceFile"] != "-" {
				t.Errorf("SourceFile = %v, want -", got["SourceFile"])
			}
			for _, tag := range []string{"FileName", "Directory", "FileModifyDate", "FileAccessDate", "FileInodeChangeDate", "FilePermissions", "SourceFile"} {
				if tag != "SourceFile" {
					if _, ok := got[tag]; ok {
						t.Errorf("%s is in the results: it describes the temporary file", tag)
					}
				}
				delete(want, tag)
				delete(got, tag)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("results differ from exiftool -j -n:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// TestNumbersKeepExiftoolsText checks -n output keeps numbers exactly, as
// stoQ's output shows them (OSVersion 4.0, not 4).
func TestNumbersKeepExiftoolsText(t *testing.T) {
	needExiftool(t)
	res := mustScan(t, newPlugin(t, nil), goTestdataPE(t))
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"OSVersion":4.0`, `"MachineType":34404`, `"FileSize":273083`, `"LinkerVersion":2.22`, `"SourceFile":"-"`, `"FileType":"Win64 EXE"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s not in %s", want, b)
		}
	}
}

func TestMissingExiftoolIsAConstructorError(t *testing.T) {
	for _, bin := range []string{filepath.Join(t.TempDir(), "no-exiftool"), "no-such-exiftool-program"} {
		_, err := stoqtest.TryNew(t, "exif", map[string]string{"bin": bin})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != "bin" || !strings.Contains(err.Error(), "libimage-exiftool-perl") {
			t.Errorf("bin %s: got %v, want an OptionError for bin with an install hint", bin, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	needExiftool(t)
	for _, tc := range []struct{ option, value, want string }{
		{"pool_size", "0", "1 or more"},
		{"pool_size", "lots", "integer"},
	} {
		_, err := stoqtest.TryNew(t, "exif", map[string]string{tc.option: tc.value})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%s: got %v", tc.option, tc.value, err)
		}
	}
}

func TestConcurrentScans(t *testing.T) {
	needExiftool(t)
	p := newPlugin(t, map[string]string{"pool_size": "3"})
	samples := []struct {
		content  []byte
		fileType string
	}{{pngFile(t), "PNG"}, {jpegFile(t), "JPEG"}, {pdfFile(), "PDF"}, {gifFile(t), "GIF"}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				s := samples[(g+i)%len(samples)]
				res, err := scan(t, p, s.content)
				if err != nil {
					errs <- err
					continue
				}
				if res["FileType"] != s.fileType || res["FileSize"] != json.Number(fmt.Sprint(len(s.content))) {
					errs <- fmt.Errorf("goroutine %d: got %v (%v bytes), want %s (%d bytes)", g, res["FileType"], res["FileSize"], s.fileType, len(s.content))
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(p.pool.live); n > 3 {
		t.Errorf("%d exiftool processes, pool_size is 3", n)
	}
}

func TestHealthCheckAndClose(t *testing.T) {
	needExiftool(t)
	p := newPlugin(t, map[string]string{"pool_size": "1"})
	if err := p.HealthCheck(context.Background()); err != nil {
		t.Fatalf("HealthCheck: %v", err)
	}
	p.pool.mu.Lock()
	var proc *process
	for pr := range p.pool.live {
		proc = pr
	}
	p.pool.mu.Unlock()
	if proc == nil {
		t.Fatal("no exiftool process after a health check")
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !proc.hasExited() {
		t.Error("exiftool still running after Close")
	}
	if _, err := scan(t, p, pngFile(t)); !errors.Is(err, errClosed) {
		t.Errorf("Scan after Close: %v, want errClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestParseOutput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stdout string
		stderr []string
		want   string // error substring; empty: success
	}{
		{"object", `[{"SourceFile":"/tmp/x","FileSize":5,"Version":1.10}]`, nil, ""},
		{"nothing", "", nil, "printed nothing"},
		{"stderr only", "", []string{"Error: File not found - /tmp/x"}, "File not found"},
		{"not json", "Syntax: exiftool [OPTIONS] FILE", nil, "not its JSON"},
		{"two objects", `[{"a":1},{"b":2}]`, nil, "2 objects"},
		{"empty array", `[]`, nil, "0 objects"},
		{"null object", `[null]`, nil, "1 objects"},
		{"trailing data", `[{"a":1}] [{"b":2}]`, nil, "data after"},
	} {
		res, err := parseOutput([]byte(tc.stdout), tc.stderr)
		if tc.want == "" {
			if err != nil || res["SourceFile"] != "-" || res["Version"] != json.Number("1.10") {
				t.Errorf("%s: %v, %v", tc.name, res, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseOutput(f *testing.F) {
	for _, seed := range []string{`[{"SourceFile":"x","A":1.0}]`, `[]`, `[{}]`, `{`, `[{"a":[1,{"b":null}]}]`, ""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, stdout []byte) {
		res, err := parseOutput(stdout, nil)
		if err == nil {
			if res["SourceFile"] != "-" {
				t.Fatalf("SourceFile %v", res["SourceFile"])
			}
			if _, err := json.Marshal(res); err != nil {
				t.Fatalf("results do not marshal: %v", err)
			}
		}
	})
}
