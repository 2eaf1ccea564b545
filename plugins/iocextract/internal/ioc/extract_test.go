package ioc

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// extract runs an extractor with the shipped TLDs, no whitelist and no
// limit.
func extract(t testing.TB, text string) map[string][]string {
	t.Helper()
	f, err := NewExtractor(shippedTLDs(t), nil, 0).Extract(context.Background(), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return f.IOCs
}

// iocs is a shorthand for expected results: "type", value, value, "type", …
// where a type is a word ending in ':'.
func iocs(items ...string) map[string][]string {
	out := map[string][]string{}
	var typ string
	for _, it := range items {
		if strings.HasSuffix(it, ":") {
			typ = strings.TrimSuffix(it, ":")
			continue
		}
		out[typ] = append(out[typ], it)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

type extractCase struct {
	name, text string
	want       map[string][]string
}

func runCases(t *testing.T, cases []extractCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := extract(t, c.text)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("text %q\n got %v\nwant %v", c.text, got, c.want)
			}
		})
	}
}

// Defanged forms are normalized before they are validated.
func TestDefanged(t *testing.T) {
	runCases(t, []extractCase{
		{"hxxp and [.]", "get hxxp://evil[.]com/a.exe now",
			iocs("url:", "http://evil.com/a.exe", "domain:", "evil.com")},
		{"hxxps and [:]//", "hxxps[:]//login.bank-secure[.]info/verify",
			iocs("url:", "https://login.bank-secure.info/verify", "domain:", "login.bank-secure.info")},
		{"[://]", "hxxp[://]files.example.org/x",
			iocs("url:", "http://files.example.org/x", "domain:", "files.example.org")},
		{"HXXP uppercase", "HXXP://EVIL[.]COM/Path",
			iocs("url:", "http://evil.com/Path", "domain:", "evil.com")},
		{"meow", "meow://cats.example.net/ meows://cats.example.net/s",
			iocs("url:", "http://cats.example.net/", "https://cats.example.net/s", "domain:", "cats.example.net")},
		{"fxp", "fxp://ftp.example.org/pub/x.zip",
			iocs("url:", "ftp://ftp.example.org/pub/x.zip", "domain:", "ftp.example.org", "x.zip")},
		{"(dot) and (.)", "c2 at update(dot)example(.)com",
			iocs("domain:", "update.example.com")},
		{"{.} <.> [dot] {dot} <dot>", "a{.}example.org b<.>example.org c[dot]example.org d{dot}example.org e<dot>example.org",
			iocs("domain:", "a.example.org", "b.example.org", "c.example.org", "d.example.org", "e.example.org")},
		{"[DOT] any case", "www[DOT]Example[Dot]com",
			iocs("domain:", "www.example.com")},
		{"spaces inside brackets", "evil[ . ]com and bad[ dot ]org",
			iocs("domain:", "bad.org", "evil.com")},
		{"ipv4 [.]", "beacon to 185[.]220[.]101[.]4 port 443",
			iocs("ipv4:", "185.220.101.4")},
		{"ipv4 mixed", "203.0.113(.)7 and 198[dot]51.100.20",
			iocs("ipv4:", "198.51.100.20", "203.0.113.7")},
		{"email [@]", "contact admin[@]example[.]org",
			iocs("email:", "admin@example.org", "domain:", "example.org")},
		{"email (at) (dot)", "bob(at)corp(dot)example(dot)net",
			iocs("email:", "bob@corp.example.net", "domain:", "corp.example.net")},
		{"email [at] {@} <at>", "a[at]x.example.com b{@}x.example.com c<at>x.example.com d(@)x.example.com",
			iocs("email:", "a@x.example.com", "b@x.example.com", "c@x.example.com", "d@x.example.com", "domain:", "x.example.com")},
		{"escaped dot", `rule: evil\.example\.com`,
			iocs("domain:", "evil.example.com")},
		{"JSON escaped slashes", `{"url":"https:\/\/cdn.example.net\/p\/x.js"}`,
			iocs("url:", "https://cdn.example.net/p/x.js", "domain:", "cdn.example.net")},
		{"port [:]", "hxxp://evil[.]com[:]8080/gate.php",
			iocs("url:", "http://evil.com:8080/gate.php", "domain:", "evil.com")},
		{"ipv6 [:]", "2001[:]db8[:]:1 via [2001:db8::5]",
			iocs("ipv6:", "2001:db8::1", "2001:db8::5")},
		{"defanged dot in the path", "hxxp://evil[.]com/a[.]php",
			iocs("url:", "http://evil.com/a.php", "domain:", "evil.com")},
		{"brackets that are not defanging", "[x] (a) {b} <c> [.x] (dot",
			map[string][]string{}},
	})
}

