package yara

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Results is what the worker returns: every rule of worker_rules that
// matched, in the order libyara reported them.
type Results struct {
	Matches []Match `json:"matches"`
}

// Match is one matching rule, in stoQ's shape: its tags, namespace ("default"
// unless the rules used another), name, meta (values keep their yara types:
// string, int or bool) and matched strings.
type Match struct {
	Tags      []string       `json:"tags"`
	Namespace string         `json:"namespace"`
	Rule      string         `json:"rule"`
	Meta      map[string]any `json:"meta"`
	Strings   []StringMatch  `json:"strings"`
}

// StringMatch is one match of one of a rule's strings. It marshals as stoQ's
// [offset, identifier, data] triple, with Data written by EscapeData.
// libyara keeps at most the first 512 bytes of a match's data.
type StringMatch struct {
	Offset     uint64
	Identifier string
	Data       []byte
}

// MarshalJSON writes [offset, identifier, EscapeData(data)].
func (s StringMatch) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{s.Offset, s.Identifier, EscapeData(s.Data)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *StringMatch) UnmarshalJSON(b []byte) error {
	var triple []json.RawMessage
	if err := json.Unmarshal(b, &triple); err != nil {
		return err
	}
	if len(triple) != 3 {
		return fmt.Errorf("yara string match: want [offset, identifier, data], got %d elements", len(triple))
	}
	var data string
	if err := json.Unmarshal(triple[0], &s.Offset); err != nil {
		return fmt.Errorf("yara string match offset: %w", err)
	}
	if err := json.Unmarshal(triple[1], &s.Identifier); err != nil {
		return fmt.Errorf("yara string match identifier: %w", err)
	}
	if err := json.Unmarshal(triple[2], &data); err != nil {
		return fmt.Errorf("yara string match data: %w", err)
	}
	raw, err := UnescapeData(data)
	if err != nil {
		return fmt.Errorf("yara string match data: %w", err)
	}
	s.Data = raw
	return nil
}

// EscapeData renders matched bytes as readable text that UnescapeData turns
// back into exactly the same bytes. Printable UTF-8 text is kept as it is,
// with two exceptions that make the form lossless: a backslash is written
// as `\\`, and tab, newline and carriage return as `\t`, `\n` and `\r`.
// Every other byte (control characters, bytes that are not valid UTF-8, and
// each byte of a valid but non-printable character) is written as `\xNN`
// with two lowercase hex digits, as Python writes bytes.
//
// For example the bytes 4D 5A 90 00 followed by `C:\x` render as
// `MZ\x90\x00C:\\x`.
func EscapeData(b []byte) string {
	if isPlainText(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + len(b)/2)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			writeASCII(&sb, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			for _, x := range b[i : i+size] {
				writeHexByte(&sb, x)
			}
		} else {
			sb.Write(b[i : i+size])
		}
		i += size
	}
	return sb.String()
}

// isPlainText reports whether EscapeData would return b unchanged: printable
// ASCII without a backslash (the common case, checked without allocating).
func isPlainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f || c == '\\' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

func writeHexByte(sb *strings.Builder, c byte) {
	sb.WriteString(`\x`)
	sb.WriteByte(hexDigits[c>>4])
	sb.WriteByte(hexDigits[c&0x0f])
}

func writeASCII(sb *strings.Builder, c byte) {
	switch c {
	case '\\':
		sb.WriteString(`\\`)
	case '\t':
		sb.WriteString(`\t`)
	case '\n':
		sb.WriteString(`\n`)
	case '\r':
		sb.WriteString(`\r`)
	default:
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			writeHexByte(sb, c)
		}
	}
}

// UnescapeData turns text written by EscapeData back into the original bytes.
// It accepts the escapes `\\`, `\t`, `\n`, `\r` and `\xNN` (either case of
// hex digit) and fails on any other backslash sequence.
func UnescapeData(s string) ([]byte, error) {
	if !strings.Contains(s, `\`) {
		return []byte(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("escaped data: lone backslash at the end (offset %d)", i)
		}
		i++
		switch s[i] {
		case '\\':
			out = append(out, '\\')
		case 't':
			out = append(out, '\t')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("escaped data: truncated \\x escape at offset %d", i-1)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("escaped data: invalid \\x escape %q at offset %d", s[i-1:i+3], i-1)
			}
			out = append(out, hi<<4|lo)
			i += 2
		default:
			return nil, fmt.Errorf("escaped data: unknown escape \\%c at offset %d", s[i], i-1)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// pythonBytesRepr writes b as Python's repr() of a bytes object does
// (b'\x11\x10'): stoQ reported multi-byte XOR keys that way.
func pythonBytesRepr(b []byte) string {
	quote := byte('\'')
	if strings.IndexByte(string(b), '\'') >= 0 && strings.IndexByte(string(b), '"') < 0 {
		quote = '"'
	}
	var sb strings.Builder
	sb.WriteByte('b')
	sb.WriteByte(quote)
	for _, c := range b {
		switch {
		case c == quote || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c >= 0x20 && c < 0x7f:
			sb.WriteByte(c)
		default:
			writeHexByte(&sb, c)
		}
	}
	sb.WriteByte(quote)
	return sb.String()
}
