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
	return nil
}