func TestHashes(t *testing.T) {
	md5 := "d41d8cd98f00b204e9800998ecf8427e"
	sha1 := "da39a3ee5e6b4b0d3255bfef95601890afd80709"
	sha256 := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sha512 := "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	runCases(t, []extractCase{
		{"each length", md5 + " " + sha1 + " " + sha256 + " " + sha512,
			iocs("md5:", md5, "sha1:", sha1, "sha256:", sha256, "sha512:", sha512)},
		{"uppercase is lowercased", strings.ToUpper(md5) + " and " + md5,
			iocs("md5:", md5)},
		{"punctuation around", "md5=" + md5 + ", (" + sha1 + "); \"" + sha256 + "\"",
			iocs("md5:", md5, "sha1:", sha1, "sha256:", sha256)},
		{"in a URL path", "https://files.example.org/sample/" + sha256,
			iocs("sha256:", sha256, "url:", "https://files.example.org/sample/"+sha256, "domain:", "files.example.org")},
		{"too long or short", md5 + "0 " + md5[:31] + " " + sha256 + "ab",
			map[string][]string{}},
		{"inside a word", "x" + md5 + " " + md5 + "_y",
			map[string][]string{}},
		{"0x prefix is a word", "0x" + md5,
			map[string][]string{}},
		{"all digits is a number", "12345678901234567890123456789012",
			map[string][]string{}},
		{"all letters is a word", "deadbeefdeadbeefdeadbeefdeadbeef",
			map[string][]string{}},
		{"separated by dashes", md5 + "-" + md5,
			iocs("md5:", md5)},
		{"a hex dump run is not a hash", strings.Repeat("0a1b", 40),
			map[string][]string{}},
	})
}

func TestIPv4(t *testing.T) {
	runCases(t, []extractCase{
		{"plain", "from 8.8.8.8 to 203.0.113.250",
			iocs("ipv4:", "203.0.113.250", "8.8.8.8")},
		{"octet bounds", "0.0.0.0 255.255.255.255 256.1.1.1 1.2.3.999",
			iocs("ipv4:", "0.0.0.0", "255.255.255.255")},
		{"leading zeros are decimal", "010.001.002.003",
			iocs("ipv4:", "10.1.2.3")},
		{"port and CIDR", "198.51.100.1:8080 and 192.0.2.0/24",
			iocs("ipv4:", "192.0.2.0", "198.51.100.1")},
		{"longer dotted numbers are not addresses", "OID 1.3.6.1.4.1.311 version 10.0.19041.1 and 1.2.3.4.5",
			map[string][]string{}},
		{"in a word", "v1.2.3.4 a1.2.3.4b 1.2.3.4x",
			map[string][]string{}},
		{"sentence end", "Connect to 192.0.2.7.",
			iocs("ipv4:", "192.0.2.7")},
		{"in a URL", "http://192.0.2.10:8000/x.sh",
			// .sh is a TLD (Saint Helena): file names ending so are names.
			iocs("ipv4:", "192.0.2.10", "url:", "http://192.0.2.10:8000/x.sh", "domain:", "x.sh")},
		{"after letters and a dot", "host.192.0.2.1",
			iocs("ipv4:", "192.0.2.1")},
	})
}

