// Package ioc finds indicators of compromise in text: md5, sha1, sha256 and
// sha512 digests, IPv4 and IPv6 addresses, MAC addresses, e-mail addresses,
// domain names and URLs, written plainly or defanged ("hxxp://evil[.]com",
// "admin(at)example(dot)org"), and returns each normalized.
//
// # How text is read
//
// Content is read as UTF-8 (a UTF-16 text with a byte-order mark is
// converted first); a byte that is not UTF-8 ends any indicator, so the
// ASCII strings of a binary are searched too. It is cut into chunks of
// about 1 MiB at a line end (or other whitespace or control byte within the
// last 64 KiB of the chunk; only a chunk without any is cut in the middle),
// so that indicators, which never contain whitespace, are never split, the
// memory used beyond the results is a chunk's, and the caller's deadline is
// checked between chunks.
//
// In each chunk, defanged separators are replaced first (see refang). The
// chunk is then cut into tokens at the bytes no indicator contains
// (whitespace, quotes, angle brackets), and each token is searched only for
// the types it could hold (a hash needs 32 hex digits in a row, an e-mail
// address an '@', a URL "://"). Candidates are what the regular
// expressions below match. Only IPv6 runs through Go's regexp (RE2, time
// linear in the text whatever it holds), on short windows; the others are
// executed by hand-written finders that FuzzTwins checks find exactly the
// same spans as the patterns, at several times the speed of Go's regexp
// (which has no DFA and reads some 30 MB/s per pattern). Every candidate is
// then validated by the rules of its type (see Extractor.Extract).
package ioc

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Chunking: text is searched chunkSize bytes at a time, cut at the last
// line end (or whitespace) within cutWindow bytes of the chunk's end.
const (
	chunkSize = 1 << 20
	cutWindow = 64 << 10
)

// The candidate patterns. Each finds text that may be an indicator; the
// validators decide. They use only ASCII classes and RE2's ASCII \b, so a
// byte that is not UTF-8 is a separator like any other non-word character.
// They define what the hand-written finders find (the tests compile them
// to check that); only ipv6Pattern is compiled here.
const (
	hashPattern   = `\b[0-9A-Fa-f]{32,}\b`
	ipv4Pattern   = `\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b`
	macPattern    = `\b(?:(?:[0-9A-Fa-f]{2}:){5}|(?:[0-9A-Fa-f]{2}-){5})[0-9A-Fa-f]{2}\b`
	emailPattern  = `[A-Za-z0-9._%+\-]+@[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+`
	domainPattern = `[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)+`
	// ASCII letters in either case, not (?i), which would also match
	// Unicode's folds (ſ for s, K for k).
	schemePattern = `\b(?:[Hh](?:[Tt][Tt]|[Xx][Xx]|[Xx][Tt]|[Tt][Xx])[Pp]|[Mm][Ee][Oo][Ww]|[Ff][TtXx][Pp])[Ss]?://`
)

// ipv6Pattern is IPv6's candidate pattern; ipv6AtStartRe is it anchored,
// which ipv6Spans runs on short windows.
const ipv6Pattern = `[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:]*(?:\.[0-9]{1,3}){0,3}`

var ipv6AtStartRe = regexp.MustCompile(`^(?:` + ipv6Pattern + `)`)

// Extractor finds indicators. It is safe for concurrent use.
type Extractor struct {
	tlds  TLDs
	allow func(Type, string) bool
	limit int
}

// NewExtractor returns an extractor that accepts domain names ending in
// one of tlds, reports only the indicators allow accepts (nil accepts
// all: a Whitelist's Allows fits), and keeps at most limit distinct values
// of each type (0 or less: no limit).
func NewExtractor(tlds TLDs, allow func(Type, string) bool, limit int) *Extractor {
	return &Extractor{tlds: tlds, allow: allow, limit: limit}
}

// Found is what Extract found.
type Found struct {
	// IOCs maps each type found (its result key) to its distinct values,
	// sorted. Types without any value are absent.
	IOCs map[string][]string
	// Limited lists the types of which more distinct values were found
	// than the limit: only the first ones found are in IOCs.
	Limited []Type
	// Read is how many bytes of the text (as UTF-8) were searched: all of
	// it, unless the context ended first.
	Read, Total int
}

