package smtp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

const sample = "Received: from mx.example.com ([192.0.2.1]) by mail.example.org; Fri, 27 Nov 2026 16:42:40 +0100\r\n" +
	"Received: from [198.51.100.7] by mx.example.com; Fri, 27 Nov 2026 16:42:39 +0100\r\n" +
	"X-Originating-IP: [198.51.100.7]\r\n" +
	"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.de>\r\n" +
	"To: \"Doe, John\" <john@example.org>\r\n" +
	"Subject: =?iso-8859-1?q?Facture_pay=E9e?= 100%41\r\n" +
	"Date: 1 Dec 2026 10:00 +0100\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"OUTER\"\r\n" +
	"\r\n" +
	"--OUTER\r\n" +
	"Content-Type: multipart/alternative; boundary=ALT\r\n" +
	"\r\n" +
	"--ALT\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Pay=E9 100% at http://evil.example.com/pay?x=%41\r\n" +
	"--ALT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Payé</p>\r\n" +
	"--ALT--\r\n" +
	"--OUTER\r\n" +
	"Content-Type: application/pdf; name=\"invoice.pdf\"\r\n" +
	"Content-Description: =?utf-8?q?la_facture?=\r\n" +
	"Content-Disposition: attachment; filename*=utf-8''factur%C3%A9.pdf\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n" +
	"--OUTER\r\n" +
	"Content-Type: text/plain; charset=windows-1252; name=notes.txt\r\n" +
	"Content-Disposition: inline\r\n" +
	"\r\n" +
	"8-bit \x93notes\x94\r\n" +
	"--OUTER\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"From: inner@example.com\r\n" +
	"Subject: inner\r\n" +
	"Content-Type: multipart/mixed; boundary=IN\r\n" +
	"\r\n" +
	"--IN\r\n" +
	"Content-Type: text/plain\r\n" +
	"\r\n" +
	"inner body\r\n" +
	"--IN\r\n" +
	"Content-Type: application/octet-stream; name=inner.bin\r\n" +
	"\r\n" +
	"inner attachment\r\n" +
	"--IN--\r\n" +
	"--OUTER--\r\n"

// The options, their defaults and the results keys are stoQ's smtp
// plugin's (smtp.py and smtp.stoq of stoq-plugins-public).
func TestOptionsAreStoQs(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	if w.omitBody || !w.archiveAttachments || w.extractIOCs || len(w.alwaysDispatch) != 0 {
		t.Errorf("defaults: omit_body %v archive_attachments %v extract_iocs %v always_dispatch %v, want false true false []",
			w.omitBody, w.archiveAttachments, w.extractIOCs, w.alwaysDispatch)
	}
	want := []string{"received", "x-orig-ip", "x-originating-ip", "x-remote-ip", "x-sender-ip", "body", "body_html"}
	if !slices.Equal(w.iocKeys, want) {
		t.Errorf("ioc_keys %v, want stoQ's %v", w.iocKeys, want)
	}
}

func TestResults(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	resp := stoqtest.Scan(t, w, []byte(sample))
	got := resp.Results.(map[string]string)
	want := map[string]string{
		"received":         "from mx.example.com ([192.0.2.1]) by mail.example.org; Fri, 27 Nov 2026 16:42:40 +0100\nfrom [198.51.100.7] by mx.example.com; Fri, 27 Nov 2026 16:42:39 +0100",
		"x-originating-ip": "[198.51.100.7]",
		"from":             "Jörg Müller <jorg@example.de>",
		"to":               `"Doe, John" <john@example.org>`,
		"subject":          "Facture payée 100%41",
		"date":             "Tue, 01 Dec 2026 10:00:00 +0100",
		"mime-version":     "1.0",
		"content-type":     `multipart/mixed; boundary="OUTER"`,
		// Decoded by charset and transfer encoding, and not URL-unquoted.
		"body":      "Payé 100% at http://evil.example.com/pay?x=%41",
		"body_html": "<p>Payé</p>",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("results have %d keys, want %d: %v", len(got), len(want), got)
	}
	if len(resp.Errors) != 0 {
		t.Errorf("errors on a well-formed message: %v", resp.Errors)
	}
}

