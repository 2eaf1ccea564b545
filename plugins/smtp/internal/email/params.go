package email

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Message.get_param, get_filename, get_boundary, get_content_charset and
// get_content_type do not use the parsed header objects: they split the
// rendered header text again with the older email.message helpers
// (_splitparam, _parseparam, utils.unquote). These functions do the same
// on a Rendered value, so that filenames, boundaries and charsets are the
// ones Python finds.

// mainValue is _splitparam(value)[0]: the text before the first ';',
// stripped.
func mainValue(rendered string) string {
	before, _, _ := strings.Cut(rendered, ";")
	return stripSpace(before)
}

// parseParams is _parseparam: the value split at each ';' that is not
// inside double quotes (as counted by Python: quotes minus escaped
// quotes), each piece stripped and its name lowercased.
func parseParams(s string) []string {
	s = ";" + s
	var out []string
	for strings.HasPrefix(s, ";") {
		s = s[1:]
		end := strings.IndexByte(s, ';')
		if end > 0 {
			// Quotes and escaped quotes in s[:end], counted as end moves on.
			quotes := strings.Count(s[:end], `"`)
			escaped := strings.Count(s[:end], `\"`)
			for end > 0 && (quotes-escaped)%2 != 0 {
				next := strings.IndexByte(s[end+1:], ';')
				if next < 0 {
					end = -1
					break
				}
				newEnd := end + 1 + next
				// s[end] is ';', so no escaped quote straddles the old end.
				quotes += strings.Count(s[end:newEnd], `"`)
				escaped += strings.Count(s[end:newEnd], `\"`)
				end = newEnd
			}
		}
		if end < 0 {
			end = len(s)
		}
		f := s[:end]
		if i := strings.IndexByte(f, '='); i >= 0 {
			f = strings.ToLower(stripSpace(f[:i])) + "=" + stripSpace(f[i+1:])
		}
		out = append(out, stripSpace(f))
		s = s[end:]
	}
	return out
}

