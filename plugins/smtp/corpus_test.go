package smtp

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Messages written by hand for the tests: the ways real mail is broken,
// each one a case the issue names or a rule of Python's parser.

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

const mixedHead = "From: Sender <s@example.com>\nTo: r@example.com\nSubject: test\nMIME-Version: 1.0\n"

func malformedMessages() map[string][]byte {
	b64 := base64.StdEncoding.EncodeToString
	m := map[string][]byte{
		"no-close-boundary.eml":       []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nbody text\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=cut.bin\nContent-Transfer-Encoding: base64\n\n" + b64([]byte("truncated attachment data")) + "\n"),
		"no-start-boundary.eml":       []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\nno boundary in here\n--C\nContent-Type: text/plain\n\nx\n"),
		"no-boundary-param.eml":       []byte(mixedHead + "Content-Type: multipart/mixed\n\n--B\nContent-Type: text/plain\n\nx\n--B--\n"),
		"wrong-boundary.eml":          []byte(mixedHead + "Content-Type: multipart/mixed; boundary=A\n\n--B\nContent-Type: text/plain\n\nx\n--B--\n"),
		"outer-boundary-in-inner.eml": []byte(mixedHead + "Content-Type: multipart/mixed; boundary=OUT\n\n--OUT\nContent-Type: multipart/alternative; boundary=IN\n\n--IN\nContent-Type: text/plain\n\ninner text\n--OUT\nContent-Type: application/pdf; name=after.pdf\nContent-Transfer-Encoding: base64\n\n" + b64([]byte("%PDF-1.4 after")) + "\n--OUT--\n"),
		"dup-boundaries.eml":          []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\npreamble\n--B\n--B\n--B\nContent-Type: text/plain\n\nfirst\n--B\n--B\nContent-Disposition: attachment; filename=second.txt\n\nsecond\n--B--\nepilogue\n"),
		"boundary-whitespace.eml":     []byte(mixedHead + "Content-Type: multipart/mixed; boundary=\"B  \"\n\n--B  \t\nContent-Type: text/plain\n\nx\n--B \nContent-Disposition: attachment; filename=y.txt\n\ny\n--B-- \t\n"),
		"bad-base64.eml":              []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee attachments\n--B\nContent-Disposition: attachment; filename=chars.bin\nContent-Transfer-Encoding: base64\n\nSGVs*bG8g!d29y#bGQ=\n--B\nContent-Disposition: attachment; filename=padding.bin\nContent-Transfer-Encoding: base64\n\nSGVsbG8gd29ybGQ\n--B\nContent-Disposition: attachment; filename=length.bin\nContent-Transfer-Encoding: base64\n\nSGVsbG8gd29ybGQhI\n--B\nContent-Disposition: attachment; filename=blocks.bin\nContent-Transfer-Encoding: base64\n\nQQ==QkI=\n--B\nContent-Type: text/plain; charset=utf-8\nContent-Disposition: attachment; filename=ok.txt\nContent-Transfer-Encoding: BASE64\n\n" + b64([]byte("café")) + "\n--B--\n"),
		"unknown-charset.eml":         []byte(mixedHead + "Content-Type: text/plain; charset=x-unknown-42\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 and caf\xe9\n"),
		"charset-mislabel.eml":        []byte(mixedHead + "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xe9 \xe2\x82 and \xf0\x9f\x98\x80 fine\n"),
		"no-charset-8bit.eml":         []byte(mixedHead + "Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n"),
		"headers-only.eml":            []byte("From: a@example.com\nSubject: only headers"),
		"headers-only-nl.eml":         []byte("From: a@example.com\nSubject: only headers\n"),
		"no-final-newline.eml":        []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nlast line without newline\n--B\nContent-Disposition: attachment; filename=z.txt\n\nzzz\n--B--"),
		"no-final-newline-cut.eml":    []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nbody\n--B\nContent-Disposition: attachment; filename=cut.txt\n\ncut in the midd"),
		"cr-only.eml":                 []byte(strings.ReplaceAll(mixedHead+"Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\ncr text\n--B\nContent-Disposition: attachment; filename=cr.txt\n\ncr attachment\n--B--\n", "\n", "\r")),
		"mixed-endings.eml":           []byte("From: a@b\r\nSubject: mixed\nContent-Type: multipart/mixed; boundary=B\r\n\n--B\r\nContent-Type: text/plain\n\r\none\r\ntwo\n--B\nContent-Disposition: attachment; filename=m.txt\r\n\r\nm\r--B--\r\n"),
		"mbox-from.eml":               []byte("From sender@example.com Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: mbox\n\nbody\n"),
		"from-last-header.eml":        []byte("X-First: y\nFrom someone\n\nbody after\n"),
		"continuation-first.eml":      []byte(" continued\nSubject: x\n\nbody\n"),
		"non-header-line.eml":         []byte("Subject: x\nthis is not a header\nmore text\n\nbody\n"),
		"header-colon-first.eml":      []byte(":bad\nSubject: x\nX-Y : spaced name\n\nbody\n"),
		"8bit-headers.eml":            []byte("From: M\xc3\xbcller <m@example.de>\nSubject: caf\xe9 \xe2\x82\xac\nX-\xe9t\xe9: v\n\nbody\n"),
		"empty.eml":                   {},
		"qp.eml":                      []byte(mixedHead + "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nsoft=\r\nbreak =E9t=E9 =ZZ bad = \nend=\n=3D equals, trailing spaces   \nlast="),
		"uuencode.eml":                []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nsee\n--B\nContent-Type: application/octet-stream; name=uu.txt\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644 uu.txt\n-:&5L;&\\@=V]R;&0A\"@``\n`\nend\n--B\nContent-Type: application/octet-stream; name=nobegin.txt\nContent-Transfer-Encoding: uuencode\n\nno begin line\n--B--\n"),
		"rfc822-base64.eml":           []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nfwd\n--B\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + b64([]byte("From: inner@example.com\nSubject: inner\n\ninner body\n")) + "\n--B--\n"),
		"digest.eml":                  []byte(mixedHead + "Content-Type: multipart/digest; boundary=D\n\n--D\n\nFrom: one@example.com\nSubject: one\n\nfirst\n--D\nContent-Type: text/plain\n\nnot a message\n--D\n\nFrom: two@example.com\nSubject: two\n\nsecond\n--D--\n"),
		"related-start.eml":           []byte(mixedHead + "Content-Type: multipart/related; boundary=R; start=\"<second@x>\"\n\n--R\nContent-Type: text/html\n\n<p>first</p>\n--R\nContent-Type: multipart/alternative; boundary=A\nContent-ID: <second@x>\n\n--A\nContent-Type: text/plain\n\nsecond plain\n--A\nContent-Type: text/html\n\n<p>second</p>\n--A--\n--R--\n"),
		"attachment-text-first.eml":   []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\nContent-Disposition: attachment\n\nattached text\n--B\nContent-Type: text/plain\n\nthe body\n--B--\n"),
		"filename-2231.eml":           []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nx\n--B\nContent-Type: application/octet-stream; name=\"type-name.bin\"\nContent-Disposition: attachment;\n filename*0*=utf-8''%E6%97%A5%E6%9C;\n filename*1*=%AC%E8%AA%9E;\n filename*2=.txt\n\ndata\n--B\nContent-Type: application/octet-stream; name*=iso-8859-1''caf%E9.bin\n\nmore\n--B\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"=?iso-8859-1?q?=E9t=E9?= =?utf-8?b?w6lsw6h2ZQ==?=.doc\"\n\nmore2\n--B--\n"),
		"delivery-status.eml":         []byte(mixedHead + "Content-Type: multipart/report; report-type=delivery-status; boundary=R\n\n--R\nContent-Type: text/plain\n\nDelivery failed.\n--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\nFinal-Recipient: rfc822; x@example.com\nAction: failed\n--R\nContent-Type: message/rfc822\n\nFrom: orig@example.com\nSubject: original\n\noriginal body\n--R--\n"),
		"empty-parts.eml":             []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\n--B--\n"),
		"part-no-headers.eml":         []byte(mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\n\nno headers here\n--B\nContent-Disposition: attachment; filename=f\n--B--\n"),
		"ct-invalid.eml":              []byte(mixedHead + "Content-Type: multipart/mixed/extra; boundary=B\n\n--B\n\nx\n--B--\n"),
		"nested-mixed.eml":            crlf(mixedHead + "Content-Type: multipart/mixed; boundary=L1\n\n--L1\nContent-Type: multipart/mixed; boundary=L2\n\n--L2\nContent-Type: multipart/alternative; boundary=L3\n\n--L3\nContent-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: 8bit\n\n\xf0\xd2\xc9\xd7\xc5\xd4\n--L3\nContent-Type: text/html; charset=windows-1252\n\n<p>\x93hi\x94</p>\n--L3--\n--L2\nContent-Type: image/png\nContent-Disposition: inline; filename=deep.png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--L2--\n--L1\nContent-Type: application/zip; name=outer.zip\nContent-Transfer-Encoding: base64\n\nUEsDBAo=\n--L1--\n"),
	}
	var deep strings.Builder
	deep.WriteString("From: deep@example.com\nSubject: deep\n")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	deep.WriteString("Content-Type: text/plain\nContent-Disposition: attachment; filename=bottom.txt\n\nat the bottom\n")
	for i := 29; i >= 0; i-- {
		fmt.Fprintf(&deep, "--b%d--\n", i)
	}
	m["deep-nesting.eml"] = []byte(deep.String())
	r := rand.New(rand.NewPCG(7, 7))
	garbage := make([]byte, 3000)
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	m["binary.eml"] = garbage
	return m
}

