package email

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

type codecCase struct {
	op, arg string
	data    []byte
}

// pythonCodecs asks pycodecs.py about every case.
func pythonCodecs(t *testing.T, cases []codecCase) []*string {
	t.Helper()
	in := make([][3]string, len(cases))
	for i, c := range cases {
		in[i] = [3]string{c.op, c.arg, base64.StdEncoding.EncodeToString(c.data)}
	}
	var out []*string
	runPython(t, "pycodecs.py", in, &out)
	if len(out) != len(cases) {
		t.Fatalf("pycodecs.py answered %d of %d", len(out), len(cases))
	}
	return out
}

func b64OrNil(b []byte, ok bool) *string {
	if !ok {
		return nil
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s
}

// randomEncoded returns text made of the given alphabet, for decoders to
// choke on.
func randomEncoded(r *rand.Rand, alphabet string, max int) []byte {
	b := make([]byte, r.IntN(max))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return b
}

// TestTransferDecodingMatchesPython compares base64 (decode_b), quoted-
// printable (quopri) and uuencode (_decode_uu) with Python on valid,
// damaged and random inputs.
func TestTransferDecodingMatchesPython(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	var cases []codecCase
	for i := 0; i < 1500; i++ {
		valid := base64.StdEncoding.EncodeToString(randomEncoded(r, "abc\x00\xff", 40))
		cases = append(cases,
			codecCase{"b64", "", []byte(valid)},
			codecCase{"b64", "", randomEncoded(r, "ABCab01+/==*! \r\n", 30)},
			codecCase{"b64", "", []byte(valid[:r.IntN(len(valid)+1)])},
			codecCase{"qp", "", randomEncoded(r, "aZ=09Ff \t\r\n_?", 40)},
			codecCase{"uu", "", append([]byte("begin 644 f\n"), randomEncoded(r, "M!\"#`ab \n\r", 60)...)},
		)
	}
	cases = append(cases,
		codecCase{"b64", "", []byte("QQ==QkI=")}, codecCase{"b64", "", []byte("")}, codecCase{"b64", "", []byte("Q")},
		codecCase{"uu", "", []byte("begin 644 x\n-:&5L;&\\@=V]R;&0A\"@``\n`\nend\n")},
		codecCase{"uu", "", []byte("no begin\n")}, codecCase{"uu", "", []byte("begin 9x9 x\nend\n")},
		codecCase{"qp", "", []byte("a=\r\nb=\rc=\nd=4=41=4g=")},
	)
	want := pythonCodecs(t, cases)
	fails := 0
	for i, c := range cases {
		var got *string
		switch c.op {
		case "b64":
			got = b64OrNil(decodeBase64Lenient(c.data))
		case "qp":
			got = b64OrNil(DecodeQuotedPrintable(c.data), true)
		case "uu":
			got = b64OrNil(DecodeUU(c.data))
		}
		if strOrNil(got) != strOrNil(want[i]) {
			if fails++; fails <= 20 {
				t.Errorf("%s %q: got %s, Python %s", c.op, c.data, strOrNil(got), strOrNil(want[i]))
			}
		}
	}
	t.Logf("%d inputs compared, %d differ", len(cases), fails)
}

// charsetNames are spellings of charsets seen in mail, and some that are
// not charsets.
var charsetNames = []string{
	"utf-8", "UTF-8", "utf8", "UTF_8", "u8", "utf-8-sig", "us-ascii", "ascii", "ANSI_X3.4-1968", "646",
	"iso-8859-1", "ISO_8859-1", "latin1", "latin-1", "l1", "iso8859-15", "iso-8859-15", "windows-1252",
	"cp1252", "WINDOWS-1251", "koi8-r", "KOI8-U", "cp866", "ibm866", "macintosh", "mac-roman", "x-mac-roman",
	"shift_jis", "Shift-JIS", "sjis", "x-sjis", "cp932", "ms932", "windows-31j", "euc-jp", "ujis", "iso-2022-jp",
	"ISO-2022-JP", "csISO2022JP", "euc-kr", "ks_c_5601-1987", "cp949", "uhc", "gb2312", "GB2312", "gbk",
	"cp936", "gb18030", "hz-gb-2312", "big5", "big5-hkscs", "cp950", "tis-620", "windows-874", "utf-16",
	"utf-16le", "UTF-16BE", "utf-32", "utf-7", "x-unknown", "", "unknown-8bit", "base64", "rot13", "idna",
	"  utf-8  ", "utf--8", "UTF 8", "latin_9", "iso_8859_16", "cp1140", "x-user-defined", "iso-8859-8-i",
	"hebrew", "greek", "cyrillic", "arabic", "thai", "ms-ee", "windows-1250", "cp65001", "utf_8_sig",
}

// TestCharsetLookupMatchesPython checks that a charset name finds the
// codec Python's codecs.lookup finds (or none where Python knows none),
// and that text in every single-byte codec decodes as in Python.
func TestCharsetLookupMatchesPython(t *testing.T) {
	var cases []codecCase
	for _, n := range charsetNames {
		cases = append(cases, codecCase{"lookup", n, nil})
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for name := range sbcsTables {
		cases = append(cases, codecCase{"decode", name, all})
	}
	want := pythonCodecs(t, cases)
	for i, c := range cases {
		switch c.op {
		case "lookup":
			dec, ok := lookupCodec(c.arg)
			if want[i] == nil {
				if ok {
					t.Errorf("charset %q: found %s, Python knows none", c.arg, dec.name)
				}
				continue
			}
			pyName := strings.ReplaceAll(*want[i], "-", "_")
			if !ok {
				if _, implemented := codecFor(pyName); implemented {
					t.Errorf("charset %q: not found, Python has %s", c.arg, *want[i])
				}
				continue
			}
			if dec.name != pyName && !(dec.name == "latin_1" && pyName == "iso8859_1") {
				t.Errorf("charset %q: %s, Python %s", c.arg, dec.name, *want[i])
			}
		case "decode":
			dec, _ := lookupCodec(c.arg)
			if got := dec.decodeReplace(c.data); want[i] == nil || got != *want[i] {
				t.Errorf("%s: the 256 bytes decode differently from Python", c.arg)
			}
		}
	}
}

// minAgreement is the share of two-byte characters each codec decodes as
// Python does: all of them, except in Big5, where golang.org/x/text
// follows WHATWG's Big5 (HKSCS) and Python Big5-2003 and Microsoft's
// cp950 (see the README).
var minAgreement = map[string]float64{"shift_jis": 1, "cp932": 1, "euc_jp": 1, "euc_kr": 1, "cp949": 1,
	"gb2312": 1, "gbk": 1, "gb18030": 1, "big5": 0.98, "cp950": 0.98}

// TestEastAsianCodecsAgainstPython measures, for each East Asian codec,
// how many two-byte sequences that Python decodes to one character decode
// to the same character here (golang.org/x/text's WHATWG decoders), and
// requires that the characters of ordinary text all do.
func TestEastAsianCodecsAgainstPython(t *testing.T) {
	codecs := []string{"shift_jis", "cp932", "euc_jp", "euc_kr", "cp949", "gb2312", "gbk", "gb18030", "big5", "cp950"}
	var cases []codecCase
	var pairs [][]byte
	for lead := 0x81; lead <= 0xfe; lead++ {
		for trail := 0x40; trail <= 0xfe; trail++ {
			pairs = append(pairs, []byte{byte(lead), byte(trail)})
		}
	}
	// One decode call per codec: the pairs separated by newlines.
	var joined []byte
	for _, p := range pairs {
		joined = append(append(joined, p...), '\n')
	}
	for _, c := range codecs {
		cases = append(cases, codecCase{"decode", c, joined})
	}
	want := pythonCodecs(t, cases)
	for i, name := range codecs {
		dec, ok := lookupCodec(name)
		if !ok {
			t.Fatalf("%s: no codec", name)
		}
		pyLines := strings.Split(*want[i], "\n")
		valid, same := 0, 0
		var firstDiff string
		for j, p := range pairs {
			if j >= len(pyLines) {
				break
			}
			py := pyLines[j]
			if utf8.RuneCountInString(py) != 1 || py == "\ufffd" {
				continue // Python does not decode this pair to one character
			}
			valid++
			if got := dec.decodeReplace(p); got == py {
				same++
			} else if firstDiff == "" {
				firstDiff = fmt.Sprintf("%X: %q, Python %q", p, got, py)
			}
		}
		if valid == 0 {
			t.Errorf("%s: Python decoded no pair", name)
			continue
		}
		t.Logf("%-9s %5d of %5d two-byte characters as in Python (%.2f%%); first difference %s", name, same, valid, 100*float64(same)/float64(valid), firstDiff)
		if os.Getenv("SMTP_CJK_DIFFS") != "" {
			for j, p := range pairs {
				if j < len(pyLines) && utf8.RuneCountInString(pyLines[j]) == 1 && pyLines[j] != "\ufffd" {
					if got := dec.decodeReplace(p); got != pyLines[j] {
						t.Logf("  %s %X: %U, Python %U", name, p, []rune(got), []rune(pyLines[j]))
					}
				}
			}
		}
		if min := minAgreement[name]; float64(same) < min*float64(valid) {
			t.Errorf("%s: only %d of %d two-byte characters decode as in Python, want %.0f%% (first difference %s)", name, same, valid, 100*min, firstDiff)
		}
	}
}

// The fast decoder of clean base64 gives what Python's lenient decoding
// gives, whenever it accepts the text.
func TestCleanBase64AgreesWithLenient(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	accepted := 0
	for i := 0; i < 200_000; i++ {
		var in []byte
		if i%2 == 0 {
			enc := base64.StdEncoding.EncodeToString(randomEncoded(r, "\x00\x01\xfe\xffab", 50))
			for len(enc) > 0 {
				n := min(len(enc), 1+r.IntN(12))
				in = append(in, enc[:n]...)
				enc = enc[n:]
				in = append(in, []string{"\n", "\r\n", "\r", ""}[r.IntN(4)]...)
			}
		} else {
			in = randomEncoded(r, "QUJDabc+/=\r\n", 24)
		}
		fast, ok := decodeCleanBase64(in)
		if !ok {
			continue
		}
		accepted++
		slow, slowOK := decodeBase64Lenient(joinLines(in))
		if !slowOK || string(fast) != string(slow) {
			t.Fatalf("%q: fast %q, lenient %q %v", in, fast, slow, slowOK)
		}
	}
	if accepted < 50_000 {
		t.Errorf("only %d inputs accepted", accepted)
	}
}
