package email

//go:generate sh -c "/usr/bin/python3 gen_codecs.py codec_tables.go && gofmt -w codec_tables.go"

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// Charsets are looked up as Python looks up a codec (codecs.lookup): the
// name is normalized (ASCII letters and digits lowercased, every other run
// of characters one '_'), mapped through Python's alias table, and must
// name one of Python's codec modules. The single-byte codecs decode with
// tables generated from Python (codec_tables.go), so they agree byte for
// byte, undefined bytes included. UTF-8, UTF-16, UTF-32, ASCII and Latin-1
// are decoded here or by golang.org/x/text with Python's rules; the East
// Asian multi-byte codecs use golang.org/x/text's WHATWG decoders, which
// agree with Python's on the characters in common use but not on every
// vendor extension (see the README). Python codecs that are not text
// encodings for mail (idna, punycode, unicode_escape, raw_unicode_escape,
// utf_7, johab, iso2022_kr, the byte-to-byte codecs) count as unknown.

type codecKind uint8

const (
	codecSBCS codecKind = iota
	codecASCII
	codecLatin1
	codecUTF8
	codecUTF8Sig
	codecXText
)

// codec decodes bytes of one charset.
type codec struct {
	name  string
	kind  codecKind
	table *[256]uint16
	enc   encoding.Encoding
	// fix maps characters golang.org/x/text decodes differently from
	// Python for this charset to Python's.
	fix map[rune]rune
	// userDefined decodes cp932's (or gb18030's) user-defined area as
	// Python does.
	userDefined bool
}

// JIS X 0208 as Python's shift_jis, euc_jp and iso2022_jp decode it, where
// golang.org/x/text (WHATWG) uses Microsoft's mappings of the same bytes
// (the wave dash, double vertical line, minus, cent, pound and not signs).
var jisFix = map[rune]rune{0xFF5E: 0x301C, 0x2225: 0x2016, 0xFF0D: 0x2212, 0xFFE0: 0x00A2, 0xFFE1: 0x00A3, 0xFFE2: 0x00AC}

// GB 2312 as Python's gb2312 decodes it (golang.org/x/text decodes GBK).
var gb2312Fix = map[rune]rune{0x00B7: 0x30FB, 0x2014: 0x2015}

const undefinedChar = 0xFFFE

var xtextCodecs = map[string]encoding.Encoding{
	"utf_16":          unicode.UTF16(unicode.LittleEndian, unicode.UseBOM),
	"utf_16_le":       unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM),
	"utf_16_be":       unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM),
	"utf_32":          utf32.UTF32(utf32.LittleEndian, utf32.UseBOM),
	"utf_32_le":       utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM),
	"utf_32_be":       utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM),
	"shift_jis":       japanese.ShiftJIS,
	"cp932":           japanese.ShiftJIS,
	"shift_jis_2004":  japanese.ShiftJIS,
	"shift_jisx0213":  japanese.ShiftJIS,
	"euc_jp":          japanese.EUCJP,
	"euc_jis_2004":    japanese.EUCJP,
	"euc_jisx0213":    japanese.EUCJP,
	"iso2022_jp":      japanese.ISO2022JP,
	"iso2022_jp_1":    japanese.ISO2022JP,
	"iso2022_jp_2":    japanese.ISO2022JP,
	"iso2022_jp_2004": japanese.ISO2022JP,
	"iso2022_jp_3":    japanese.ISO2022JP,
	"iso2022_jp_ext":  japanese.ISO2022JP,
	"euc_kr":          korean.EUCKR,
	"cp949":           korean.EUCKR,
	"gb2312":          simplifiedchinese.GBK,
	"gbk":             simplifiedchinese.GBK,
	"gb18030":         simplifiedchinese.GB18030,
	"hz":              simplifiedchinese.HZGB2312,
	"big5":            traditionalchinese.Big5,
	"cp950":           traditionalchinese.Big5,
	"big5hkscs":       traditionalchinese.Big5,
}

