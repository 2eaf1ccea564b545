package peinfo

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Test executables: built once per test binary into testDir, which TestMain
// removes. Each group needs its tools; a missing tool skips the tests that
// need it, and fails them under CI (CI=true), as the team's rules say.

var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peinfo-tests-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPE is a real executable the tests compare with pefile.
type testPE struct {
	name string
	path string
	data []byte
}

// requirePefile checks Debian's python3-pefile (and peutils) can be imported
// by /usr/bin/python3, not the pyenv python3 that may be first on PATH.
func requirePefile(t testing.TB) {
	t.Helper()
	stoqtest.Command(t, "/usr/bin/python3", "python3")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import pefile, peutils, cryptography").CombinedOutput(); err != nil {
		stoqtest.Missing(t, "Debian's python3-pefile or python3-cryptography is missing (apt-get install python3-pefile python3-cryptography): %s", out)
	}
}

// reference runs testdata/pefile_reference.py on paths and returns what
// pefile says of each, in order.
func reference(t testing.TB, paths ...string) []map[string]any {
	t.Helper()
	requirePefile(t)
	var out []map[string]any
	// Batches keep the command line short.
	for len(paths) > 0 {
		batch := paths[:min(len(paths), 200)]
		paths = paths[len(batch):]
		cmd := exec.Command("/usr/bin/python3", append([]string{"testdata/pefile_reference.py"}, batch...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		if err != nil {
			t.Fatalf("pefile_reference.py: %v\n%s", err, stderr.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(stdout))
		for range batch {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("pefile_reference.py output: %v", err)
			}
			out = append(out, m)
		}
	}
	return out
}

func readPE(t testing.TB, name, path string) testPE {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testPE{name, path, data}
}

// goToolchain returns the go command of `go env GOROOT`, and GOROOT.
func goToolchain(t testing.TB) (goCmd, goroot string) {
	t.Helper()
	path := stoqtest.Command(t, "go", "golang")
	out, err := exec.Command(path, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot = strings.TrimSpace(string(out))
	return filepath.Join(goroot, "bin", "go"), goroot
}

// debugPEExes are the mingw executables of Go's debug/pe test data (which
// are also PEs of the benchmark corpus).
func debugPEExes(t testing.TB) []testPE {
	_, goroot := goToolchain(t)
	var out []testPE
	for _, name := range []string{"gcc-386-mingw-exec", "gcc-386-mingw-no-symbols-exec", "gcc-amd64-mingw-exec"} {
		out = append(out, readPE(t, name, filepath.Join(goroot, "src", "debug", "pe", "testdata", name)))
	}
	return out
}

const helloGo = `package main

import "fmt"

func main() {
	fmt.Println("hello from a windows binary used as stoq benchmark payload")
}
`

var (
	goExesOnce sync.Once
	goExes     []testPE
	goExesErr  error
)

// goExes builds Windows programs with `GOOS=windows go build`: the
// benchmark corpus's hello-worlds (amd64 and 386, -s -w, as
// shared/bench/make_corpus.py builds them) and an amd64 one with its symbol
// table and DWARF (long section names from the COFF string table).
func goBuiltExes(t testing.TB) []testPE {
	t.Helper()
	goCmd, _ := goToolchain(t)
	goExesOnce.Do(func() { goExes, goExesErr = buildGoExes(goCmd) })
	if goExesErr != nil {
		t.Fatal(goExesErr)
	}
	return goExes
}

func buildGoExes(goCmd string) ([]testPE, error) {
	src := filepath.Join(testDir, "gosrc")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(src, "hello.go"), []byte(helloGo), 0o644); err != nil {
		return nil, err
	}
	builds := []struct{ name, arch, ldflags string }{
		{"go-hello-windows-amd64.exe", "amd64", "-s -w"},
		{"go-hello-windows-386.exe", "386", "-s -w"},
		{"go-hello-windows-amd64-symbols.exe", "amd64", ""},
	}
	var out []testPE
	for _, b := range builds {
		path := filepath.Join(testDir, b.name)
		cmd := exec.Command(goCmd, "build", "-trimpath", "-ldflags="+b.ldflags, "-o", path, "hello.go")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH="+b.arch, "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
		if msg, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("GOOS=windows GOARCH=%s go build: %v\n%s", b.arch, err, msg)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, testPE{b.name, path, data})
	}
	return out, nil
}

var (
	mingwOnce sync.Once
	mingwExes []testPE
	mingwErr  error
)

// mingwBuilt builds testdata/src with mingw-w64: app.exe (resources with
// version information, TLS callbacks, imports by ordinal, a PDB reference),
// lib.dll and lib32.dll (named, ordinal-only and forwarded exports) and
// driver.sys (a kernel driver).
func mingwBuilt(t testing.TB) []testPE {
	t.Helper()
	for _, tool := range []string{"x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc"} {
		stoqtest.Command(t, tool, "gcc-mingw-w64")
	}
	for _, tool := range []string{"x86_64-w64-mingw32-windres", "x86_64-w64-mingw32-dlltool"} {
		stoqtest.Command(t, tool, "binutils-mingw-w64-x86-64")
	}
	mingwOnce.Do(func() { mingwExes, mingwErr = buildMingw() })
	if mingwErr != nil {
		t.Fatal(mingwErr)
	}
	return mingwExes
}

func buildMingw() ([]testPE, error) {
	src, err := filepath.Abs("testdata/src")
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(testDir, "mingw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"x86_64-w64-mingw32-dlltool", "-d", src + "/ws2ord.def", "-l", "libws2ord.a"},
		{"x86_64-w64-mingw32-dlltool", "-d", src + "/otherord.def", "-l", "libotherord.a"},
		{"x86_64-w64-mingw32-windres", "-I" + src, src + "/app.rc", "-O", "coff", "-o", "app.res"},
		{"x86_64-w64-mingw32-gcc", "-O1", "-o", "app.exe", src + "/app.c", "app.res", "libws2ord.a", "libotherord.a", "-Wl,--pdb=app.pdb"},
		{"x86_64-w64-mingw32-gcc", "-O1", "-shared", "-o", "lib.dll", src + "/lib.c", src + "/lib.def"},
		{"i686-w64-mingw32-gcc", "-O1", "-shared", "-o", "lib32.dll", src + "/lib.c", src + "/lib.def"},
		{"x86_64-w64-mingw32-gcc", "-O1", "-nostdlib", "-Wl,--subsystem,native", "-Wl,--entry,DriverEntry", "-o", "driver.sys", src + "/driver.c", "-lntoskrnl"},
	}
	for _, step := range steps {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}
	var out []testPE
	for _, name := range []string{"app.exe", "lib.dll", "lib32.dll", "driver.sys"} {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out = append(out, testPE{"mingw-" + name, path, data})
	}
	return out, nil
}

// signer is a test code-signing chain: a CA and the leaf that signs.
type signer struct {
	chainPEM, keyPEM string // files
}

var (
	signedOnce sync.Once
	signedExes []testPE
	theSigner  signer
	signedErr  error
)

// signedBuilt signs app.exe (SHA-256) and go-hello amd64 (SHA-256, then a
// nested SHA-1 signature added with -nest) with osslsigncode.
func signedBuilt(t testing.TB) ([]testPE, signer) {
	t.Helper()
	osslsigncode := stoqtest.Command(t, "osslsigncode", "osslsigncode")
	app := mingwBuilt(t)[0]
	hello := goBuiltExes(t)[0]
	signedOnce.Do(func() {
		theSigner, signedErr = newSigner()
		if signedErr != nil {
			return
		}
		dir := filepath.Join(testDir, "signed")
		sign := func(in, out, digest string, nest bool) error {
			args := []string{"sign", "-certs", theSigner.chainPEM, "-key", theSigner.keyPEM, "-h", digest, "-n", "stoq peinfo test", "-in", in, "-out", out}
			if nest {
				args = append(args, "-nest")
			}
			if msg, err := exec.Command(osslsigncode, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("osslsigncode %s: %v\n%s", strings.Join(args, " "), err, msg)
			}
			return nil
		}
		steps := []struct {
			in, out, digest string
			nest            bool
		}{
			{app.path, dir + "/app-signed.exe", "sha256", false},
			{hello.path, dir + "/hello-sha256.exe", "sha256", false},
			{dir + "/hello-sha256.exe", dir + "/hello-nested.exe", "sha1", true},
		}
		for _, s := range steps {
			if signedErr = sign(s.in, s.out, s.digest, s.nest); signedErr != nil {
				return
			}
		}
		for _, name := range []string{"app-signed.exe", "hello-nested.exe"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				signedErr = err
				return
			}
			signedExes = append(signedExes, testPE{name, filepath.Join(dir, name), data})
		}
	})
	if signedErr != nil {
		t.Fatal(signedErr)
	}
	return signedExes, theSigner
}

