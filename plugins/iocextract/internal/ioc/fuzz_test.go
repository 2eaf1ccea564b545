package ioc

import (
	"bytes"
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// FuzzExtract feeds arbitrary text to the extractor. It must never panic,
// every value must be valid and normalized for its type, the values of a
// type must be sorted and distinct, and a value extracted again from
// itself alone must be found again (for a URL: a URL with the same scheme
// and host). Seeds: the table cases' kinds of text, the mixed benchmark
// text, and the hostile inputs.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"", "hxxp://evil[.]com/a.exe 1.2.3[.]4 admin[@]example(dot)org",
		"2001:db8::1 fe80::1%eth0 ::ffff:192.0.2.1 [2001:db8::2]:443 00:1a:2b:3c:4d:5e",
		"d41d8cd98f00b204e9800998ecf8427e da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"http://paypal.com@evil.example.net:8080/x?(a)&gt; “https://example.com/café”",
		"john.doe@Mail.Example.COM www.example.com.exe _dmarc.example.com %2Fevil.com",
		"\xff\xfeh\x00x\x00x\x00p\x00:\x00/\x00/\x00a\x00.\x00c\x00o\x00m\x00",
		"\xfe\xff\x00h\x00t\x00t\x00p\x00:\x00/\x00/\x00a\x00.\x00i\x00o",
		"http://http://a.com/http://a.com/))))",
	} {
		f.Add([]byte(s))
	}
	f.Add(mixedText(4096, 3))
	for _, p := range pathological {
		f.Add(bytes.Repeat([]byte(p.repeat), 200))
	}
	tlds := shippedTLDs(f)
	e := NewExtractor(tlds, nil, 0)
	f.Fuzz(func(t *testing.T, text []byte) {
		orig := bytes.Clone(text)
		found, err := e.Extract(context.Background(), text)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(text, orig) {
			t.Fatal("text modified")
		}
		for typ, values := range found.IOCs {
			if len(values) == 0 || !slices.IsSorted(values) || len(slices.Compact(slices.Clone(values))) != len(values) {
				t.Fatalf("%s: %q not sorted and distinct", typ, values)
			}
			for _, v := range values {
				checkValue(t, tlds, typ, v)
				again, err := e.Extract(context.Background(), []byte(v))
				if err != nil {
					t.Fatal(err)
				}
				if typ == "url" {
					prefix := v[:len(v)-len(strings.TrimPrefix(v[strings.Index(v, "://")+3:], urlHost(v)))]
					if !slices.ContainsFunc(again.IOCs["url"], func(u string) bool { return strings.HasPrefix(u, prefix) }) {
						t.Fatalf("url %q extracted alone gives %v", v, again.IOCs)
					}
					continue
				}
				if typ != "ipv6" && !slices.Contains(again.IOCs[typ], v) {
					t.Fatalf("%s %q extracted alone gives %v", typ, v, again.IOCs)
				}
			}
		}
	})
}

// checkValue fails t unless v is a valid, normalized value of type typ.
func checkValue(t *testing.T, tlds TLDs, typ, v string) {
	t.Helper()
	isDomain := func(name string) bool {
		d, from, to := tlds.domainOf([]byte(name), false)
		return d == name && from == 0 && to == len(name)
	}
	ok := true
	switch typ {
	case "md5", "sha1", "sha256", "sha512":
		want := map[string]int{"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}[typ]
		ok = len(v) == want && strings.Trim(v, "0123456789abcdef") == ""
	case "ipv4", "ipv6":
		addr, err := netip.ParseAddr(v)
		ok = err == nil && addr.String() == v && addr.Is4() == (typ == "ipv4")
	case "mac_address":
		mac, valid := normalMAC(v)
		ok = valid && mac == v
	case "email":
		local, domain, found := strings.Cut(v, "@")
		ok = found && local != "" && isDomain(domain)
	case "domain":
		ok = isDomain(v)
	case "url":
		ok = strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "ftp://") || strings.HasPrefix(v, "ftps://")
		host := urlHost(v)
		if strings.HasPrefix(host, "[") {
			addr, err := netip.ParseAddr(strings.Trim(host, "[]"))
			ok = ok && err == nil && "["+addr.String()+"]" == host
		} else if ipv4Of([]byte(host)) == "" {
			ok = ok && isDomain(host)
		}
	default:
		t.Fatalf("unknown type %q", typ)
	}
	if !ok {
		t.Fatalf("%s %q is not valid and normalized", typ, v)
	}
}

