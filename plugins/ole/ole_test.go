package ole

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// The payloads stoQ's plugin would extract from a Word-like document: every
// stream with its index and printable name, embedded packages unwrapped.
func TestExtractsEveryStreamAsStoQ(t *testing.T) {
	for _, shift := range []int{9, 12} {
		data, _ := cfbwriter.Build(wordLike(), cfbwriter.Options{SectorShift: shift})
		got, resp := scanAll(t, nil, data)
		if len(resp.Errors) > 0 {
			t.Errorf("errors: %q", errorTexts(resp))
		}
		want := []struct {
			name    string
			content []byte
		}{
			{"CompObj", filler(6, 114)},
			{"DocumentSummaryInformation", filler(2, 300)},
			{"SummaryInformation", filler(1, 4000)},
			{"1Table", filler(4, 7000)},
			{"Data", filler(5, 4096)},
			{"Macros_PROJECT", nil},
			{"Macros_PROJECTwm", nil},
			{"Macros_VBA_ThisDocument", filler(12, 5200)},
			{"Macros_VBA__VBA_PROJECT", filler(10, 2000)},
			{"Macros_VBA_dir", filler(11, 700)},
			{"ObjectPool__1711632409_CompObj", filler(7, 76)},
			{"ObjectPool__1711632409_Ole10Native_invoice.exe", filler(9, 9000)},
			{"ObjectPool__1711632409_ObjInfo", filler(8, 6)},
			{"ObjectPool__1711632410_Ole10Native_notes.txt", []byte("small embedded text\n")},
			{"WordDocument", filler(3, 24000)},
		}
		if len(got) != len(want) {
			t.Fatalf("%d extracted, want %d: %v", len(got), len(want), got)
		}
		for i, w := range want {
			if got[i].index != i || got[i].name != w.name {
				t.Errorf("extracted %d: index %d name %q, want %d %q", i, got[i].index, got[i].name, i, w.name)
			}
			if w.content != nil && !bytes.Equal(got[i].content, w.content) {
				t.Errorf("extracted %d %q: content differs", i, w.name)
			}
		}
	}
}

