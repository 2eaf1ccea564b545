package email

import (
	"strings"
	"unsafe"
)

// This file parses structured header values (addresses, message ids, MIME
// headers, unstructured text with encoded-words) into token trees with the
// same grammar, error recovery and quirks as Python 3.11's
// email._header_value_parser, so that the rendered values are the ones
// Python shows. Each function takes the rest of the value and returns the
// token it read and what is left, or a parse error (Python's
// HeaderParseError) and the value unchanged. Where Python itself fails with
// another exception (an IndexError, an AttributeError) the functions panic
// with pyCrash, and the caller renders the header another way.
//
// Python slices strings at every step, which makes its parser quadratic on
// long values; here a suffix is a Go substring (no copy), searches for
// "?=" and for white space are cached per header, and a work budget stops
// any remaining super-linear path: a header that exhausts it panics with
// errBudget and is rendered as unstructured text.

// pyCrash marks a value on which Python's parser raises an exception other
// than HeaderParseError.
type pyCrash string

// budgetExceeded is the panic value when a header costs too much work.
type budgetExceeded struct{}

var errBudget = budgetExceeded{}

type parseError struct{ invalidEW bool }

func (e *parseError) Error() string {
	if e.invalidEW {
		return "invalid encoded word"
	}
	return "header parse error"
}

var (
	errParse     = &parseError{}
	errInvalidEW = &parseError{invalidEW: true}
)

// Character sets of the grammar (ASCII only: escaped bytes are in none).
type charset [128]bool

func newSet(chars string) (s charset) {
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = true
	}
	return s
}

func (s *charset) has(c byte) bool { return c < 128 && s[c] }

func union(sets ...charset) (u charset) {
	for _, s := range sets {
		for i, in := range s {
			u[i] = u[i] || in
		}
	}
	return u
}

func minus(s charset, chars string) charset {
	for i := 0; i < len(chars); i++ {
		s[chars[i]] = false
	}
	return s
}

var (
	setWSP        = newSet(" \t")
	setCFWSLeader = newSet(" \t(")
	setSpecials   = newSet(`()<>@,:;.\"[]`)
	setAtomEnds   = union(setSpecials, setWSP)
	setDotAtomEnd = minus(setAtomEnds, ".")
	setPhraseEnds = minus(setSpecials, `."(`)
	setTSpecials  = minus(union(setSpecials, newSet("/?=")), ".")
	setTokenEnds  = union(setTSpecials, setWSP)
	setASpecials  = union(setTSpecials, newSet("*'%"))
	setAttrEnds   = union(setASpecials, setWSP)
	setExtAttrEnd = minus(setAttrEnds, "%")
)

// starts reports whether s is not empty and its first byte is in set.
func starts(s string, set *charset) bool { return s != "" && set.has(s[0]) }

// dropFirst is Python's value[1:], which is "" for an empty value.
func dropFirst(s string) string {
	if s == "" {
		return ""
	}
	return s[1:]
}

// first is Python's value[0] where Python does not check for an empty
// value first: on an empty value Python raises IndexError.
func first(s string) byte {
	if s == "" {
		panic(pyCrash("value[0] of an empty value"))
	}
	return s[0]
}

// hp holds one header's parse: the value parsed, the search caches and the
// work budget.
type hp struct {
	base string
	// First "?=" at or after qeFrom is at qeAt (-1: none).
	qeFrom, qeAt int
	// First space or tab at or after wsFrom is at wsAt (-1: none).
	wsFrom, wsAt int
	work, limit  int
	depth        int
}

func newHP(value string) *hp {
	return &hp{base: value, qeFrom: -1, wsFrom: -1, limit: 64*len(value) + 1<<16}
}

func (p *hp) spend(n int) {
	p.work += n + 1
	if p.work > p.limit {
		panic(errBudget)
	}
}

// spendScan charges a search for the bytes it read: up to what it found
// at i, or all n when it found nothing.
func (p *hp) spendScan(i, n int) {
	if i < 0 {
		p.spend(n)
	} else {
		p.spend(i)
	}
}

// offset returns where s starts in p.base when s is a suffix of it, else -1.
func (p *hp) offset(s string) int {
	if len(s) > len(p.base) {
		return -1
	}
	if len(s) == 0 {
		return len(p.base)
	}
	o := len(p.base) - len(s)
	if unsafe.StringData(p.base[o:]) == unsafe.StringData(s) {
		return o
	}
	return -1
}

// indexQE is strings.Index(s, "?="), cached when s is a suffix of the value.
func (p *hp) indexQE(s string) int {
	o := p.offset(s)
	if o < 0 {
		i := strings.Index(s, "?=")
		p.spendScan(i, len(s))
		return i
	}
	at := p.cachedIndex(o, "?=", &p.qeFrom, &p.qeAt)
	if at < 0 {
		return -1
	}
	return at - o
}

// indexWSP is the index of the first space or tab in s (len(s) if none),
// cached when s is a suffix of the value.
func (p *hp) indexWSP(s string) int {
	o := p.offset(s)
	var i int
	if o < 0 {
		i = strings.IndexAny(s, " \t")
		p.spendScan(i, len(s))
	} else if at := p.cachedIndex(o, "", &p.wsFrom, &p.wsAt); at >= 0 {
		i = at - o
	} else {
		i = -1
	}
	if i < 0 {
		return len(s)
	}
	return i
}

// cachedIndex finds the first occurrence at or after o of pattern ("" means
// a space or tab) in p.base, knowing that the first one at or after *from
// is *at. Searches move the cache, so walking forward costs one pass.
func (p *hp) cachedIndex(o int, pattern string, from, at *int) int {
	find := func(s string) int {
		var i int
		if pattern == "" {
			i = strings.IndexAny(s, " \t")
		} else {
			i = strings.Index(s, pattern)
		}
		p.spendScan(i, len(s))
		return i
	}
	switch {
	case *from >= 0 && o >= *from && (*at < 0 || o <= *at):
		return *at
	case *from >= 0 && o < *from:
		// Only the stretch before the cached start needs searching.
		end := min(*from+max(len(pattern), 1)-1, len(p.base))
		if i := find(p.base[o:end]); i >= 0 {
			*from, *at = o, o+i
			return o + i
		}
		*from = o
		return *at
	}
	i := find(p.base[o:])
	*from = o
	if i >= 0 {
		*at = o + i
	} else {
		*at = -1
	}
	return *at
}

var (
	tokDOT   = func() *token { return vterm(".", "dot") }
	tokComma = func() *token { return vterm(",", "list-separator") }
)