// FuzzTwins checks that each hand-written candidate finder finds exactly
// the spans of the regexp it stands for, on arbitrary text and sub-ranges
// of it: domainSpans and domainRe, schemeSpans and schemeRe, ipv4Spans and
// ipv4Re, emailSpans and emailRe, hashSpans and hashRe, macSpans and
// macRe, and ipv6Spans and the matches of ipv6Re that can be addresses.
func FuzzTwins(f *testing.F) {
	for _, s := range []string{
		"", "a.b", "a..b.c", "x.-y_.z.", ".a.b.", "ab.c d.e.f", "a@b.c", "a.b.c\xffd.e", "-.-.-",
		"http://", "xhttp://a HTTPS://b hxxp://", "http:///https://", "_http://", "ftp:// fxps://", "meow:/",
		"h\u0130tp://", "httpſ://x", "HTTP\u212a://", "HtTp://a://b",
		"1.2.3.4", "1.2.3.4.5", "1234.1.2.3.4", "v1.2.3.4 1.2.3.4x 01.002.3.4", "1.2.3", "9.9.9.9-1.1.1.1",
		"a@b.c", "a@b@c.com", "x@y.com@z.com", "a.b@c.d.e@f.g", "@a.b", "a@.b", "+%.-_@x-y.z_",
		"d41d8cd98f00b204e9800998ecf8427e x" + strings.Repeat("a", 40) + " " + strings.Repeat("0", 33) + "g",
		"00:11:22:33:44:55 00-11-22-33-44-55:66 0:00:11:22:33:44:55 aa:bb:cc:dd:ee:ff:00:11:22:33:44:55",
		"fe80::1 ::ffff:1.2.3.4 x::1 1:2:3:4:5:6:7:8.1.2.3 " + strings.Repeat("a:", 40) + ":1.2.3.4 .::1",
	} {
		f.Add([]byte(s), uint16(0), uint16(0))
	}
	f.Add(mixedText(2048, 5), uint16(3), uint16(10))
	twins := []struct {
		name  string
		re    *regexp.Regexp
		spans func([]byte, int, int, func(int, int))
	}{
		{"domain", domainRe, domainSpans},
		{"scheme", schemeRe, schemeSpans},
		{"ipv4", ipv4Re, ipv4Spans},
		{"email", emailRe, emailSpans},
		{"hash", hashRe, hashSpans},
		{"mac", macRe, macSpans},
		{"ipv6", ipv6Re, ipv6Spans},
	}
	f.Fuzz(func(t *testing.T, text []byte, cutStart, cutEnd uint16) {
		from := int(cutStart) % (len(text) + 1)
		to := len(text) - int(cutEnd)%(len(text)-from+1)
		for _, twin := range twins {
			var got [][2]int
			twin.spans(text, from, to, func(s, e int) { got = append(got, [2]int{s, e}) })
			var want [][2]int
			for _, m := range twin.re.FindAllIndex(text[from:to], -1) {
				s, e := from+m[0], from+m[1]
				// ipv6Spans reports only the matches that can be
				// addresses (see its doc).
				if twin.name == "ipv6" && (e-s >= 46 || s > 0 && (isWordByte(text[s-1]) || text[s-1] == ':' || text[s-1] == '.')) {
					continue
				}
				want = append(want, [2]int{s, e})
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %q[%d:%d]: hand-written %v, regexp %v", twin.name, text, from, to, got, want)
			}
		}
	})
}

// FuzzWhitelist loads arbitrary whitelist files and looks values up: it
// must never panic.
func FuzzWhitelist(f *testing.F) {
	f.Add([]byte("ipv4:10.0.0.0/8\nipv6:A::\ndomain:.google.com\nurl:x.org\nmd5:abc\nmac_address:00-11-22-33-44-55\n"), "http://[a::1]:80/x")
	f.Add([]byte("ipv4:1.2.3.4/99\n:\nfoo\n"), "a.b")
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		var w Whitelist
		w.Add(data, "fuzz")
		for _, typ := range Types() {
			w.Allows(typ, value)
		}
	})
}

// FuzzIPv4Check checks ipv4Check and ipv4Of against net/netip: what netip
// reads as IPv4 is valid and canonical, and what ipv4Of returns netip
// reads back as itself.
func FuzzIPv4Check(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "01.2.3.4", "255.255.255.256", "1.2.3", "1.2.3.4.5", "1..2.3", "1234.1.1.1", ".1.2.3", "1.2.3.4.", "0.0.0.+0", "000.010.0.1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		valid, canonical := ipv4Check(s)
		norm := ipv4Of(s)
		if valid != (norm != "") || canonical != (valid && norm == string(s)) {
			t.Fatalf("%q: ipv4Check = %v, %v; ipv4Of = %q", s, valid, canonical, norm)
		}
		if addr, err := netip.ParseAddr(string(s)); err == nil && addr.Is4() && !canonical {
			t.Fatalf("%q: netip reads %v, ipv4Check = %v, %v", s, addr, valid, canonical)
		}
		if valid {
			if addr, err := netip.ParseAddr(norm); err != nil || !addr.Is4() || addr.String() != norm {
				t.Fatalf("%q: ipv4Of = %q, which netip reads as %v, %v", s, norm, addr, err)
			}
		}
	})
}
