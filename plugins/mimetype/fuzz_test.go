package mimetype

import (
	"context"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/plugins/mimetype/v3/internal/magic"
)

// FuzzDispatchMap feeds arbitrary option values to the table parser: it
// never panics, every rule it accepts is well formed, writing the rules
// back and parsing them again gives the same table, and routing any MIME
// type through it terminates.
func FuzzDispatchMap(f *testing.F) {
	info, _ := engine.Lookup("mimetype")
	for _, seed := range []string{
		info.Manifest.Options["dispatch_map"],
		"", "a/b = x", "a/b: x; c/d = y, z", "# c\n; d\n*/* = all", "= x", "a/b =", "a/b = X!Y",
		"application/* = a\n\n\tapplication/zip=b,,c", strings.Repeat("*", 300) + " = x",
	} {
		f.Add(seed, "application/zip")
	}
	f.Fuzz(func(t *testing.T, value, mimetype string) {
		m, err := parseDispatchMap(value)
		if err != nil {
			if m != nil {
				t.Fatalf("error %v with a table", err)
			}
			return
		}
		var lines []string
		for _, r := range m {
			if r.pattern == "" || len(r.pattern) > maxPatternSize || strings.ContainsAny(r.pattern, " \t\n\r;=:") || r.pattern != strings.ToLower(r.pattern) {
				t.Fatalf("accepted pattern %q", r.pattern)
			}
			if len(r.plugins) == 0 {
				t.Fatalf("rule %q without plugins", r.pattern)
			}
			for _, p := range r.plugins {
				if !core.ValidPluginName(p) {
					t.Fatalf("accepted plugin name %q", p)
				}
			}
			lines = append(lines, r.pattern+" = "+strings.Join(r.plugins, ", "))
		}
		again, err := parseDispatchMap(strings.Join(lines, "\n"))
		if err != nil {
			t.Fatalf("the table written back does not parse: %v", err)
		}
		if len(again) != len(m) {
			t.Fatalf("%d rules, written back %d", len(m), len(again))
		}
		for i := range m {
			if again[i].pattern != m[i].pattern || strings.Join(again[i].plugins, ",") != strings.Join(m[i].plugins, ",") {
				t.Fatalf("rule %d: %v, written back %v", i, m[i], again[i])
			}
		}
		plugins, patterns := m.route(mimetype)
		if len(plugins) != len(patterns) {
			t.Fatalf("%d plugins, %d patterns", len(plugins), len(patterns))
		}
	})
}

// FuzzGlobMatch compares globMatch with a regular expression doing the
// same, on ASCII text (where '?' means one byte and one character alike).
func FuzzGlobMatch(f *testing.F) {
	for _, seed := range [][2]string{
		{"application/*", "application/zip"}, {"*zip*", "application/gzip"}, {"a*b*c", "aXbYcZ"},
		{"?", ""}, {"**a", "ba"}, {"*a*a*a*a*a*b", strings.Repeat("a", 40)},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := globMatch(pattern, s)
		if !isASCII(pattern) || !isASCII(s) || len(pattern) > 64 || len(s) > 256 {
			return // the reference regexp is slow to build for long patterns
		}
		if want := globRegexp(pattern).MatchString(s); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, the regexp says %v", pattern, s, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzLibmagic runs libmagic, C code reading untrusted bytes, on mutated
// corpus files through both entry points: it must neither crash nor fail,
// and answer a MIME type (type/subtype). The Go fuzzer does not see
// libmagic's coverage, so this is random testing around the seeds rather
// than guided search; it checks the binding and the in-memory file as much
// as libmagic. A small limit makes the tail window come into play.
func FuzzLibmagic(f *testing.F) {
	for _, s := range corpus(f) {
		data := s.data
		if len(data) > 64<<10 {
			data = data[:64<<10] // truncated files are good seeds too
		}
		f.Add(data)
	}
	pool, err := magic.NewPool("", 16<<10, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(pool.Close)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, identify := range []func(context.Context, []byte) (string, error){pool.Identify, pool.Buffer} {
			mt, err := identify(context.Background(), data)
			if err != nil {
				t.Fatalf("%d bytes: %v", len(data), err)
			}
			if typ, sub, ok := strings.Cut(mt, "/"); !ok || typ == "" || sub == "" {
				t.Fatalf("%d bytes: answer %q is no MIME type", len(data), mt)
			}
		}
	})
}
