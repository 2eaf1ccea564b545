package mimetype

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestParseDispatchMap(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // "pattern=plugin,plugin"
	}{
		{"empty", "", nil},
		{"blank lines and comments", "\n  \n# a comment\n; another\n", nil},
		{"one rule", "application/zip = decompress", []string{"application/zip=decompress"}},
		{"multi-line value", "\napplication/zip = decompress\nmessage/rfc822 = smtp", []string{"application/zip=decompress", "message/rfc822=smtp"}},
		{"colon", "application/zip: decompress", []string{"application/zip=decompress"}},
		{"semicolons", "a/b = x; c/* = y ;; d/e=z", []string{"a/b=x", "c/*=y", "d/e=z"}},
		{"plugins by commas and spaces", "a/b = x, y  z,,x", []string{"a/b=x,y,z"}},
		{"lowercased", "Application/CDFV2 = OLE", []string{"application/cdfv2=ole"}},
		{"indented comment inside", "a/b = x\n    # not a rule\nc/d = y", []string{"a/b=x", "c/d=y"}},
		{"duplicate globs stay", "a/b = x\na/b = y", []string{"a/b=x", "a/b=y"}},
		{"only the first separator counts", "a/b = x=y", nil}, // "x=y" is no plugin name
	}
	for _, tc := range cases {
		m, err := parseDispatchMap(tc.in)
		if tc.name == "only the first separator counts" {
			if err == nil {
				t.Errorf("%s: no error", tc.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, r := range m {
			got = append(got, r.pattern+"="+strings.Join(r.plugins, ","))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseDispatchMapErrors(t *testing.T) {
	cases := map[string]string{
		"application/zip":               "want GLOB = PLUGIN",
		"= decompress":                  "no MIME type glob",
		"application/zip =":             "no plugin",
		"application/zip = ,":           "no plugin",
		"application /zip = decompress": "no spaces",
		"a/b = UPPER_ok, bad.name":      `"bad.name" is not a plugin name`,
		"a/b = x\n\nc/d":                "line 3",
		strings.Repeat("a", 300) + "=x": "longer than",
	}
	for in, says := range cases {
		_, err := parseDispatchMap(in)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%.40q: err = %v, want one saying %q", in, err, says)
		}
	}
	many := strings.Repeat("a/b = x\n", maxRules+1)
	if _, err := parseDispatchMap(many); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("%d rules: err = %v", maxRules+1, err)
	}
}

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"application/zip", "application/zip", true},
		{"application/zip", "application/zipx", false},
		{"application/zip", "xapplication/zip", false},
		{"application/*", "application/zip", true},
		{"application/*", "application/", true},
		{"application/*", "text/plain", false},
		{"*", "application/vnd.ms-excel", true},
		{"*/*", "message/rfc822", true},
		{"*zip*", "application/x-zip-compressed", true},
		{"*zip", "application/gzip", true},
		{"*zip", "application/gzipx", false},
		{"application/x-?z", "application/x-xz", true},
		{"application/x-?z", "application/x-lz4", false},
		{"application/vnd.openxmlformats-officedocument.*", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbYcZ", false},
		{"", "", true},
		{"", "a", false},
		{"**", "", true},
	}
	for _, tc := range cases {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestRoute(t *testing.T) {
	m, err := parseDispatchMap("application/* = a, b\napplication/zip = c, a\n*zip* = d\ntext/* = e")
	if err != nil {
		t.Fatal(err)
	}
	plugins, patterns := m.route("Application/ZIP")
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(plugins, want) {
		t.Errorf("plugins = %v, want %v", plugins, want)
	}
	if patterns["a"] != "application/*" || patterns["c"] != "application/zip" || patterns["d"] != "*zip*" || len(patterns) != 4 {
		t.Errorf("patterns = %v", patterns)
	}
	if plugins, patterns := m.route("image/png"); plugins != nil || patterns != nil {
		t.Errorf("no match: %v %v", plugins, patterns)
	}
}

// globRegexp is the reference globMatch is fuzzed against.
func globRegexp(pattern string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^(?s:`)
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)$`)
	return regexp.MustCompile(b.String())
}