// Extract returns the indicators of text. It stops with ctx's error,
// returning what it found so far, when ctx ends first. text is not
// modified.
//
// The rules, type by type (all case-insensitive; "boundary" is RE2's \b,
// between an ASCII letter, digit or underscore and anything else):
//
//   - md5, sha1, sha256, sha512: a run of exactly 32, 40, 64 or 128 hex
//     digits between boundaries, containing both digits and letters;
//     lowercased.
//   - ipv4: four decimal numbers of 1 to 3 digits, each at most 255,
//     joined by dots, between boundaries, and not part of a longer dotted
//     number (1.2.3.4.5 and OIDs are not addresses); leading zeros are
//     dropped.
//   - ipv6: what net/netip parses as an IPv6 address (an IPv4 tail
//     allowed, a zone left off), with at least three groups written or one
//     of four digits (see ipv6Of), not touching a letter, digit, underscore
//     or colon; written canonically (RFC 5952).
//   - mac_address: six pairs of hex digits joined all by ':' or all by
//     '-', between boundaries, not part of a longer run of pairs (a key
//     fingerprint), except the two addresses of a run of exactly 14 pairs
//     joined by ':' (the MAC= field of netfilter logs); lowercased, joined
//     by ':'.
//   - email: a local part of letters, digits and ._%+- (at most 64, not
//     starting or ending with a dot, no two dots in a row), '@', and a
//     domain name as below whose every label is valid; the domain is
//     lowercased, the local part kept as written. An address right after
//     '/' or '@' is not one (a URL's user name, a broken address).
//   - domain: labels of letters, digits, hyphens (not at either end) and
//     underscores, at most 63 characters each, joined by dots, ending with
//     a label of the TLD list, whose left neighbour (the registered name)
//     has no underscore; at most 253 characters. From a longer run of
//     labels, the longest run that starts at a valid label and ends with a
//     TLD is taken (www.example.com.exe gives www.example.com). Names just
//     before '@' are e-mail local parts, not domains; names inside URLs
//     and e-mail addresses are domains too. Lowercased.
//   - url: a scheme (http, https, ftp, ftps, or their defanged hxxp, hxxps,
//     hxtp, htxp, meow, meows, fxp, fxps) and "://", an optional user name,
//     a host (a domain name as above, an IPv4 address, or an IPv6 address
//     in brackets), an optional port (at most 65535), and the path, query
//     and fragment up to whitespace, a quote, '<', '>', '`', '{', '}', '|',
//     '\', '^', a control character, or a character outside ASCII that is
//     not a letter, digit or mark, less trailing punctuation (.,;:!?*'
//     and a ')' or ']' that closes nothing in the URL, and a trailing HTML
//     entity such as &gt;). The scheme and host are normalized (hxxp and
//     meow to http, fxp to ftp, the host lowercased as the domain rule
//     says), the rest kept as written.
//
// Names and words that touch a letter outside ASCII are left alone, so a
// part of an internationalized name is not reported as a name. Where a
// run without whitespace had to be cut between chunks, what touches the
// cut is left out too: it may be a piece of something longer.
func (e *Extractor) Extract(ctx context.Context, text []byte) (*Found, error) {
	text = utf8Text(text)
	c := newCollector(e)
	var buf []byte
	start := 0
	for start < len(text) {
		if err := ctx.Err(); err != nil {
			return c.found(start, len(text)), err
		}
		end := chunkEnd(text, start)
		chunk := refang(text[start:end], &buf)
		c.cutBefore = start > 0 && !isCutByte(text[start-1])
		c.cutAfter = end < len(text) && !isCutByte(text[end-1])
		c.scan(chunk)
		start = end
	}
	return c.found(start, len(text)), nil
}

// chunkEnd returns where the chunk starting at start ends: at most
// chunkSize bytes on, just after the last line end, else the last
// whitespace or control byte, within cutWindow bytes of that limit.
func chunkEnd(text []byte, start int) int {
	limit := start + chunkSize
	if limit >= len(text) {
		return len(text)
	}
	window := text[limit-cutWindow : limit]
	if i := bytes.LastIndexByte(window, '\n'); i >= 0 {
		return limit - cutWindow + i + 1
	}
	for i := len(window) - 1; i >= 0; i-- {
		if isCutByte(window[i]) {
			return limit - cutWindow + i + 1
		}
	}
	return limit
}

// isCutByte reports whether a chunk may end after c without splitting an
// indicator: whitespace and control bytes.
func isCutByte(c byte) bool { return c <= ' ' || c == 0x7f }

