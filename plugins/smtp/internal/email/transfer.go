package email

import "bytes"

// Transfer decodings, with the leniency of Python's email package (which
// relies on binascii): what cannot be decoded is skipped or kept, never an
// exception. Each function says what it does with bad input.

var b64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// a2bBase64 is binascii.a2b_base64 in its default, non-strict mode:
// characters outside the alphabet are skipped, decoding stops at the first
// complete padding, and ok is false when the data ends inside a quantum
// (Python raises binascii.Error).
func a2bBase64(in []byte) (out []byte, ok bool) {
	out = make([]byte, 0, len(in)/4*3+3)
	quadPos, pads := 0, 0
	var left byte
	for _, c := range in {
		if c == '=' {
			if quadPos >= 2 {
				pads++
				if quadPos+pads >= 4 {
					return out, true
				}
			}
			continue
		}
		v := b64Value[c]
		if v == 0xff {
			continue
		}
		pads = 0
		switch quadPos {
		case 0:
			quadPos, left = 1, v
		case 1:
			quadPos = 2
			out = append(out, left<<2|v>>4)
			left = v & 0x0f
		case 2:
			quadPos = 3
			out = append(out, left<<4|v>>2)
			left = v & 0x03
		case 3:
			quadPos = 0
			out = append(out, left<<6|v)
			left = 0
		}
	}
	return out, quadPos == 0
}

// validBase64 is base64.b64decode's validate=True check:
// [A-Za-z0-9+/]*={0,2} and nothing else.
func validBase64(in []byte) bool {
	i := 0
	for i < len(in) && b64Value[in[i]] != 0xff {
		i++
	}
	rest := in[i:]
	return len(rest) <= 2 && bytes.Count(rest, []byte("=")) == len(rest)
}

// decodeBase64Lenient is Python's _encoded_words.decode_b, which both
// encoded-words and base64 bodies go through: with the padding completed
// if that makes the text valid, else skipping stray characters, else with
// extra padding. ok is false when nothing decodes (a text one character
// longer than a multiple of four): Python then keeps the encoded text.
func decodeBase64Lenient(in []byte) (out []byte, ok bool) {
	if pad := len(in) % 4; pad != 0 {
		padded := append(append([]byte(nil), in...), "==="[:4-pad]...)
		if validBase64(padded) {
			if out, ok := a2bBase64(padded); ok {
				return out, true
			}
		}
	} else if validBase64(in) {
		if out, ok := a2bBase64(in); ok {
			return out, true
		}
	}
	if out, ok := a2bBase64(in); ok {
		return out, true
	}
	if out, ok := a2bBase64(append(append([]byte(nil), in...), "=="...)); ok {
		return out, true
	}
	return nil, false
}

// joinLines is Python's b"".join(b.splitlines()): the bytes without their line
// breaks (\r\n, \r, \n).
func joinLines(b []byte) []byte {
	if !bytes.ContainsAny(b, "\r\n") {
		return b
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return out
}

// DecodeQuotedPrintable is binascii.a2b_qp (quopri.decodestring): =XX is a
// byte, '=' before a line break is a soft break, '=' followed by anything
// else stays as it is, and nothing else changes (trailing white space is
// kept).
func DecodeQuotedPrintable(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c != '=' {
			out = append(out, c)
			i++
			continue
		}
		i++
		if i >= len(in) {
			break
		}
		switch {
		case in[i] == '\n' || in[i] == '\r':
			if in[i] != '\n' {
				for i < len(in) && in[i] != '\n' {
					i++
				}
			}
			if i < len(in) {
				i++
			}
		case in[i] == '=':
			out = append(out, '=')
			i++
		case i+1 < len(in) && isHex(in[i]) && isHex(in[i+1]):
			out = append(out, unhex(in[i])<<4|unhex(in[i+1]))
			i += 2
		default:
			out = append(out, '=')
		}
	}
	return out
}

// DecodeUU is Python's message._decode_uu: the lines between "begin MODE
// NAME" and "end", each decoded with binascii.a2b_uu. ok is false where
// Python gives up and returns the body unchanged.
func DecodeUU(body []byte) ([]byte, bool) {
	lines := splitLinesBytes(body)
	i := 0
	for ; i < len(lines); i++ {
		line := lines[i]
		if !bytes.HasPrefix(line, []byte("begin ")) {
			continue
		}
		mode, _, _ := bytes.Cut(line[len("begin "):], []byte(" "))
		if isOctalInt(mode) {
			break
		}
	}
	if i == len(lines) {
		return nil, false // no begin line
	}
	var out []byte
	for _, line := range lines[i+1:] {
		if len(line) == 0 {
			return nil, false // truncated
		}
		if string(bytes.Trim(line, " \t\r\n\f")) == "end" {
			break
		}
		dec, ok := a2bUU(line)
		if !ok {
			n := ((int(line[0])-32)&63*4 + 5) / 3
			dec, ok = a2bUU(line[:min(n, len(line))])
			if !ok {
				return nil, false
			}
		}
		out = append(out, dec...)
	}
	return out, true
}

// isOctalInt is int(mode, base=8) succeeding: optional white space and
// sign, octal digits with single underscores between them, an optional 0o.
func isOctalInt(b []byte) bool {
	s := bytes.TrimSpace(b)
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if len(s) > 1 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O') {
		s = s[2:]
		if len(s) > 0 && s[0] == '_' {
			s = s[1:]
		}
	}
	if len(s) == 0 {
		return false
	}
	prevDigit := false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '7':
			prevDigit = true
		case c == '_' && prevDigit:
			prevDigit = false
		default:
			return false
		}
	}
	return prevDigit
}

// a2bUU is binascii.a2b_uu for one (non-empty) line: missing characters
// count as zero bits, an illegal character or trailing garbage is ok=false.
func a2bUU(line []byte) ([]byte, bool) {
	n := int(line[0]-' ') & 0o77
	data := line[1:]
	out := make([]byte, 0, n)
	var left uint32
	bits := 0
	for n > 0 {
		exhausted := len(data) == 0
		var c byte
		if !exhausted {
			c, data = data[0], data[1:]
		}
		if exhausted || c == '\n' || c == '\r' {
			c = 0
		} else {
			if c < ' ' || c > ' '+64 {
				return nil, false
			}
			c = (c - ' ') & 0o77
		}
		left = left<<6 | uint32(c)
		bits += 6
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(left>>bits))
			left &= 1<<bits - 1
			n--
		}
	}
	for _, c := range data {
		if c != ' ' && c != ' '+64 && c != '\n' && c != '\r' {
			return nil, false
		}
	}
	return out, true
}

// splitLinesBytes is bytes.splitlines(): lines without their \r\n, \r or
// \n.
func splitLinesBytes(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i])
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			i++
		}
		b = b[i+1:]
	}
	return lines
}
