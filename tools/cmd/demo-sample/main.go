// Command demo-sample writes the sample `make demo` scans: invoice.pdf, a
// small but well-formed PDF document carrying two real Windows executables
// as embedded files (stored uncompressed, as attachments often are), so that
// the catalogue's yara dispatcher routes it to pecarve, which carves both
// executables out for hash and exif to analyse.
//
// The executables are Go's own debug/pe test binaries (built by MinGW) when
// the Go installation has them, otherwise two tiny programs built here with
// GOOS=windows.
//
//	go run ./tools/cmd/demo-sample -o build/demo
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	out := flag.String("o", "build/demo", "output folder")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "demo-sample:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	exes, err := executables(out)
	if err != nil {
		return err
	}
	pdf := buildPDF(exes)
	path := filepath.Join(out, "invoice.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo-sample: wrote %s (%d bytes, %d embedded executables)\n", path, len(pdf), len(exes))
	return nil
}

type attachment struct {
	name    string
	content []byte
}

func executables(out string) ([]attachment, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err == nil {
		dir := filepath.Join(strings.TrimSpace(string(goroot)), "src", "debug", "pe", "testdata")
		var found []attachment
		for _, name := range []string{"gcc-amd64-mingw-exec", "gcc-386-mingw-exec"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				found = append(found, attachment{name + ".exe", b})
			}
		}
		if len(found) == 2 {
			return found, nil
		}
	}
	var built []attachment
	for i, msg := range []string{"hello from the first payload", "hello from the second payload"} {
		src := filepath.Join(out, fmt.Sprintf("prog%d", i))
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
		exe := filepath.Join(out, fmt.Sprintf("payload%d.exe", i))
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
		built = append(built, attachment{filepath.Base(exe), b})
	}
	return built, nil
}

// buildPDF writes a PDF 1.7 file with one page of text and the attachments
// in its EmbeddedFiles name tree, with a correct cross-reference table.
func buildPDF(files []attachment) []byte {
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
		fmt.Fprintf(&nameArray, "(%s) %d 0 R ", f.name, first+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R /Names << /EmbeddedFiles %d 0 R >> >>", pages, names), nil)
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 >>", page), nil)
	obj(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pages, content, font), nil)
	obj(fmt.Sprintf("<< /Length %d >>", len(text)), text)
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", nil)
	obj(fmt.Sprintf("<< /Names [%s] >>", strings.TrimSpace(nameArray.String())), nil)
	for i, f := range files {
		obj(fmt.Sprintf("<< /Type /Filespec /F (%s) /UF (%s) /EF << /F %d 0 R >> >>", f.name, f.name, first+2*i+1), nil)
		obj(fmt.Sprintf("<< /Type /EmbeddedFile /Subtype /application#2Fvnd.microsoft.portable-executable /Length %d /Params << /Size %d >> >>", len(f.content), len(f.content)), f.content)
	}
	xref := buf.Len()
	fmt.Fprintf(&buf, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, off := range offsets {
		fmt.Fprintf(&buf, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&buf, "trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, catalog, xref)
	return buf.Bytes()
}
