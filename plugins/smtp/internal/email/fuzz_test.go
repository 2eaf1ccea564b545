package email

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to the message parser. It must never
// panic or hang; every part's body lies inside the message; the parts are
// in walk order within the limits; everything the worker reads of a part
// (headers, parameters, filename, decoded bytes and text) is valid UTF-8
// where it is text.
func FuzzParse(f *testing.F) {
	for _, c := range handHeaders {
		f.Add([]byte(c.name + ": " + string(c.raw) + "\n\nbody\n"))
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nx\n--B\nContent-Disposition: attachment; filename=a\nContent-Transfer-Encoding: base64\n\nQUJD\n--B--\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=A\n\n--A\nContent-Type: multipart/alternative; boundary=B\n\n--B\n\nx\n--A\nContent-Type: message/rfc822\n\nFrom: x\n\ny\n--A--"))
	f.Add([]byte("From x\nX: y\nFrom z\n\nbody"))
	f.Add([]byte("Content-Type: multipart/digest; boundary=D\n\n--D\n\nFrom: a\n\nb\n--D--\n"))
	opts := Options{MaxParts: 200, MaxDepth: 10}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := Parse(data, opts)
		if m.Root != m.Parts[0] || len(m.Parts) > opts.MaxParts {
			t.Fatalf("%d parts", len(m.Parts))
		}
		for i, part := range m.Parts {
			if part.Index != i || part.Depth > opts.MaxDepth+1 {
				t.Fatalf("part %d: index %d depth %d", i, part.Index, part.Depth)
			}
			for _, s := range part.body {
				if s.start < 0 || s.end > len(data) || s.start > s.end {
					t.Fatalf("part %d: body %d..%d outside %d bytes", i, s.start, s.end, len(data))
				}
			}
			for _, h := range part.Headers {
				mustUTF8(t, "header "+h.Name, RenderHeader(h.Name, h.Raw).Value)
			}
			if name, ok := part.Filename(); ok {
				mustUTF8(t, "filename", name)
			}
			if cs, ok := part.Charset(); ok {
				mustUTF8(t, "charset", cs)
			}
			part.ContentType()
			part.Disposition()
			part.Decoded()
			part.AttachedMessage()
			text, _ := part.Text()
			mustUTF8(t, "text", text)
		}
		m.Body("plain")
		m.Body("html")
	})
}

// FuzzRenderHeader renders arbitrary values of every kind of header: no
// panic, valid UTF-8, and the fast paths, when they take a value, render it
// as the parser does.
func FuzzRenderHeader(f *testing.F) {
	for _, c := range handHeaders {
		f.Add(c.name, c.raw)
	}
	for _, c := range simpleHeaders(200) {
		f.Add(c.name, c.raw)
	}
	names := []string{"Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type",
		"Content-Disposition", "Content-Transfer-Encoding", "X-Other"}
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		for _, n := range names {
			if !strings.EqualFold(n, name) && name != "" {
				continue
			}
			r := RenderHeader(n, raw)
			mustUTF8(t, n, r.Value)
			value := unfold(raw)
			kind := headerKinds[strings.ToLower(n)]
			if fast, ok := renderFast(kind, value); ok {
				slow, slowOK := renderKind(kind, value)
				slow.params, fast.params = nil, nil
				if !slowOK || fmt.Sprint(fast) != fmt.Sprint(slow) {
					t.Fatalf("%s %q: fast %+v, parser %+v (%v)", n, raw, fast, slow, slowOK)
				}
			}
			for _, p := range []string{"filename", "name", "charset", "boundary"} {
				if v, ok := GetParam(r.Value, p); ok {
					mustUTF8(t, p, v.Collapse())
				}
			}
		}
	})
}

func mustUTF8(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%s is not UTF-8: %q", what, s)
	}
}
