package configparser

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes (a binary file given as stoq.cfg) to the
// strict parser: it never panics, and an error never holds a control byte.
func FuzzParse(f *testing.F) {
	for _, c := range strictCases {
		f.Add([]byte(c.text))
	}
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x1b[2J = x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data)
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }) {
			t.Fatalf("error holds a control character: %q", msg)
		}
	})
}