// getFWS: white space, as Python's str.lstrip() sees it.
func getFWS(value string) (*token, string) {
	rest := lstripSpace(value)
	return term(kWSTerm, value[:len(value)-len(rest)], "fws"), rest
}

// getEncodedWord reads an RFC 2047 encoded-word, decoded.
func (p *hp) getEncodedWord(value string) (*token, string, error) {
	p.spend(0)
	if !strings.HasPrefix(value, "=?") {
		return nil, value, errParse
	}
	rest := value[2:]
	i := p.indexQE(rest)
	if i < 0 {
		return nil, value, errParse
	}
	tok, remainder := rest[:i], rest[i+2:]
	if len(remainder) > 1 && isHex(remainder[0]) && isHex(remainder[1]) && strings.Count(tok, "?") < 2 {
		// The "?=" found was the start of a =XX escape in a Q word.
		if j := p.indexQE(remainder); j >= 0 {
			tok, remainder = tok+"?="+remainder[:j], remainder[j+2:]
		} else {
			tok, remainder = tok+"?="+remainder, ""
		}
		p.spend(len(tok))
	}
	ew := list(kEncodedWord, "encoded-word")
	if len(fieldsPy(tok)) > 1 {
		ew.defect() // white space inside encoded word
	}
	text, ok := decodeEncodedWord(tok)
	if !ok {
		return nil, value, errInvalidEW
	}
	for text != "" {
		if setWSP.has(text[0]) {
			var fws *token
			fws, text = getFWS(text)
			ew.add(fws)
			continue
		}
		end := strings.IndexAny(text, " \t")
		if end < 0 {
			end = len(text)
		}
		ew.add(vterm(text[:end], "vtext"))
		text = text[end:]
	}
	if remainder != "" && !setWSP.has(remainder[0]) {
		ew.defect() // missing trailing white space after encoded-word
	}
	return ew, remainder, nil
}

// decodeEncodedWord decodes the inside of =?charset?cte?text?=, as Python's
// _encoded_words.decode: ok is false where Python raises (not exactly two
// '?', an unknown cte, text that is not ASCII).
func decodeEncodedWord(tok string) (string, bool) {
	if strings.Count(tok, "?") != 2 {
		return "", false
	}
	parts := strings.SplitN(tok, "?", 3)
	cs, cte, encoded := parts[0], parts[1], parts[2]
	if i := strings.IndexByte(cs, '*'); i >= 0 {
		cs = cs[:i]
	}
	for _, r := range encoded {
		if r >= 0x80 && !isEscaped(r) {
			return "", false // str.encode('ascii', 'surrogateescape') fails
		}
	}
	raw := unescapeBytes(encoded)
	var b []byte
	switch cte {
	case "q", "Q":
		b = decodeQWord(raw)
	case "b", "B":
		b = decodeBWord(raw)
	default:
		return "", false
	}
	if dec, ok := lookupCodec(cs); ok {
		return dec.decodeEscaped(b), true
	}
	return asciiOrEscaped(b), true
}

// decodeQWord is _encoded_words.decode_q: '_' is a space, =XX a byte.
func decodeQWord(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '_':
			out = append(out, ' ')
		case b[i] == '=' && i+2 < len(b) && isHex(b[i+1]) && isHex(b[i+2]):
			out = append(out, unhex(b[i+1])<<4|unhex(b[i+2]))
			i += 2
		default:
			out = append(out, b[i])
		}
	}
	return out
}

// decodeBWord is _encoded_words.decode_b: lenient base64, and the encoded
// text itself when nothing can be decoded.
func decodeBWord(b []byte) []byte {
	out, ok := decodeBase64Lenient(b)
	if !ok {
		return b
	}
	return out
}

// getUnstructured reads an unstructured value: text and white space, with
// encoded-words decoded and the white space between two of them dropped.
func (p *hp) getUnstructured(value string) *token {
	u := list(kList, "unstructured")
	for value != "" {
		p.spend(0)
		if setWSP.has(value[0]) {
			var fws *token
			fws, value = getFWS(value)
			u.add(fws)
			continue
		}
		validEW := true
		if strings.HasPrefix(value, "=?") {
			ew, rest, err := p.getEncodedWord(value)
			if err == nil {
				haveWS := true
				if n := len(u.sub); n > 0 && u.sub[n-1].typ != "fws" {
					u.defect()
					haveWS = false
				}
				if n := len(u.sub); haveWS && n > 1 && u.sub[n-2].typ == "encoded-word" {
					u.sub[n-1] = term(kEWWSTerm, u.sub[n-1].text, "fws")
				}
				u.add(ew)
				value = rest
				continue
			}
			if err.(*parseError).invalidEW {
				validEW = false
			}
		}
		end := p.indexWSP(value)
		if validEW && p.hasEncodedWord(value, end) {
			// Split before an encoded-word that has no white space before it.
			if k := strings.Index(value[:end], "=?"); k > 0 {
				end = k
			}
		}
		u.add(vterm(value[:end], "vtext"))
		value = value[end:]
	}
	return u
}

// hasEncodedWord is the parser's rfc2047_matcher.search(value[:end]): is
// there =?charset?[qQbB]?...?= inside the first end bytes of value?
func (p *hp) hasEncodedWord(value string, end int) bool {
	for i := 0; i+1 < end; {
		k := strings.Index(value[i:end], "=?")
		if k < 0 {
			return false
		}
		i += k
		q := strings.IndexByte(value[i+2:end], '?')
		if q < 0 {
			return false
		}
		j := i + 2 + q
		if j+2 < end && strings.IndexByte("qQbB", value[j+1]) >= 0 && value[j+2] == '?' {
			qe := p.indexQE(value[j+3:])
			return qe >= 0 && j+3+qe+2 <= end
		}
		i++
	}
	return false
}

// ptextToEndchars is _get_ptext_to_endchars: the text up to one of
// endchars or to white space, with backslash escapes removed.
func ptextToEndchars(value, endchars string) (string, string) {
	if value == "" || setWSP.has(value[0]) {
		panic(pyCrash("ptext of nothing")) // Python's UnboundLocalError
	}
	var sb strings.Builder
	escape := false
	pos := 0
	for ; pos < len(value); pos++ {
		c := value[pos]
		if c == ' ' || c == '\t' {
			break
		}
		if c == '\\' {
			if !escape {
				escape = true
				continue
			}
			escape = false
		} else if escape {
			escape = false
		} else if strings.IndexByte(endchars, c) >= 0 {
			break
		}
		sb.WriteByte(c)
	}
	return sb.String(), value[pos:]
}