// utf8Text returns content as UTF-8: content itself, unless it starts with
// a UTF-16 byte-order mark, in which case it is converted (stoQ decoded
// every payload to text with bs4's UnicodeDammit, which honours the mark).
func utf8Text(content []byte) []byte {
	if len(content) < 2 {
		return content
	}
	var order func(b []byte) uint16
	switch {
	case content[0] == 0xff && content[1] == 0xfe:
		order = func(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
	case content[0] == 0xfe && content[1] == 0xff:
		order = func(b []byte) uint16 { return uint16(b[1]) | uint16(b[0])<<8 }
	default:
		return content
	}
	out := make([]byte, 0, len(content))
	var pending uint16 // a high surrogate waiting for its low half
	for i := 2; i+1 < len(content); i += 2 {
		u := order(content[i:])
		switch {
		case pending != 0:
			r := utf16.DecodeRune(rune(pending), rune(u))
			pending = 0
			if r != utf8.RuneError {
				out = utf8.AppendRune(out, r)
				continue
			}
			out = utf8.AppendRune(out, utf8.RuneError)
			if utf16.IsSurrogate(rune(u)) && u < 0xdc00 {
				pending = u
				continue
			}
			out = utf8.AppendRune(out, rune(u))
		case u >= 0xd800 && u < 0xdc00:
			pending = u
		default:
			out = utf8.AppendRune(out, rune(u))
		}
	}
	return out
}

// collector gathers the distinct values of each type.
type collector struct {
	e       *Extractor
	sets    [numTypes]map[string]struct{}
	limited [numTypes]bool
	scratch []byte // for values built before they are known to be new
	// cutBefore and cutAfter say that the chunk being scanned starts or
	// ends in the middle of a run without whitespace (a hard cut).
	cutBefore, cutAfter bool
}

// atCut reports whether chunk[s:e] touches a hard cut of the chunk, so may
// be a piece of something longer: it is not reported.
func (c *collector) atCut(s, e int, chunk []byte) bool {
	return c.cutBefore && s == 0 || c.cutAfter && e == len(chunk)
}

func newCollector(e *Extractor) *collector {
	c := &collector{e: e}
	for i := range c.sets {
		c.sets[i] = map[string]struct{}{}
	}
	return c
}

// add records value v of type t unless it is known, not allowed, or over
// the limit (which is then noted).
func (c *collector) add(t Type, v string) {
	set := c.sets[t]
	if _, ok := set[v]; ok || v == "" {
		return
	}
	if c.e.allow != nil && !c.e.allow(t, v) {
		return
	}
	if c.e.limit > 0 && len(set) >= c.e.limit {
		c.limited[t] = true
		return
	}
	set[v] = struct{}{}
}

// addBytes is add for a value held in bytes: a string is made only for a
// value not seen before, so repeated indicators cost no allocation.
func (c *collector) addBytes(t Type, v []byte) {
	if _, ok := c.sets[t][string(v)]; ok {
		return
	}
	c.add(t, string(v))
}

// addLower is addBytes for the ASCII-lowercase form of v.
func (c *collector) addLower(t Type, v []byte) {
	c.scratch = append(c.scratch[:0], v...)
	for i, b := range c.scratch {
		if 'A' <= b && b <= 'Z' {
			c.scratch[i] = b + 'a' - 'A'
		}
	}
	c.addBytes(t, c.scratch)
}

func (c *collector) found(read, total int) *Found {
	f := &Found{IOCs: map[string][]string{}, Read: read, Total: total}
	for t, set := range c.sets {
		if len(set) == 0 {
			continue
		}
		values := make([]string, 0, len(set))
		for v := range set {
			values = append(values, v)
		}
		slices.Sort(values)
		f.IOCs[Type(t).String()] = values
		if c.limited[t] {
			f.Limited = append(f.Limited, Type(t))
		}
	}
	return f
}

// Byte classes of the token scan.
const (
	classSep    = 1 << iota // ends a token: no indicator contains it
	classHex                // 0-9 A-F a-f
	classDigit              // 0-9
	classLetter             // A-Z a-z
)

// classes classifies every byte for the token scan. Separators are the
// bytes that end a URL (see urlStop): whitespace, control characters,
// quotes, angle brackets, ` { } | \ ^; no indicator contains one.
var classes = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		switch {
		case urlStop[b]:
			t[c] |= classSep
		case isDigit(b):
			t[c] |= classDigit | classHex
		case isHex(b):
			t[c] |= classHex | classLetter
		case 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z':
			t[c] |= classLetter
		}
	}
	return t
}()

// tokenStats is what the token scan learns of a token: enough to tell
// which patterns could match in it.
type tokenStats struct {
	hashRun              bool // a run of 32, 40, 64 or 128 hex digits between non-word bytes
	digits, dots, colons int
	hexColons, hexDashes int // ':' and '-' between two hex digits
	ats                  int
	dotLetter            bool // a '.' followed by a letter, as a TLD starts
	doubleColon          bool // "::"
}