// The JSON of an extracted payload's meta is stoQ's.
func TestExtractedMetaJSON(t *testing.T) {
	data, _ := cfbwriter.Build([]*cfbwriter.Node{cfbwriter.Stream("\x05SummaryInformation", []byte("x"))}, cfbwriter.Options{})
	_, resp := scanAll(t, nil, data)
	got := stoqtest.JSON(t, resp.Extracted[0].PayloadMeta)
	want := map[string]any{
		"should_archive": false, "should_scan": true, "dispatch_to": []any{},
		"extra_data": map[string]any{"index": float64(0), "name": "SummaryInformation"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("meta JSON %v, want %v", got, want)
	}
}

// Large streams whose sectors follow each other are handed on as
// subslices of the payload, never copies.
func TestStreamsAreSubslicesOfThePayload(t *testing.T) {
	data, lay := cfbwriter.Build(wordLike(), cfbwriter.Options{})
	got, _ := scanAll(t, nil, data)
	for _, ex := range got {
		if ex.name == "WordDocument" {
			off := lay.SectorOffset(lay.Chain["WordDocument"][0])
			if &ex.content[0] != &data[off] || cap(ex.content) != len(ex.content) {
				t.Error("WordDocument is not a capped subslice of the payload")
			}
			return
		}
	}
	t.Fatal("no WordDocument extracted")
}

func TestOle10NativeStreams(t *testing.T) {
	embedded := []byte("MZ the embedded program")
	full := nativeStream("report.pdf", `C:\report.pdf`, `C:\Temp\report.pdf`, embedded)
	le := binary.LittleEndian
	// Offset of the embedded file's size in full.
	sizeAt := 4 + 2 + len("report.pdf\x00") + len(`C:\report.pdf`+"\x00") + 8 + len(`C:\Temp\report.pdf`+"\x00")
	cases := []struct {
		name, stream string
		data         []byte
		wantName     string
		wantContent  []byte
		wantError    string
	}{
		{"unwrapped", "\x01Ole10Native", full, "_1_Ole10Native_report.pdf", embedded, ""},
		{"name compared regardless of case", "\x01OLE10NATIVE", full, "_1_OLE10NATIVE_report.pdf", embedded, ""},
		{"no file name", "\x01Ole10Native", nativeStream("", "", "", embedded), "_1_Ole10Native_olenative", embedded, ""},
		{"Latin-1 file name", "\x01Ole10Native", nativeStream("r\xe9sum\xe9.doc", "", "", embedded), "_1_Ole10Native_résumé.doc", embedded, ""},
		{"embedded file cut short", "\x01Ole10Native", full[:len(full)-10], "_1_Ole10Native_report.pdf", embedded[:len(embedded)-6], "declares 23 bytes, 17 are present"},
		{"a link: no embedded file", "\x01Ole10Native", full[:sizeAt], "_1_Ole10Native", full[:sizeAt], "no file embedded"},
		{"file name not terminated", "\x01Ole10Native", append(le.AppendUint32(nil, 2000), append([]byte{2, 0}, bytes.Repeat([]byte("a"), 1500)...)...), "_1_Ole10Native", nil, "no zero byte ends the file name within 1024 bytes"},
		{"too short", "\x01Ole10Native", []byte{1, 2, 3}, "_1_Ole10Native", []byte{1, 2, 3}, "before the native data size"},
		{"other streams are left alone", "Ole10Native", full, "_1_Ole10Native", full, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, _ := cfbwriter.Build([]*cfbwriter.Node{cfbwriter.Storage("_1", cfbwriter.Stream(c.stream, c.data))}, cfbwriter.Options{})
			got, resp := scanAll(t, nil, data)
			if len(got) != 1 {
				t.Fatalf("%d extracted", len(got))
			}
			// As stoQ: the stream's printable name, then the file name as
			// it is stored.
			if got[0].name != c.wantName {
				t.Errorf("name %q, want %q", got[0].name, c.wantName)
			}
			if c.wantContent == nil {
				c.wantContent = c.data
			}
			if !bytes.Equal(got[0].content, c.wantContent) {
				t.Errorf("content %q, want %q", got[0].content, c.wantContent)
			}
			errs := strings.Join(errorTexts(resp), "\n")
			if c.wantError == "" && errs != "" || !strings.Contains(errs, c.wantError) {
				t.Errorf("errors %q, want one with %q", errs, c.wantError)
			}
		})
	}
}

func TestNotACompoundFile(t *testing.T) {
	for _, content := range [][]byte{nil, []byte("MZ\x90\x00 hello"), bytes.Repeat([]byte{0xD0, 0xCF}, 1000)} {
		got, resp := scanAll(t, nil, content)
		if len(got) != 0 || len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "not an OLE2 compound file") {
			t.Errorf("extracted %d, errors %q", len(got), errorTexts(resp))
		}
	}
}

func TestMaxStreams(t *testing.T) {
	data, _ := cfbwriter.Build(manyStreams(20), cfbwriter.Options{})
	got, resp := scanAll(t, map[string]string{"max_streams": "7"}, data)
	if len(got) != 7 {
		t.Errorf("%d extracted, want 7", len(got))
	}
	if errs := errorTexts(resp); len(errs) != 1 || !strings.Contains(errs[0], "max streams (7) reached") {
		t.Errorf("errors %q", errs)
	}
	// A directory of 100,000 streams stops at the default limit.
	var nodes []*cfbwriter.Node
	for i := range 100000 {
		nodes = append(nodes, cfbwriter.Stream(fmt.Sprintf("s%06d", i), nil))
	}
	data, _ = cfbwriter.Build(nodes, cfbwriter.Options{})
	got, resp = scanAll(t, nil, data)
	if errs := errorTexts(resp); len(got) != 10000 || len(errs) != 1 || !strings.Contains(errs[0], `max streams (10000) reached: stream "s010000"`) {
		t.Errorf("%d extracted, errors %q", len(got), errs)
	}
	for _, bad := range []string{"0", "-3", "many"} {
		_, err := stoqtest.TryNew(t, "ole", map[string]string{"max_streams": bad})
		var optErr *core.OptionError
		if !errors.As(err, &optErr) || optErr.Option != "max_streams" {
			t.Errorf("max_streams=%s: %v, want an OptionError", bad, err)
		}
	}
}