func TestIPv6(t *testing.T) {
	runCases(t, []extractCase{
		{"canonical form", "2001:DB8:0:0:0:0:0:1 and 2001:db8::1",
			iocs("ipv6:", "2001:db8::1")},
		{"full", "fe80:0000:0000:0000:0202:b3ff:fe1e:8329",
			iocs("ipv6:", "fe80::202:b3ff:fe1e:8329")},
		{"link-local with zone", "fe80::1%eth0",
			iocs("ipv6:", "fe80::1")},
		{"IPv4 tail", "::ffff:192.0.2.128",
			iocs("ipv6:", "::ffff:192.0.2.128", "ipv4:", "192.0.2.128")},
		{"brackets and port", "[2001:db8::8]:443",
			iocs("ipv6:", "2001:db8::8")},
		{"sentence end colon", "reached 2001:db8::9: then",
			iocs("ipv6:", "2001:db8::9")},
		{"code is not an address", "std::string a::b Foo::Bar ::1 :: d::",
			map[string][]string{}},
		{"times are not addresses", "10:14:07 12:30:45.123",
			map[string][]string{}},
		{"invalid", "2001:db8:::1 1:2:3:4:5:6:7:8:9 gggg::1",
			map[string][]string{}},
		{"a MAC is not an address", "00:11:22:33:44:55",
			iocs("mac_address:", "00:11:22:33:44:55")},
	})
}

func TestMACAddresses(t *testing.T) {
	runCases(t, []extractCase{
		{"colons and dashes", "00:1A:2B:3C:4D:5E and 00-1a-2b-3c-4d-5f",
			iocs("mac_address:", "00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5f")},
		{"same written twice", "AA-BB-CC-DD-EE-FF aa:bb:cc:dd:ee:ff",
			iocs("mac_address:", "aa:bb:cc:dd:ee:ff")},
		{"mixed separators", "00:11-22:33-44:55",
			map[string][]string{}},
		{"longer sequence", "00:11:22:33:44:55:66 00-11-22-33-44-55-66-77",
			map[string][]string{}},
		{"key fingerprint", "43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8",
			map[string][]string{}},
		{"netfilter MAC= field", "MAC=52:54:00:12:34:56:52:54:00:ab:cd:ef:08:00 SRC=",
			iocs("mac_address:", "52:54:00:12:34:56", "52:54:00:ab:cd:ef")},
		{"lone digit before", "a:00:11:22:33:44:55 0:00:11:22:33:44:55",
			map[string][]string{}},
		{"in a log", "MAC=00:1a:2b:a6:2e:a0 SRC",
			iocs("mac_address:", "00:1a:2b:a6:2e:a0")},
	})
}

func TestEmails(t *testing.T) {
	runCases(t, []extractCase{
		{"plain, domain lowercased", "John.Smith+tag@Mail.Example.COM",
			iocs("email:", "John.Smith+tag@mail.example.com", "domain:", "mail.example.com")},
		{"angle brackets and mailto", "From: <a.b@example.org> mailto:c_d@example.org",
			iocs("email:", "a.b@example.org", "c_d@example.org", "domain:", "example.org")},
		{"local part that looks like a domain", "first.name@example.com",
			iocs("email:", "first.name@example.com", "domain:", "example.com")},
		{"unknown TLD", "root@localhost user@host.internal",
			map[string][]string{}},
		{"domain stops at the TLD", "x@example.com.exe",
			iocs("email:", "x@example.com", "domain:", "example.com")},
		{"dots", ".a@example.com a.@example.com a..b@example.com",
			iocs("email:", "a@example.com", "domain:", "example.com")},
		{"URL user name is not an address", "ftp://anonymous@ftp.example.org/",
			iocs("url:", "ftp://anonymous@ftp.example.org/", "domain:", "ftp.example.org")},
		{"sentence end", "Write to abuse@example.net.",
			iocs("email:", "abuse@example.net", "domain:", "example.net")},
		{"local part too long", strings.Repeat("a", 65) + "@example.com",
			iocs("domain:", "example.com")},
	})
}

