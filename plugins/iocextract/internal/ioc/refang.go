package ioc

import "bytes"

// refangTriggers are the bytes a defanged separator starts with. Text
// without any of them is scanned as it is, without a copy.
const refangTriggers = "[({<\\"

// closers maps each opening bracket of a defanged separator to the bracket
// that must close it.
var closers = map[byte]byte{'[': ']', '(': ')', '{': '}', '<': '>'}

// bracketed lists what may stand between brackets, compared
// case-insensitively, and what it stands for: "[.]", "(dot)", "{@}",
// "<at>", "[:]", "[://]", "[/]".
var bracketed = []struct{ inner, plain string }{
	{".", "."}, {"dot", "."},
	{"@", "@"}, {"at", "@"},
	{"://", "://"}, {":", ":"}, {"/", "/"},
}

// maxInnerSpaces is how many spaces may stand on each side of the word
// between the brackets of a defanged separator ("[ . ]").
const maxInnerSpaces = 2

// refang returns text with defanged separators replaced by the characters
// they stand for: "[.]", "(.)", "{.}", "<.>" and "[dot]", "(dot)", "{dot}",
// "<dot>" become "."; the same forms of "@" and "at" become "@"; "[:]",
// "[://]" and "[/]" (in any of the four brackets) become ":", "://" and
// "/"; the escaped "\." and "\/" (regular expressions, JSON) become "." and
// "/". Words are compared case-insensitively, and up to two spaces may
// stand inside the brackets ("[ . ]"). Schemes (hxxp, meow) are not
// rewritten here but by the URL rules.
//
// When nothing is defanged, text itself is returned. Otherwise the result
// is written into *buf (grown as needed and kept for the next call), so one
// buffer serves every chunk of a payload and the payload is never modified.
func refang(text []byte, buf *[]byte) []byte {
	out := (*buf)[:0]
	copied := 0 // text[:copied] is already in out
	changed := false
	for i := 0; i < len(text); {
		j := bytes.IndexAny(text[i:], refangTriggers)
		if j < 0 {
			break
		}
		i += j
		n, plain := defangAt(text[i:])
		if n == 0 {
			i++
			continue
		}
		if !changed {
			changed = true
			if cap(out) < len(text) {
				out = make([]byte, 0, len(text))
			}
		}
		out = append(out, text[copied:i]...)
		out = append(out, plain...)
		i += n
		copied = i
	}
	if !changed {
		return text
	}
	out = append(out, text[copied:]...)
	*buf = out
	return out
}

// defangAt reports the length of the defanged separator at the start of s
// and what it stands for, or 0 when s does not start with one.
func defangAt(s []byte) (int, string) {
	if len(s) < 2 {
		return 0, ""
	}
	if s[0] == '\\' {
		if s[1] == '.' || s[1] == '/' {
			return 2, string(s[1])
		}
		return 0, ""
	}
	closer, ok := closers[s[0]]
	if !ok {
		return 0, ""
	}
	i := 1 + countSpaces(s[1:], maxInnerSpaces)
	for _, b := range bracketed {
		end := i + len(b.inner)
		if end > len(s) || !equalFoldASCII(s[i:end], b.inner) {
			continue
		}
		end += countSpaces(s[end:], maxInnerSpaces)
		if end < len(s) && s[end] == closer {
			return end + 1, b.plain
		}
	}
	return 0, ""
}

// countSpaces counts the spaces at the start of s, up to limit.
func countSpaces(s []byte, limit int) int {
	n := 0
	for n < len(s) && n < limit && s[n] == ' ' {
		n++
	}
	return n
}

// equalFoldASCII compares s with lower, which is lowercase ASCII, ignoring
// the case of s's ASCII letters.
func equalFoldASCII(s []byte, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