func TestExtractedPayloads(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"always_dispatch": "hash, yara"})
	resp := stoqtest.Scan(t, w, []byte(sample))
	type want struct {
		content    string
		extra      map[string]any
		dispatchTo []string
	}
	wants := []want{
		{"%PDF-1.4\n%äüöß\n", map[string]any{"charset": nil, "content-description": "la facture", "disposition": "attachment",
			"filename": "facturé.pdf", "type": "application/pdf"}, []string{"hash", "yara"}},
		{"8-bit \x93notes\x94", map[string]any{"charset": "windows-1252", "content-description": nil, "disposition": "inline",
			"filename": "notes.txt", "type": "text/plain"}, []string{"hash", "yara"}},
		{"", map[string]any{"charset": nil, "content-description": nil, "disposition": nil, "filename": nil,
			"type": "message/rfc822"}, []string{"smtp"}},
	}
	if len(resp.Extracted) != len(wants) {
		t.Fatalf("%d extracted payloads, want %d", len(resp.Extracted), len(wants))
	}
	for i, w := range wants {
		ex := resp.Extracted[i]
		if w.content != "" && string(ex.Content) != w.content {
			t.Errorf("payload %d: %q, want %q", i, ex.Content, w.content)
		}
		if !ex.PayloadMeta.ShouldArchive {
			t.Errorf("payload %d: should_archive false with archive_attachments true", i)
		}
		if !slices.Equal(ex.PayloadMeta.DispatchTo, w.dispatchTo) {
			t.Errorf("payload %d: dispatch_to %v, want %v", i, ex.PayloadMeta.DispatchTo, w.dispatchTo)
		}
		got, _ := json.Marshal(ex.PayloadMeta.ExtraData)
		wantJSON, _ := json.Marshal(w.extra)
		if string(got) != string(wantJSON) {
			t.Errorf("payload %d: extra_data %s, want %s", i, got, wantJSON)
		}
	}
	// The attached message is the bytes between its headers and the
	// boundary, and parses again with its own attachment.
	inner := resp.Extracted[2].Content
	if !bytes.HasPrefix(inner, []byte("From: inner@example.com\r\n")) || !bytes.HasSuffix(inner, []byte("--IN--")) {
		t.Errorf("attached message: %q", inner)
	}
	again := stoqtest.Scan(t, w, inner)
	if len(again.Extracted) != 1 || again.Extracted[0].PayloadMeta.ExtraData["filename"] != "inner.bin" {
		t.Errorf("the attached message's attachment: %+v", again.Extracted)
	}

	w = stoqtest.New[*Plugin](t, "smtp", map[string]string{"archive_attachments": "false"})
	for _, ex := range stoqtest.Scan(t, w, []byte(sample)).Extracted {
		if ex.PayloadMeta.ShouldArchive {
			t.Error("should_archive true with archive_attachments false")
		}
	}
}

// Extracted bytes are slices of the payload when nothing had to be
// decoded, and their capacity ends with them.
func TestAttachmentsAreSlicesOfThePayload(t *testing.T) {
	content := []byte(sample)
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	resp := stoqtest.Scan(t, w, content)
	notes := resp.Extracted[1].Content
	start := uintptr(unsafe.Pointer(unsafe.SliceData(content)))
	at := uintptr(unsafe.Pointer(unsafe.SliceData(notes)))
	if at < start || at >= start+uintptr(len(content)) {
		t.Fatal("an 8-bit attachment was copied")
	}
	if cap(notes) != len(notes) {
		t.Errorf("capacity %d beyond the attachment's %d bytes", cap(notes), len(notes))
	}
}