// newSigner makes a CA and a leaf signing certificate with fixed validity
// dates, and a serial number whose first byte has its high bit set (so
// that its DER encoding has a leading zero byte the hex must not show).
func newSigner() (signer, error) {
	dir := filepath.Join(testDir, "signed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return signer{}, err
	}
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signer{}, err
	}
	leafKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return signer{}, err
	}
	serial, _ := new(big.Int).SetString("9f1e2d3c4b5a69788796a5b4c3d2e1f0", 16)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(20261201),
		Subject:               pkix.Name{CommonName: "stoq test root", Organization: []string{"stoq test corp"}, Country: []string{"US"}},
		NotBefore:             time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		NotAfter:              time.Date(2045, 1, 2, 3, 4, 5, 0, time.UTC),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return signer{}, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return signer{}, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "stoq peinfo signer", Organization: []string{"stoq test corp"}, OrganizationalUnit: []string{"peinfo, tests"}, Country: []string{"US"}},
		NotBefore:    time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2036, 6, 30, 23, 59, 59, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return signer{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(leafKey)
	if err != nil {
		return signer{}, err
	}
	s := signer{chainPEM: filepath.Join(dir, "chain.pem"), keyPEM: filepath.Join(dir, "key.pem")}
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(s.chainPEM, chain, 0o600); err != nil {
		return signer{}, err
	}
	if err := os.WriteFile(s.keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return signer{}, err
	}
	return s, nil
}