// scan searches one refanged chunk for every type. The chunk is cut into
// tokens at separators, and each pattern runs only over the tokens that
// could hold a match (a hash needs 32 hex digits in a row, an e-mail
// address an '@', a URL "://"): Go's regexp reads some 30 MB/s per
// pattern, and most of a text is words that no pattern can match.
// Patterns match the same text in a token as in the whole chunk, since
// none can match a separator and separators are non-word characters for
// \b.
func (c *collector) scan(chunk []byte) {
	for i := 0; i < len(chunk); {
		for i < len(chunk) && classes[chunk[i]]&classSep != 0 {
			i++
		}
		start := i
		var st tokenStats
		hexStart := -1 // where the current run of hex digits started
		var prev byte
		for ; i < len(chunk); i++ {
			b := chunk[i]
			cl := classes[b]
			if cl&classSep != 0 {
				break
			}
			if cl&classHex != 0 {
				if hexStart < 0 {
					hexStart = i
				}
			} else if hexStart >= 0 {
				st.hashRun = st.hashRun || hashRunAt(chunk, hexStart, i)
				hexStart = -1
			}
			if cl&classDigit != 0 {
				st.digits++
			}
			if prev == '.' && cl&classLetter != 0 {
				st.dotLetter = true
			}
			if cl&classHex != 0 && i >= start+2 && classes[chunk[i-2]]&classHex != 0 {
				switch prev {
				case ':':
					st.hexColons++
				case '-':
					st.hexDashes++
				}
			}
			switch b {
			case '.':
				st.dots++
			case ':':
				st.colons++
				st.doubleColon = st.doubleColon || prev == ':'
			case '@':
				st.ats++
			}
			prev = b
		}
		if hexStart >= 0 {
			st.hashRun = st.hashRun || hashRunAt(chunk, hexStart, i)
		}
		if i > start {
			c.token(chunk, start, i, &st)
		}
	}
}

// hashRunAt reports whether the run of hex digits chunk[s:e] has a
// digest's length and lies between non-word bytes, as hashPattern requires.
func hashRunAt(chunk []byte, s, e int) bool {
	switch e - s {
	case 32, 40, 64, 128:
		return (s == 0 || !isWordByte(chunk[s-1])) && (e == len(chunk) || !isWordByte(chunk[e]))
	}
	return false
}

// token runs the patterns that could match in chunk[from:to].
func (c *collector) token(chunk []byte, from, to int, st *tokenStats) {
	if st.hashRun {
		c.hashes(chunk, from, to)
	}
	if st.dots >= 3 && st.digits >= 4 {
		c.ipv4s(chunk, from, to)
	}
	if st.dotLetter {
		c.domains(chunk, from, to)
		if st.ats > 0 {
			c.emails(chunk, from, to)
		}
	}
	// Without "::", an IPv6 address has seven colons between hex digits.
	if st.doubleColon || st.hexColons >= 7 {
		c.ipv6s(chunk, from, to)
	}
	if (st.hexColons >= 5 || st.hexDashes >= 5) && to-from >= 17 {
		c.macs(chunk, from, to)
	}
	if st.colons > 0 && bytes.Contains(chunk[from:to], []byte("://")) {
		c.urls(chunk, from, to)
	}
}

func (c *collector) hashes(chunk []byte, from, to int) {
	hashSpans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		run := chunk[s:e]
		if t, ok := hashType(run); ok {
			c.addLower(t, run)
		}
	})
}

func (c *collector) ipv4s(chunk []byte, from, to int) {
	ipv4Spans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		// Part of a longer dotted number: 1.2.3.4.5, an OID, a version.
		if s >= 2 && chunk[s-1] == '.' && isDigit(chunk[s-2]) || e+1 < len(chunk) && chunk[e] == '.' && isDigit(chunk[e+1]) {
			return
		}
		switch valid, canonical := ipv4Check(chunk[s:e]); {
		case canonical:
			c.addBytes(IPv4, chunk[s:e])
		case valid:
			c.add(IPv4, ipv4Of(chunk[s:e]))
		}
	})
}

func (c *collector) ipv6s(chunk []byte, from, to int) {
	ipv6Spans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		cand := chunk[s:e]
		// A colon ending a sentence ("at fe80::1:") is punctuation.
		if len(cand) >= 2 && cand[len(cand)-1] == ':' && cand[len(cand)-2] != ':' {
			cand = cand[:len(cand)-1]
			e--
		}
		if e < len(chunk) && (isWordByte(chunk[e]) || chunk[e] == ':' && e+1 < len(chunk) && isHex(chunk[e+1])) {
			return
		}
		c.add(IPv6, ipv6Of(cand))
	})
}

func (c *collector) macs(chunk []byte, from, to int) {
	macSpans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		if !macAlone(chunk, s, e) {
			return
		}
		if mac, ok := normalMAC(string(chunk[s:e])); ok {
			c.add(MACAddress, mac)
		}
	})
}

