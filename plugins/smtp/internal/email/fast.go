package email

import "strings"

// Most header values in real mail are simple: unstructured text without
// encoded-words, "type/subtype; name=value" MIME headers in plain ASCII, a
// bare transfer encoding. For those, what Python's parser shows is known
// without building its token tree, and rendering them directly saves most
// of the time and memory of a message with many parts. The fast paths
// take only values whose rendering they are sure of, and
// TestFastPathsAgreeWithParser checks them against the parser on every
// header value the tests have.

// fastPaths can be turned off by tests, to compare.
var fastPaths = true

func renderFast(kind headerKind, value string) (Rendered, bool) {
	if !fastPaths {
		return Rendered{}, false
	}
	switch kind {
	case hUnstructured:
		// Without "=?" every token prints as it was written.
		if !strings.Contains(value, "=?") {
			return Rendered{Value: sanitize(value), CTE: "7bit"}, true
		}
	case hContentType:
		if v, ok := simpleMIME(value, true); ok {
			return Rendered{Value: v, CTE: "7bit"}, true
		}
	case hContentDisposition:
		if v, ok := simpleMIME(value, false); ok {
			typ, _, _ := strings.Cut(v, ";")
			return Rendered{Value: v, CTE: "7bit", Disposition: strings.ToLower(typ), HasDisposition: true}, true
		}
	case hAddress:
		if v, ok := simpleAddressList(value); ok {
			return Rendered{Value: v, CTE: "7bit"}, true
		}
	case hCTE:
		if value != "" && runOf(value, &setTokenEnds) == len(value) && isPrintableASCII(value) {
			mech := strings.ToLower(value)
			return Rendered{Value: value, CTE: mech, Encoding: mech}, true
		}
	}
	return Rendered{}, false
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// simpleMIME renders "type/subtype" (or, for Content-Disposition, "type")
// followed by "; name=value" parameters, when the value is plain ASCII
// with no comments, no encoded-words, no RFC 2231 names, no escapes and no
// repeated names, which Python shows as the type followed by
// `; name="value"` for each parameter.
func simpleMIME(value string, withSubtype bool) (string, bool) {
	if !isPrintableASCIIOrBlank(value) || strings.Contains(value, "=?") {
		return "", false
	}
	n := runOf(value, &setTokenEnds)
	if n == 0 {
		return "", false
	}
	head := n
	if withSubtype {
		if head >= len(value) || value[head] != '/' {
			return "", false
		}
		m := runOf(value[head+1:], &setTokenEnds)
		if m == 0 {
			return "", false
		}
		head += 1 + m
	}
	var sb strings.Builder
	sb.WriteString(value[:head])
	rest := value[head:]
	if rest == "" {
		return sb.String(), true
	}
	if rest[0] != ';' {
		return "", false
	}
	sb.WriteByte(';')
	names := map[string]bool{}
	for first := true; rest != ""; first = false {
		if rest[0] != ';' {
			return "", false
		}
		rest = trimWSP(rest[1:])
		name := rest[:runOf(rest, &setAttrEnds)]
		if name == "" {
			return "", false
		}
		if names[name] {
			return "", false
		}
		names[name] = true
		rest = trimWSP(rest[len(name):])
		if rest == "" || rest[0] != '=' {
			return "", false
		}
		rest = trimWSP(rest[1:])
		var v string
		if rest != "" && rest[0] == '"' {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return "", false
			}
			v = rest[1 : 1+end]
			if strings.IndexByte(v, '\\') >= 0 {
				return "", false
			}
			rest = rest[2+end:]
		} else {
			v = rest[:runOf(rest, &setExtAttrEnd)]
			rest = rest[len(v):]
		}
		if v == "" {
			return "", false
		}
		rest = trimWSP(rest)
		if !first {
			sb.WriteString(";")
		}
		sb.WriteString(" " + name + `="` + v + `"`)
	}
	return sb.String(), true
}

func isPrintableASCIIOrBlank(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < 0x20 && s[i] != '\t') || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func trimWSP(s string) string { return strings.TrimLeft(s, " \t") }

// simpleAddressList renders a list of plain addresses, "Some Name
// <local@domain>" or "local@domain" separated by commas, in ASCII atoms
// (no quotes, comments, encoded-words, dots in the name, routes or
// groups), which Python shows with the name's words joined by one space.
func simpleAddressList(value string) (string, bool) {
	if !isPrintableASCIIOrBlank(value) || strings.Contains(value, "=?") {
		return "", false
	}
	var out []string
	rest := value
	for {
		rest = trimWSP(rest)
		var words []string
		for rest != "" && rest[0] != '<' {
			n := runOf(rest, &setAtomEnds)
			if n == 0 {
				break
			}
			words = append(words, rest[:n])
			rest = trimWSP(rest[n:])
		}
		var addr string
		if rest != "" && rest[0] == '<' {
			spec, after, ok := simpleAddrSpec(rest[1:])
			if !ok || after == "" || after[0] != '>' || len(words) == 0 {
				return "", false
			}
			addr = strings.Join(words, " ") + " <" + spec + ">"
			rest = after[1:]
		} else {
			// A bare addr-spec: the words read so far are its local part.
			if len(words) != 0 {
				return "", false
			}
			spec, after, ok := simpleAddrSpec(rest)
			if !ok {
				return "", false
			}
			addr, rest = spec, after
		}
		out = append(out, addr)
		rest = trimWSP(rest)
		if rest == "" {
			return strings.Join(out, ", "), true
		}
		if rest[0] != ',' {
			return "", false
		}
		rest = rest[1:]
	}
}

// simpleAddrSpec reads dot-atom "@" dot-atom.
func simpleAddrSpec(s string) (spec, rest string, ok bool) {
	local, s, ok := simpleDotAtom(s)
	if !ok || s == "" || s[0] != '@' {
		return "", "", false
	}
	domain, s, ok := simpleDotAtom(s[1:])
	if !ok {
		return "", "", false
	}
	return local + "@" + domain, s, true
}

// simpleDotAtom reads atext runs separated by single dots.
func simpleDotAtom(s string) (string, string, bool) {
	i := 0
	for {
		n := runOf(s[i:], &setAtomEnds)
		if n == 0 {
			return "", "", false
		}
		i += n
		if i < len(s) && s[i] == '.' {
			i++
			continue
		}
		return s[:i], s[i:], true
	}
}
