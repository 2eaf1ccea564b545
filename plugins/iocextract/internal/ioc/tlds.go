package ioc

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// TLDs is a set of top-level domain names, lowercase ASCII (IDN TLDs in
// their xn-- form), as IANA's tlds-alpha-by-domain.txt lists them.
type TLDs map[string]struct{}

// ParseTLDs reads a TLD list in the format of IANA's
// tlds-alpha-by-domain.txt: one name per line, any case; blank lines and
// lines starting with '#' (IANA's first line is "# Version …") are
// skipped. A line that is not a DNS label (letters, digits and inner
// hyphens, at most 63 characters, not all digits) is an error naming its
// line number, and so is a list without any name.
func ParseTLDs(data []byte) (TLDs, error) {
	tlds := TLDs{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(line, "."))
		if !validTLD(name) {
			return nil, fmt.Errorf("line %d: %q is not a top-level domain name (ASCII letters, digits and hyphens; IDN names in their xn-- form)", n, line)
		}
		tlds[name] = struct{}{}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(tlds) == 0 {
		return nil, fmt.Errorf("no top-level domain in the list")
	}
	return tlds, nil
}

// validTLD reports whether name (lowercase) can be a top-level domain: a
// DNS label of letters, digits and inner hyphens that is not all digits.
func validTLD(name string) bool {
	if len(name) == 0 || len(name) > maxLabel || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	letters := false
	for i := range len(name) {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z':
			letters = true
		case '0' <= c && c <= '9', c == '-':
		default:
			return false
		}
	}
	return letters
}

// has reports whether label, in any case, is one of the TLDs.
func (t TLDs) has(label []byte) bool {
	if len(label) == 0 || len(label) > maxLabel {
		return false
	}
	var lower [maxLabel]byte
	for i, c := range label {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	_, ok := t[string(lower[:len(label)])]
	return ok
}
