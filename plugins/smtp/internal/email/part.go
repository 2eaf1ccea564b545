package email

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// Get returns the first header called name (case-insensitively), rendered
// as Python shows it: Message.get(name).
func (part *Part) Get(name string) (*Rendered, bool) {
	for i, h := range part.Headers {
		if len(h.Name) != len(name) || !strings.EqualFold(h.Name, name) {
			continue
		}
		if part.rendered == nil {
			part.rendered = make([]*Rendered, len(part.Headers))
		}
		if part.rendered[i] == nil {
			r := RenderHeader(h.Name, h.Raw)
			part.rendered[i] = &r
		}
		return part.rendered[i], true
	}
	return nil, false
}

// ContentType is get_content_type(): the type and subtype, lowercased; the
// default (text/plain, or message/rfc822 in a digest) without a
// Content-Type, text/plain for one that does not read as type/subtype.
func (part *Part) ContentType() string {
	ct, ok := part.Get("content-type")
	if !ok {
		return part.defaultType
	}
	t := strings.ToLower(mainValue(ct.Value))
	if strings.Count(t, "/") != 1 {
		return "text/plain"
	}
	return t
}

// MainType is the type before the slash.
func (part *Part) MainType() string {
	main, _, _ := strings.Cut(part.ContentType(), "/")
	return main
}

// Param is get_param(name, header=header).
func (part *Part) Param(header, name string) (ParamValue, bool) {
	h, ok := part.Get(header)
	if !ok {
		return ParamValue{}, false
	}
	if h.params == nil {
		h.params = paramList(h.Value)
	}
	return h.params.get(name)
}

// ParamText is get_param's string (unquoted once, as get_param returns
// it), an RFC 2231 tuple collapsed to its text.
func (part *Part) ParamText(header, name string) (string, bool) {
	v, ok := part.Param(header, name)
	if !ok {
		return "", false
	}
	if !v.RFC2231 {
		return v.Text, true
	}
	return v.Collapse(), true
}

// Boundary is get_boundary().
func (part *Part) Boundary() (string, bool) {
	b, ok := part.Param("content-type", "boundary")
	if !ok {
		return "", false
	}
	return rstripSpace(b.Collapse()), true
}

// Filename is get_filename(): the filename parameter of
// Content-Disposition, else the name parameter of Content-Type, with
// RFC 2231 and RFC 2047 encodings decoded.
func (part *Part) Filename() (string, bool) {
	f, ok := part.Param("content-disposition", "filename")
	if !ok {
		f, ok = part.Param("content-type", "name")
	}
	if !ok {
		return "", false
	}
	return stripSpace(f.Collapse()), true
}

// Charset is get_content_charset(): the charset parameter lowercased, or
// false without one (or with one that is not ASCII).
func (part *Part) Charset() (string, bool) {
	pv, ok := part.Param("content-type", "charset")
	if !ok {
		return "", false
	}
	cs := pv.Text
	if pv.RFC2231 {
		charset := "us-ascii"
		if pv.CharsetSet && pv.Charset != "" {
			charset = pv.Charset
		}
		if dec, ok := lookupCodec(charset); ok && dec.kind != codecXText {
			if decoded := dec.decodeEscaped(rawUnicodeEscape(pv.Text)); !hasEscapes(decoded) && !strings.ContainsRune(decoded, utf8.RuneError) {
				cs = decoded
			}
		}
	}
	for i := 0; i < len(cs); i++ {
		if cs[i] >= 0x80 {
			return "", false
		}
	}
	return strings.ToLower(cs), true
}

// Disposition is get_content_disposition(): the disposition type
// lowercased, false without a Content-Disposition.
func (part *Part) Disposition() (string, bool) {
	cd, ok := part.Get("content-disposition")
	if !ok {
		return "", false
	}
	return strings.ToLower(mainValue(cd.Value)), true
}

// IsAttachment is is_attachment(): Content-Disposition's type is
// attachment.
func (part *Part) IsAttachment() bool {
	cd, ok := part.Get("content-disposition")
	return ok && cd.HasDisposition && cd.Disposition == "attachment"
}

// HeaderValue is str(part.get(name)), false when the header is absent.
func (part *Part) HeaderValue(name string) (string, bool) {
	r, ok := part.Get(name)
	if !ok {
		return "", false
	}
	return r.Value, true
}

// TransferEncoding is what the body is decoded by (Rendered.Encoding), ""
// without a Content-Transfer-Encoding.
func (part *Part) TransferEncoding() string {
	r, ok := part.Get("content-transfer-encoding")
	if !ok {
		return ""
	}
	return r.Encoding
}

// Problems found while decoding a part.
const (
	ProblemBase64Damaged     = "damaged base64 (characters outside the alphabet or wrong padding): decoded what could be"
	ProblemBase64Undecodable = "base64 that does not decode (its length is one more than a multiple of 4): kept as it is"
	ProblemUUDamaged         = "uuencoded text without its begin line, or damaged: kept as it is"
	ProblemUnknownCharset    = "unknown charset: decoded as UTF-8"
)

