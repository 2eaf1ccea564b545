package pecarve

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"runtime"
	"slices"
	"testing"
)

// contextPatterns are pe_headers patterns whose matches depend on the text
// before them, the ones contextMatchStarts serves.
var contextPatterns = []string{
	`^MZ`, `\AMZ`, `(?m)^MZ`, `\bMZ`, `\BMZ`, `MZ\b`, `\bMZ\b|ZM`, `^MZ|ZM`,
	`\b`, `\B`, `(?m)^`, `M*\b`, `(?m)^.`, `\b.`, `(?i)\bmz`, `\B(?s:.)Z`, `(?m)^$`,
}

// wantStarts is what the plugin did before it kept memory bounded: the
// starts of FindAllIndex's matches, those at the very end left out.
func wantStarts(re *regexp.Regexp, content []byte) []int {
	var out []int
	for _, loc := range re.FindAllIndex(content, -1) {
		if loc[0] < len(content) {
			out = append(out, loc[0])
		}
	}
	return out
}

func contextStarts(t testing.TB, pattern string, content []byte) []int {
	t.Helper()
	re := regexp.MustCompile(pattern)
	after := regexp.MustCompile(afterBytePattern(pattern))
	var got []int
	for off := range contextMatchStarts(re, after, content) {
		got = append(got, off)
	}
	return got
}

// randomText mixes word and non-word bytes, line breaks, multi-byte UTF-8
// characters and invalid UTF-8, the things the assertions look at.
func randomText(r *rand.Rand, n int) []byte {
	pieces := [][]byte{[]byte("M"), []byte("Z"), []byte("MZ"), []byte("ZM"), []byte(" "), []byte("\n"),
		[]byte("a"), []byte("_"), []byte("é"), []byte("€"), {0xff}, {0xc3}, {0xe2, 0x82}, {0x80}, {0}}
	var b []byte
	for len(b) < n {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return b
}

// contextMatchStarts finds exactly the candidates FindAllIndex finds, for
// every kind of assertion on the preceding text, on text built to exercise
// them (edges, line breaks, word boundaries next to multi-byte and invalid
// UTF-8).
func TestContextMatchStartsAgreesWithFindAll(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 8))
	inputs := [][]byte{nil, []byte("MZ"), []byte("\nMZ"), []byte("é"), []byte("MZ MZ\nMZ_MZ éMZ\xffMZ")}
	for range 300 {
		inputs = append(inputs, randomText(r, r.IntN(80)))
	}
	for _, pattern := range contextPatterns {
		re := regexp.MustCompile(pattern)
		for _, in := range inputs {
			if got, want := contextStarts(t, pattern, in), wantStarts(re, in); !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q: starts %v, FindAllIndex %v", pattern, in, got, want)
			}
		}
	}
}

// A pattern with an assertion on the preceding text no longer holds every
// match in memory: 131,072 matches cost nothing while they are walked.
func TestContextMatchStartsHoldsNoMatches(t *testing.T) {
	const matches = 1 << 17
	content := bytes.Repeat([]byte("MZ "), matches)
	re := regexp.MustCompile(`\bMZ`)
	after := regexp.MustCompile(afterBytePattern(`\bMZ`))
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for range contextMatchStarts(re, after, content) {
		if n++; n == matches/2 {
			runtime.GC()
			runtime.ReadMemStats(&during)
		}
	}
	if n != matches {
		t.Fatalf("%d matches, want %d", n, matches)
	}
	// FindAllIndex held about 40 bytes per match here: 5 MiB.
	if grown := int64(during.HeapAlloc) - int64(before.HeapAlloc); grown > 1<<20 {
		t.Errorf("the heap grew by %d bytes while walking the matches", grown)
	}
}

// FuzzContextMatchStarts compares contextMatchStarts with FindAllIndex on
// arbitrary content, for each context pattern.
func FuzzContextMatchStarts(f *testing.F) {
	f.Add([]byte("MZ MZ\nMZ_MZ éMZ\xffMZ"), uint8(0))
	f.Add([]byte("\xe2\x82MZ\n\nZM"), uint8(4))
	res := make([]*regexp.Regexp, len(contextPatterns))
	afters := make([]*regexp.Regexp, len(contextPatterns))
	for i, p := range contextPatterns {
		res[i], afters[i] = regexp.MustCompile(p), regexp.MustCompile(afterBytePattern(p))
	}
	f.Fuzz(func(t *testing.T, content []byte, which uint8) {
		i := int(which) % len(contextPatterns)
		var got []int
		for off := range contextMatchStarts(res[i], afters[i], content) {
			got = append(got, off)
		}
		if want := wantStarts(res[i], content); !slices.Equal(got, want) {
			t.Fatalf("pattern %q: starts %v, FindAllIndex %v", contextPatterns[i], got, want)
		}
	})
}