func getQpCtext(value string) (*token, string) {
	text, rest := ptextToEndchars(value, "()")
	return term(kWSTerm, text, "ptext"), rest
}

func getQcontent(value string) (*token, string) {
	text, rest := ptextToEndchars(value, `"`)
	return vterm(text, "ptext"), rest
}

// runOf returns the length of the run of bytes at the start of value that
// are not in ends.
func runOf(value string, ends *charset) int {
	i := 0
	for i < len(value) && !ends.has(value[i]) {
		i++
	}
	return i
}

func getAtext(value string) (*token, string, error) {
	n := runOf(value, &setAtomEnds)
	if n == 0 {
		return nil, value, errParse
	}
	return vterm(value[:n], "atext"), value[n:], nil
}

func (p *hp) getBareQuotedString(value string) (*token, string, error) {
	if first(value) != '"' {
		return nil, value, errParse
	}
	bqs := list(kBareQuoted, "bare-quoted-string")
	value = value[1:]
	if value != "" && value[0] == '"' {
		var t *token
		t, value = getQcontent(value)
		bqs.add(t)
	}
	for value != "" && value[0] != '"' {
		p.spend(0)
		var t *token
		switch {
		case setWSP.has(value[0]):
			t, value = getFWS(value)
		case strings.HasPrefix(value, "=?"):
			ew, rest, err := p.getEncodedWord(value)
			if err != nil {
				t, value = getQcontent(value)
				break
			}
			bqs.defect() // encoded word inside quoted string
			t, value = ew, rest
			if n := len(bqs.sub); n > 1 && bqs.sub[n-1].typ == "fws" && bqs.sub[n-2].typ == "encoded-word" {
				bqs.sub[n-1] = term(kEWWSTerm, bqs.sub[n-1].text, "fws")
			}
		default:
			t, value = getQcontent(value)
		}
		bqs.add(t)
	}
	if value == "" {
		bqs.defect() // end of header inside quoted string
		return bqs, value, nil
	}
	return bqs, value[1:], nil
}

// maxCommentDepth bounds nested comments; Python runs out of stack long
// before a header gets deeper than a few hundred.
const maxCommentDepth = 200

func (p *hp) getComment(value string) (*token, string) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxCommentDepth {
		panic(pyCrash("comments nested too deep"))
	}
	comment := list(kComment, "comment")
	if value != "" {
		value = value[1:]
	}
	for value != "" && value[0] != ')' {
		p.spend(0)
		var t *token
		switch {
		case setWSP.has(value[0]):
			t, value = getFWS(value)
		case value[0] == '(':
			t, value = p.getComment(value)
		default:
			t, value = getQpCtext(value)
		}
		comment.add(t)
	}
	if value == "" {
		comment.defect() // end of header inside comment
		return comment, value
	}
	return comment, value[1:]
}

func (p *hp) getCFWS(value string) (*token, string) {
	cfws := list(kWSList, "cfws")
	for starts(value, &setCFWSLeader) {
		var t *token
		if setWSP.has(value[0]) {
			t, value = getFWS(value)
		} else {
			t, value = p.getComment(value)
		}
		cfws.add(t)
	}
	return cfws, value
}

func (p *hp) getQuotedString(value string) (*token, string, error) {
	qs := list(kQuoted, "quoted-string")
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		qs.add(t)
	}
	bqs, value, err := p.getBareQuotedString(value)
	if err != nil {
		return nil, value, err
	}
	qs.add(bqs)
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		qs.add(t)
	}
	return qs, value, nil
}

func (p *hp) getAtom(value string) (*token, string, error) {
	p.spend(0)
	atom := list(kList, "atom")
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		atom.add(t)
	}
	if starts(value, &setAtomEnds) {
		return nil, value, errParse
	}
	var t *token
	var err error
	rest := value
	if strings.HasPrefix(value, "=?") {
		t, rest, err = p.getEncodedWord(value)
		if err != nil {
			t, rest, err = getAtext(value)
		}
	} else {
		t, rest, err = getAtext(value)
	}
	if err != nil {
		return nil, value, err
	}
	value = rest
	atom.add(t)
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		atom.add(t)
	}
	return atom, value, nil
}

func getDotAtomText(value string) (*token, string, error) {
	dat := list(kList, "dot-atom-text")
	if value == "" || setAtomEnds.has(value[0]) {
		return nil, value, errParse
	}
	for value != "" && !setAtomEnds.has(value[0]) {
		t, rest, _ := getAtext(value)
		dat.add(t)
		value = rest
		if value != "" && value[0] == '.' {
			dat.add(tokDOT())
			value = value[1:]
		}
	}
	if dat.sub[len(dat.sub)-1].typ == "dot" {
		return nil, value, errParse
	}
	return dat, value, nil
}

func (p *hp) getDotAtom(value string) (*token, string, error) {
	p.spend(0)
	orig := value
	da := list(kList, "dot-atom")
	if setCFWSLeader.has(first(value)) {
		var t *token
		t, value = p.getCFWS(value)
		da.add(t)
	}
	var t *token
	var err error
	rest := value
	if strings.HasPrefix(value, "=?") {
		t, rest, err = p.getEncodedWord(value)
		if err != nil {
			t, rest, err = getDotAtomText(value)
		}
	} else {
		t, rest, err = getDotAtomText(value)
	}
	if err != nil {
		return nil, orig, err
	}
	value = rest
	da.add(t)
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		da.add(t)
	}
	return da, value, nil
}

func (p *hp) getWord(value string) (*token, string, error) {
	p.spend(0)
	orig := value
	var leader *token
	if setCFWSLeader.has(first(value)) {
		leader, value = p.getCFWS(value)
	}
	if value == "" {
		return nil, orig, errParse
	}
	var t *token
	var err error
	switch {
	case value[0] == '"':
		t, value, err = p.getQuotedString(value)
	case setSpecials.has(value[0]):
		err = errParse
	default:
		t, value, err = p.getAtom(value)
	}
	if err != nil {
		return nil, orig, err
	}
	if leader != nil {
		t.prepend(leader)
	}
	return t, value, nil
}

