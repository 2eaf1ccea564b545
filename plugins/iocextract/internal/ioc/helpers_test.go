package ioc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// shippedTLDs loads the plugin's TLD list.
func shippedTLDs(t testing.TB) TLDs {
	t.Helper()
	data, err := os.ReadFile("../../tlds-alpha-by-domain.txt")
	if err != nil {
		t.Fatal(err)
	}
	tlds, err := ParseTLDs(data)
	if err != nil {
		t.Fatal(err)
	}
	return tlds
}

// mixedText returns n bytes of the text iocextract is fed: prose, web
// server and firewall logs, mail headers, a defanged threat report, source
// code, a hex dump and base64, with indicators that vary (so the result
// sets grow as in real use). The same n and seed give the same text.
func mixedText(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	ip := func() string {
		return fmt.Sprintf("%d.%d.%d.%d", r.IntN(223)+1, r.IntN(256), r.IntN(256), r.IntN(254)+1)
	}
	hex := func(k int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, k)
		for i := range b {
			b[i] = digits[r.IntN(16)]
		}
		return string(b)
	}
	word := func() string {
		words := []string{"payment", "invoice", "update", "secure", "login", "cdn", "mail", "portal", "files", "account"}
		return words[r.IntN(len(words))]
	}
	tld := func() string {
		tlds := []string{"com", "net", "org", "ru", "xyz", "top", "co.uk", "info", "io", "de"}
		return tlds[r.IntN(len(tlds))]
	}
	blocks := []func() string{
		func() string {
			return "The quarterly review covered the migration of the billing service, the new on-call rotation and the budget for next year. " +
				"Several teams asked for more time to finish their documentation, and the meeting ended with a short discussion of the holiday schedule.\n"
		},
		func() string {
			return fmt.Sprintf("%s - - [12/Mar/2024:10:%02d:%02d +0000] \"GET /%s/%s.php?id=%d HTTP/1.1\" 200 %d \"http://%s-%s.%s/ref\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64)\"\n",
				ip(), r.IntN(60), r.IntN(60), word(), word(), r.IntN(10000), r.IntN(50000), word(), word(), tld())
		},
		func() string {
			return fmt.Sprintf("Mar 12 10:14:07 fw01 kernel: DROP IN=eth0 OUT= MAC=00:1a:2b:%02x:%02x:%02x SRC=%s DST=%s LEN=60 TTL=52 PROTO=TCP SPT=%d DPT=445\n",
				r.IntN(256), r.IntN(256), r.IntN(256), ip(), ip(), 1024+r.IntN(60000))
		},
		func() string {
			return fmt.Sprintf("Received: from mx%d.%s-%s.%s ([%s]) by mail.example.org with ESMTPS id %s; Tue, 12 Mar 2024 10:14:07 +0000\n"+
				"From: \"Billing\" <billing@%s-%s.%s>\nReply-To: support.%d@%s.%s\nMessage-ID: <%s@mail.%s.%s>\n",
				r.IntN(9), word(), word(), tld(), ip(), hex(12), word(), word(), tld(), r.IntN(99), word(), tld(), hex(16), word(), tld())
		},
		func() string {
			return fmt.Sprintf("The actor staged the second stage at hxxps://%s-%s[.]%s/%s/loader.bin (%s[.]%s[.]%s), dropped %s (SHA256 %s, MD5 %s) "+
				"and beaconed to %s[:]443 and 2001:db8:%x::%x. Victims received mail from %s[@]%s(dot)%s.\n",
				word(), word(), tld(), word(), ip()[:5], "12", "9", word()+".exe", hex(64), hex(32), ip(), r.IntN(65535), r.IntN(65535), word(), word(), tld())
		},
		func() string {
			return "func (s *Server) handle(w http.ResponseWriter, r *http.Request) {\n\tif err := s.db.QueryRow(ctx, q, r.URL.Query().Get(\"id\")).Scan(&id); err != nil {\n\t\tlog.Printf(\"lookup: %v\", err)\n\t}\n}\n"
		},
		func() string {
			return fmt.Sprintf("00000%03x0  4d 5a 90 00 03 00 00 00  04 00 00 00 ff ff 00 00  |MZ..............|\n", r.IntN(4096))
		},
		func() string {
			return "TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAgAAAAA4fug4AtAnNIbgBTM0hVGhpcyBwcm9ncmFtIGNhbm5vdCBiZSBydW4gaW4gRE9TIG1vZGUuDQ0KJAAAAAAAAAA=\n"
		},
	}
	var b bytes.Buffer
	for b.Len() < n {
		b.WriteString(blocks[r.IntN(len(blocks))]())
	}
	return b.Bytes()[:n]
}
