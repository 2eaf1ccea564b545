package ioc

import (
	"bytes"
	"context"
	"flag"
	"regexp"
	"testing"
)

var pathologicalSize = flag.Int("pathological-size", 16<<20, "bytes of each hostile input in BenchmarkPathological")

// BenchmarkExtract measures the extractor on 1 MiB of mixed text (prose,
// logs, mail headers, a defanged report, code, hex dumps, base64).
func BenchmarkExtract(b *testing.B) {
	e := NewExtractor(shippedTLDs(b), nil, 0)
	text := mixedText(1<<20, 1)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Extract(context.Background(), text); err != nil {
			b.Fatal(err)
		}
	}
}

// pathological are inputs built to make an extractor slow: long runs of
// the characters its patterns are made of.
var pathological = []struct {
	name   string
	repeat string
}{
	{"dots", "."},
	{"digits", "1"},
	{"a-at", "a@"},
	{"a-dot", "a."},
	{"hex", "f"},
	{"colons", ":"},
	{"hex-colon", "a:"},
	{"digit-dot", "1."},
	{"ipv4-list", "1.2.3.4 "},
	{"defanged-dots", "[.]"},
	{"scheme", "http://"},
	{"url-paths", "http://a.com/"},
	{"url-parens", "http://a.com/)"},
	{"emails", "a@b.com,"},
	{"mac-like", "aa:"},
	// Every pattern runs on every token of this one.
	{"all-patterns", "0a:0b-0c.io@d0.com:hxxp://1.2.3.4/e3b0c44298fc1c149afbf4c8996fb924::"},
}

// BenchmarkPathological measures each hostile input, 16 MiB by default;
// the README reports 100 MB runs (-pathological-size 100000000).
func BenchmarkPathological(b *testing.B) {
	e := NewExtractor(shippedTLDs(b), nil, 0)
	for _, p := range pathological {
		b.Run(p.name, func(b *testing.B) {
			text := bytes.Repeat([]byte(p.repeat), *pathologicalSize/len(p.repeat))
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if _, err := e.Extract(context.Background(), text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPatterns measures each candidate pattern alone on the mixed
// text, to see where the time goes.
func BenchmarkPatterns(b *testing.B) {
	text := mixedText(1<<20, 1)
	for name, re := range map[string]*regexp.Regexp{
		"hash": hashRe, "ipv4": ipv4Re, "ipv6": ipv6Re, "mac": macRe,
		"email": emailRe, "domain": domainRe, "scheme": schemeRe,
	} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				re.FindAllIndex(text, -1)
			}
		})
	}
	b.Run("refang", func(b *testing.B) {
		var buf []byte
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			refang(text, &buf)
		}
	})
}