func (p *hp) getPhrase(value string) (*token, string, error) {
	orig := value
	phrase := list(kList, "phrase")
	if t, rest, err := p.getWord(value); err == nil {
		phrase.add(t)
		value = rest
	} else {
		phrase.defect() // phrase does not start with word
	}
	for value != "" && !setPhraseEnds.has(value[0]) {
		p.spend(0)
		if value[0] == '.' {
			phrase.add(tokDOT())
			value = value[1:]
			continue
		}
		t, rest, err := p.getWord(value)
		if err != nil {
			if !setCFWSLeader.has(value[0]) {
				return nil, orig, err
			}
			t, rest = p.getCFWS(value)
		}
		phrase.add(t)
		value = rest
	}
	return phrase, value, nil
}

func (p *hp) getLocalPart(value string) (*token, string, error) {
	orig := value
	lp := list(kLocalPart, "local-part")
	var leader *token
	if setCFWSLeader.has(first(value)) {
		leader, value = p.getCFWS(value)
	}
	if value == "" {
		return nil, orig, errParse
	}
	t, rest, err := p.getDotAtom(value)
	if err != nil {
		t, rest, err = p.getWord(value)
		if err != nil {
			if value[0] != '\\' && setPhraseEnds.has(value[0]) {
				return nil, orig, err
			}
			t, rest = list(kList, ""), value
		}
	}
	value = rest
	if leader != nil {
		t.prepend(leader)
	}
	lp.add(t)
	if value != "" && (value[0] == '\\' || !setPhraseEnds.has(value[0])) {
		prefix := lp.str()
		p.spend(len(prefix) + len(value))
		obs, rest, err := p.getObsLocalPart(prefix + value)
		if err != nil {
			return nil, orig, err
		}
		value = rest
		if obs.typ == "invalid-obs-local-part" {
			lp.defect()
		}
		lp.sub[0] = obs
	}
	return lp, value, nil
}

func (p *hp) getObsLocalPart(value string) (*token, string, error) {
	orig := value
	olp := list(kList, "obs-local-part")
	lastNonWSWasDot := false
	for value != "" && (value[0] == '\\' || !setPhraseEnds.has(value[0])) {
		p.spend(0)
		if value[0] == '.' {
			if lastNonWSWasDot {
				olp.defect() // invalid repeated '.'
			}
			olp.add(tokDOT())
			lastNonWSWasDot = true
			value = value[1:]
			continue
		}
		if value[0] == '\\' {
			olp.add(vterm(value[:1], "misplaced-special"))
			value = value[1:]
			olp.defect()
			lastNonWSWasDot = false
			continue
		}
		if n := len(olp.sub); n > 0 && olp.sub[n-1].typ != "dot" {
			olp.defect() // missing '.' between words
		}
		t, rest, err := p.getWord(value)
		if err == nil {
			lastNonWSWasDot = false
		} else {
			if !setCFWSLeader.has(value[0]) {
				return nil, orig, err
			}
			t, rest = p.getCFWS(value)
		}
		olp.add(t)
		value = rest
	}
	if olp.at(0).typ == "dot" || (olp.at(0).typ == "cfws" && olp.at(1).typ == "dot") {
		olp.defect() // leading '.'
	}
	if olp.at(-1).typ == "dot" || (olp.at(-1).typ == "cfws" && olp.at(-2).typ == "dot") {
		olp.defect() // trailing '.'
	}
	if olp.invalid > 0 {
		olp.typ = "invalid-obs-local-part"
	}
	return olp, value, nil
}

func getDtext(value string) (*token, string) {
	text, rest := ptextToEndchars(value, "[]")
	return vterm(text, "ptext"), rest
}

// earlyDomainLiteralEnd is _check_for_early_dl_end. Python appends the
// defect object itself to the token list (its str() is the message, and
// asking for its value fails), then the closing bracket.
func earlyDomainLiteralEnd(value string, dl *token) bool {
	if value != "" {
		return false
	}
	dl.add(term(kValueTerm, "end of input inside domain-literal", "defect-object"))
	dl.add(vterm("]", "domain-literal-end"))
	return true
}

func (p *hp) getDomainLiteral(value string) (*token, string, error) {
	orig := value
	dl := list(kDomainLiteral, "domain-literal")
	if setCFWSLeader.has(first(value)) {
		var t *token
		t, value = p.getCFWS(value)
		dl.add(t)
	}
	if value == "" || value[0] != '[' {
		return nil, orig, errParse
	}
	value = value[1:]
	if earlyDomainLiteralEnd(value, dl) {
		return dl, value, nil
	}
	dl.add(vterm("[", "domain-literal-start"))
	var t *token
	if setWSP.has(value[0]) {
		t, value = getFWS(value)
		dl.add(t)
	}
	t, value = getDtext(value)
	dl.add(t)
	if earlyDomainLiteralEnd(value, dl) {
		return dl, value, nil
	}
	if setWSP.has(value[0]) {
		t, value = getFWS(value)
		dl.add(t)
	}
	if earlyDomainLiteralEnd(value, dl) {
		return dl, value, nil
	}
	if value[0] != ']' {
		return nil, orig, errParse
	}
	dl.add(vterm("]", "domain-literal-end"))
	value = value[1:]
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		dl.add(t)
	}
	return dl, value, nil
}

func (p *hp) getDomain(value string) (*token, string, error) {
	orig := value
	d := list(kDomain, "domain")
	var leader *token
	if setCFWSLeader.has(first(value)) {
		leader, value = p.getCFWS(value)
	}
	if value == "" {
		return nil, orig, errParse
	}
	if value[0] == '[' {
		t, rest, err := p.getDomainLiteral(value)
		if err != nil {
			return nil, orig, err
		}
		if leader != nil {
			t.prepend(leader)
		}
		d.add(t)
		return d, rest, nil
	}
	t, rest, err := p.getDotAtom(value)
	if err != nil {
		t, rest, err = p.getAtom(value)
		if err != nil {
			return nil, orig, err
		}
	}
	value = rest
	if value != "" && value[0] == '@' {
		return nil, orig, errParse
	}
	if leader != nil {
		t.prepend(leader)
	}
	d.add(t)
	if value != "" && value[0] == '.' {
		if d.sub[0].typ == "dot-atom" {
			d.sub = append([]*token(nil), d.sub[0].sub...)
		}
		for value != "" && value[0] == '.' {
			d.add(tokDOT())
			t, rest, err := p.getAtom(value[1:])
			if err != nil {
				return nil, orig, err
			}
			d.add(t)
			value = rest
		}
	}
	return d, value, nil
}

