package email

import "strings"

// The header parser builds a tree of tokens, as Python's
// email._header_value_parser does, because what Python shows for a header
// is computed from that tree: str() of the tree for unstructured and MIME
// headers, the "value" of its nodes for the parts of an address. Each node
// remembers which of Python's token classes it stands for (its kind, which
// decides how str and value are computed) and its token_type (a name that
// the parser changes after the fact, for instance to mark a mailbox
// invalid, without changing its kind).

type kind uint8

const (
	kList           kind = iota // a plain TokenList
	kValueTerm                  // ValueTerminal: value is its text
	kWSTerm                     // WhiteSpaceTerminal: value is " "
	kEWWSTerm                   // white space between encoded words: "" for both
	kWSList                     // CFWSList: value is " "
	kComment                    // Comment: value " ", str re-quotes its text
	kBareQuoted                 // BareQuotedString: str is quoted, value is raw
	kQuoted                     // QuotedString
	kDisplayName                // DisplayName
	kLocalPart                  // LocalPart
	kAddrSpec                   // AddrSpec
	kDomain                     // Domain
	kDomainLiteral              // DomainLiteral
	kAngleAddr                  // AngleAddr
	kNameAddr                   // NameAddr
	kMailbox                    // Mailbox
	kInvalidMailbox             // InvalidMailbox: no display name, address
	kGroup                      // Group
	kGroupList                  // GroupList
	kMailboxList                // MailboxList
	kAddress                    // Address
	kAddressList                // AddressList
	kEncodedWord                // EncodedWord
	kMimeParams                 // MimeParameters: str lists name="value"
	kParameter                  // Parameter (and InvalidParameter)
	kAttribute                  // Attribute
	kValue                      // Value
	kSection                    // Section
)

type token struct {
	kind kind
	typ  string // Python's token_type
	text string // terminals only
	sub  []*token
	// invalid counts the InvalidHeaderDefects recorded on this node: they
	// are the only defects that change what Python shows (a mailbox with
	// one anywhere inside is invalid).
	invalid int
	// What only parameters and sections have.
	x *tokenExtra
}

type tokenExtra struct {
	sectioned, extended bool   // a parameter's name*N, name*
	charset             string // a parameter's RFC 2231 charset
	number              int    // a section's N
}

// ext returns the parameter or section attributes, created when first
// set.
func (t *token) ext() *tokenExtra {
	if t.x == nil {
		t.x = &tokenExtra{}
	}
	return t.x
}

func (t *token) sectioned() bool { return t.x != nil && t.x.sectioned }
func (t *token) extended() bool  { return t.x != nil && t.x.extended }
func (t *token) number() int {
	if t.x == nil {
		return 0
	}
	return t.x.number
}
func (t *token) charset() string {
	if t.x == nil {
		return ""
	}
	return t.x.charset
}

func term(k kind, text, typ string) *token { return &token{kind: k, typ: typ, text: text} }

func vterm(text, typ string) *token { return term(kValueTerm, text, typ) }

func list(k kind, typ string, sub ...*token) *token { return &token{kind: k, typ: typ, sub: sub} }

func (t *token) isTerminal() bool {
	return t.kind == kValueTerm || t.kind == kWSTerm || t.kind == kEWWSTerm
}

func (t *token) add(sub ...*token) { t.sub = append(t.sub, sub...) }

// prepend is Python's token[:0] = [leader]; a terminal is a str in
// Python, which cannot be assigned into.
func (t *token) prepend(leader *token) {
	if t.isTerminal() {
		panic(pyCrash("assigning into a terminal"))
	}
	t.sub = append([]*token{leader}, t.sub...)
}

func (t *token) defect() { t.invalid++ }

// at is Python's token[i] (negative from the end); a missing element is
// Python's IndexError, and a terminal has no elements to index into (in
// Python it would be a character without a token_type): both end the
// header's parse the way Python's exception ends it.
func (t *token) at(i int) *token {
	if t.isTerminal() {
		panic(pyCrash("indexing a terminal"))
	}
	if i < 0 {
		i += len(t.sub)
	}
	if i < 0 || i >= len(t.sub) {
		panic(pyCrash("index out of range"))
	}
	return t.sub[i]
}

