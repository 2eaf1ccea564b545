// Package sample makes the documents stoq's demo and end-to-end tests scan:
// a well-formed PDF carrying real Windows executables as attachments, and
// an e-mail carrying that PDF in a zip archive.
package sample

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// File is an attachment of the sample document.
type File struct {
	Name    string
	Content []byte
}

// Executables returns two real Windows executables: Go's debug/pe test
// binaries when the Go installation has them, otherwise two tiny programs
// built in work with GOOS=windows.
func Executables(work string) ([]File, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err == nil {
		dir := filepath.Join(strings.TrimSpace(string(goroot)), "src", "debug", "pe", "testdata")
		var found []File
		for _, name := range []string{"gcc-amd64-mingw-exec", "gcc-386-mingw-exec"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				found = append(found, File{name + ".exe", b})
			}
		}
		if len(found) == 2 {
			return found, nil
		}
	}
	var built []File
	for i, msg := range []string{"hello from the first payload", "hello from the second payload"} {
		src := filepath.Join(work, fmt.Sprintf("prog%d", i))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return nil, err
		}
		code := fmt.Sprintf("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(%q) }\n", msg)
		if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(code), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module demo\n\ngo 1.21\n"), 0o644); err != nil {
			return nil, err
		}
		exe := filepath.Join(work, fmt.Sprintf("payload%d.exe", i))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", exe, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off")
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("building a Windows executable: %v\n%s", err, b)
		}
		b, err := os.ReadFile(exe)
		if err != nil {
			return nil, err
		}
		built = append(built, File{filepath.Base(exe), b})
	}
	return built, nil
}

// PDF returns a PDF 1.7 file with one page of text and the attachments
// in its EmbeddedFiles name tree, with a correct cross-reference table.
func PDF(files []File) []byte {
	var buf bytes.Buffer
	var offsets []int
	obj := func(body string, stream []byte) int {
		offsets = append(offsets, buf.Len())
		n := len(offsets)
		fmt.Fprintf(&buf, "%d 0 obj\n%s", n, body)
		if stream != nil {
			buf.WriteString("\nstream\n")
			buf.Write(stream)
			buf.WriteString("\nendstream")
		}
		buf.WriteString("\nendobj\n")
		return n
	}
	buf.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	text := []byte("BT /F1 18 Tf 72 720 Td (Invoice 2026-1127: see the attached files) Tj ET")
	// Object numbers are fixed by the order below.
	catalog := 1
	pages := 2
	page := 3
	content := 4
	font := 5
	names := 6
	first := 7 // then two objects per attachment: the filespec and its stream
	var nameArray strings.Builder
	for i, f := range files {
		fmt.Fprintf(&nameArray, "(%s) %d 0 R ", f.Name, first+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /Names << /EmbeddedFiles %d 0 R >> >>", pages, names), nil)
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page), nil)
	obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pages, content, font), nil)
	obj(fmt.Sprintf("<< /Length %d >>", len(text)), text)
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", nil)
	obj(fmt.Sprintf("<< /Names [%s] >>", strings.TrimSpace(nameArray.String())), nil)
	for i, f := range files {
		obj(fmt.Sprintf("<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R >> >>", f.Name, f.Name, first+2*i+1), nil)
		obj(fmt.Sprintf("<< /Type /EmbeddedFile /Subtype /application#2Fvnd.microsoft.portable-executable /Length %d /Params << /Size %d >> >>", len(f.Content), len(f.Content)), f.Content)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, catalog, xref)
	return buf.Bytes()
}

// Zip returns a zip archive of the files, compressed with Deflate, with a
// fixed modification time so the sample is the same on every run.
func Zip(files []File) ([]byte, error) {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range files {
		fw, err := w.CreateHeader(&zip.FileHeader{Name: f.Name, Method: zip.Deflate, Modified: sampleTime})
		if err != nil {
			return nil, err
		}
		if _, err := fw.Write(f.Content); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// sampleTime is the date of every sample: they do not change between runs.
var sampleTime = time.Date(2026, 11, 27, 9, 14, 0, 0, time.UTC)

// Mail returns an e-mail as a mail server delivers it (trace headers first,
// then the message) with a text body and the attachment base64-encoded in a
// multipart/mixed MIME message: the start of the e-mail pipeline smtp →
// decompress → pecarve.
func Mail(attachment File) []byte {
	var b strings.Builder
	const boundary = "=_stoq_demo_boundary_0001"
	date := sampleTime.Format(time.RFC1123Z)
	fmt.Fprintf(&b, "Return-Path: <billing@invoices.example.net>\r\n")
	fmt.Fprintf(&b, "Received: from mx.invoices.example.net (mx.invoices.example.net [192.0.2.25])\r\n\tby mail.example.org with ESMTPS id 4Fq2kd1x; %s\r\n", date)
	fmt.Fprintf(&b, "Message-ID: <20261127091400.4Fq2kd1x@invoices.example.net>\r\n")
	fmt.Fprintf(&b, "Date: %s\r\n", date)
	fmt.Fprintf(&b, "From: \"Billing Department\" <billing@invoices.example.net>\r\n")
	fmt.Fprintf(&b, "To: accounts@example.org\r\n")
	fmt.Fprintf(&b, "Subject: =?UTF-8?Q?Invoice_2026-1127_=E2=80=93_payment_due?=\r\n")
	fmt.Fprintf(&b, "MIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", boundary)
	fmt.Fprintf(&b, "This is a multi-part message in MIME format.\r\n\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n", boundary)
	fmt.Fprintf(&b, "Hello,\r\n\r\nPlease find invoice 2026-1127 attached. Pay before 2026-12-15 at\r\nhxxps://pay[.]invoices[.]example[.]net/2026-1127 or reply to\r\nbilling[@]invoices.example.net.\r\n\r\nRegards,\r\nBilling\r\n\r\n")
	fmt.Fprintf(&b, "--%s\r\nContent-Type: application/zip; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", boundary, attachment.Name, attachment.Name)
	enc := base64.StdEncoding.EncodeToString(attachment.Content)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n\r\n--" + boundary + "--\r\n")
	return []byte(b.String())
}