// macAlone reports whether the six pairs chunk[s:e] are a MAC address
// rather than part of a longer run of hex pairs (a key fingerprint, an
// IPv6 address written in pairs). The exception is a run of exactly 14
// pairs joined by ':', the MAC= field of Linux netfilter logs (destination
// address, source address, EtherType): its two addresses are reported.
// At most 15 pairs are read on each side, so a hostile run costs no more.
func macAlone(chunk []byte, s, e int) bool {
	sep := chunk[s+2]
	left, p := 0, s
	for left < 15 && p >= 3 && chunk[p-1] == sep && isHex(chunk[p-2]) && isHex(chunk[p-3]) {
		p -= 3
		left++
	}
	right, q := 0, e
	for right < 15 && q+3 <= len(chunk) && chunk[q] == sep && isHex(chunk[q+1]) && isHex(chunk[q+2]) {
		q += 3
		right++
	}
	// The run must not go on with a lone hex digit or a word ("a:00:…").
	if p > 0 && (isWordByte(chunk[p-1]) || chunk[p-1] == sep) || q < len(chunk) && (isWordByte(chunk[q]) || chunk[q] == sep && q+1 < len(chunk) && isHex(chunk[q+1])) {
		return false
	}
	return left == 0 && right == 0 || sep == ':' && left+right == 8 && (left == 0 || left == 6)
}

func (c *collector) emails(chunk []byte, from, to int) {
	emailSpans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		at := s + bytes.IndexByte(chunk[s:e], '@')
		// The regexp's local part may start with dots: they are not in it.
		for s < at && chunk[s] == '.' {
			s++
		}
		local := chunk[s:at]
		if len(local) == 0 || len(local) > maxLocalPart || local[len(local)-1] == '.' || bytes.Contains(local, []byte("..")) {
			return
		}
		if s > 0 && (chunk[s-1] == '/' || chunk[s-1] == '@') || letterBefore(chunk, s) {
			return
		}
		_, to, ok := c.e.tlds.domainSpan(chunk[at+1:e], false)
		if !ok || at+1+to == e && letterAfter(chunk, e) {
			return
		}
		// The local part as written, the domain lowercased.
		c.scratch = append(append(c.scratch[:0], local...), chunk[at:at+1+to]...)
		for i := len(local); i < len(c.scratch); i++ {
			if b := c.scratch[i]; 'A' <= b && b <= 'Z' {
				c.scratch[i] = b + 'a' - 'A'
			}
		}
		c.addBytes(Email, c.scratch)
	})
}

func (c *collector) domains(chunk []byte, from, to int) {
	domainSpans(chunk, from, to, func(s, e int) {
		if c.atCut(s, e, chunk) {
			return
		}
		if e < len(chunk) && chunk[e] == '@' {
			return // an e-mail address's local part
		}
		// "%2Fevil.com" in a URL's query: the escape is not part of the name.
		if s > 0 && chunk[s-1] == '%' && e-s > 2 && isHex(chunk[s]) && isHex(chunk[s+1]) {
			s += 2
		}
		if letterBefore(chunk, s) {
			return
		}
		from, to, ok := c.e.tlds.domainSpan(chunk[s:e], true)
		// A name ending the candidate must not run on into a letter
		// outside ASCII.
		if !ok || s+to == e && letterAfter(chunk, e) {
			return
		}
		c.addLower(Domain, chunk[s+from:s+to])
	})
}

// domainSpans calls fn with the bounds of every match of domainPattern in
// chunk[from:to], in order, as a regexp of domainPattern finds them, without
// the regexp: runs of label characters joined by single dots, at least two
// labels. Its hand-written loop matters most of the six, as it runs on
// most tokens and took a quarter of the time on mixed text; FuzzTwins
// checks that it finds the same spans as domainPattern.
func domainSpans(chunk []byte, from, to int, fn func(s, e int)) {
	i := from
	for i < to {
		for i < to && !isLabelByte(chunk[i]) {
			i++
		}
		s := i
		for i < to && isLabelByte(chunk[i]) {
			i++
		}
		if i == s {
			return
		}
		e, labels := i, 1
		for e+1 < to && chunk[e] == '.' && isLabelByte(chunk[e+1]) {
			e++
			for e < to && isLabelByte(chunk[e]) {
				e++
			}
			labels++
		}
		if labels >= 2 {
			fn(s, e)
		}
		i = e
	}
}

// schemes are the schemes schemeRe matches, lowercase.
var schemes = map[string]bool{}

func init() {
	for _, base := range []string{"http", "hxxp", "hxtp", "htxp", "meow", "ftp", "fxp"} {
		schemes[base], schemes[base+"s"] = true, true
	}
}