// A damaged file gives what can be read and an Error per broken stream,
// naming it; the Errors stay few however many streams are broken.
func TestDamagedFiles(t *testing.T) {
	data, lay := cfbwriter.Build(wordLike(), cfbwriter.Options{})
	le := binary.LittleEndian
	word := lay.Chain["WordDocument"]
	le.PutUint32(data[lay.FATEntryOffset(word[2]):], word[1])
	got, resp := scanAll(t, nil, data)
	if len(got) != 15 {
		t.Errorf("%d extracted, want all 15 streams", len(got))
	}
	errs := errorTexts(resp)
	if len(errs) != 1 || !strings.Contains(errs[0], `stream 14 "WordDocument": 1536 of the 24000 bytes declared read: its chain loops back to sector`) {
		t.Errorf("errors %q", errs)
	}

	// 500 streams all pointing at the same sectors: one is read, the
	// others get an Error each, reported up to 100.
	var nodes []*cfbwriter.Node
	for i := range 500 {
		nodes = append(nodes, cfbwriter.Stream(fmt.Sprintf("s%03d", i), filler(uint64(i), 5000)))
	}
	data, lay = cfbwriter.Build(nodes, cfbwriter.Options{})
	for i := range 500 {
		le.PutUint32(data[lay.DirEntryOffset(lay.SID[fmt.Sprintf("s%03d", i)])+cfbwriter.EntryStart:], lay.Chain["s000"][0])
	}
	got, resp = scanAll(t, nil, data)
	total := 0
	for _, ex := range got {
		total += len(ex.content)
	}
	errs = errorTexts(resp)
	if len(got) != 500 || total != 5000 || len(errs) != 101 || !strings.Contains(errs[100], "399 more streams could not be read whole") {
		t.Errorf("%d extracted, %d bytes in all, %d errors, last %q", len(got), total, len(errs), errs[len(errs)-1])
	}
}

// Streams named alike regardless of case (forbidden by MS-CFB) are each
// extracted with their own content, where olefile's openstream, which looks
// names up regardless of case, reads the first one twice.
func TestNamesDifferingInCase(t *testing.T) {
	data, _ := cfbwriter.Build([]*cfbwriter.Node{cfbwriter.Stream("Data", []byte("upper")), cfbwriter.Stream("data", []byte("lower"))}, cfbwriter.Options{})
	got, resp := scanAll(t, nil, data)
	if len(got) != 2 || string(got[0].content) != "upper" || string(got[1].content) != "lower" {
		t.Errorf("extracted %v", got)
	}
	if errs := errorTexts(resp); len(errs) != 1 || !strings.Contains(errs[0], `two entries named "data"`) {
		t.Errorf("errors %q", errs)
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"\x05SummaryInformation":             "SummaryInformation",
		"a\tb\nc\rd\x0be\x0cf g":             "a\tb\nc\rd\x0be\x0cf g",
		"\x00\x01\x7f\u0080é文😀":              "",
		"~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}": "~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}",
	} {
		if got := printable(in); got != want || got != stoqName([]string{in}) {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestManifest(t *testing.T) {
	m, err := core.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "ole" || m.Module != "github.com/stoq-go/stoq/plugins/ole/v3" || m.Options["max_streams"] != "10000" || m.MinStoqVersion != "3.0.0" {
		t.Errorf("manifest %+v", m)
	}
}