// unquote is email.utils.unquote.
func unquote(s string) string {
	if len(s) > 1 {
		if strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) {
			return strings.ReplaceAll(strings.ReplaceAll(s[1:len(s)-1], `\\`, `\`), `\"`, `"`)
		}
		if strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
			return s[1 : len(s)-1]
		}
	}
	return s
}

// quote is email.utils.quote.
func quote(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`)
}

// ParamValue is what Message.get_param returns: a string, or for an
// RFC 2231 parameter that decode_params reassembled, the tuple (charset,
// language, text).
type ParamValue struct {
	Text string
	// RFC2231 marks the tuple form; CharsetSet is false where the charset
	// is None (no two ticks in the value).
	RFC2231             bool
	Charset, Language   string
	CharsetSet, LangSet bool
}

// rfc2231Name is utils.rfc2231_continuation: name*, name*N or name*N*.
func rfc2231Name(name string) (base string, num int, hasNum, ok bool) {
	star := strings.IndexByte(name, '*')
	if star <= 0 {
		return "", 0, false, false
	}
	for i := 0; i < star; i++ {
		c := name[i]
		if !(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			return "", 0, false, false
		}
	}
	rest := name[star+1:]
	if rest == "" {
		return name[:star], 0, false, true
	}
	digits := strings.TrimSuffix(rest, "*")
	if digits == "" {
		return "", 0, false, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "", 0, false, false
		}
		if num < 1<<40 {
			num = num*10 + int(digits[i]-'0')
		}
	}
	return name[:star], num, true, true
}

type continuation struct {
	num     int
	hasNum  bool
	text    string
	encoded bool
}

// GetParam is Message.get_param(name) on the header's rendered value: the
// value _parseparam and utils.decode_params find for it, ok false where
// Python returns the failobj (or raises).
func GetParam(rendered, name string) (ParamValue, bool) {
	return paramList(rendered).get(name)
}

// params is the list decode_params returns for a rendered value, in order;
// get_param returns the first one of a name.
type params struct {
	names  []string
	values []ParamValue
	crash  bool // Python raises while building the list
}

func (ps *params) get(name string) (ParamValue, bool) {
	if ps.crash {
		return ParamValue{}, false
	}
	name = strings.ToLower(name)
	for i, k := range ps.names {
		if strings.ToLower(k) == name {
			v := ps.values[i]
			v.Text = unquote(v.Text)
			return v, true
		}
	}
	return ParamValue{}, false
}

func paramList(rendered string) (ps *params) {
	ps = &params{}
	defer func() {
		if v := recover(); v != nil {
			if _, crash := v.(pyCrash); !crash {
				panic(v)
			}
			ps = &params{crash: true}
		}
	}()
	add := func(k string, v ParamValue) {
		ps.names = append(ps.names, k)
		ps.values = append(ps.values, v)
	}
	var names []string
	conts := map[string][]continuation{}
	for i, p := range parseParams(rendered) {
		k, v, hasValue := strings.Cut(p, "=")
		if hasValue {
			k, v = stripSpace(k), stripSpace(v)
		} else {
			k, v = stripSpace(p), ""
		}
		if i == 0 {
			add(k, ParamValue{Text: v})
			continue
		}
		encoded := strings.HasSuffix(k, "*")
		v = unquote(v)
		if base, num, hasNum, isCont := rfc2231Name(k); isCont {
			if _, seen := conts[base]; !seen {
				names = append(names, base)
			}
			conts[base] = append(conts[base], continuation{num, hasNum, v, encoded})
			continue
		}
		add(k, ParamValue{Text: `"` + quote(v) + `"`})
	}
	for _, base := range names {
		cs := conts[base]
		sortContinuations(cs)
		var joined strings.Builder
		extended := false
		for _, c := range cs {
			text := c.text
			if c.encoded {
				text = percentDecodeLatin1(text)
				extended = true
			}
			joined.WriteString(text)
		}
		value := quote(joined.String())
		if !extended {
			add(base, ParamValue{Text: `"` + value + `"`})
			continue
		}
		pv := ParamValue{RFC2231: true}
		if parts := strings.SplitN(value, "'", 3); len(parts) == 3 {
			pv.Charset, pv.Language, value = parts[0], parts[1], parts[2]
			pv.CharsetSet, pv.LangSet = true, true
		}
		pv.Text = `"` + value + `"`
		add(base, pv)
	}
	return ps
}

// sortContinuations is list.sort() of (num, text, encoded) tuples; Python
// cannot compare a missing number (None) with a number and raises.
func sortContinuations(cs []continuation) {
	for i := 1; i < len(cs); i++ {
		if cs[i].hasNum != cs[0].hasNum {
			panic(pyCrash("None compared with int"))
		}
	}
	// Stable, as Python's sort; tuples compare element by element.
	slices.SortStableFunc(cs, func(a, b continuation) int {
		if c := cmp.Compare(a.num, b.num); c != 0 {
			return c
		}
		if c := strings.Compare(a.text, b.text); c != 0 {
			return c
		}
		switch {
		case a.encoded == b.encoded:
			return 0
		case b.encoded:
			return -1
		}
		return 1
	})
}

// Collapse is utils.collapse_rfc2231_value: a string unquoted, a tuple's
// text decoded with its charset (us-ascii when it has none) after
// raw-unicode-escape encoding, or unquoted when the charset is unknown.
func (pv ParamValue) Collapse() string {
	if !pv.RFC2231 {
		return unquote(pv.Text)
	}
	charset := "us-ascii"
	if pv.CharsetSet {
		charset = pv.Charset
	}
	dec, ok := lookupCodec(charset)
	if !ok {
		return unquote(pv.Text)
	}
	return dec.decodeReplace(rawUnicodeEscape(pv.Text))
}

// rawUnicodeEscape is str.encode('raw-unicode-escape'): characters below
// 256 as one byte, others as \uXXXX or \UXXXXXXXX.
func rawUnicodeEscape(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r < 0x100:
			out = append(out, byte(r))
		case r < 0x10000:
			out = append(out, fmt.Sprintf("\\u%04x", r)...)
		default:
			out = append(out, fmt.Sprintf("\\U%08x", r)...)
		}
	}
	return out
}