func (p *hp) getAddrSpec(value string) (*token, string, error) {
	orig := value
	as := list(kAddrSpec, "addr-spec")
	t, value, err := p.getLocalPart(value)
	if err != nil {
		return nil, orig, err
	}
	as.add(t)
	if value == "" || value[0] != '@' {
		as.defect() // local part with no domain
		return as, value, nil
	}
	as.add(vterm("@", "address-at-symbol"))
	t, value, err = p.getDomain(value[1:])
	if err != nil {
		return nil, orig, err
	}
	as.add(t)
	return as, value, nil
}

func (p *hp) getObsRoute(value string) (*token, string, error) {
	orig := value
	route := list(kList, "obs-route")
	for value != "" && (value[0] == ',' || setCFWSLeader.has(value[0])) {
		if setCFWSLeader.has(value[0]) {
			var t *token
			t, value = p.getCFWS(value)
			route.add(t)
		} else {
			route.add(tokComma())
			value = value[1:]
		}
	}
	if value == "" || value[0] != '@' {
		return nil, orig, errParse
	}
	route.add(vterm("@", "route-component-marker"))
	t, value, err := p.getDomain(value[1:])
	if err != nil {
		return nil, orig, err
	}
	route.add(t)
	for value != "" && value[0] == ',' {
		route.add(tokComma())
		value = value[1:]
		if value == "" {
			break
		}
		if setCFWSLeader.has(value[0]) {
			t, value = p.getCFWS(value)
			route.add(t)
		}
		if first(value) == '@' {
			route.add(vterm("@", "route-component-marker"))
			t, value, err = p.getDomain(value[1:])
			if err != nil {
				return nil, orig, err
			}
			route.add(t)
		}
	}
	if value == "" || value[0] != ':' {
		return nil, orig, errParse
	}
	route.add(vterm(":", "end-of-obs-route-marker"))
	return route, value[1:], nil
}

func (p *hp) getAngleAddr(value string) (*token, string, error) {
	orig := value
	aa := list(kAngleAddr, "angle-addr")
	if setCFWSLeader.has(first(value)) {
		var t *token
		t, value = p.getCFWS(value)
		aa.add(t)
	}
	if value == "" || value[0] != '<' {
		return nil, orig, errParse
	}
	aa.add(vterm("<", "angle-addr-start"))
	value = value[1:]
	if first(value) == '>' {
		aa.add(vterm(">", "angle-addr-end"))
		aa.defect() // null addr-spec
		return aa, value[1:], nil
	}
	t, rest, err := p.getAddrSpec(value)
	if err != nil {
		route, rest2, err := p.getObsRoute(value)
		if err != nil {
			return nil, orig, errParse
		}
		aa.add(route)
		t, rest, err = p.getAddrSpec(rest2)
		if err != nil {
			return nil, orig, err
		}
	}
	value = rest
	aa.add(t)
	if value != "" && value[0] == '>' {
		value = value[1:]
	} else {
		aa.defect() // missing trailing '>'
	}
	aa.add(vterm(">", "angle-addr-end"))
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		aa.add(t)
	}
	return aa, value, nil
}

func (p *hp) getDisplayName(value string) (*token, string, error) {
	phrase, rest, err := p.getPhrase(value)
	if err != nil {
		return nil, value, err
	}
	dn := list(kDisplayName, "display-name", phrase.sub...)
	dn.invalid = phrase.invalid
	return dn, rest, nil
}

func (p *hp) getNameAddr(value string) (*token, string, error) {
	orig := value
	na := list(kNameAddr, "name-addr")
	var leader *token
	if setCFWSLeader.has(first(value)) {
		leader, value = p.getCFWS(value)
		if value == "" {
			return nil, orig, errParse
		}
	}
	if value[0] != '<' {
		if setPhraseEnds.has(value[0]) {
			return nil, orig, errParse
		}
		dn, rest, err := p.getDisplayName(value)
		if err != nil {
			return nil, orig, err
		}
		value = rest
		if value == "" {
			return nil, orig, errParse
		}
		if leader != nil {
			dn.at(0).prepend(leader) // Python: token[0][:0] = [leader]
			leader = nil
		}
		na.add(dn)
	}
	aa, value, err := p.getAngleAddr(value)
	if err != nil {
		return nil, orig, err
	}
	if leader != nil {
		aa.prepend(leader)
	}
	na.add(aa)
	return na, value, nil
}

func (p *hp) getMailbox(value string) (*token, string, error) {
	p.spend(0)
	mb := list(kMailbox, "mailbox")
	t, rest, err := p.getNameAddr(value)
	if err != nil {
		t, rest, err = p.getAddrSpec(value)
		if err != nil {
			return nil, value, errParse
		}
	}
	if t.hasInvalid() {
		mb.typ = "invalid-mailbox"
	}
	mb.add(t)
	return mb, rest, nil
}

func (p *hp) getInvalidMailbox(value, endchars string) (*token, string, error) {
	im := list(kInvalidMailbox, "invalid-mailbox")
	for value != "" && strings.IndexByte(endchars, value[0]) < 0 {
		p.spend(0)
		if setPhraseEnds.has(value[0]) {
			im.add(vterm(value[:1], "misplaced-special"))
			value = value[1:]
			continue
		}
		t, rest, err := p.getPhrase(value)
		if err != nil {
			return nil, value, err
		}
		im.add(t)
		value = rest
	}
	return im, value, nil
}

func (p *hp) getMailboxList(value string) (*token, string, error) {
	ml := list(kMailboxList, "mailbox-list")
	for value != "" && value[0] != ';' {
		if t, rest, err := p.getMailbox(value); err == nil {
			ml.add(t)
			value = rest
		} else {
			var leader *token
			if setCFWSLeader.has(value[0]) {
				leader, value = p.getCFWS(value)
			}
			switch {
			case leader != nil && (value == "" || value[0] == ',' || value[0] == ';'):
				ml.add(leader) // empty element
			case leader == nil && value[0] == ',':
				// empty element
			default:
				im, rest, err := p.getInvalidMailbox(value, ",;")
				if err != nil {
					return nil, value, err
				}
				if leader != nil {
					im.prepend(leader)
				}
				ml.add(im)
				ml.defect()
				value = rest
			}
		}
		if value != "" && value[0] != ',' && value[0] != ';' {
			mailbox := ml.at(-1)
			mailbox.typ = "invalid-mailbox"
			im, rest, err := p.getInvalidMailbox(value, ",;")
			if err != nil {
				return nil, value, err
			}
			mailbox.add(im.sub...)
			ml.defect()
			value = rest
		}
		if value != "" && value[0] == ',' {
			ml.add(tokComma())
			value = value[1:]
		}
	}
	return ml, value, nil
}