// normalizeEncoding is CPython's _Py_normalize_encoding, which
// codecs.lookup applies before anything else.
func normalizeEncoding(name string) string {
	var sb strings.Builder
	punct := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		isAlnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !isAlnum && c != '.' {
			punct = true
			continue
		}
		if punct && sb.Len() > 0 {
			sb.WriteByte('_')
		}
		punct = false
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// lookupCodec finds the codec Python would use for charset name; ok is
// false where Python raises LookupError (or where the codec is one this
// package does not implement).
func lookupCodec(name string) (*codec, bool) {
	if hasEscapes(name) {
		return nil, false
	}
	norm := normalizeEncoding(name)
	var modules []string
	if alias, ok := pythonAliases[norm]; ok {
		modules = append(modules, alias)
	} else if alias, ok := pythonAliases[strings.ReplaceAll(norm, ".", "_")]; ok {
		modules = append(modules, alias)
	}
	modules = append(modules, norm)
	for _, m := range modules {
		if m == "" || strings.Contains(m, ".") || !pythonModules[m] {
			continue
		}
		return codecFor(m)
	}
	return nil, false
}

func codecFor(module string) (*codec, bool) {
	if t, ok := sbcsTables[module]; ok {
		return &codec{name: module, kind: codecSBCS, table: t}, true
	}
	switch module {
	case "ascii":
		return &codec{name: module, kind: codecASCII}, true
	case "latin_1":
		return &codec{name: module, kind: codecLatin1}, true
	case "utf_8":
		return &codec{name: module, kind: codecUTF8}, true
	case "utf_8_sig":
		return &codec{name: module, kind: codecUTF8Sig}, true
	}
	if enc, ok := xtextCodecs[module]; ok {
		c := &codec{name: module, kind: codecXText, enc: enc}
		switch module {
		case "shift_jis", "euc_jp", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_3", "iso2022_jp_ext":
			c.fix = jisFix
		case "gb2312":
			c.fix = gb2312Fix
		case "cp932", "gb18030":
			c.userDefined = true
		}
		return c, true
	}
	return nil, false
}

// decodeEscaped decodes b strictly, keeping every byte that does not
// decode as an escaped byte (Python's errors='surrogateescape'): the
// result is in this package's internal form, and sanitize turns those
// bytes into U+FFFD as Python does when the header is shown.
func (c *codec) decodeEscaped(b []byte) string {
	switch c.kind {
	case codecSBCS:
		var sb strings.Builder
		for _, x := range b {
			if ch := c.table[x]; ch != undefinedChar {
				sb.WriteRune(rune(ch))
			} else {
				writeEscaped(&sb, x)
			}
		}
		return sb.String()
	case codecASCII:
		return asciiOrEscaped(b)
	case codecLatin1:
		return latin1(b)
	case codecUTF8, codecUTF8Sig:
		if c.kind == codecUTF8Sig {
			b = trimUTF8BOM(b)
		}
		if utf8.Valid(b) && !hasEscapes(string(b)) {
			return string(b)
		}
		var sb strings.Builder
		for len(b) > 0 {
			r, n := utf8.DecodeRune(b)
			if r == utf8.RuneError && n <= 1 {
				writeEscaped(&sb, b[0])
				b = b[1:]
				continue
			}
			sb.Write(b[:n])
			b = b[n:]
		}
		return sb.String()
	}
	return c.decodeReplace(b)
}

// writeEscaped writes byte x as Python's surrogateescape keeps it: bytes
// below 0x80 cannot be escaped (Python raises), so they become U+FFFD.
func writeEscaped(sb *strings.Builder, x byte) {
	if x >= 0x80 {
		sb.WriteRune(escapeBase + rune(x))
	} else {
		sb.WriteRune(utf8.RuneError)
	}
}

// decodeReplace decodes b with Python's errors='replace': what does not
// decode becomes U+FFFD.
func (c *codec) decodeReplace(b []byte) string {
	switch c.kind {
	case codecSBCS:
		var sb strings.Builder
		sb.Grow(len(b))
		for _, x := range b {
			if ch := c.table[x]; ch != undefinedChar {
				sb.WriteRune(rune(ch))
			} else {
				sb.WriteRune(utf8.RuneError)
			}
		}
		return sb.String()
	case codecASCII:
		var sb strings.Builder
		sb.Grow(len(b))
		for _, x := range b {
			if x < 0x80 {
				sb.WriteByte(x)
			} else {
				sb.WriteRune(utf8.RuneError)
			}
		}
		return sb.String()
	case codecLatin1:
		return latin1(b)
	case codecUTF8:
		return DecodeUTF8(b)
	case codecUTF8Sig:
		return DecodeUTF8(trimUTF8BOM(b))
	}
	if c.userDefined {
		return c.decodeUserDefined(b)
	}
	return c.decodeXText(b)
}

func (c *codec) decodeXText(b []byte) string {
	out, err := c.enc.NewDecoder().Bytes(b)
	if err != nil {
		return DecodeUTF8(b)
	}
	if c.fix == nil {
		return string(out)
	}
	return strings.Map(func(r rune) rune {
		if f, ok := c.fix[r]; ok {
			return f
		}
		return r
	}, string(out))
}

// decodeUserDefined decodes cp932 or gb18030 with their user-defined
// areas (cp932's lead bytes 0xF0 to 0xF9, GB 18030's areas listed in
// gb18030PrivateUse), which Python maps to private-use characters and
// golang.org/x/text does not decode: those pairs are decoded here, the
// text between them by golang.org/x/text.
func (c *codec) decodeUserDefined(b []byte) string {
	var sb strings.Builder
	start := 0
	gb := c.name == "gb18030"
	for i := 0; i < len(b); {
		lead := b[i]
		isLead := (lead >= 0x81 && lead <= 0x9f) || (lead >= 0xe0 && lead <= 0xfc)
		if gb {
			isLead = lead >= 0x81 && lead <= 0xfe
		}
		if !isLead || i+1 == len(b) {
			i++
			continue
		}
		trail := b[i+1]
		if gb && trail >= 0x30 && trail <= 0x39 {
			i += 4 // a four-byte character
			continue
		}
		var r rune
		switch {
		case gb:
			r = gb18030PrivateUse[uint16(lead)<<8|uint16(trail)]
		case lead >= 0xf0 && lead <= 0xf9 && ((trail >= 0x40 && trail <= 0x7e) || (trail >= 0x80 && trail <= 0xfc)):
			offset := rune(trail) - 0x40
			if trail >= 0x80 {
				offset--
			}
			r = 0xE000 + rune(lead-0xf0)*188 + offset
		}
		if r != 0 {
			sb.WriteString(c.decodeXText(b[start:i]))
			sb.WriteRune(r)
			start = i + 2
		}
		i += 2
	}
	sb.WriteString(c.decodeXText(b[start:]))
	return sb.String()
}

func trimUTF8BOM(b []byte) []byte {
	if len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf {
		return b[3:]
	}
	return b
}

func latin1(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/4)
	for _, x := range b {
		sb.WriteRune(rune(x))
	}
	return sb.String()
}
