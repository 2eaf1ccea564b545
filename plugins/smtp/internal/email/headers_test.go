package email

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// handHeaders are header values written to exercise one rule each, beside
// the generated ones.
var handHeaders = []headerCase{
	{"Subject", []byte("=?utf-8?q?caf=C3=A9?= =?utf-8?q?_au_lait?= x=?utf-8?q?y?= =?bogus?q?z?=")},
	{"Subject", []byte("=?UTF-8?B?w6lsw6hndmU=?=\r\n =?UTF-8?B?IGV0IG1hw650cmU=?=")},
	{"Subject", []byte("=?iso-8859-1?q?Caf=E9?= and =?windows-1252?q?=93quoted=94?=")},
	{"Subject", []byte("=?shift_jis?b?g2WDWINn?= =?koi8-r?b?8NLJ18XU?=")},
	{"Subject", []byte("raw UTF-8: caf\xc3\xa9, raw latin-1: caf\xe9, truncated \xe2\x82")},
	{"Subject", []byte("=?utf-8?q?bad=?= =?utf-8?b?YWJj?= =?utf-8?b?YWJjZA?= =?utf-8?b?YW=Jj?=")},
	{"Subject", []byte("no  collapse\tof   spaces  ")},
	{"Subject", []byte("")},
	{"From", []byte(`=?utf-8?q?A?= =?utf-8?q?B?= <x@y>, "Doe, John" <j@x>, "John" <k@x>, j@x (comment), <>, undisclosed:;`)},
	{"From", []byte(`=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jorg@example.com>`)},
	{"From", []byte(`"=?utf-8?q?J=C3=B6rg?=" <j@x>`)},
	{"To", []byte("group: a@b; junk")},
	{"Cc", []byte(".foo <a@b>")},
	{"To", []byte("a@")},
	{"To", []byte("a b@c, d.e@f (x) , <@route,@r2:g@h>, i@[1.2.3.4], \"q\\\"x\"@y")},
	{"To", []byte("undisclosed-recipients:;")},
	{"Reply-To", []byte("Müller <m@example.de>")},
	{"Sender", []byte("<a@b")},
	{"Date", []byte("1 Jan 24 10:00 est")},
	{"Date", []byte("Tue, 15 Nov 1994 08:12:31 GMT")},
	{"Date", []byte("Mon, 31 Feb 2024 10:00:00 +0000")},
	{"Date", []byte("Wed, 02 Oct 2002 08:00:00 -0000")},
	{"Date", []byte("Wed, 02 Oct 2002 08:00:00 +2400")},
	{"Date", []byte("not a date")},
	{"Date", []byte("02-Oct-2002 08.00.00 +0530")},
	{"Message-ID", []byte("<a@b> junk")},
	{"Message-ID", []byte("<a.b@[c]>")},
	{"Message-ID", []byte("no brackets")},
	{"Message-ID", []byte("<a@[b")},
	{"MIME-Version", []byte("1.0 (x)")},
	{"MIME-Version", []byte("1.x")},
	{"Content-Type", []byte("text/plain;charset=utf-8 (c); name*=utf-8''%E2%82%AC.txt")},
	{"Content-Type", []byte(`multipart/mixed; boundary="===============1234567890=="`)},
	{"Content-Type", []byte("application/octet-stream; name=\"=?utf-8?b?w6kudHh0?=\"")},
	{"Content-Type", []byte("text/plain; name*0*=utf-8''%E2%82; name*1*=%AC; name*2=.txt")},
	{"Content-Type", []byte("text/plain; name*=\"utf-8''%E2%82%AC.txt\"")},
	{"Content-Type", []byte("text; charset=x")},
	{"Content-Type", []byte("/plain; charset=x")},
	{"Content-Type", []byte("text/plain junk; charset=x")},
	{"Content-Type", []byte("multipart/mixed; boundary=abc ; boundary=def")},
	{"Content-Type", []byte("text/plain; charset=\"utf-8\"; format=flowed; delsp=yes")},
	{"Content-Disposition", []byte("attachment; filename=\"a;b.txt\"")},
	{"Content-Disposition", []byte("ATTACHMENT; filename*=iso-8859-1'en'caf%E9.pdf")},
	{"Content-Disposition", []byte("inline; filename=\"\\\"quoted\\\".txt\"")},
	{"Content-Disposition", []byte("attachment; filename=\"=?iso-8859-1?q?caf=E9.doc?=\"")},
	{"Content-Disposition", []byte("attachment; filename=  spaced.txt  ")},
	{"Content-Disposition", []byte("attachment; filename=")},
	{"Content-Disposition", []byte("attachment; filename=\"\"")},
	{"Content-Disposition", []byte("form-data; name=x; filename=\"C:\\\\dir\\\\f.txt\"")},
	{"Content-Transfer-Encoding", []byte("base64 ")},
	{"Content-Transfer-Encoding", []byte("Quoted-Printable (x)")},
	{"Content-Transfer-Encoding", []byte("8bit junk")},
}