func (p *hp) getGroupList(value string) (*token, string, error) {
	gl := list(kGroupList, "group-list")
	if value == "" {
		gl.defect()
		return gl, value, nil
	}
	var leader *token
	if setCFWSLeader.has(value[0]) {
		leader, value = p.getCFWS(value)
		if value == "" {
			gl.defect()
			gl.add(leader)
			return gl, value, nil
		}
		if value[0] == ';' {
			gl.add(leader)
			return gl, value, nil
		}
	}
	ml, value, err := p.getMailboxList(value)
	if err != nil {
		return nil, value, err
	}
	if len(ml.allMailboxes()) == 0 {
		if leader != nil {
			gl.add(leader)
		}
		gl.add(ml.sub...)
		return gl, value, nil
	}
	if leader != nil {
		ml.prepend(leader)
	}
	gl.add(ml)
	return gl, value, nil
}

func (p *hp) getGroup(value string) (*token, string, error) {
	orig := value
	g := list(kGroup, "group")
	dn, value, err := p.getDisplayName(value)
	if err != nil {
		return nil, orig, err
	}
	if value == "" || value[0] != ':' {
		return nil, orig, errParse
	}
	g.add(dn, vterm(":", "group-display-name-terminator"))
	value = value[1:]
	if value != "" && value[0] == ';' {
		g.add(vterm(";", "group-terminator"))
		return g, value[1:], nil
	}
	gl, value, err := p.getGroupList(value)
	if err != nil {
		return nil, orig, err
	}
	g.add(gl)
	if value == "" {
		g.defect() // end of header in group
	} else if value[0] != ';' {
		return nil, orig, errParse
	}
	g.add(vterm(";", "group-terminator"))
	if value != "" {
		value = value[1:]
	}
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		g.add(t)
	}
	return g, value, nil
}

func (p *hp) getAddress(value string) (*token, string, error) {
	a := list(kAddress, "address")
	t, rest, err := p.getGroup(value)
	if err != nil {
		t, rest, err = p.getMailbox(value)
		if err != nil {
			return nil, value, errParse
		}
	}
	a.add(t)
	return a, rest, nil
}

// getAddressList reads a whole address header; an error is an exception
// escaping Python's parser.
func (p *hp) getAddressList(value string) (*token, error) {
	al := list(kAddressList, "address-list")
	for value != "" {
		p.spend(0)
		if t, rest, err := p.getAddress(value); err == nil {
			al.add(t)
			value = rest
		} else {
			var leader *token
			if setCFWSLeader.has(value[0]) {
				leader, value = p.getCFWS(value)
			}
			switch {
			case leader != nil && (value == "" || value[0] == ','):
				al.add(leader)
			case leader == nil && value[0] == ',':
			default:
				im, rest, err := p.getInvalidMailbox(value, ",")
				if err != nil {
					return nil, err
				}
				if leader != nil {
					im.prepend(leader)
				}
				al.add(list(kAddress, "address", im))
				value = rest
			}
		}
		if value != "" && value[0] != ',' {
			mailbox := al.at(-1).at(0)
			mailbox.typ = "invalid-mailbox"
			im, rest, err := p.getInvalidMailbox(value, ",")
			if err != nil {
				return nil, err
			}
			mailbox.add(im.sub...)
			value = rest
		}
		if value != "" {
			al.add(tokComma())
			value = value[1:]
		}
	}
	return al, nil
}

func getNoFoldLiteral(value string) (*token, string, error) {
	orig := value
	nfl := list(kList, "no-fold-literal")
	if value == "" || value[0] != '[' {
		return nil, orig, errParse
	}
	nfl.add(vterm("[", "no-fold-literal-start"))
	value = value[1:]
	t, value := getDtext(value)
	nfl.add(t)
	if value == "" || value[0] != ']' {
		return nil, orig, errParse
	}
	nfl.add(vterm("]", "no-fold-literal-end"))
	return nfl, value[1:], nil
}

func (p *hp) getMsgID(value string) (*token, string, error) {
	orig := value
	id := list(kList, "msg-id")
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		id.add(t)
	}
	if value == "" || value[0] != '<' {
		return nil, orig, errParse
	}
	id.add(vterm("<", "msg-id-start"))
	value = value[1:]
	t, rest, err := getDotAtomText(value)
	if err != nil {
		t, rest, err = p.getObsLocalPart(value)
		if err != nil {
			return nil, orig, errParse
		}
	}
	value = rest
	id.add(t)
	if value == "" || value[0] != '@' {
		id.defect() // no id-right
		if value != "" && value[0] == '>' {
			id.add(vterm(">", "msg-id-end"))
			value = value[1:]
		}
		return id, value, nil
	}
	id.add(vterm("@", "address-at-symbol"))
	value = value[1:]
	t, rest, err = getDotAtomText(value)
	if err != nil {
		t, rest, err = getNoFoldLiteral(value)
		if err != nil {
			t, rest, err = p.getDomain(value)
			if err != nil {
				return nil, orig, errParse
			}
		}
	}
	value = rest
	id.add(t)
	if value != "" && value[0] == '>' {
		value = value[1:]
	} else {
		id.defect() // missing trailing '>'
	}
	id.add(vterm(">", "msg-id-end"))
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		id.add(t)
	}
	return id, value, nil
}

func (p *hp) parseMessageID(value string) *token {
	if id, _, err := p.getMsgID(value); err == nil {
		return list(kList, "message-id", id)
	}
	u := p.getUnstructured(value)
	return list(kList, "invalid-message-id", u.sub...)
}

func (p *hp) parseMIMEVersion(value string) *token {
	mv := list(kList, "mime-version")
	if value == "" {
		return mv
	}
	var t *token
	if setCFWSLeader.has(value[0]) {
		t, value = p.getCFWS(value)
		mv.add(t)
	}
	n := 0
	for n < len(value) && value[n] != '.' && !setCFWSLeader.has(value[n]) {
		n++
	}
	mv.add(vterm(value[:n], "digits"))
	value = value[n:]
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		mv.add(t)
	}
	if value == "" || value[0] != '.' {
		if value != "" {
			mv.add(vterm(value, "xtext"))
		}
		return mv
	}
	mv.add(vterm(".", "version-separator"))
	value = value[1:]
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		mv.add(t)
	}
	if value == "" {
		return mv
	}
	n = 0
	for n < len(value) && !setCFWSLeader.has(value[n]) {
		n++
	}
	mv.add(vterm(value[:n], "digits"))
	value = value[n:]
	if starts(value, &setCFWSLeader) {
		t, value = p.getCFWS(value)
		mv.add(t)
	}
	if value != "" {
		mv.add(vterm(value, "xtext"))
	}
	return mv
}

