package email

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// simpleHeaders are MIME values of the shapes the fast paths take, and
// near misses, for TestFastPathsAgreeWithParser.
func simpleHeaders(n int) []headerCase {
	r := rand.New(rand.NewPCG(3, 3))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var out []headerCase
	for i := 0; i < n; i++ {
		var sb strings.Builder
		name := pick("Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "Subject", "From", "To")
		switch name {
		case "From", "To":
			for k := 1 + r.IntN(3); k > 0; k-- {
				sb.WriteString(pick("", "John ", "John  Doe ", "J. Doe ", "\"Doe, J\" ", "Ann\tLee", "x "))
				sb.WriteString(pick("<a@b.c>", "a@b.c", "<a.b@c>", "a..b@c", "<a@b", "a@b.", "<>", "a@[1.2.3.4]", "a @b", "<a@b> ", " a@b"))
				sb.WriteString(pick(", ", ",", " , ", ";", ""))
			}
			out = append(out, headerCase{name, []byte(strings.TrimSpace(sb.String()))})
			continue
		case "Content-Type":
			sb.WriteString(pick("text/plain", "multipart/mixed", "application/octet-stream", "Text/HTML", "text/plain ", "text /plain", "x/y/z"))
		case "Content-Disposition":
			sb.WriteString(pick("attachment", "inline", "ATTACHMENT", "form-data", "attachment "))
		case "Content-Transfer-Encoding":
			sb.WriteString(pick("base64", "Quoted-Printable", "7bit", "8bit", "base64 ", "base64;", "x-uuencode", "bin ary"))
			out = append(out, headerCase{name, []byte(sb.String())})
			continue
		default:
			sb.WriteString(pick("plain subject", "=?utf-8?q?x?= subject", "tab\there", "a =? b"))
			out = append(out, headerCase{name, []byte(sb.String())})
			continue
		}
		for k := r.IntN(4); k > 0; k-- {
			sb.WriteString(pick(";", "; ", " ;", ";\t", ";;"))
			sb.WriteString(pick("charset", "boundary", "name", "filename", "format", "x*", "Name", "name*0"))
			sb.WriteString(pick("=", " = ", "=\t"))
			sb.WriteString(pick("utf-8", `"utf-8"`, `"a b;c"`, `"===x=="`, "a%20b", `""`, `"a\"b"`, "a'b", "a/b", `"x"y`, "", "=?u?q?x?=", `"tab	x"`))
			sb.WriteString(pick("", " ", "\t"))
		}
		out = append(out, headerCase{name, []byte(sb.String())})
	}
	return out
}

func TestFastPathsAgreeWithParser(t *testing.T) {
	cases := append(append(append([]headerCase(nil), handHeaders...), generatedHeaders(9, 500)...), simpleHeaders(5000)...)
	taken := 0
	for _, c := range cases {
		value := unfold(c.raw)
		kind := headerKinds[strings.ToLower(c.name)]
		fast, ok := renderFast(kind, value)
		if !ok {
			continue
		}
		taken++
		slow, slowOK := renderKind(kind, value)
		if !slowOK {
			t.Errorf("%s %q: the fast path renders what the parser cannot", c.name, c.raw)
			continue
		}
		slow.params, fast.params = nil, nil
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Errorf("%s %q:\nfast   %+v\nparser %+v", c.name, c.raw, fast, slow)
		}
	}
	if taken < 1000 {
		t.Errorf("the fast paths took only %d values", taken)
	}
	t.Logf("%d of %d values took a fast path and agree with the parser", taken, len(cases))
}