func TestOmitBody(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"omit_body": "True"})
	got := stoqtest.Scan(t, w, []byte(sample)).Results.(map[string]string)
	if _, ok := got["body"]; ok {
		t.Error("body in the results with omit_body")
	}
	if _, ok := got["body_html"]; ok {
		t.Error("body_html in the results with omit_body")
	}
	if got["subject"] == "" {
		t.Error("headers missing with omit_body")
	}
}

func TestExtractIOCs(t *testing.T) {
	for _, omit := range []string{"false", "true"} {
		w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"extract_iocs": "true", "omit_body": omit})
		resp := stoqtest.Scan(t, w, []byte(sample))
		last := resp.Extracted[len(resp.Extracted)-1]
		if !slices.Equal(last.PayloadMeta.DispatchTo, []string{"iocextract"}) || last.PayloadMeta.ShouldArchive {
			t.Fatalf("omit_body=%s: the IOC payload: dispatch_to %v should_archive %v", omit, last.PayloadMeta.DispatchTo, last.PayloadMeta.ShouldArchive)
		}
		text := string(last.Content)
		for _, want := range []string{"192.0.2.1", "198.51.100.7", "http://evil.example.com/pay?x=%41", "<p>Payé</p>"} {
			if !strings.Contains(text, want) {
				t.Errorf("omit_body=%s: the IOC payload lacks %q: %q", omit, want, text)
			}
		}
		if strings.Contains(text, "jorg@example.de") {
			t.Errorf("omit_body=%s: From is not in ioc_keys but in the payload", omit)
		}
	}
	w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"extract_iocs": "true", "ioc_keys": "From, To"})
	resp := stoqtest.Scan(t, w, []byte(sample))
	if got := string(resp.Extracted[len(resp.Extracted)-1].Content); got != "\nJörg Müller <jorg@example.de>\n\"Doe, John\" <john@example.org>" {
		t.Errorf("ioc_keys=From,To: %q", got)
	}
	if n := len(stoqtest.Scan(t, stoqtest.New[*Plugin](t, "smtp", nil), []byte(sample)).Extracted); n != 3 {
		t.Errorf("%d payloads without extract_iocs, want the 3 attachments", n)
	}
}

func TestExtractUnnamed(t *testing.T) {
	msg := mixedHead + "Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\nbody\n" +
		"--B\nContent-Type: application/octet-stream\n\nno name\n--B\nContent-Type: image/png\nContent-Disposition: attachment\n\npng\n--B--\n"
	named := stoqtest.Scan(t, stoqtest.New[*Plugin](t, "smtp", nil), []byte(msg))
	if len(named.Extracted) != 0 {
		t.Errorf("%d payloads from parts without names, want none by default", len(named.Extracted))
	}
	for _, omit := range []string{"false", "true"} {
		w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"extract_unnamed": "true", "omit_body": omit})
		resp := stoqtest.Scan(t, w, []byte(msg))
		var got []string
		for _, ex := range resp.Extracted {
			got = append(got, string(ex.Content))
		}
		if !slices.Equal(got, []string{"no name", "png"}) {
			t.Errorf("omit_body=%s extract_unnamed: %q, want the two parts that are not the body", omit, got)
		}
	}
}