func TestDomains(t *testing.T) {
	runCases(t, []extractCase{
		{"lowercased", "Visit WWW.Example.COM today",
			iocs("domain:", "www.example.com")},
		{"multi-label suffix", "bbc.co.uk and a.b.c.example.com.au",
			iocs("domain:", "a.b.c.example.com.au", "bbc.co.uk")},
		{"IDN TLD", "example.xn--p1ai",
			iocs("domain:", "example.xn--p1ai")},
		{"unknown TLD", "config.json file.exe main.go notes.txt",
			map[string][]string{}},
		{"trailing unknown label", "www.example.com.exe",
			iocs("domain:", "www.example.com")},
		{"sentence end and start", "It was example.org. Then Another.Sentence",
			iocs("domain:", "example.org")},
		{"one-letter name", "x.com t.co",
			iocs("domain:", "t.co", "x.com")},
		{"hyphens", "my-site.example.org -bad.example.org bad-.example.org",
			iocs("domain:", "example.org", "my-site.example.org")},
		{"underscores below the registered name", "_dmarc.example.com my_host.duckdns.org __init__.py snake_case.io",
			iocs("domain:", "_dmarc.example.com", "my_host.duckdns.org")},
		{"email local part is not a domain", "john.doe@example.com",
			iocs("email:", "john.doe@example.com", "domain:", "example.com")},
		{"percent escape before a name", "r?u=https%3A%2F%2Fevil.example.net%2Fx",
			iocs("domain:", "evil.example.net")},
		{"internationalized neighbours", "ñexample.com example.comñ «example.org»",
			iocs("domain:", "example.org")},
		{"too long", strings.Repeat("a", 64) + ".com " + strings.Repeat("abcdefghi.", 26) + "com",
			map[string][]string{}},
		{"longest label", strings.Repeat("a", 63) + ".com",
			iocs("domain:", strings.Repeat("a", 63)+".com")},
		{"numbers and dots", "3.14 1.2.3 v2.0",
			map[string][]string{}},
	})
}

func TestURLs(t *testing.T) {
	runCases(t, []extractCase{
		{"scheme and host normalized, path kept", "HTTP://Example.COM/Path?Q=A#Frag",
			iocs("url:", "http://example.com/Path?Q=A#Frag", "domain:", "example.com")},
		{"trailing punctuation", "See https://example.com/a. Or https://example.org/b, https://example.net/c!",
			iocs("url:", "https://example.com/a", "https://example.net/c", "https://example.org/b", "domain:", "example.com", "example.net", "example.org")},
		{"parentheses", "(see http://example.com/a_(b)) [x](https://example.org/y)",
			iocs("url:", "http://example.com/a_(b)", "https://example.org/y", "domain:", "example.com", "example.org")},
		{"quotes and brackets", `<a href="http://example.com/q?a=1&b=2">x</a> 'https://example.org/p'`,
			iocs("url:", "http://example.com/q?a=1&b=2", "https://example.org/p", "domain:", "example.com", "example.org")},
		{"HTML entities", "&lt;http://example.com/a&gt; &quot;https://example.org/&quot;",
			iocs("url:", "http://example.com/a", "https://example.org/", "domain:", "example.com", "example.org")},
		{"user name", "http://paypal.com@evil.example.net/login",
			iocs("url:", "http://paypal.com@evil.example.net/login", "domain:", "evil.example.net")},
		{"ports", "http://example.com:8080/ http://example.com:99999/ http://example.com:x (http://example.com:81)",
			iocs("url:", "http://example.com", "http://example.com:8080/", "http://example.com:81", "domain:", "example.com")},
		{"IP hosts", "http://192.0.2.1/a http://[2001:DB8::1]:8443/b http://300.1.1.1/",
			iocs("url:", "http://192.0.2.1/a", "http://[2001:db8::1]:8443/b", "ipv4:", "192.0.2.1", "ipv6:", "2001:db8::1")},
		{"hosts that are not names", "http://localhost/x http://intranet/ http:// https://-/",
			map[string][]string{}},
		{"two URLs joined by a comma", "http://a.example.com,http://b.example.com",
			iocs("url:", "http://a.example.com", "http://b.example.com", "domain:", "a.example.com", "b.example.com")},
		{"URL inside a query is part of it", "https://www.google.com/url?q=https://evil.example.net/x",
			iocs("url:", "https://www.google.com/url?q=https://evil.example.net/x", "domain:", "evil.example.net", "www.google.com")},
		{"scheme inside a word", "xhttp://example.com/",
			iocs("domain:", "example.com")},
		{"ends at typographic quotes and bad UTF-8", "“https://example.com/a” http://example.org/b\x90\x91",
			iocs("url:", "http://example.org/b", "https://example.com/a", "domain:", "example.com", "example.org")},
		{"non-ASCII letters are kept", "https://example.com/café",
			iocs("url:", "https://example.com/café", "domain:", "example.com")},
		{"ftp and ftps", "ftp://ftp.example.org/f ftps://ftp.example.org/g",
			iocs("url:", "ftp://ftp.example.org/f", "ftps://ftp.example.org/g", "domain:", "ftp.example.org")},
		{"trailing dot of the host", "http://example.com./x",
			iocs("url:", "http://example.com/x", "domain:", "example.com")},
	})
}

