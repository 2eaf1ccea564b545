// Package sample makes the documents stoq's demo and end-to-end tests scan:
// a well-formed PDF carrying real Windows executables as attachments.
package sample

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
