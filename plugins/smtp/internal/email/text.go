package email

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Header text is handled the way Python's email package handles it after
// message_from_bytes: every byte of 0x80 and above is an "escaped byte"
// (Python's surrogateescape), never a letter, a digit or white space, and
// only when a header value is rendered are the escaped bytes put back and
// the whole value decoded as UTF-8 with U+FFFD for what is not UTF-8
// (Python's utils._sanitize). Decoded encoded-words are real text.
//
// Inside this package an escaped byte b is the rune escapeBase+b, from a
// private-use plane, so that header strings stay valid UTF-8 and are
// sliced and compared as Go strings; ASCII bytes are themselves. A real
// U+10FF80..U+10FFFF in decoded text would be taken for an escaped byte;
// no charset produces those.

const escapeBase = 0x10FF00

// escapeRaw turns raw header bytes into the internal form.
func escapeRaw(b []byte) string {
	ascii := true
	for _, c := range b {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for _, c := range b {
		if c < 0x80 {
			sb.WriteByte(c)
		} else {
			sb.WriteRune(escapeBase + rune(c))
		}
	}
	return sb.String()
}

// isEscaped reports whether r is an escaped byte.
func isEscaped(r rune) bool { return r >= escapeBase+0x80 && r <= escapeBase+0xff }

// hasEscapes reports whether s holds escaped bytes (their UTF-8 form starts
// with 0xF4 0x8F 0xBE or 0xBF).
func hasEscapes(s string) bool {
	for i := 0; i+2 < len(s); i++ {
		if s[i] == 0xf4 && s[i+1] == 0x8f && (s[i+2] == 0xbe || s[i+2] == 0xbf) {
			return true
		}
	}
	return false
}

// unescapeBytes returns the bytes s stands for: escaped bytes as themselves,
// other characters in UTF-8.
func unescapeBytes(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if isEscaped(r) {
			out = append(out, byte(r-escapeBase))
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}

// sanitize is Python's utils._sanitize: escaped bytes are put back and the
// result decoded as UTF-8, each invalid sequence becoming U+FFFD.
func sanitize(s string) string {
	if !hasEscapes(s) {
		return s
	}
	return DecodeUTF8(unescapeBytes(s))
}

// asciiOrEscaped returns s with every non-ASCII byte escaped: what Python's
// str holds for bytes decoded with ('ascii', 'surrogateescape').
func asciiOrEscaped(b []byte) string { return escapeRaw(b) }

// DecodeUTF8 decodes b as UTF-8 the way Python's decoder does with
// errors='replace': each maximal subpart of an ill-formed sequence (the
// longest prefix of a valid sequence, or one byte) becomes one U+FFFD, as
// the Unicode standard recommends. Go's own conversion replaces every byte
// of such a prefix.
func DecodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			sb.Write(b[:n])
			b = b[n:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		b = b[maximalSubpart(b):]
	}
	return sb.String()
}

// maximalSubpart returns how many bytes at the start of b, which does not
// start with a valid UTF-8 sequence, form one ill-formed subsequence.
func maximalSubpart(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xbf)
	switch {
	case c >= 0xc2 && c <= 0xdf:
		need = 1
	case c == 0xe0:
		need, lo = 2, 0xa0
	case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
		need = 2
	case c == 0xed:
		need, hi = 2, 0x9f
	case c == 0xf0:
		need, lo = 3, 0x90
	case c >= 0xf1 && c <= 0xf3:
		need = 3
	case c == 0xf4:
		need, hi = 3, 0x8f
	default:
		return 1
	}
	n := 1
	for i := 0; i < need && n < len(b); i++ {
		x := b[n]
		if i == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xbf {
			return n
		}
		n++
	}
	return n
}

// isSpace is Python's str.isspace for one character: Go's unicode.IsSpace
// plus the information separators U+001C..U+001F, which Python counts as
// white space. Escaped bytes are not white space.
func isSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// lstripSpace is Python's str.lstrip().
func lstripSpace(s string) string {
	for i, r := range s {
		if !isSpace(r) {
			return s[i:]
		}
	}
	return ""
}

// rstripSpace is Python's str.rstrip().
func rstripSpace(s string) string {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !isSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// stripSpace is Python's str.strip().
func stripSpace(s string) string { return rstripSpace(lstripSpace(s)) }

// fieldsPy is Python's str.split() without arguments.
func fieldsPy(s string) []string { return strings.FieldsFunc(s, isSpace) }

// joinFields is Python's "".join(s.split()): s without any white space.
func joinFields(s string) string {
	if strings.IndexFunc(s, isSpace) < 0 {
		return s
	}
	return strings.Join(fieldsPy(s), "")
}

// quoteString is the header parser's quote_string: the value between
// double quotes with backslashes and quotes escaped.
func quoteString(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
