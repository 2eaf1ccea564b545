package pecarve

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// peSize on crafted headers: what it accepts, where it cuts, and that it
// neither panics nor reads outside the buffer on nonsense.
func TestPESize(t *testing.T) {
	const invalid = -1
	le := binary.LittleEndian
	patch := func(b []byte, fn func(b []byte)) []byte { fn(b); return b }
	base := func() []byte { return synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}}).build() }

	cases := []struct {
		name string
		b    []byte
		want int
	}{
		{"PE32, one section", base(), 0x500},
		{"PE32+, sections out of order and overlapping",
			synthPE(synth{plus: true, sections: [][2]uint32{{0x1000, 0x200}, {0x200, 0x1000}, {0x400, 0x100}}}).build(), 0x1200},
		{"no sections: SizeOfHeaders", synthPE(synth{sizeOfHeaders: 0x400}).build(), 0x400},
		{"SizeOfHeaders past the sections", synthPE(synth{sizeOfHeaders: 0x800, sections: [][2]uint32{{0x200, 0x100}}}).build(), 0x800},
		{"SizeOfHeaders 0: the headers parsed", synthPE(synth{sizeOfHeaders: 1}).build(), 64 + 24 + 224},
		{"empty section with a far pointer is ignored",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x100}, {0xffffff00, 0}}}).build(), 0x300},
		{"trailing overlay is trimmed", append(base(), make([]byte, 999)...), 0x500},
		{"certificate table after the sections is kept",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}, cert: [2]uint32{0x500, 0x88}}).build(), 0x588},
		{"certificate table inside the sections changes nothing",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}, cert: [2]uint32{0x300, 0x10}}).build(), 0x500},
		{"certificate table past the payload is ignored",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}, cert: [2]uint32{0x500, 0x88}, fileSize: 0x580}).build(), 0x500},
		{"certificate table with overflowing size is ignored",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}, cert: [2]uint32{0x500, 0xffffffff}, fileSize: 0x600}).build(), 0x500},
		{"security directory not declared (NumberOfRvaAndSizes 4)",
			synthPE(synth{sections: [][2]uint32{{0x200, 0x300}}, cert: [2]uint32{0x500, 0x88}, numberOfRva: 4}).build(), 0x500},
		{"PE32+ certificate table",
			synthPE(synth{plus: true, sections: [][2]uint32{{0x400, 0x200}}, cert: [2]uint32{0x600, 0x1000}}).build(), 0x1600},
		{"truncated in the last section: cut at the payload's end", base()[:0x3ff], 0x3ff},
		{"raw data pointer and size overflowing 32 bits",
			synthPE(synth{sections: [][2]uint32{{0xffffffff, 0xffffffff}}, fileSize: 0x400}).build(), 0x400},
		{"e_lfanew inside the DOS header", synthPE(synth{lfanew: 4, sections: [][2]uint32{{0x200, 0x10}}}).build(), 0x210},

		{"empty", nil, invalid},
		{"shorter than a DOS header", []byte("MZ\x90\x00"), invalid},
		{"ZM", patch(base(), func(b []byte) { copy(b, "ZM") }), invalid},
		{"e_lfanew far past the end", patch(base(), func(b []byte) { le.PutUint32(b[0x3c:], 0xffffffff) }), invalid},
		{"e_lfanew at the last bytes", patch(base(), func(b []byte) { le.PutUint32(b[0x3c:], uint32(len(b)-2)) }), invalid},
		{"e_lfanew 0 (MZ is not PE)", patch(base(), func(b []byte) { le.PutUint32(b[0x3c:], 0) }), invalid},
		{"optional header cut short", base()[:64+24+40], invalid},
		{"bad signature", patch(base(), func(b []byte) { b[64+3] = 1 }), invalid},
		{"ROM optional header magic", patch(base(), func(b []byte) { le.PutUint16(b[64+24:], 0x107) }), invalid},
		{"65535 sections past the end", patch(base(), func(b []byte) { le.PutUint16(b[64+6:], 0xffff) }), invalid},
		{"section table cut short", synthPE(synth{sections: [][2]uint32{{0x200, 0x10}, {0x210, 0x10}}, fileSize: 64 + 24 + 224 + 79}).build(), invalid},
		{"SizeOfOptionalHeader pushing the section table out",
			patch(base(), func(b []byte) { le.PutUint16(b[64+4+16:], 0xffff) }), invalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := peSize(c.b)
			switch {
			case c.want == invalid && ok:
				t.Errorf("accepted as a PE of %#x bytes", got)
			case c.want != invalid && !ok:
				t.Errorf("rejected, want %#x bytes", c.want)
			case ok && got != c.want:
				t.Errorf("size %#x, want %#x", got, c.want)
			}
		})
	}
}

// A signed PE is carved with its Authenticode signature, so the carved file
// is the signed file and osslsigncode verifies it.
func TestCarveSignedExecutable(t *testing.T) {
	osslsigncode := stoqtest.Command(t, "osslsigncode", "osslsigncode")
	dir := t.TempDir()
	certPEM, keyPEM := selfSignedCodeSigningCert(t)
	files := map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM, "unsigned.exe": goExe(t, "go-hello")}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }
	if out, err := exec.Command(osslsigncode, "sign", "-certs", path("cert.pem"), "-key", path("key.pem"),
		"-in", path("unsigned.exe"), "-out", path("signed.exe")).CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode sign: %v\n%s", err, out)
	}
	signed, err := os.ReadFile(path("signed.exe"))
	if err != nil {
		t.Fatal(err)
	}
	if sections := trimmedSize(t, signed); sections >= len(signed) {
		t.Fatalf("signed file (%d bytes) has nothing after its sections (%d bytes)", len(signed), sections)
	}

	const offset = 12345
	payload := embed(filler(offset+len(signed)+4096, 7), map[int][]byte{offset: signed})
	got, _ := carveAll(t, nil, payload)
	checkCarved(t, got, []carved{expect(offset, signed)})

	// The carved bytes are the signed file: its digest and signature check
	// out. The self-signed certificate is its own trust anchor (-CAfile).
	carvedPath := path("carved.exe")
	if err := os.WriteFile(carvedPath, payload[offset:offset+got[0].size], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(osslsigncode, "verify", "-CAfile", path("cert.pem"), "-in", carvedPath).CombinedOutput()
	if err != nil {
		t.Fatalf("osslsigncode verify on the carved PE: %v\n%s", err, out)
	}
	current := regexp.MustCompile(`Current message digest\s*:\s*([0-9A-F]+)`).FindSubmatch(out)
	calculated := regexp.MustCompile(`Calculated message digest\s*:\s*([0-9A-F]+)`).FindSubmatch(out)
	if current == nil || calculated == nil || string(current[1]) != string(calculated[1]) {
		t.Errorf("message digests differ or are missing in osslsigncode's report:\n%s", out)
	}
	if !regexp.MustCompile(`Signature verification: ok`).Match(out) {
		t.Errorf("osslsigncode did not report a verified signature:\n%s", out)
	}
}

// selfSignedCodeSigningCert returns a PEM certificate and PKCS#8 key.
func selfSignedCodeSigningCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(20261127),
		Subject:               pkix.Name{CommonName: "stoq pecarve test signer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
}
