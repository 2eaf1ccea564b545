// Command demo-sample writes the samples `make demo` scans: invoice.pdf, a
// small but well-formed PDF document carrying two real Windows executables
// as embedded files (stored uncompressed, as attachments often are), so that
// the catalogue's yara dispatcher routes it to pecarve, which carves both
// executables out for hash to analyse; and invoice.eml, an e-mail carrying
// invoice.pdf in invoice.zip, which the dispatcher routes to smtp, the zip to
// decompress and the PDF to pecarve: the e-mail pipeline.
//
// The executables are Go's own debug/pe test binaries (built by MinGW) when
// the Go installation has them, otherwise two tiny programs built here with
// GOOS=windows.
//
//	go run ./tools/cmd/demo-sample -o build/demo
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stoq-go/stoq/tools/internal/sample"
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
	exes, err := sample.Executables(out)
	if err != nil {
		return err
	}
	pdf := sample.PDF(exes)
	path := filepath.Join(out, "invoice.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo-sample: wrote %s (%d bytes, %d embedded executables)\n", path, len(pdf), len(exes))
	zipped, err := sample.Zip([]sample.File{{Name: "invoice.pdf", Content: pdf}})
	if err != nil {
		return err
	}
	mail := sample.Mail(sample.File{Name: "invoice.zip", Content: zipped})
	path = filepath.Join(out, "invoice.eml")
	if err := os.WriteFile(path, mail, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo-sample: wrote %s (%d bytes: invoice.zip holding invoice.pdf)\n", path, len(mail))
	return nil
}
