package email

import (
	"errors"
	"math"
	"strings"
)

// ErrHeaderTooCostly is returned (wrapped) when a header value would cost
// far more work to parse as Python does than its length justifies; the
// header is then rendered as unstructured text.
var ErrHeaderTooCostly = errors.New("header value too costly to parse as an address or MIME value")

// headerKind is the class Python's default header registry uses for a
// header name.
type headerKind uint8

const (
	hUnstructured headerKind = iota
	hDate
	hAddress
	hMIMEVersion
	hContentType
	hContentDisposition
	hCTE
	hMessageID
)

var headerKinds = map[string]headerKind{
	"subject": hUnstructured, "date": hDate, "resent-date": hDate, "orig-date": hDate,
	"sender": hAddress, "resent-sender": hAddress, "to": hAddress, "resent-to": hAddress,
	"cc": hAddress, "resent-cc": hAddress, "bcc": hAddress, "resent-bcc": hAddress,
	"from": hAddress, "resent-from": hAddress, "reply-to": hAddress,
	"mime-version": hMIMEVersion, "content-type": hContentType,
	"content-disposition": hContentDisposition, "content-transfer-encoding": hCTE,
	"message-id": hMessageID,
}

// unfold is policy.default's header_fetch_parse before parsing: every CR
// and LF removed (the white space that followed them stays).
func unfold(raw []byte) string { return escapeRaw(joinLines(raw)) }

// Rendered is a header value as Python's email package (policy.default)
// shows it, with what the MIME headers carry besides.
type Rendered struct {
	// Value is str() of the header object.
	Value string
	// Disposition is a Content-Disposition's type, lowercased (the header
	// object's content_disposition); HasDisposition is false where that is
	// None.
	Disposition    string
	HasDisposition bool
	// CTE is a Content-Transfer-Encoding's mechanism, lowercased ("7bit"
	// when the value has none): Python's cte attribute.
	CTE string
	// Encoding is what the body is decoded by: the mechanism when the
	// value is the mechanism alone (white space and comments around it
	// allowed), else the whole value lowercased, which is what Python's
	// get_payload compares (so "base64 junk" is not decoded, as in Python).
	Encoding string
	// Err is ErrHeaderTooCostly when the value was rendered as unstructured
	// text because parsing it as Python does would cost too much.
	Err error

	params *params // the parameters of Value, parsed when first asked for
}

// RenderHeader renders the raw value of header name (the bytes after the
// colon, leading white space of the first line removed, line breaks kept)
// as Python's email package with policy.default shows it.
func RenderHeader(name string, raw []byte) Rendered {
	value := unfold(raw)
	kind := headerKinds[strings.ToLower(name)]
	if r, ok := renderFast(kind, value); ok {
		return r
	}
	r, ok := renderKind(kind, value)
	if !ok {
		// Python raises on this value (or it is too costly): show its text
		// with encoded-words decoded, which is what it says.
		r.Value = sanitize(renderUnstructured(value, math.MaxInt))
		r.CTE = "7bit"
		r.Encoding = strings.ToLower(r.Value)
	}
	return r
}

func renderUnstructured(value string, limit int) string {
	p := newHP(value)
	p.limit = limit
	return p.getUnstructured(value).str()
}

// renderKind renders value with the header class kind; ok is false when
// Python's parser raises or the budget ran out (r.Err says which).
func renderKind(kind headerKind, value string) (r Rendered, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			switch v.(type) {
			case pyCrash:
			case budgetExceeded:
				r.Err = ErrHeaderTooCostly
			default:
				panic(v)
			}
			ok = false
		}
	}()
	p := newHP(value)
	r.CTE = "7bit"
	switch kind {
	case hUnstructured:
		r.Value = p.getUnstructured(value).str()
	case hDate:
		if formatted, ok := formatDate(value); ok {
			r.Value = formatted
		} else {
			r.Value = value
		}
	case hAddress:
		v, err := renderAddressList(p, value)
		if err != nil {
			return r, false
		}
		r.Value = v
	case hMIMEVersion:
		r.Value = p.parseMIMEVersion(value).str()
	case hContentType:
		t, err := p.parseContentType(value)
		if err != nil {
			return r, false
		}
		r.Value = t.str()
	case hContentDisposition:
		t, disposition, has, err := p.parseContentDisposition(value)
		if err != nil {
			return r, false
		}
		r.Value, r.Disposition, r.HasDisposition = t.str(), disposition, has
	case hCTE:
		t, mechanism, clean, err := p.parseContentTransferEncoding(value)
		if err != nil {
			return r, false
		}
		r.Value, r.CTE = t.str(), mechanism
		if clean {
			r.Encoding = sanitize(mechanism)
		} else {
			r.Encoding = strings.ToLower(sanitize(r.Value))
		}
	case hMessageID:
		r.Value = p.parseMessageID(value).str()
	}
	r.Value = sanitize(r.Value)
	r.Disposition = sanitize(r.Disposition)
	r.CTE = sanitize(r.CTE)
	return r, true
}

// renderAddressList is AddressHeader.parse: the groups and addresses of
// the list, each rendered by headerregistry's Group and Address.
func renderAddressList(p *hp, value string) (string, error) {
	al, err := p.getAddressList(value)
	if err != nil {
		return "", err
	}
	var groups []string
	for _, addr := range al.sub {
		if addr.typ != "address" {
			continue
		}
		var groupName *string
		if addr.at(0).typ == "group" {
			name := addr.at(0).at(0).displayName()
			groupName = &name
		}
		var addresses []string
		for _, mb := range addr.allMailboxes() {
			display, _ := mb.mbDisplayName()
			local, _ := mb.mbLocalPart()
			domain, _ := mb.mbDomain()
			addresses = append(addresses, formatAddress(display, local, domain))
		}
		groups = append(groups, formatGroup(groupName, addresses))
	}
	return strings.Join(groups, ", "), nil
}

func hasAny(s string, set *charset) bool {
	for i := 0; i < len(s); i++ {
		if set.has(s[i]) {
			return true
		}
	}
	return false
}

// formatAddress is str(headerregistry.Address(display, local, domain)).
func formatAddress(display, local, domain string) string {
	lp := local
	if hasAny(lp, &setDotAtomEnd) {
		lp = quoteString(lp)
	}
	var spec string
	switch {
	case domain != "":
		spec = lp + "@" + domain
	case lp == "":
		spec = "<>"
	default:
		spec = lp
	}
	disp := display
	if hasAny(disp, &setSpecials) {
		disp = quoteString(disp)
	}
	if disp != "" {
		if spec == "<>" {
			spec = ""
		}
		return disp + " <" + spec + ">"
	}
	return spec
}

// formatGroup is str(headerregistry.Group(name, addresses)).
func formatGroup(name *string, addresses []string) string {
	if name == nil && len(addresses) == 1 {
		return addresses[0]
	}
	disp := "None"
	if name != nil {
		disp = *name
		if hasAny(disp, &setSpecials) {
			disp = quoteString(disp)
		}
	}
	list := strings.Join(addresses, ", ")
	if list != "" {
		list = " " + list
	}
	return disp + ":" + list + ";"
}