// hasInvalid is any(isinstance(d, InvalidHeaderDefect) for d in all_defects).
func (t *token) hasInvalid() bool {
	if t.invalid > 0 {
		return true
	}
	for _, s := range t.sub {
		if s.hasInvalid() {
			return true
		}
	}
	return false
}

// str is Python's str() of the token.
func (t *token) str() string {
	var sb strings.Builder
	t.writeStr(&sb)
	return sb.String()
}

func (t *token) writeStr(sb *strings.Builder) {
	switch t.kind {
	case kValueTerm, kWSTerm:
		sb.WriteString(t.text)
	case kEWWSTerm:
	case kBareQuoted:
		var inner strings.Builder
		for _, s := range t.sub {
			s.writeStr(&inner)
		}
		sb.WriteString(quoteString(inner.String()))
	case kComment:
		sb.WriteByte('(')
		for _, s := range t.sub {
			if s.typ == "comment" {
				s.writeStr(sb)
				continue
			}
			text := s.str()
			text = strings.ReplaceAll(text, `\`, `\\`)
			text = strings.ReplaceAll(text, `(`, `\(`)
			text = strings.ReplaceAll(text, `)`, `\)`)
			sb.WriteString(text)
		}
		sb.WriteByte(')')
	case kMimeParams:
		var params []string
		for _, p := range t.params() {
			if p.value != "" {
				params = append(params, p.name+"="+quoteString(p.value))
			} else {
				params = append(params, p.name)
			}
		}
		if len(params) > 0 {
			sb.WriteString(" " + strings.Join(params, "; "))
		}
	default:
		for _, s := range t.sub {
			s.writeStr(sb)
		}
	}
}

// value is Python's .value of the token.
func (t *token) value() string {
	switch t.kind {
	case kValueTerm:
		return t.text
	case kWSTerm, kWSList, kComment:
		return " "
	case kEWWSTerm:
		return ""
	case kBareQuoted:
		var sb strings.Builder
		for _, s := range t.sub {
			s.writeStr(&sb)
		}
		return sb.String()
	case kLocalPart:
		if t.at(0).typ == "quoted-string" {
			return t.at(0).quotedValue()
		}
		return t.at(0).value()
	case kAddrSpec:
		if len(t.sub) < 3 {
			return t.at(0).value()
		}
		return rstripSpace(t.at(0).value()) + t.at(1).value() + lstripSpace(t.at(2).value())
	case kDisplayName:
		return t.displayNameValue()
	}
	var sb strings.Builder
	for _, s := range t.sub {
		sb.WriteString(s.value())
	}
	return sb.String()
}

// quotedValue is QuotedString.quoted_value.
func (t *token) quotedValue() string {
	var sb strings.Builder
	for _, s := range t.sub {
		if s.typ == "bare-quoted-string" {
			sb.WriteString(s.str())
		} else {
			sb.WriteString(s.value())
		}
	}
	return sb.String()
}

// strippedValue is the stripped_value of QuotedString (the text between the
// quotes), Attribute (its attrtext) and Value. ok is false where Python
// returns None.
func (t *token) strippedValue() (string, bool) {
	switch t.kind {
	case kQuoted, kBareQuoted:
		for _, s := range t.sub {
			if s.typ == "bare-quoted-string" {
				return s.value(), true
			}
		}
		return "", false
	case kAttribute:
		for _, s := range t.sub {
			if strings.HasSuffix(s.typ, "attrtext") {
				return s.value(), true
			}
		}
		return "", false
	case kValue:
		first := t.at(0)
		if first.typ == "cfws" {
			first = t.at(1)
		}
		if strings.HasSuffix(first.typ, "quoted-string") || strings.HasSuffix(first.typ, "attribute") {
			return first.strippedValue()
		}
		return t.value(), true
	}
	return t.value(), true
}

// displayName is DisplayName.display_name: the phrase's value without the
// white space and comments at either end.
func (t *token) displayName() string {
	res := append([]*token(nil), t.sub...)
	if len(res) == 0 {
		return ""
	}
	if res[0].typ == "cfws" {
		res = res[1:]
	} else if res[0].at(0).typ == "cfws" {
		res[0] = list(kList, "", res[0].sub[1:]...)
	}
	if len(res) == 0 {
		panic(pyCrash("display name of white space only"))
	}
	last := res[len(res)-1]
	if last.typ == "cfws" {
		res = res[:len(res)-1]
	} else if last.at(-1).typ == "cfws" {
		res[len(res)-1] = list(kList, "", last.sub[:len(last.sub)-1]...)
	}
	return list(kList, "", res...).value()
}

// displayNameValue is DisplayName.value: the display name quoted when the
// phrase had defects or a quoted string. Not reached by what this package
// renders; kept so that value() means what it means in Python.
func (t *token) displayNameValue() string {
	quote := t.invalid > 0
	for _, s := range t.sub {
		if s.typ == "quoted-string" {
			quote = true
		}
	}
	if len(t.sub) == 0 || !quote {
		var sb strings.Builder
		for _, s := range t.sub {
			sb.WriteString(s.value())
		}
		return sb.String()
	}
	pre, post := "", ""
	if t.sub[0].typ == "cfws" || t.sub[0].at(0).typ == "cfws" {
		pre = " "
	}
	last := t.sub[len(t.sub)-1]
	if last.typ == "cfws" || last.at(-1).typ == "cfws" {
		post = " "
	}
	return pre + quoteString(t.displayName()) + post
}

// localPart is LocalPart.local_part: the local part's value without white
// space at either end or around dots.
func (t *token) localPart() string {
	dot := vterm(".", "dot")
	children := append(append([]*token(nil), t.at(0).sub...), dot)
	res := []*token{dot}
	last := dot
	lastIsList := false
	for _, tok := range children {
		if tok.typ == "cfws" {
			continue
		}
		if lastIsList && tok.typ == "dot" && last.at(-1).typ == "cfws" {
			res[len(res)-1] = list(kList, "", last.sub[:len(last.sub)-1]...)
		}
		isList := !tok.isTerminal()
		if isList && last.typ == "dot" && tok.at(0).typ == "cfws" {
			res = append(res, list(kList, "", tok.sub[1:]...))
		} else {
			res = append(res, tok)
		}
		last = res[len(res)-1]
		lastIsList = isList
	}
	return list(kList, "", res[1:len(res)-1]...).value()
}

// domain is Domain.domain and DomainLiteral.domain: the value without any
// white space.
func (t *token) domain() string { return joinFields(t.value()) }

// Mailbox properties. Each returns ok=false where Python returns None.

func (t *token) mbDisplayName() (string, bool) {
	switch t.kind {
	case kMailbox:
		if t.at(0).typ == "name-addr" {
			return t.at(0).mbDisplayName()
		}
		return "", false
	case kNameAddr:
		if len(t.sub) == 1 {
			return "", false
		}
		return t.at(0).displayName(), true
	case kGroup:
		return t.at(0).displayName(), true
	}
	return "", false
}

func (t *token) mbLocalPart() (string, bool) {
	switch t.kind {
	case kMailbox:
		return t.at(0).mbLocalPart()
	case kNameAddr:
		return t.at(-1).mbLocalPart()
	case kAngleAddr:
		for _, s := range t.sub {
			if s.typ == "addr-spec" {
				return s.mbLocalPart()
			}
		}
		return "", false
	case kAddrSpec:
		return t.at(0).localPart(), true
	case kInvalidMailbox:
		return "", false
	}
	panic(pyCrash("no local_part on this token"))
}

func (t *token) mbDomain() (string, bool) {
	switch t.kind {
	case kMailbox:
		return t.at(0).mbDomain()
	case kNameAddr:
		return t.at(-1).mbDomain()
	case kAngleAddr:
		for _, s := range t.sub {
			if s.typ == "addr-spec" {
				return s.mbDomain()
			}
		}
		return "", false
	case kAddrSpec:
		if len(t.sub) < 3 {
			return "", false
		}
		return t.at(-1).domain(), true
	case kInvalidMailbox:
		return "", false
	}
	panic(pyCrash("no domain on this token"))
}

// allMailboxes is the all_mailboxes of Address, Group, GroupList,
// MailboxList and AddressList: valid and invalid mailboxes.
func (t *token) allMailboxes() []*token {
	switch t.kind {
	case kAddress:
		first := t.at(0)
		if first.typ == "mailbox" || first.typ == "invalid-mailbox" {
			return []*token{first}
		}
		return first.allMailboxes()
	case kGroup:
		if t.at(2).typ != "group-list" {
			return nil
		}
		return t.at(2).allMailboxes()
	case kGroupList:
		if len(t.sub) == 0 || t.at(0).typ != "mailbox-list" {
			return nil
		}
		return t.at(0).allMailboxes()
	case kMailboxList:
		var out []*token
		for _, s := range t.sub {
			if s.typ == "mailbox" || s.typ == "invalid-mailbox" {
				out = append(out, s)
			}
		}
		return out
	}
	panic(pyCrash("no all_mailboxes on this token"))
}

// Parameter properties.

func (t *token) sectionNumber() int {
	if t.sectioned() {
		return t.at(1).number()
	}
	return 0
}

// paramValue is Parameter.param_value.
func (t *token) paramValue() string {
	for _, s := range t.sub {
		if s.typ == "value" {
			v, _ := s.strippedValue()
			return v
		}
		if s.typ == "quoted-string" {
			for _, b := range s.sub {
				if b.typ == "bare-quoted-string" {
					for _, v := range b.sub {
						if v.typ == "value" {
							sv, _ := v.strippedValue()
							return sv
						}
					}
				}
			}
		}
	}
	return ""
}

type param struct{ name, value string }

// params is MimeParameters.params: each parameter name once, in the order
// first seen, with RFC 2231 sections joined and decoded.
func (t *token) params() []param {
	type part struct {
		n int
		p *token
	}
	var names []string
	byName := map[string][]part{}
	for _, s := range t.sub {
		if !strings.HasSuffix(s.typ, "parameter") || len(s.sub) == 0 || s.sub[0].typ != "attribute" {
			continue
		}
		name := stripSpace(s.sub[0].value())
		if _, seen := byName[name]; !seen {
			names = append(names, name)
		}
		byName[name] = append(byName[name], part{s.sectionNumber(), s})
	}
	var out []param
	for _, name := range names {
		parts := byName[name]
		// sorted(parts, key=section number): stable.
		sorted := make([]part, len(parts))
		copy(sorted, parts)
		for i := 1; i < len(sorted); i++ {
			for j := i; j > 0 && sorted[j].n < sorted[j-1].n; j-- {
				sorted[j], sorted[j-1] = sorted[j-1], sorted[j]
			}
		}
		first := sorted[0].p
		charset := first.charset()
		if !first.extended() && len(sorted) > 1 && sorted[1].n == 0 {
			sorted = sorted[:1]
		}
		var value strings.Builder
		i := 0
		for _, pt := range sorted {
			if pt.n != i && !pt.p.extended() {
				continue
			}
			i++
			v := pt.p.paramValue()
			if pt.p.extended() {
				v = decodeExtendedValue(v, charset)
			}
			value.WriteString(v)
		}
		out = append(out, param{name, value.String()})
	}
	return out
}

// decodeExtendedValue percent-decodes an RFC 2231 value and decodes the
// bytes with charset (undecodable bytes stay escaped, as Python's
// surrogateescape keeps them); an unknown charset decodes as ASCII. A value
// that already holds escaped bytes is percent-decoded as Latin-1, as
// Python's fallback for it does.
func decodeExtendedValue(v, charset string) string {
	if hasEscapes(v) {
		return percentDecodeLatin1(v)
	}
	raw := percentDecode(v)
	if dec, ok := lookupCodec(charset); ok {
		return dec.decodeEscaped(raw)
	}
	return asciiOrEscaped(raw)
}

// percentDecode is urllib.parse.unquote_to_bytes: %XX becomes the byte XX,
// anything else stays.
func percentDecode(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	return out
}

// percentDecodeLatin1 is urllib.parse.unquote(s, encoding='latin-1'): runs
// of ASCII are percent-decoded and each byte read as a Latin-1 character;
// other characters stay.
func percentDecodeLatin1(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); {
		if s[i] < 0x80 {
			j := i
			for j < len(s) && s[j] < 0x80 {
				j++
			}
			for _, b := range percentDecode(s[i:j]) {
				sb.WriteRune(rune(b))
			}
			i = j
			continue
		}
		j := i + 1
		for j < len(s) && s[j] >= 0x80 {
			j++
		}
		sb.WriteString(s[i:j])
		i = j
	}
	return sb.String()
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