func (p *hp) getInvalidParameter(value string) (*token, string, error) {
	ip := list(kParameter, "invalid-parameter")
	for value != "" && value[0] != ';' {
		p.spend(0)
		if setPhraseEnds.has(value[0]) {
			ip.add(vterm(value[:1], "misplaced-special"))
			value = value[1:]
			continue
		}
		t, rest, err := p.getPhrase(value)
		if err != nil {
			return nil, value, err
		}
		ip.add(t)
		value = rest
	}
	return ip, value, nil
}

func getRun(value string, ends *charset, typ string) (*token, string, error) {
	n := runOf(value, ends)
	if n == 0 {
		return nil, value, errParse
	}
	return vterm(value[:n], typ), value[n:], nil
}

// getTokenLike reads [CFWS] run [CFWS]: a MIME token, an attribute or an
// extended attribute, depending on ends.
func (p *hp) getTokenLike(value string, k kind, typ string, ends *charset, runTyp string) (*token, string, error) {
	orig := value
	t := list(k, typ)
	if starts(value, &setCFWSLeader) {
		var c *token
		c, value = p.getCFWS(value)
		t.add(c)
	}
	if starts(value, ends) {
		return nil, orig, errParse
	}
	run, value, err := getRun(value, ends, runTyp)
	if err != nil {
		return nil, orig, err
	}
	t.add(run)
	if starts(value, &setCFWSLeader) {
		var c *token
		c, value = p.getCFWS(value)
		t.add(c)
	}
	return t, value, nil
}

func (p *hp) getToken(value string) (*token, string, error) {
	return p.getTokenLike(value, kList, "token", &setTokenEnds, "ttext")
}

func (p *hp) getAttribute(value string) (*token, string, error) {
	return p.getTokenLike(value, kAttribute, "attribute", &setAttrEnds, "attrtext")
}

func (p *hp) getExtendedAttribute(value string) (*token, string, error) {
	return p.getTokenLike(value, kAttribute, "attribute", &setExtAttrEnd, "extended-attrtext")
}

func getSection(value string) (*token, string, error) {
	orig := value
	sec := list(kSection, "section")
	if value == "" || value[0] != '*' {
		return nil, orig, errParse
	}
	sec.add(vterm("*", "section-marker"))
	value = value[1:]
	n := 0
	for n < len(value) && value[n] >= '0' && value[n] <= '9' {
		n++
	}
	if n == 0 {
		return nil, orig, errParse
	}
	digits := value[:n]
	if digits[0] == '0' && digits != "0" {
		sec.defect() // leading 0
	}
	for _, c := range digits {
		if x := sec.ext(); x.number < 1<<40 {
			x.number = x.number*10 + int(c-'0')
		}
	}
	sec.add(vterm(digits, "digits"))
	return sec, value[n:], nil
}

func (p *hp) getValue(value string) (*token, string, error) {
	orig := value
	v := list(kValue, "value")
	if value == "" {
		return nil, orig, errParse
	}
	var leader *token
	if setCFWSLeader.has(value[0]) {
		leader, value = p.getCFWS(value)
	}
	if value == "" {
		return nil, orig, errParse
	}
	var t *token
	var err error
	if value[0] == '"' {
		t, value, err = p.getQuotedString(value)
	} else {
		t, value, err = p.getExtendedAttribute(value)
	}
	if err != nil {
		return nil, orig, err
	}
	if leader != nil {
		t.prepend(leader)
	}
	v.add(t)
	return v, value, nil
}

func (p *hp) getParameter(value string) (*token, string, error) {
	orig := value
	param := list(kParameter, "parameter")
	param.ext().charset = "us-ascii"
	attr, value, err := p.getAttribute(value)
	if err != nil {
		return nil, orig, err
	}
	param.add(attr)
	if value == "" || value[0] == ';' {
		param.defect() // name but no value
		return param, value, nil
	}
	if value[0] == '*' {
		if sec, rest, err := getSection(value); err == nil {
			param.ext().sectioned = true
			param.add(sec)
			value = rest
		}
		if value == "" {
			return nil, orig, errParse
		}
		if value[0] == '*' {
			param.add(vterm("*", "extended-parameter-marker"))
			value = value[1:]
			param.ext().extended = true
		}
	}
	if first(value) != '=' {
		return nil, orig, errParse
	}
	param.add(vterm("=", "parameter-separator"))
	value = value[1:]
	if starts(value, &setCFWSLeader) {
		var t *token
		t, value = p.getCFWS(value)
		param.add(t)
	}
	var remainder string
	hasRemainder := false
	appendto := param
	if param.extended() && value != "" && value[0] == '"' {
		// Double quotes around an extended value, a common mistake.
		qstring, rem, err := p.getQuotedString(value)
		if err != nil {
			return nil, orig, err
		}
		inner, _ := qstring.strippedValue()
		semiValid := false
		if param.sectionNumber() == 0 {
			if inner != "" && inner[0] == '\'' {
				semiValid = true
			} else {
				_, rest, err := getRun(inner, &setAttrEnds, "attrtext")
				if err != nil {
					return nil, orig, err
				}
				if rest != "" && rest[0] == '\'' {
					semiValid = true
				}
			}
		} else if _, rest, err := getRun(inner, &setExtAttrEnd, "extended-attrtext"); err == nil && rest == "" {
			semiValid = true
		}
		param.defect()
		if semiValid {
			param.add(qstring)
			for _, t := range qstring.sub {
				if t.typ == "bare-quoted-string" {
					t.sub = nil
					appendto = t
					break
				}
			}
			value = inner
			remainder, hasRemainder = rem, true
		}
	}
	var tok *token
	if !(value != "" && value[0] == '\'') {
		tok, value, err = p.getValue(value)
		if err != nil {
			return nil, orig, err
		}
	}
	if !param.extended() || param.sectionNumber() > 0 {
		if value == "" || value[0] != '\'' {
			appendto.add(tok)
			if hasRemainder {
				value = remainder
			}
			return param, value, nil
		}
		param.defect() // initial-extended-value without the marker
	}
	if value == "" {
		param.defect() // missing charset/lang delimiters
		appendto.add(tok)
		if !hasRemainder {
			return param, value, nil
		}
	} else {
		if tok != nil {
			var t *token
			for _, t = range tok.sub {
				if t.typ == "extended-attrtext" {
					break
				}
			}
			appendto.add(t)
			param.ext().charset = t.value()
		}
		if value[0] != '\'' {
			return nil, orig, errParse
		}
		appendto.add(vterm("'", "RFC2231-delimiter"))
		value = value[1:]
		if value != "" && value[0] != '\'' {
			lang, rest, err := getRun(value, &setAttrEnds, "attrtext")
			if err != nil {
				return nil, orig, err
			}
			appendto.add(lang)
			value = rest
			if value == "" || value[0] != '\'' {
				return nil, orig, errParse
			}
		}
		appendto.add(vterm("'", "RFC2231-delimiter"))
		value = dropFirst(value) // Python's value[1:] of an empty value is empty
	}
	if hasRemainder {
		v := list(kValue, "value")
		for value != "" {
			var t *token
			switch {
			case setWSP.has(value[0]):
				t, value = getFWS(value)
			case value[0] == '"':
				t, value = vterm(`"`, "DQUOTE"), value[1:]
			default:
				t, value = getQcontent(value)
			}
			v.add(t)
		}
		tok = v
	} else {
		tok, value, err = p.getValue(value)
		if err != nil {
			return nil, orig, err
		}
	}
	appendto.add(tok)
	if hasRemainder {
		value = remainder
	}
	return param, value, nil
}