// schemeSpans calls fn with the bounds of every match of schemeRe in
// chunk[from:to], in order, as schemeRe.FindAllIndex finds them, without
// the regexp: each "://" whose preceding word (the run of word bytes
// before it, which \b requires to be all of the scheme) is a scheme.
// FuzzSchemeSpans checks that both find the same spans.
func schemeSpans(chunk []byte, from, to int, fn func(s, e int)) {
	for i := from; i+3 <= to; {
		j := bytes.Index(chunk[i:to], []byte("://"))
		if j < 0 {
			return
		}
		p := i + j
		s := p
		for s > from && p-s < 6 && isWordByte(chunk[s-1]) {
			s--
		}
		if p-s >= 3 && (s == from || !isWordByte(chunk[s-1])) {
			var lower [6]byte
			for k := s; k < p; k++ {
				lower[k-s] = chunk[k] | 0x20
			}
			if schemes[string(lower[:p-s])] {
				fn(s, p+3)
			}
		}
		i = p + 3
	}
}

// hashSpans calls fn with the bounds of every match of hashPattern in
// chunk[from:to], as a regexp of hashPattern finds them, without the regexp:
// every run of at least 32 hex digits between non-word bytes. FuzzTwins
// checks that both find the same spans.
func hashSpans(chunk []byte, from, to int, fn func(s, e int)) {
	for i := from; i < to; {
		if !isHex(chunk[i]) {
			i++
			continue
		}
		s := i
		for i < to && isHex(chunk[i]) {
			i++
		}
		if i-s >= 32 && (s == from || !isWordByte(chunk[s-1])) && (i == to || !isWordByte(chunk[i])) {
			fn(s, i)
		}
	}
}

// macSpans calls fn with the bounds of every match of macRe in
// chunk[from:to], as macRe.FindAllIndex finds them, without the regexp:
// six pairs of hex digits joined all by ':' or all by '-', starting after a
// non-word byte and followed by one. FuzzTwins checks that both find the
// same spans.
func macSpans(chunk []byte, from, to int, fn func(s, e int)) {
	for i := from; i+17 <= to; i++ {
		if !isHex(chunk[i]) || i > from && isWordByte(chunk[i-1]) {
			continue
		}
		sep := chunk[i+2]
		if sep != ':' && sep != '-' {
			continue
		}
		ok := i+17 == to || !isWordByte(chunk[i+17])
		for k := i; ok && k < i+17; k += 3 {
			ok = isHex(chunk[k]) && isHex(chunk[k+1]) && (k+2 == i+17 || chunk[k+2] == sep)
		}
		if ok {
			fn(i, i+17)
			i += 16
		}
	}
}

// ipv6Window is how much of a run of hex digits, colons and dots
// ipv6Spans hands the regexp: more than the longest address (45
// characters) and its IPv4 tail.
const ipv6Window = 64

// ipv6Spans calls fn with the bounds of the matches of ipv6Re in
// chunk[from:to] that can be addresses: those at the start of a run of
// hex digits, colons and dots that follows a non-word byte, and shorter
// than 46 characters (a match anywhere else follows a hex digit, colon or
// dot, and one of 46 or more characters is no address). It runs the
// anchored pattern on the first 64 bytes of each such run only, so a
// hostile run costs one short match whatever its length. FuzzTwins checks
// it against ipv6Re's matches with the same conditions.
func ipv6Spans(chunk []byte, from, to int, fn func(s, e int)) {
	for i := from; i < to; {
		if !isIPv6Byte(chunk[i]) {
			i++
			continue
		}
		s := i
		for i < to && isIPv6Byte(chunk[i]) {
			i++
		}
		// (Only a word byte can precede a run in a token; a colon or dot
		// can when from cuts a run, as in FuzzTwins.)
		if s > 0 && (isWordByte(chunk[s-1]) || chunk[s-1] == ':' || chunk[s-1] == '.') {
			continue
		}
		if m := ipv6AtStartRe.FindIndex(chunk[s:min(i, s+ipv6Window)]); m != nil && m[1] < 46 {
			fn(s, s+m[1])
		}
	}
}

// isIPv6Byte reports whether c may appear in an IPv6 address as ipv6Re
// reads one: a hex digit, ':' or '.'.
func isIPv6Byte(c byte) bool { return isHex(c) || c == ':' || c == '.' }