// Decoded is the body with its transfer encoding undone, as
// get_payload(decode=True): base64 and quoted-printable with Python's
// leniency, uuencode, anything else as it is (a slice of the message). It
// differs from Python in one way: a header that is the mechanism with only
// white space or comments around it ("base64 ", "base64 (sent by X)")
// decodes by the mechanism, where Python compares the whole header text
// and returns the encoded text, which hides the attachment from anything
// that scans Python's result.
// problem is one of the Problem constants when the encoded text was
// damaged (what could be decoded is still returned), else "".
func (part *Part) Decoded() (data []byte, problem string) {
	body := part.Body()
	switch part.TransferEncoding() {
	case "quoted-printable":
		return DecodeQuotedPrintable(body), ""
	case "base64":
		if out, ok := decodeCleanBase64(body); ok {
			return out, ""
		}
		joined := joinLines(body)
		out, ok := decodeBase64Lenient(joined)
		if !ok {
			return joined, ProblemBase64Undecodable
		}
		return out, ProblemBase64Damaged
	case "x-uuencode", "uuencode", "uue", "x-uue":
		out, ok := DecodeUU(body)
		if !ok {
			return body, ProblemUUDamaged
		}
		return out, ""
	}
	return body, ""
}

// decodeCleanBase64 decodes base64 that needs no leniency: the alphabet
// in lines, padding only at the end, a whole number of quanta. Python
// finds no defect in exactly these and decodes them as encoding/base64
// does (which skips the line breaks itself), so the fast decoder is used.
func decodeCleanBase64(body []byte) ([]byte, bool) {
	out := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	n, err := base64.StdEncoding.Decode(out, body)
	if err != nil {
		return nil, false
	}
	return out[:n:n], true
}

// Text is the decoded text of a text part, as get_content() gives it:
// the body transfer-decoded, then decoded with its declared charset,
// undecodable bytes as U+FFFD. It differs from Python for a part without a
// charset or declared ASCII: Python decodes those as ASCII (every byte
// above 0x7F becomes U+FFFD), this decodes them as UTF-8, which ASCII
// text is too and which 8-bit mail without a charset nearly always is. A
// charset Python does not know (it raises LookupError) decodes as UTF-8
// with ProblemUnknownCharset.
func (part *Part) Text() (text string, problems []string) {
	data, problem := part.Decoded()
	if problem != "" {
		problems = append(problems, problem)
	}
	cs, ok := part.ParamText("content-type", "charset")
	if !ok {
		return DecodeUTF8(data), problems
	}
	dec, found := lookupCodec(cs)
	if !found {
		return DecodeUTF8(data), append(problems, ProblemUnknownCharset)
	}
	if dec.kind == codecASCII {
		return DecodeUTF8(data), problems
	}
	return dec.decodeReplace(data), problems
}

// IsAttachedMessage reports whether the part is an e-mail message of its
// own (message/rfc822, message/global, message/news).
func (part *Part) IsAttachedMessage() bool {
	switch part.ContentType() {
	case "message/rfc822", "message/global", "message/news":
		return true
	}
	return false
}

// AttachedMessage is the bytes of an attached message: its body as it is
// in the message, as Python reads it, unless the part declares base64
// (which RFC 2046 forbids on message/rfc822, but some mailers do) and the
// body decodes as clean base64: then the decoded bytes, which Python would
// have misread as a message.
func (part *Part) AttachedMessage() []byte {
	body := part.Body()
	if part.TransferEncoding() == "base64" {
		if out, ok := decodeCleanBase64(body); ok {
			return out
		}
	}
	return body
}

// Body finds the body as get_body(preferencelist=(subtype,)) does: the
// first text/subtype part in the tree that is not an attachment, looking
// into multipart/related only at its start part; nil when there is none.
func (m *Message) Body(subtype string) *Part {
	return findBody(m.Root, m.Root, subtype)
}

func findBody(root, part *Part, subtype string) *Part {
	if part.IsAttachment() {
		return nil
	}
	main, sub, _ := strings.Cut(part.ContentType(), "/")
	if main == "text" {
		if sub == subtype {
			return part
		}
		return nil
	}
	if main != "multipart" || !root.IsMultipart {
		return nil
	}
	if !part.IsMultipart {
		// Python iterates the text of a multipart that has no parts and
		// fails; there is no body to find there.
		return nil
	}
	if sub != "related" {
		for _, c := range part.Children {
			if b := findBody(root, c, subtype); b != nil {
				return b
			}
		}
		return nil
	}
	var candidate *Part
	if start, ok := part.ParamText("content-type", "start"); ok && start != "" {
		for _, c := range part.Children {
			if id, ok := c.HeaderValue("content-id"); ok && id == start {
				candidate = c
				break
			}
		}
	}
	if candidate == nil && len(part.Children) > 0 {
		candidate = part.Children[0]
	}
	if candidate == nil {
		return nil
	}
	return findBody(root, candidate, subtype)
}

// Key is the results key of a header name: Python's name.lower(), with
// bytes that are not UTF-8 shown as U+FFFD.
func Key(name string) string { return sanitize(strings.ToLower(escapeRaw([]byte(name)))) }
