package ioc

import (
	"bytes"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DNS limits (RFC 1035): a label has at most 63 characters, a name at most
// 253 in its dotted text form.
const (
	maxLabel  = 63
	maxDomain = 253
	// maxLocalPart is the longest local part of an e-mail address (RFC 5321).
	maxLocalPart = 64
)

// isWordByte reports whether c is an ASCII letter, digit or underscore: the
// characters RE2's \b treats as word characters.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// letterBefore reports whether the character that ends text[:i] is a
// letter or digit outside ASCII (part of an internationalized word, such
// as the "ñ" of "ñexample.com"); punctuation such as typographic quotes is
// not.
func letterBefore(text []byte, i int) bool {
	if i <= 0 || text[i-1] < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeLastRune(text[:i])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// letterAfter is letterBefore for the character that starts text[i:].
func letterAfter(text []byte, i int) bool {
	if i >= len(text) || text[i] < utf8.RuneSelf {
		return false
	}
	r, _ := utf8.DecodeRune(text[i:])
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// labelOK reports whether label is a valid DNS label of a host name:
// 1 to 63 letters, digits, hyphens and underscores, not starting or ending
// with a hyphen. Underscores are allowed (service names such as _dmarc,
// and hosts that malware registers under dynamic DNS); registrable names
// are held to stricter rules by domainOf.
func labelOK(label []byte) bool {
	if len(label) == 0 || len(label) > maxLabel || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	return true
}

// registrableOK reports whether label may be the label just left of the
// TLD (the name registered with a registry): a valid label without
// underscores. It keeps file names such as __init__.py out of the domains.
func registrableOK(label []byte) bool {
	return labelOK(label) && !strings.ContainsRune(string(label), '_')
}

// domainOf finds the domain name at the start of cand, a run of labels
// separated by single dots (as domainPattern matches it), and returns it
// lowercased, with where it lies in cand: the longest run of labels that
// ends with a known TLD, is at most 253 characters long, has at least two
// labels, and whose label left of the TLD has no underscore. With
// trimLeft, invalid labels at the start are dropped (for a name in free
// text, "-x.example.com" gives example.com); without it, every label from
// the first must be valid (the host of an e-mail address or a URL). It
// returns "" when there is no such name.
//
// Only the first 254 bytes of cand are read, so a hostile candidate of
// millions of labels costs no more than a real one.
func (t TLDs) domainOf(cand []byte, trimLeft bool) (name string, from, to int) {
	if from, to, ok := t.domainSpan(cand, trimLeft); ok {
		return strings.ToLower(string(cand[from:to])), from, to
	}
	return "", 0, 0
}

// domainSpan is domainOf without the name: where it lies in cand, as
// written, and whether there is one. It allocates nothing.
func (t TLDs) domainSpan(cand []byte, trimLeft bool) (from, to int, ok bool) {
	if len(cand) > maxDomain+1 {
		cand = cand[:maxDomain+1]
	}
	// ends[i] is where label i ends; 254 bytes hold at most 128 labels.
	var ends [maxDomain/2 + 2]int
	n := 0
	for i := 0; i <= len(cand) && n < len(ends); i++ {
		if i == len(cand) || cand[i] == '.' {
			ends[n] = i
			n++
		}
	}
	// When cand was cut, its last label may be cut too: never read it as
	// a TLD.
	complete := n
	if len(cand) == maxDomain+1 {
		complete = n - 1
	}
	start := func(i int) int {
		if i == 0 {
			return 0
		}
		return ends[i-1] + 1
	}
	label := func(i int) []byte { return cand[start(i):ends[i]] }
	for last := complete - 1; last >= 1; last-- {
		if !t.has(label(last)) || !registrableOK(label(last-1)) {
			continue
		}
		first := last - 1
		for first > 0 && labelOK(label(first-1)) {
			first--
		}
		from, to = start(first), ends[last]
		if first > 0 && !trimLeft || to-from > maxDomain {
			continue
		}
		return from, to, true
	}
	return 0, 0, false
}

// ipv4Of parses s as a dotted-quad IPv4 address (four decimal numbers of
// one to three digits, each at most 255) and returns it without leading
// zeros (010.001.002.003 is 10.1.2.3, read as decimal as Python's
// ipaddress and browsers' URL parsers do not: such text is rare and almost
// always meant in decimal). It returns "" when s is not one.
func ipv4Of(s []byte) string {
	valid, canonical := ipv4Check(s)
	switch {
	case !valid:
		return ""
	case canonical:
		return string(s)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		j := i + bytes.IndexByte(s[i:], '.')
		if j < i {
			j = len(s)
		}
		k := i
		for k < j-1 && s[k] == '0' {
			k++
		}
		out = append(out, s[k:j]...)
		if j < len(s) {
			out = append(out, '.')
		}
		i = j + 1
	}
	return string(out)
}

// ipv4Check reports whether s is a dotted-quad IPv4 address as ipv4Of
// reads one, and whether it is already written as ipv4Of would write it
// (no leading zeros), without allocating.
func ipv4Check(s []byte) (valid, canonical bool) {
	canonical = true
	octets, digits, value := 0, 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isDigit(s[i]) {
			if digits == 1 && value == 0 {
				canonical = false
			}
			value = value*10 + int(s[i]-'0')
			digits++
			if digits > 3 {
				return false, false
			}
			continue
		}
		if i < len(s) && s[i] != '.' || digits == 0 || value > 255 {
			return false, false
		}
		octets++
		digits, value = 0, 0
	}
	return octets == 4, canonical && octets == 4
}

// ipv6Of parses s as an IPv6 address with net/netip and returns its
// canonical text (RFC 5952: lowercase, zeros compressed), or "" when it is
// not one. Addresses written with fewer than three groups of hex digits
// are refused unless one group has four digits: "::", "::1", "d::" and
// "a::b" are far more often code (C++'s std::, Perl's A::B) than
// addresses, while fe80::1 and 2001::5 are kept.
func ipv6Of(s []byte) string {
	groups, fourDigits := 0, false
	for g := range strings.SplitSeq(string(s), ":") {
		if g != "" {
			groups++
			fourDigits = fourDigits || len(g) >= 4
		}
	}
	if groups < 2 || groups == 2 && !fourDigits {
		return ""
	}
	addr, err := netip.ParseAddr(string(s))
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return ""
	}
	return addr.String()
}

// hashType returns the hash type of a run of hex digits by its length (32
// md5, 40 sha1, 64 sha256, 128 sha512), or false for other lengths and for
// runs made only of decimal digits or only of letters, which are numbers
// and words far more often than digests (a real digest has both with
// near certainty: an md5 is all digits once in three million).
func hashType(run []byte) (Type, bool) {
	var t Type
	switch len(run) {
	case 32:
		t = MD5
	case 40:
		t = SHA1
	case 64:
		t = SHA256
	case 128:
		t = SHA512
	default:
		return 0, false
	}
	digits, letters := false, false
	for _, c := range run {
		if isDigit(c) {
			digits = true
		} else {
			letters = true
		}
	}
	return t, digits && letters
}
