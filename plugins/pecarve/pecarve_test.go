package pecarve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// carved is what a test expects of one extracted payload.
type carved struct {
	offset int
	size   int
	sha256 [32]byte
}

func (c carved) String() string {
	return fmt.Sprintf("{offset %d, %d bytes, sha256 %x}", c.offset, c.size, c.sha256[:6])
}

func expect(offset int, content []byte) carved {
	return carved{offset, len(content), sha256.Sum256(content)}
}

// carveAll scans content with a pecarve configured by opts and returns
// what it extracted, checking along the way the properties every extracted
// payload must have.
func carveAll(t *testing.T, opts map[string]string, content []byte) ([]carved, *core.WorkerResponse) {
	t.Helper()
	w := stoqtest.New[*Plugin](t, "pecarve", opts)
	orig := sha256.Sum256(content)
	resp := stoqtest.Scan(t, w, content)
	if resp.Results != nil {
		t.Errorf("Results = %v, want nil (stoQ's pecarve has no worker results)", resp.Results)
	}
	if sha256.Sum256(content) != orig {
		t.Fatal("the payload was modified")
	}
	var out []carved
	for i, ex := range resp.Extracted {
		off, ok := ex.PayloadMeta.ExtraData["offset"].(int)
		if !ok || len(ex.PayloadMeta.ExtraData) != 1 {
			t.Fatalf("extracted %d: extra_data %v, want just an int offset", i, ex.PayloadMeta.ExtraData)
		}
		if !ex.PayloadMeta.ShouldScan || !ex.PayloadMeta.ShouldArchive {
			t.Errorf("extracted %d: meta %+v, want stoQ's defaults", i, ex.PayloadMeta)
		}
		// A subslice of the payload, not a copy, that cannot grow into it.
		if len(ex.Content) == 0 || &ex.Content[0] != &content[off] || cap(ex.Content) != len(ex.Content) {
			t.Errorf("extracted %d at offset %d is not a capped subslice of the payload", i, off)
		}
		out = append(out, expect(off, ex.Content))
	}
	return out, resp
}

func checkCarved(t *testing.T, got, want []carved) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("carved\n  %v\nwant\n  %v", got, want)
	}
}

// Real executables embedded at unaligned offsets in random filler with fake
// headers are carved exactly: same offsets, sizes and sha256.
func TestCarveEmbeddedExecutables(t *testing.T) {
	goHello := goExe(t, "go-hello")
	goOther := goExe(t, "go-other")
	mingw64 := debugPEExe(t, "gcc-amd64-mingw-exec")
	mingw32 := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")

	// Stripped executables end where their last section ends: carving
	// gives back the whole file. mingw64 has a COFF symbol table after its
	// sections, which trimming drops, as stoQ's pefile trim() does.
	for name, exe := range map[string][]byte{"go-hello": goHello, "go-other": goOther, "mingw32": mingw32} {
		if trimmedSize(t, exe) != len(exe) {
			t.Fatalf("%s: test data has bytes after its sections", name)
		}
	}
	mingw64Trimmed := mingw64[:trimmedSize(t, mingw64)]
	if len(mingw64Trimmed) >= len(mingw64) {
		t.Fatal("gcc-amd64-mingw-exec was expected to carry a symbol table after its sections")
	}

	offHello := 12345
	offMingw64 := offHello + len(goHello) + 777
	offMingw32 := offMingw64 + len(mingw64) + 4099 // preceded by a 'Z': "ZMZ"
	offOther := offMingw32 + len(mingw32) + 31
	payload := filler(offOther+len(goOther)+5003, 1)
	embed(payload, map[int][]byte{offHello: goHello, offMingw64: mingw64, offMingw32: mingw32, offOther: goOther})
	payload[offMingw32-1] = 'Z'

	got, resp := carveAll(t, nil, payload)
	if len(resp.Errors) != 0 {
		t.Errorf("errors: %v", resp.Errors)
	}
	checkCarved(t, got, []carved{
		expect(offHello, goHello),
		expect(offMingw64, mingw64Trimmed),
		expect(offMingw32, mingw32),
		expect(offOther, goOther),
	})
}

// A PE at the very start or the very end of the payload, and a payload that
// is exactly one PE.
func TestCarveAtPayloadEdges(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	got, _ := carveAll(t, nil, exe)
	checkCarved(t, got, []carved{expect(0, exe)})

	payload := append(filler(999, 2), exe...)
	payload = append(exe, payload...)
	got, _ = carveAll(t, nil, payload)
	checkCarved(t, got, []carved{expect(0, exe), expect(len(exe)+999, exe)})
}