// Broken mail never fails the scan: what can be read comes back, with an
// Error naming what is wrong.
func TestMalformedMail(t *testing.T) {
	msgs := malformedMessages()
	cases := []struct {
		file    string
		errText string   // in one of the errors
		names   []string // filenames extracted
		body    string
	}{
		{"no-close-boundary.eml", "without its closing boundary", []string{"cut.bin"}, "body text"},
		{"no-start-boundary.eml", "never starts a part", nil, ""},
		{"no-boundary-param.eml", "without a boundary parameter", nil, ""},
		{"bad-base64.eml", "damaged base64", []string{"chars.bin", "padding.bin", "length.bin", "blocks.bin", "ok.txt"}, "see attachments"},
		{"bad-base64.eml", "base64 that does not decode", nil, ""},
		{"unknown-charset.eml", "unknown charset", nil, "café and caf\ufffd\n"},
		{"headers-only.eml", "ends inside its headers", nil, ""},
		{"no-final-newline-cut.eml", "without its closing boundary", []string{"cut.txt"}, "body"},
		{"non-header-line.eml", "not a header", nil, "this is not a header\nmore text\n\nbody\n"},
		{"continuation-first.eml", "continuation", nil, "body\n"},
		{"uuencode.eml", "uuencoded", []string{"uu.txt", "nobegin.txt"}, "see"},
	}
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			resp := stoqtest.Scan(t, w, msgs[c.file])
			if !errorsMention(resp.Errors, c.errText) {
				t.Errorf("no error mentioning %q: %v", c.errText, resp.Errors)
			}
			if c.names != nil {
				var names []string
				for _, ex := range resp.Extracted {
					names = append(names, strOrNil(ex.PayloadMeta.ExtraData["filename"]))
				}
				if !slices.Equal(names, c.names) {
					t.Errorf("extracted %q, want %q", names, c.names)
				}
			}
			if c.body != "" {
				if got := resp.Results.(map[string]string)["body"]; got != c.body {
					t.Errorf("body %q, want %q", got, c.body)
				}
			}
		})
	}
	// The damage is reported once per kind, with the number of parts.
	resp := stoqtest.Scan(t, w, msgs["bad-base64.eml"])
	if !errorsMention(resp.Errors, "3 times (first: part 2 (attachment, text/plain, filename \"chars.bin\"))") {
		t.Errorf("errors of bad-base64.eml: %v", resp.Errors)
	}
}

// The deviations from Python's email package the README names.
func TestDeviationsFromPython(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	// 8-bit text without a charset decodes as UTF-8 (Python: ASCII, U+FFFD).
	got := stoqtest.Scan(t, w, malformedMessages()["no-charset-8bit.eml"]).Results.(map[string]string)
	if got["body"] != "café\n" {
		t.Errorf("no charset: body %q", got["body"])
	}
	// A transfer encoding with trailing white space still decodes.
	msg := "Content-Type: text/plain\nContent-Transfer-Encoding: base64 \nContent-Disposition: attachment; filename=a.txt\n\naGVsbG8=\n"
	resp := stoqtest.Scan(t, w, []byte(msg))
	if got := resp.Results.(map[string]string)["body"]; got != "" {
		t.Errorf("an attachment is not the body: %q", got)
	}
	if string(resp.Extracted[0].Content) != "hello" {
		t.Errorf("'base64 ' attachment: %q", resp.Extracted[0].Content)
	}
	// But junk after it does not, as in Python.
	msg = strings.Replace(msg, "base64 ", "base64 junk", 1)
	if got := string(stoqtest.Scan(t, w, []byte(msg)).Extracted[0].Content); got != "aGVsbG8=\n" {
		t.Errorf("'base64 junk' attachment: %q", got)
	}
}

func TestLimits(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"max_parts": "1000"})
	resp := stoqtest.Scan(t, w, manyParts(5000))
	if len(resp.Extracted) != 999 || !errorsMention(resp.Errors, "max_parts") {
		t.Errorf("max_parts=1000 on 5,000 parts: %d extracted, errors %v", len(resp.Extracted), resp.Errors)
	}
	var deep strings.Builder
	for i := 0; i < 100_000; i++ {
		fmt.Fprintf(&deep, "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i)
	}
	w = stoqtest.New[*Plugin](t, "smtp", map[string]string{"max_depth": "20"})
	resp = stoqtest.Scan(t, w, []byte(deep.String()))
	if !errorsMention(resp.Errors, "max_depth") {
		t.Errorf("100,000 nested multiparts: errors %v", resp.Errors)
	}
}