// ipv4Spans calls fn with the bounds of every match of ipv4Re in
// chunk[from:to], as ipv4Re.FindAllIndex finds them, without the regexp:
// from a digit after a non-word byte, four runs of 1 to 3 digits joined by
// dots, then a non-word byte. FuzzTwins checks that both find the same
// spans.
func ipv4Spans(chunk []byte, from, to int, fn func(s, e int)) {
	for i := from; i < to; i++ {
		if !isDigit(chunk[i]) || i > from && isWordByte(chunk[i-1]) {
			continue
		}
		p := i
		for group := 0; ; group++ {
			q := p
			for q < to && q-p < 4 && isDigit(chunk[q]) {
				q++
			}
			if q == p || q-p > 3 {
				break
			}
			p = q
			if group == 3 {
				if p == to || !isWordByte(chunk[p]) {
					fn(i, p)
					i = p
				}
				break
			}
			if p == to || chunk[p] != '.' {
				break
			}
			p++
		}
	}
}

// isLocalByte reports whether c may appear in an e-mail local part as
// emailRe reads one: A-Z a-z 0-9 . _ % + -.
func isLocalByte(c byte) bool {
	return isWordByte(c) || c == '.' || c == '%' || c == '+' || c == '-'
}

// emailSpans calls fn with the bounds of every match of emailRe in
// chunk[from:to], as emailRe.FindAllIndex finds them, without the regexp:
// for each '@', the run of local-part bytes before it (not reaching back
// into the previous match) and the labels after it, at least two.
// FuzzTwins checks that both find the same spans.
func emailSpans(chunk []byte, from, to int, fn func(s, e int)) {
	resume := from // where the previous match ended
	for i := from; i < to; {
		j := bytes.IndexByte(chunk[i:to], '@')
		if j < 0 {
			return
		}
		at := i + j
		s := at
		for s > resume && isLocalByte(chunk[s-1]) {
			s--
		}
		e, labels := at+1, 0
		for {
			q := e
			for q < to && isLabelByte(chunk[q]) {
				q++
			}
			if q == e {
				break
			}
			e, labels = q, labels+1
			if e+1 >= to || chunk[e] != '.' || !isLabelByte(chunk[e+1]) {
				break
			}
			e++
		}
		if s < at && labels >= 2 {
			fn(s, e)
			resume = e
			i = e
			continue
		}
		i = at + 1
	}
}

// isLabelByte reports whether c may appear in a DNS label as domainPattern
// reads one: A-Z a-z 0-9 _ -.
func isLabelByte(c byte) bool { return isWordByte(c) || c == '-' }

// urlStop marks the bytes that end a URL: whitespace and control
// characters, quotes, angle brackets, and the characters RFC 3986 excludes
// that text puts around URLs (` { } | \ ^).
var urlStop = func() (t [256]bool) {
	for c := 0; c <= ' '; c++ {
		t[c] = true
	}
	for _, c := range []byte("\x7f\"'<>`{}|\\^") {
		t[c] = true
	}
	return t
}()

// hostByte reports whether c may appear in a host name or IPv4 address.
func hostByte(c byte) bool {
	return isWordByte(c) || c == '-' || c == '.'
}

func (c *collector) urls(chunk []byte, from, to int) {
	consumed := from
	schemeSpans(chunk, from, to, func(s, e int) {
		if s < consumed {
			return // inside the URL just read
		}
		v, end, rawEnd := c.urlAt(chunk, s, e)
		if v == "" {
			return
		}
		// Consumed even when not reported, so that no path is read twice.
		consumed = end
		if !c.atCut(s, rawEnd, chunk) {
			c.add(URL, v)
		}
	})
}

// urlAt reads the URL whose scheme and "://" are chunk[s:rest] and returns
// it normalized, with where it ends, and where it ended before trailing
// punctuation was taken off; "" when what follows is not a valid host.
//
// The authority (user name, host, port) is read first, and the rest only
// when the host is valid: the authority ends at the next '/', so the
// authorities of successive candidates never overlap, and a valid URL's
// path is never read again (candidates inside it are skipped), which keeps
// the work linear in the text however many "http://" it holds.
func (c *collector) urlAt(chunk []byte, s, rest int) (url string, end, rawEnd int) {
	authEnd := rest
	for authEnd < len(chunk) {
		b := chunk[authEnd]
		if urlStop[b] || b == '/' || b == '?' || b == '#' || b >= utf8.RuneSelf {
			break
		}
		authEnd++
	}
	if letterAfter(chunk, authEnd) {
		return "", 0, 0 // an internationalized host, which is not read
	}
	auth := chunk[rest:authEnd]
	var userinfo []byte
	if at := bytes.LastIndexByte(auth, '@'); at >= 0 {
		if at == 0 {
			return "", 0, 0
		}
		userinfo, auth = auth[:at+1], auth[at+1:]
	}
	var host string
	var after []byte // what follows the host in the authority
	if len(auth) > 0 && auth[0] == '[' {
		closing := bytes.IndexByte(auth, ']')
		if closing < 0 {
			return "", 0, 0
		}
		addr, err := netip.ParseAddr(string(auth[1:closing]))
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return "", 0, 0
		}
		host, after = "["+addr.String()+"]", auth[closing+1:]
	} else {
		n := 0
		for n < len(auth) && hostByte(auth[n]) {
			n++
		}
		name := bytes.TrimSuffix(auth[:n], []byte("."))
		after = auth[n:]
		if host = ipv4Of(name); host == "" {
			var to int
			if host, _, to = c.e.tlds.domainOf(name, false); host == "" || to != len(name) {
				return "", 0, 0
			}
		}
	}
	port := portOf(after)
	var sb strings.Builder
	sb.WriteString(normalScheme(chunk[s : rest-3]))
	sb.WriteString("://")
	sb.Write(userinfo)
	sb.WriteString(host)
	sb.WriteString(port)
	if len(port) < len(after) {
		// Something that is not a port follows the host: the URL ends
		// there ("http://a.example.com,http://b.example.com").
		end = authEnd - (len(after) - len(port))
		return sb.String(), end, end
	}
	rawEnd = urlEnd(chunk, authEnd)
	end = authEnd + trimURLTail(chunk[authEnd:rawEnd])
	sb.Write(chunk[authEnd:end])
	return sb.String(), end, rawEnd
}

