package ioc

import (
	"strings"
	"testing"
)

func TestWhitelist(t *testing.T) {
	var w Whitelist
	warnings := w.Add([]byte(strings.Join([]string{
		"# comment",
		"",
		"x",
		"ipv4:10.0.0.0/8",
		"ipv4:192.0.2.7",
		"ipv4:010.001.001.001",
		"ipv6:2001:db8::/32",
		"ipv6:A::",
		"domain:.google.com",
		"domain:example.org",
		"url:.safe.example.net",
		"md5:D41D8CD98F00B204E9800998ECF8427E",
		"email:Good.Guy@Example.com",
		"mac_address:00-11-22-33-44-55",
		" sha1 : da39a3ee5e6b4b0d3255bfef95601890afd80709 ",
		"0cb8d71065af160590d3b05b729acebac410a42a5f4ff44c",
		"ipv5:1.2.3.4",
		"ipv4:not-an-address",
		"ipv4:2001:db8::1",
		"ipv6:192.0.2.1",
		"ipv4:10.0.0.0/33",
		"mac_address:00:11:22",
		"domain:",
	}, "\n")), "test.txt")
	for i, want := range []string{
		"test.txt:16:", "test.txt:17: unknown indicator type", "test.txt:18:", "test.txt:19:",
		"test.txt:20:", "test.txt:21:", "test.txt:22:", "test.txt:23:",
	} {
		if i >= len(warnings) || !strings.HasPrefix(warnings[i], want) {
			t.Errorf("warning %d: got %q, want it to start %q (all: %q)", i, at(warnings, i), want, warnings)
		}
	}
	if len(warnings) != 8 {
		t.Errorf("%d warnings, want 8: %q", len(warnings), warnings)
	}
	cases := []struct {
		t     Type
		v     string
		allow bool
	}{
		{IPv4, "10.1.2.3", false},
		{IPv4, "11.1.2.3", true},
		{IPv4, "192.0.2.7", false},
		{IPv4, "192.0.2.8", true},
		{IPv4, "10.1.1.1", false},
		{IPv6, "2001:db8::1", false},
		{IPv6, "2001:db9::1", true},
		{IPv6, "a::", false},
		{Domain, "google.com", false},
		{Domain, "www.google.com", false},
		{Domain, "notgoogle.com", true},
		{Domain, "google.com.evil.net", true},
		{Domain, "example.org", false},
		{Domain, "www.example.org", true},  // no leading dot: this name only
		{Domain, "safe.example.net", true}, // url: patterns are for URLs
		{URL, "https://www.google.com/search?q=x", false},
		{URL, "https://user@maps.google.com:443/x", false},
		{URL, "http://example.org/", false},
		{URL, "http://a.safe.example.net/x", false},
		{URL, "http://evil.example.net/?r=google.com", true},
		{URL, "http://10.0.0.5:8080/x", false},
		{URL, "http://[2001:db8::5]/x", false},
		{URL, "http://198.51.100.1/x", true},
		{MD5, "d41d8cd98f00b204e9800998ecf8427e", false},
		{MD5, "d41d8cd98f00b204e9800998ecf8427f", true},
		{SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709", false},
		{Email, "good.guy@example.com", false},
		{Email, "Good.Guy@example.com", false},
		{Email, "bad.guy@example.com", true},
		{MACAddress, "00:11:22:33:44:55", false},
		{MACAddress, "00:11:22:33:44:56", true},
	}
	for _, c := range cases {
		if got := w.Allows(c.t, c.v); got != c.allow {
			t.Errorf("Allows(%s, %q) = %v, want %v", c.t, c.v, got, c.allow)
		}
	}
	var none *Whitelist
	if !none.Allows(Domain, "google.com") {
		t.Error("a nil whitelist refused something")
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// Whitelisted values are left out of the results, and do not count
// against the limit.
func TestExtractWithWhitelist(t *testing.T) {
	var w Whitelist
	w.Add([]byte("domain:.google.com\nipv4:10.0.0.0/8\n"), "wl")
	e := NewExtractor(shippedTLDs(t), w.Allows, 1)
	f, err := e.Extract(t.Context(), []byte("10.0.0.1 10.0.0.2 8.8.8.8 https://www.google.com/ https://evil.example.com/"))
	if err != nil {
		t.Fatal(err)
	}
	want := iocs("ipv4:", "8.8.8.8", "url:", "https://evil.example.com/", "domain:", "evil.example.com")
	if got := f.IOCs; !equalIOCs(got, want) || len(f.Limited) != 0 {
		t.Errorf("got %v (limited %v), want %v", got, f.Limited, want)
	}
}

func equalIOCs(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, " ") != strings.Join(b[k], " ") {
			return false
		}
	}
	return true
}

func TestParseTLDs(t *testing.T) {
	tlds, err := ParseTLDs([]byte("# Version 2024\nCOM\n\n org \nXN--P1AI\n.net\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"com", "org", "xn--p1ai", "net"} {
		if !tlds.has([]byte(strings.ToUpper(name))) || !tlds.has([]byte(name)) {
			t.Errorf("%s missing", name)
		}
	}
	if len(tlds) != 4 || tlds.has([]byte("exe")) || tlds.has(nil) {
		t.Errorf("tlds = %v", tlds)
	}
	for _, bad := range []string{"com\nex ample\n", "com\n123\n", "-com\n", "caf\u00e9\n", "# only a comment\n", ""} {
		if _, err := ParseTLDs([]byte(bad)); err == nil {
			t.Errorf("ParseTLDs(%q): no error", bad)
		}
	}
	if _, err := ParseTLDs([]byte("com\nex ample\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("error %v does not name line 2", err)
	}
}

func TestShippedTLDs(t *testing.T) {
	tlds := shippedTLDs(t)
	if len(tlds) < 1400 {
		t.Errorf("%d TLDs", len(tlds))
	}
	for _, name := range []string{"com", "uk", "zip", "xn--p1ai", "museum", "onion"} {
		if !tlds.has([]byte(name)) {
			t.Errorf("%s is missing", name)
		}
	}
	for _, name := range []string{"exe", "dll", "txt", "json", "local", "localhost", "internal"} {
		if tlds.has([]byte(name)) {
			t.Errorf("%s is not a TLD", name)
		}
	}
}

func TestRefang(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"a[.]b(.)c{.}d<.>e", "a.b.c.d.e"},
		{"a[dot]b(DOT)c{Dot}d<dot>e", "a.b.c.d.e"},
		{"a[@]b(@)c{@}d<@>e[at]f(AT)g{at}h<at>i", "a@b@c@d@e@f@g@h@i"},
		{"hxxp[:]//x hxxp[://]y a[/]b", "hxxp://x hxxp://y a/b"},
		{`a\.b\/c \x`, `a.b/c \x`},
		{"[ . ] [  dot  ] [   .   ]", ". . [   .   ]"},
		{"[ [.] ((.)", "[ . (."},
		{"[.", "[."},
		{"(dots) [atom] <a>", "(dots) [atom] <a>"},
		{"\\", "\\"},
	}
	for _, c := range cases {
		var buf []byte
		if got := string(refang([]byte(c.in), &buf)); got != c.want {
			t.Errorf("refang(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// Without anything to replace, the text itself comes back.
	text := []byte("no defanging here [x]")
	var buf []byte
	if got := refang(text, &buf); &got[0] != &text[0] {
		t.Error("refang copied a text it did not change")
	}
}