// mutate returns n variants of msg, each with a few random line-level
// edits (deleted, repeated, swapped or truncated lines, changed line
// endings, stray boundary lines), deterministic for a seed.
func mutate(msg []byte, n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, 99))
	var out [][]byte
	for v := 0; v < n; v++ {
		lines := bytes.SplitAfter(msg, []byte("\n"))
		edits := 1 + r.IntN(3)
		for e := 0; e < edits && len(lines) > 1; e++ {
			i := r.IntN(len(lines))
			switch r.IntN(7) {
			case 0:
				lines = append(lines[:i], lines[i+1:]...)
			case 1:
				lines = append(lines[:i+1], lines[i:]...)
			case 2:
				j := r.IntN(len(lines))
				lines[i], lines[j] = lines[j], lines[i]
			case 3:
				if l := lines[i]; len(l) > 1 {
					lines[i] = l[:r.IntN(len(l))]
				}
			case 4:
				lines[i] = bytes.ReplaceAll(lines[i], []byte("\n"), []byte("\r\n"))
			case 5:
				if k := bytes.Index(msg, []byte("boundary=")); k >= 0 {
					end := k + 9 + bytes.IndexAny(msg[k+9:], "\r\n;")
					if end > k+9 {
						b := bytes.Trim(msg[k+9:end], `"`)
						lines = append(lines[:i], append([][]byte{append(append([]byte("--"), b...), "\n"...)}, lines[i:]...)...)
					}
				}
			case 6:
				out2 := bytes.Join(lines, nil)
				lines = [][]byte{out2[:r.IntN(len(out2)+1)]}
			}
		}
		out = append(out, bytes.Join(lines, nil))
	}
	return out
}