// fragments are the pieces generated header values are made of: the
// syntax of addresses, MIME parameters, encoded-words and dates, and the
// ways mail gets them wrong.
var fragments = []string{
	"John", "Doe", "j.doe", "x", "a_b", "O'Neil", "müller", "caf\xe9", "\xe2\x82", "\xff",
	`"Doe, John"`, `"a\"b"`, `"x\\y"`, `""`, `"unterminated`, `" spaced "`,
	"=?utf-8?q?J=C3=B6rg?=", "=?UTF-8?B?Sm9yZw==?=", "=?iso-8859-1?q?caf=E9?=", "=?bogus?q?x?=",
	"=?utf-8?q?bad=?=", "=?utf-8?b?bad?=", "=?utf-8*en?q?x?=", "=?", "?=", "=?utf-8?x?y?=",
	"=?utf-8?q?a_b?=", "=?windows-1252?q?=80?=", "=?utf-8?b?w6k?=", "=?us-ascii?q?=FF?=",
	"=?utf-8?q?=3D?=", "=?utf-8?q?x?==?utf-8?q?y?=", "=?koi8-r?q?=F0?=", "=??q?x?=",
	"<", ">", "@", ",", ";", ":", ".", "(", ")", "[", "]", `\`, `"`, "=", "/", "*", "'", "%",
	"(comment)", "(nested (x) y)", "(unterminated", `(esc\)aped)`,
	" ", "  ", "\t", "\r\n ", "\r\n\t",
	"a@b.c", "<a@b.c>", "<>", "@route:a@b", "[1.2.3.4]", "a@[1.2.3.4]", "x@y", "group:", "name <",
	"text/plain", "multipart/mixed", "charset=utf-8", "charset=\"iso-8859-1\"", "boundary=xyz",
	"name=\"f.txt\"", "filename=a.pdf", "filename*=utf-8''%E2%82%AC.txt", "name*0=a", "name*1=b",
	"filename*0*=utf-8''%C3", "filename*1*=%A9.txt", "attachment", "inline", "base64",
	"Mon,", "01", "Jan", "2024", "10:00:00", "+0000", "-0500", "GMT", "est", "31", "Feb", "99",
	"1.0", "0", "12:60", "2024-01-01",
}

// generatedHeaders returns n values per header name, each a random
// sequence of fragments (deterministic for a seed).
func generatedHeaders(seed uint64, n int) []headerCase {
	names := []string{"Subject", "X-Custom", "From", "To", "Cc", "Reply-To", "Sender", "Date",
		"Message-ID", "MIME-Version", "Content-Type", "Content-Disposition", "Content-Transfer-Encoding"}
	r := rand.New(rand.NewPCG(seed, 42))
	var out []headerCase
	for _, name := range names {
		for i := 0; i < n; i++ {
			var sb strings.Builder
			k := 1 + r.IntN(8)
			for j := 0; j < k; j++ {
				sb.WriteString(fragments[r.IntN(len(fragments))])
				if r.IntN(3) == 0 {
					sb.WriteByte(' ')
				}
			}
			v := strings.TrimLeft(sb.String(), " \t\r\n")
			v = strings.TrimRight(v, "\r\n")
			out = append(out, headerCase{name, []byte(v)})
		}
	}
	return out
}

