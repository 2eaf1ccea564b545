package stoqtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Plugins' tests compare with the reference tools of the field (Debian's
// file, yara, 7z, python3-pefile, ...). Outside CI a missing tool skips the
// test that needs it; under CI (CI=true) it fails the test, so a CI run
// never passes by testing less.

// Command returns the path of the program name, found in PATH; when it is
// missing, the test is skipped, or failed under CI, with the Debian package
// that provides it.
func Command(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (apt-get install -y %s, or ./scripts/deps.sh): %v", name, debianPackage, err)
	}
	return path
}

// Missing reports that something a test needs is not there: it skips the
// test, or fails it under CI (CI=true). It does not return.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if UnderCI() {
		t.Fatal(msg + " (required under CI)")
	}
	t.Skip(msg)
}

// UnderCI reports whether the tests run under CI (CI=true), where nothing
// they need may be missing.
func UnderCI() bool { return os.Getenv("CI") == "true" }