func (p *hp) parseMIMEParameters(value string) (*token, error) {
	mp := list(kMimeParams, "mime-parameters")
	for value != "" {
		p.spend(0)
		if t, rest, err := p.getParameter(value); err == nil {
			mp.add(t)
			value = rest
		} else {
			var leader *token
			if setCFWSLeader.has(value[0]) {
				leader, value = p.getCFWS(value)
			}
			if value == "" {
				mp.add(leader)
				return mp, nil
			}
			if value[0] == ';' {
				if leader != nil {
					mp.add(leader)
				}
			} else {
				ip, rest, err := p.getInvalidParameter(value)
				if err != nil {
					return nil, err
				}
				if leader != nil {
					ip.prepend(leader)
				}
				mp.add(ip)
				value = rest
			}
		}
		if value != "" && value[0] != ';' {
			param := mp.at(-1)
			param.typ = "invalid-parameter"
			ip, rest, err := p.getInvalidParameter(value)
			if err != nil {
				return nil, err
			}
			param.add(ip.sub...)
			value = rest
		}
		if value != "" {
			mp.add(vterm(";", "parameter-separator"))
			value = value[1:]
		}
	}
	return mp, nil
}

// findMIMEParameters is _find_mime_parameters: skip to the parameters of
// a MIME header whose first part is invalid.
func (p *hp) findMIMEParameters(t *token, value string) error {
	for value != "" && value[0] != ';' {
		p.spend(0)
		if setPhraseEnds.has(value[0]) {
			t.add(vterm(value[:1], "misplaced-special"))
			value = value[1:]
			continue
		}
		ph, rest, err := p.getPhrase(value)
		if err != nil {
			return err
		}
		t.add(ph)
		value = rest
	}
	if value == "" {
		return nil
	}
	t.add(vterm(";", "parameter-separator"))
	mp, err := p.parseMIMEParameters(value[1:])
	if err != nil {
		return err
	}
	t.add(mp)
	return nil
}

func (p *hp) parseContentType(value string) (*token, error) {
	ct := list(kList, "content-type")
	if value == "" {
		return ct, nil
	}
	tok, rest, err := p.getToken(value)
	if err != nil {
		return ct, p.findMIMEParameters(ct, value)
	}
	ct.add(tok)
	value = rest
	if value == "" || value[0] != '/' {
		if value != "" {
			return ct, p.findMIMEParameters(ct, value)
		}
		return ct, nil
	}
	ct.add(vterm("/", "content-type-separator"))
	value = value[1:]
	tok, rest, err = p.getToken(value)
	if err != nil {
		return ct, p.findMIMEParameters(ct, value)
	}
	ct.add(tok)
	value = rest
	if value == "" {
		return ct, nil
	}
	if value[0] != ';' {
		return ct, p.findMIMEParameters(ct, value)
	}
	ct.add(vterm(";", "parameter-separator"))
	mp, err := p.parseMIMEParameters(value[1:])
	if err != nil {
		return nil, err
	}
	ct.add(mp)
	return ct, nil
}

// parseContentDisposition returns the parsed header and its disposition
// type (lowercased; ok false where Python's content_disposition is None).
func (p *hp) parseContentDisposition(value string) (t *token, disposition string, ok bool, err error) {
	cd := list(kList, "content-disposition")
	if value == "" {
		return cd, "", false, nil
	}
	tok, rest, perr := p.getToken(value)
	if perr != nil {
		return cd, "", false, p.findMIMEParameters(cd, value)
	}
	cd.add(tok)
	disposition, ok = strings.ToLower(stripSpace(tok.value())), true
	value = rest
	if value == "" {
		return cd, disposition, ok, nil
	}
	if value[0] != ';' {
		return cd, disposition, ok, p.findMIMEParameters(cd, value)
	}
	cd.add(vterm(";", "parameter-separator"))
	mp, err := p.parseMIMEParameters(value[1:])
	if err != nil {
		return nil, "", false, err
	}
	cd.add(mp)
	return cd, disposition, ok, nil
}

// parseContentTransferEncoding returns the parsed header, its mechanism
// (Python's cte attribute) and whether the value is that mechanism alone,
// with nothing but white space and comments around it.
func (p *hp) parseContentTransferEncoding(value string) (*token, string, bool, error) {
	cte := list(kList, "content-transfer-encoding")
	mechanism := "7bit"
	if value == "" {
		return cte, mechanism, false, nil
	}
	clean := false
	if tok, rest, err := p.getToken(value); err == nil {
		cte.add(tok)
		mechanism = strings.ToLower(stripSpace(tok.value()))
		value = rest
		clean = rest == "" && !tok.hasInvalid()
	}
	for value != "" {
		p.spend(0)
		if setPhraseEnds.has(value[0]) {
			cte.add(vterm(value[:1], "misplaced-special"))
			value = value[1:]
			continue
		}
		ph, rest, err := p.getPhrase(value)
		if err != nil {
			return nil, "", false, err
		}
		cte.add(ph)
		value = rest
	}
	return cte, mechanism, clean, nil
}