func TestNothingInPlainText(t *testing.T) {
	runCases(t, []extractCase{
		{"empty", "", map[string][]string{}},
		{"prose", "The quarterly review covered the migration of the billing service. Several teams asked for more time, e.g. two weeks.", map[string][]string{}},
		{"binary", "\x00\x01\xff\xfe\x80MZ\x90\x00", map[string][]string{}},
	})
}

// A text written in UTF-16 with a byte-order mark is read as text.
func TestUTF16(t *testing.T) {
	text := "beacon hxxp://evil[.]example.com/x from 192.0.2.5 \U0001F600"
	want := iocs("url:", "http://evil.example.com/x", "domain:", "evil.example.com", "ipv4:", "192.0.2.5")
	for name, enc := range map[string]func(rune) []byte{
		"le": func(r rune) []byte { return []byte{byte(r), byte(r >> 8)} },
		"be": func(r rune) []byte { return []byte{byte(r >> 8), byte(r)} },
	} {
		t.Run(name, func(t *testing.T) {
			bom := enc(0xfeff)
			var b bytes.Buffer
			b.Write(bom)
			for _, u := range utf16Units(text) {
				b.Write(enc(rune(u)))
			}
			got := extract(t, b.String())
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func utf16Units(s string) []uint16 {
	var out []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
		} else {
			out = append(out, uint16(r))
		}
	}
	return out
}

// Indicators on either side of a chunk boundary are found whole: chunks
// are cut at line ends, else at whitespace, so none is ever split.
func TestChunkBoundaries(t *testing.T) {
	ioc := "hxxps://evil[.]example.com/" + strings.Repeat("p", 40) + " admin@example.org d41d8cd98f00b204e9800998ecf8427e"
	want := iocs("url:", "https://evil.example.com/"+strings.Repeat("p", 40), "domain:", "evil.example.com", "example.org",
		"email:", "admin@example.org", "md5:", "d41d8cd98f00b204e9800998ecf8427e")
	for _, filler := range []string{"word ", "x", "\n"} {
		for _, offset := range []int{-len(ioc), -len(ioc) / 2, -1, 0, 1} {
			pad := strings.Repeat(filler, (chunkSize+offset)/len(filler)+1)[:chunkSize+offset]
			text := pad + " " + ioc + " " + pad
			// With filler "x", the first chunk is cut inside the run of
			// letters, far from the indicators, which are still whole.
			got := extract(t, text)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("filler %q offset %d: got %v, want %v", filler, offset, got, want)
			}
		}
	}
}

// The limit keeps the first values found and reports the type.
func TestLimit(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		b.WriteString("198.51.100." + string(rune('0'+i/10)) + string(rune('0'+i%10)) + " ")
	}
	b.WriteString("example.com")
	f, err := NewExtractor(shippedTLDs(t), nil, 10).Extract(context.Background(), []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.IOCs["ipv4"]; len(got) != 10 || got[0] != "198.51.100.0" || got[9] != "198.51.100.9" {
		t.Errorf("ipv4 = %v, want the first 10", got)
	}
	if !slices.Equal(f.Limited, []Type{IPv4}) {
		t.Errorf("Limited = %v, want [ipv4]", f.Limited)
	}
	if !slices.Equal(f.IOCs["domain"], []string{"example.com"}) {
		t.Errorf("domain = %v", f.IOCs["domain"])
	}
}

// A text without whitespace is cut in the middle of a run every 1 MiB:
// what touches a cut may be a piece of something longer and is left out.
func TestHardCuts(t *testing.T) {
	unit := "0a:0b-0c.io@d0.com:1.2.3.4/e3b0c44298fc1c149afbf4c8996fb924::"
	text := strings.Repeat(unit, 3*chunkSize/len(unit))
	got := extract(t, text)
	want := iocs("domain:", "d0.com", "email:", "0b-0c.io@d0.com", "ipv4:", "1.2.3.4", "md5:", "e3b0c44298fc1c149afbf4c8996fb924")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// A URL's path runs to the end of its chunk: only the last chunk's,
	// which ends with the text, is whole.
	unit = "0a:0b-0c.io@d0.com:hxxp://1.2.3.4/e3b0c44298fc1c149afbf4c8996fb924::"
	text = strings.Repeat(unit, 3*chunkSize/len(unit))
	urls := extract(t, text)["url"]
	if len(urls) != 1 || !strings.HasPrefix(urls[0], "http://1.2.3.4/e3b0c44298fc1c149afbf4c8996fb924::0a:") ||
		!strings.HasSuffix(text, strings.TrimPrefix(urls[0], "http://")[len("1.2.3.4"):]+"::") {
		t.Errorf("%d URLs, want 1 running to the end of the text", len(urls))
	}
}

// A cancelled context stops the extraction between chunks with what was
// found so far.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	text := []byte(strings.Repeat("192.0.2.1 ", 3*chunkSize/10))
	f, err := NewExtractor(shippedTLDs(t), nil, 0).Extract(ctx, text)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if f == nil || f.Read != 0 || f.Total != len(text) {
		t.Fatalf("found %+v", f)
	}
}

// Extraction never modifies the text, which other plugins share.
func TestTextUntouched(t *testing.T) {
	text := []byte("hxxp://evil[.]com/a(dot)b x[@]y[.]org " + strings.Repeat("a[.]b ", 1000))
	orig := bytes.Clone(text)
	NewExtractor(shippedTLDs(t), nil, 0).Extract(context.Background(), text)
	if !bytes.Equal(text, orig) {
		t.Fatal("text was modified")
	}
}

// Hostile inputs made of the characters the patterns are built from give
// no indicators (or the few they hold) and finish: the benchmarks measure
// how fast.
func TestPathological(t *testing.T) {
	e := NewExtractor(shippedTLDs(t), nil, 0)
	for _, p := range pathological {
		text := bytes.Repeat([]byte(p.repeat), (2*chunkSize+12345)/len(p.repeat))
		f, err := e.Extract(context.Background(), text)
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		total := 0
		for _, v := range f.IOCs {
			total += len(v)
		}
		if total > 10 {
			t.Errorf("%s: %d indicators: %v", p.name, total, f.IOCs)
		}
	}
}