// A PE inside another PE (here in the outer one's only section) is carved
// too, after the outer one: every valid header is carved independently.
func TestCarvePEInsidePE(t *testing.T) {
	inner := goExe(t, "go-hello")
	const innerAt = 0x400 + 333 // in the section's raw data, unaligned
	outer := synthPE(synth{plus: true, sections: [][2]uint32{{0x400, uint32(innerAt - 0x400 + len(inner) + 100)}}}).build()
	copy(outer[innerAt:], inner)
	const outerAt = 4321
	payload := embed(filler(outerAt+len(outer)+1000, 3), map[int][]byte{outerAt: outer})

	got, resp := carveAll(t, nil, payload)
	checkCarved(t, got, []carved{expect(outerAt, outer), expect(outerAt+innerAt, inner)})
	if len(resp.Errors) != 0 {
		t.Errorf("errors: %v", resp.Errors)
	}

	// With max_carved = 1 the outer PE is carved and the inner one reported.
	got, resp = carveAll(t, map[string]string{"max_carved": "1"}, payload)
	checkCarved(t, got, []carved{expect(outerAt, outer)})
	wantErr := fmt.Sprintf("max_carved (1) reached: the PE at offset %d", outerAt+innerAt)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, wantErr) {
		t.Errorf("errors %v, want one saying %q", resp.Errors, wantErr)
	}
}

func TestMaxCarved(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	offsets := []int{100, 10_000, 20_001, 30_002, 40_003}
	at := map[int][]byte{}
	for _, off := range offsets {
		at[off] = exe
	}
	payload := embed(filler(50_000, 4), at)

	cases := []struct {
		maxCarved string
		carved    int
		errAt     int // offset named in the error, or -1 for no error
	}{
		{"", 5, -1}, // default 100
		{"5", 5, -1},
		{"6", 5, -1},
		{"3", 3, offsets[3]},
		{"1", 1, offsets[1]},
	}
	for _, c := range cases {
		t.Run("max_carved="+c.maxCarved, func(t *testing.T) {
			opts := map[string]string{}
			if c.maxCarved != "" {
				opts["max_carved"] = c.maxCarved
			}
			got, resp := carveAll(t, opts, payload)
			var want []carved
			for _, off := range offsets[:c.carved] {
				want = append(want, expect(off, exe))
			}
			checkCarved(t, got, want)
			switch {
			case c.errAt < 0 && len(resp.Errors) != 0:
				t.Errorf("unexpected errors %v", resp.Errors)
			case c.errAt >= 0 && (len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, fmt.Sprintf("offset %d ", c.errAt))):
				t.Errorf("errors %v, want one naming offset %d", resp.Errors, c.errAt)
			}
		})
	}
}

// Custom pe_headers patterns: the regex paths find the same PEs as the fast
// path when they describe the same headers, and honour anchors.
func TestPEHeadersOption(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	withSymbols := debugPEExe(t, "gcc-386-mingw-exec")
	payload := embed(filler(12345+len(withSymbols)+3000, 5), map[int][]byte{0: exe, 12345: withSymbols})
	both := []carved{expect(0, exe), expect(12345, withSymbols[:trimmedSize(t, withSymbols)])}

	cases := []struct {
		pattern   string
		fastPath  bool
		wholeText bool
		want      []carved
	}{
		{"MZ|ZM", true, false, both},
		{`\x4d\x5a|\x5a\x4d`, true, false, both},
		{"ZM|MZ", true, false, both},
		{"MZ", true, false, both},
		{"(MZ)", false, false, both},
		{`MZ.`, false, false, both},
		{`MZ[^Z]`, false, false, both},
		{`MZ(?s:.){58}`, false, false, both},
		{`^MZ`, false, true, both[:1]},
		{`\AMZ`, false, true, both[:1]},
		{`This program`, false, false, nil}, // matches, but not at a DOS header
		{`M*`, false, false, both},          // empty matches everywhere
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			opts := map[string]string{"pe_headers": c.pattern}
			p := stoqtest.New[*Plugin](t, "pecarve", opts)
			if wholeText := p.afterByte != nil; (p.headers == nil) != c.fastPath || wholeText != c.wholeText {
				t.Errorf("fast path %v, whole text %v; want %v, %v", p.headers == nil, wholeText, c.fastPath, c.wholeText)
			}
			got, _ := carveAll(t, opts, payload)
			checkCarved(t, got, c.want)
		})
	}
}

