package yara

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

func TestEscapeData(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, ""},
		{"printable ascii", []byte("http://malicious.example.com/payload.bin"), "http://malicious.example.com/payload.bin"},
		{"backslash doubled", []byte(`Software\Microsoft`), `Software\\Microsoft`},
		{"a literal escape sequence stays distinguishable", []byte(`\x41`), `\\x41`},
		{"whitespace controls", []byte("a\tb\nc\rd"), `a\tb\nc\rd`},
		{"nul and high bytes", []byte("MZ\x90\x00\x03"), `MZ\x90\x00\x03`},
		{"wide string", []byte("C\x00r\x00"), `C\x00r\x00`},
		{"printable utf-8 kept", []byte("café ☕ 日本"), "café ☕ 日本"},
		{"invalid utf-8", []byte("\xc3\x28 \xff\xfe"), `\xc3( \xff\xfe`},
		{"valid but not printable", []byte("a\u200bb\u0085"), `a\xe2\x80\x8bb\xc2\x85`},
		{"delete", []byte{0x7f}, `\x7f`},
		{"truncated rune at the end", []byte("ok\xe2\x98"), `ok\xe2\x98`},
	} {
		got := EscapeData(tc.in)
		if got != tc.want {
			t.Errorf("%s: EscapeData(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
		back, err := UnescapeData(got)
		if err != nil || !bytes.Equal(back, tc.in) {
			t.Errorf("%s: UnescapeData(%q) = %q, %v; want the original %q", tc.name, got, back, err, tc.in)
		}
		if !utf8.ValidString(got) {
			t.Errorf("%s: %q is not valid UTF-8 (JSON would mangle it)", tc.name, got)
		}
	}
}

// TestEscapeDataDecodesBackToEveryByteString checks losslessness on random
// binary data and on every single byte value.
func TestEscapeDataDecodesBackToEveryByteString(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{}
	for b := 0; b < 256; b++ {
		inputs = append(inputs, []byte{byte(b)})
	}
	for range 2000 {
		buf := make([]byte, rng.IntN(64))
		for i := range buf {
			// mix plain text, backslashes and arbitrary bytes
			switch rng.IntN(4) {
			case 0:
				buf[i] = '\\'
			case 1:
				buf[i] = byte('a' + rng.IntN(26))
			default:
				buf[i] = byte(rng.IntN(256))
			}
		}
		inputs = append(inputs, buf)
	}
	for _, in := range inputs {
		back, err := UnescapeData(EscapeData(in))
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%q → %q → %q, %v", in, EscapeData(in), back, err)
		}
	}
}

func TestUnescapeDataRejectsMalformedEscapes(t *testing.T) {
	for _, bad := range []string{`\`, `ab\`, `\q`, `\x`, `\x4`, `\xg0`, `\x0g`, `a\u0041`} {
		if got, err := UnescapeData(bad); err == nil {
			t.Errorf("UnescapeData(%q) = %q, want an error", bad, got)
		}
	}
	if got, err := UnescapeData(`\x4A\x4a`); err != nil || string(got) != "JJ" {
		t.Errorf("upper and lower case hex: %q, %v", got, err)
	}
}

func TestPythonBytesRepr(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want string
	}{
		{[]byte{0x11, 0x10}, `b'\x11\x10'`},
		{[]byte("ab"), `b'ab'`},
		{[]byte(`a\b`), `b'a\\b'`},
		{[]byte("it's"), `b"it's"`},
		{[]byte(`'"`), `b'\'"'`},
		{[]byte("\t\n\r\xff"), `b'\t\n\r\xff'`},
	} {
		if got := pythonBytesRepr(tc.in); got != tc.want {
			t.Errorf("pythonBytesRepr(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func FuzzEscapeData(f *testing.F) {
	for _, seed := range []string{"", "plain", `C:\x41`, "MZ\x90\x00", "caf\xc3\xa9", "\xc3(", "\u200b", "\\\\\\"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		s := EscapeData(in)
		if !utf8.ValidString(s) {
			t.Fatalf("EscapeData(%q) = %q is not valid UTF-8", in, s)
		}
		back, err := UnescapeData(s)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("%q → %q → %q, %v", in, s, back, err)
		}
	})
}

func FuzzUnescapeData(f *testing.F) {
	for _, seed := range []string{"", `\\`, `\x00\xff`, `\t\n\r`, `\`, `\x4`, `\q`, `abc\x41def`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := UnescapeData(s)
		if err != nil {
			return
		}
		// what decodes must decode the same way from its canonical form
		again, err := UnescapeData(EscapeData(b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%q → %q → %q → %q, %v", s, b, EscapeData(b), again, err)
		}
	})
}