// A hostile message of 100,000 parts is read whole: every attachment is
// extracted. (How long it takes is BenchmarkScan's business.)
func TestHundredThousandParts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	resp := stoqtest.Scan(t, w, manyParts(100_000))
	if len(resp.Extracted) != 100_000 || len(resp.Errors) != 0 {
		t.Fatalf("%d extracted, errors %v", len(resp.Extracted), resp.Errors)
	}
	if string(resp.Extracted[99_999].Content) != "ABC" || resp.Extracted[99_999].PayloadMeta.ExtraData["filename"] != "f99999.bin" {
		t.Errorf("last part: %q %v", resp.Extracted[99_999].Content, resp.Extracted[99_999].PayloadMeta.ExtraData)
	}
}

// Header values whose parse as Python does it would cost far more than
// their length are rendered as text, with an Error.
func TestCostlyHeaders(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("To: ")
	for i := 0; i < 20_000; i++ {
		sb.WriteString("=?utf-8?q?a?= b@c, ")
	}
	sb.WriteString("\nSubject: " + strings.Repeat("=?", 200_000) + "\n\nbody\n")
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	resp := stoqtest.Scan(t, w, []byte(sb.String()))
	got := resp.Results.(map[string]string)
	if got["subject"] != strings.Repeat("=?", 200_000) || got["body"] != "body\n" || got["to"] == "" {
		t.Errorf("subject of %d bytes, body %q", len(got["subject"]), got["body"])
	}
}

func TestBadOptions(t *testing.T) {
	for _, c := range []struct{ key, value string }{
		{"max_parts", "0"}, {"max_depth", "-1"}, {"max_parts", "many"}, {"omit_body", "perhaps"}, {"extract_iocs", "2"},
	} {
		_, err := stoqtest.TryNew(t, "smtp", map[string]string{c.key: c.value})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != c.key || oe.Plugin != "smtp" {
			t.Errorf("%s=%s: error %v, want an OptionError naming smtp's %s", c.key, c.value, err, c.key)
		}
	}
}

// Scanning leaves the payload as it was and gives the same response twice.
func TestContentUntouchedAndDeterministic(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", map[string]string{"extract_iocs": "true"})
	for name, msg := range malformedMessages() {
		orig := bytes.Clone(msg)
		a, _ := json.Marshal(stoqtest.Scan(t, w, msg))
		b, _ := json.Marshal(stoqtest.Scan(t, w, msg))
		if !bytes.Equal(msg, orig) {
			t.Errorf("%s: content modified", name)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two scans differ", name)
		}
	}
}

func TestScanStopsWhenCancelled(t *testing.T) {
	w := stoqtest.New[*Plugin](t, "smtp", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(manyParts(5000), nil)
	if _, err := w.Scan(ctx, p, stoqtest.Request(p)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan of 5,000 parts returned %v", err)
	}
}

// Through the engine: the attached message is scanned by smtp again, and
// its attachment comes out of it.
func TestEngineScan(t *testing.T) {
	s := stoqtest.Engine(t)
	resp, err := s.Scan(context.Background(), []byte(sample), nil, nil, "smtp")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Errorf("errors: %v", resp.Errors)
	}
	var inner, innerAttachment bool
	for _, r := range resp.Results {
		if h, ok := r.Workers["smtp"].(map[string]string); ok && h["subject"] == "inner" {
			inner = slices.Equal(r.ExtractedBy, []string{"smtp"})
		}
		if r.PayloadMeta.ExtraData["filename"] == "inner.bin" {
			innerAttachment = slices.Equal(r.ExtractedBy, []string{"smtp"})
		}
	}
	if len(resp.Results) != 5 || !inner || !innerAttachment {
		out, _ := json.MarshalIndent(resp, "", " ")
		t.Errorf("%d results, attached message scanned %v, its attachment %v:\n%s", len(resp.Results), inner, innerAttachment, out)
	}
}