// The fast path finds an MZ right after a Z, which a non-overlapping scan
// for MZ|ZM misses (as stoQ's does): the documented improvement.
func TestFastPathFindsMZAfterZ(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	payload := append([]byte("xxZ"), exe...)
	got, _ := carveAll(t, nil, payload)
	checkCarved(t, got, []carved{expect(3, exe)})
	// The generic regex path, given stoQ's pattern in a form that defeats
	// the fast path, behaves as stoQ's scan did.
	got, _ = carveAll(t, map[string]string{"pe_headers": "(MZ|ZM)"}, payload)
	checkCarved(t, got, nil)
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		opts    map[string]string
		option  string
		mention string
	}{
		{map[string]string{"pe_headers": "MZ("}, "pe_headers", "not a valid regular expression"},
		{map[string]string{"pe_headers": `(?<=Z)MZ`}, "pe_headers", "not a valid regular expression"},
		{map[string]string{"pe_headers": ""}, "pe_headers", "want a regular expression"},
		{map[string]string{"pe_headers": `MZ\x90\x00`}, "pe_headers", "U+0090 cannot match the byte 0x90"},
		{map[string]string{"pe_headers": `MZ[\x00-\xff]{4}`}, "pe_headers", "U+0080 cannot match the byte 0x80"},
		{map[string]string{"pe_headers": `MZ|(ZM\xff)`}, "pe_headers", "U+00FF"},
		{map[string]string{"max_carved": "0"}, "max_carved", "positive"},
		{map[string]string{"max_carved": "-2"}, "max_carved", "positive"},
		{map[string]string{"max_carved": "many"}, "max_carved", "integer"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.opts), func(t *testing.T) {
			_, err := stoqtest.TryNew(t, "pecarve", c.opts)
			var oe *core.OptionError
			if !errors.As(err, &oe) || oe.Plugin != "pecarve" || oe.Option != c.option {
				t.Fatalf("error %v, want an OptionError for pecarve's %s", err, c.option)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Errorf("error %q does not say %q", err, c.mention)
			}
		})
	}
}

// A payload that is nothing but candidates ends with nothing carved, on
// every path, and a cancelled scan stops with the context's error.
func TestPayloadOfCandidates(t *testing.T) {
	payload := bytes.Repeat([]byte("MZ"), 4*ctxCheckInterval)
	for _, pattern := range []string{"MZ|ZM", "(MZ)", "^MZ|ZM"} {
		got, resp := carveAll(t, map[string]string{"pe_headers": pattern}, payload)
		if len(got) != 0 || len(resp.Errors) != 0 {
			t.Errorf("pe_headers %s: carved %v, errors %v", pattern, got, resp.Errors)
		}
	}

	w := stoqtest.New[*Plugin](t, "pecarve", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(payload, nil)
	if _, err := w.Scan(ctx, p, stoqtest.Request(p)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan returned %v, want context.Canceled", err)
	}
}

// Through the engine, as stoQ's reference output shows: three copies of one
// PE give one extracted payload (de-duplicated by sha256) whose
// extracted_by names pecarve three times, with the first offset; pecarve
// is in plugins_run but has no key under workers.
func TestEngineScan(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	payload := embed(filler(60_000, 6), map[int][]byte{7717: exe, 27_000: exe, 50_001: exe})
	s := stoqtest.Engine(t)
	resp, err := s.Scan(context.Background(), payload, nil, nil, "pecarve")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	if len(resp.Results) != 2 {
		t.Fatalf("%d results, want the payload and one carved PE", len(resp.Results))
	}
	root, pe := resp.Results[0], resp.Results[1]
	if _, ok := root.Workers["pecarve"]; ok || !slices.Equal(root.PluginsRun.Workers, []string{"pecarve"}) {
		t.Errorf("root: workers %v, plugins_run %v", root.Workers, root.PluginsRun.Workers)
	}
	if pe.Size != len(exe) || !slices.Equal(pe.ExtractedBy, []string{"pecarve", "pecarve", "pecarve"}) {
		t.Errorf("carved: size %d, extracted_by %v", pe.Size, pe.ExtractedBy)
	}
	meta := stoqtest.JSON(t, pe.PayloadMeta).(map[string]any)
	if extra := meta["extra_data"].(map[string]any); len(extra) != 1 || extra["offset"] != float64(7717) {
		t.Errorf("extra_data = %v, want {\"offset\": 7717}", extra)
	}
}