// TestHeadersMatchPython compares every header value of handHeaders and
// 1,500 generated values per header name with Python. SMTP_DIFF_SEED and
// SMTP_DIFF_N change the generated set, to search wider by hand.
func TestHeadersMatchPython(t *testing.T) {
	seed, n := uint64(1), 1500
	if v, err := strconv.ParseUint(os.Getenv("SMTP_DIFF_SEED"), 10, 64); err == nil {
		seed = v
	}
	if v, err := strconv.Atoi(os.Getenv("SMTP_DIFF_N")); err == nil {
		n = v
	}
	cases := append(append([]headerCase(nil), handHeaders...), generatedHeaders(seed, n)...)
	if dir := os.Getenv("SMTP_FUZZ_CORPUS"); dir != "" {
		cases = append(cases, fuzzCorpus(t, dir)...) // FuzzRenderHeader's finds
	}
	py := pythonHeaders(t, cases)
	failures, compared, pyErrors := 0, 0, 0
	fail := func(c headerCase, format string, args ...any) {
		failures++
		if failures <= 40 {
			t.Errorf("%s: %q: %s", c.name, c.raw, fmt.Sprintf(format, args...))
		}
	}
	for i, c := range cases {
		want := py[i]
		got := RenderHeader(c.name, c.raw)
		if want.Error != "" {
			pyErrors++ // Python raises on this value: ours must just not panic
			continue
		}
		compared++
		if got.Value != want.Value {
			fail(c, "value %q, Python %q", got.Value, want.Value)
			continue
		}
		lname := strings.ToLower(c.name)
		if lname == "content-transfer-encoding" && got.CTE != want.CTE {
			fail(c, "cte %q, Python %q", got.CTE, want.CTE)
		}
		if (lname == "content-type" || lname == "content-disposition") && want.ParamError == "" {
			part := &Part{Headers: []Header{{c.name, c.raw}}, defaultType: "text/plain"}
			check := func(what string, got, want *string) {
				if strOrNil(got) != strOrNil(want) {
					fail(c, "%s %q, Python %q", what, strOrNil(got), strOrNil(want))
				}
			}
			if part.ContentType() != want.Type {
				fail(c, "type %q, Python %q", part.ContentType(), want.Type)
			}
			check("filename", optional(part.Filename()), want.Filename)
			check("boundary", optional(part.Boundary()), want.Boundary)
			check("charset", optional(part.Charset()), want.Charset)
			check("disposition", optional(part.Disposition()), want.Disposition)
			if part.IsAttachment() != want.IsAttachment {
				fail(c, "is_attachment %v, Python %v", part.IsAttachment(), want.IsAttachment)
			}
		}
	}
	t.Logf("%d header values compared with Python, %d on which Python raises, %d differences", compared, pyErrors, failures)
}

// fuzzCorpus reads FuzzRenderHeader's corpus files (name, raw) from dir,
// as header cases for every name the fuzz target renders.
func fuzzCorpus(t *testing.T, dir string) []headerCase {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []headerCase
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitN(string(b), "\n", 3)
		if len(lines) < 3 || !strings.HasPrefix(lines[2], "[]byte(") {
			continue
		}
		raw, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(lines[2]), "[]byte("), ")"))
		if err != nil {
			continue
		}
		// Header values as a message holds them: no line break at the ends.
		raw = strings.Trim(raw, "\r\n")
		for _, name := range []string{"Subject", "From", "To", "Date", "Message-ID", "MIME-Version", "Content-Type",
			"Content-Disposition", "Content-Transfer-Encoding"} {
			out = append(out, headerCase{name, []byte(raw)})
		}
	}
	return out
}