// portOf returns the port at the start of after (':' and 1 to 5 digits,
// at most 65535), or "".
func portOf(after []byte) string {
	if len(after) < 2 || after[0] != ':' {
		return ""
	}
	n := 1
	for n < len(after) && n <= 5 && isDigit(after[n]) {
		n++
	}
	if n == 1 || n < len(after) && isDigit(after[n]) {
		return ""
	}
	if v, err := strconv.Atoi(string(after[1:n])); err != nil || v > 65535 {
		return ""
	}
	return string(after[:n])
}

// urlEnd returns where the URL whose body starts at chunk[rest] ends: at
// the first byte of urlStop, or at a character outside ASCII that is not a
// letter, digit or mark (a typographic quote, a non-breaking space) or is
// not UTF-8 at all (the bytes after a string in a binary).
func urlEnd(chunk []byte, rest int) int {
	i := rest
	for i < len(chunk) {
		b := chunk[i]
		if b < utf8.RuneSelf {
			if urlStop[b] {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(chunk[i:])
		if r == utf8.RuneError && size <= 1 || !unicode.In(r, unicode.L, unicode.N, unicode.M) {
			return i
		}
		i += size
	}
	return i
}

// normalScheme turns a scheme as written (any case, defanged) into the
// real one.
func normalScheme(s []byte) string {
	lower := strings.ToLower(string(s))
	secure := strings.HasSuffix(lower, "s")
	var base string
	switch {
	case strings.HasPrefix(lower, "h"), strings.HasPrefix(lower, "meow"):
		base = "http"
	default:
		base = "ftp"
	}
	if secure {
		return base + "s"
	}
	return base
}

// htmlEntities are entities that text puts right after a URL (an escaped
// closing quote or bracket) rather than parts of it.
var htmlEntities = []string{"&gt;", "&lt;", "&quot;", "&#34;", "&#39;", "&apos;", "&amp;"}

// trimURLTail returns the length of body without what ends a sentence or
// encloses a URL rather than belonging to it: trailing .,;:!?*'
// characters, a ')' or ']' that closes no '(' or '[' of the URL, and HTML
// entities (&gt;, &quot;, …). It reads body a constant number of times,
// whatever its tail.
func trimURLTail(body []byte) int {
	openParens, closeParens := bytes.Count(body, []byte("(")), bytes.Count(body, []byte(")"))
	openBrackets, closeBrackets := bytes.Count(body, []byte("[")), bytes.Count(body, []byte("]"))
	n := len(body)
	for n > 0 {
		if ent := entitySuffix(body[:n]); ent > 0 {
			n -= ent
			continue
		}
		switch c := body[n-1]; {
		case strings.IndexByte(".,;:!?*'", c) >= 0:
		case c == ')' && closeParens > openParens:
			closeParens--
		case c == ']' && closeBrackets > openBrackets:
			closeBrackets--
		default:
			return n
		}
		n--
	}
	return n
}

// entitySuffix returns the length of the HTML entity of htmlEntities that
// ends s, or 0.
func entitySuffix(s []byte) int {
	if len(s) == 0 || s[len(s)-1] != ';' {
		return 0
	}
	for _, ent := range htmlEntities {
		if len(s) >= len(ent) && equalFoldASCII(s[len(s)-len(ent):], ent) {
			return len(ent)
		}
	}
	return 0
}
