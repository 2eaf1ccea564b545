package decompress

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// zipOf writes a zip (deflate) of the named contents, in order.
func zipOf(t testing.TB, files ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: files[i].(string), Method: zip.Deflate, Modified: corpusMTime})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(files[i+1].([]byte)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarOf(t testing.TB, files ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		content := files[i+1].([]byte)
		if err := tw.WriteHeader(&tar.Header{Name: files[i].(string), Mode: 0o644, Size: int64(len(content)), ModTime: corpusMTime, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, content []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gw := gzip.NewWriter(&buf)
	if _, err := gw.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := gw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombMembers is the 1,500-member zip: more members than max_members.
func bombMembers(t testing.TB) []byte {
	var files []any
	for i := range 1500 {
		files = append(files, fmt.Sprintf("f%04d.txt", i), []byte(fmt.Sprintf("member %d\n", i)))
	}
	return zipOf(t, files...)
}

const tenGiB = 10 << 30

var (
	tenGiBOnce sync.Once
	tenGiBData []byte
)

// tenGiBZip is a real zip64 archive of 10 MB: a small first member, then
// bomb.bin, 10 GiB of zeros. Its deflate stream is one compressed MiB of
// zeros, flushed to a byte boundary and repeated 10,240 times (each copy
// refers only to its own output, so the repetition is a valid stream of
// 10 GiB), then an empty final block; the CRC-32 is computed over the 10
// GiB. No 10 GiB is ever written anywhere.
func tenGiBZip(t testing.TB) []byte {
	tenGiBOnce.Do(func() {
		var block bytes.Buffer
		fw, err := flate.NewWriter(&block, flate.BestCompression)
		if err != nil {
			panic(err)
		}
		zeros := make([]byte, 1<<20)
		fw.Write(zeros)
		fw.Flush()
		crc := uint32(0)
		for range tenGiB / len(zeros) {
			crc = crc32.Update(crc, crc32.IEEETable, zeros)
		}
		final := []byte{0x01, 0x00, 0x00, 0xff, 0xff} // stored, final, empty
		copies := tenGiB / len(zeros)
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, _ := zw.Create("first.txt")
		w.Write([]byte("extracted before the bomb\n"))
		w, err = zw.CreateRaw(&zip.FileHeader{
			Name: "bomb.bin", Method: zip.Deflate, CRC32: crc, Modified: corpusMTime,
			CompressedSize64: uint64(copies*block.Len() + len(final)), UncompressedSize64: tenGiB,
		})
		if err != nil {
			panic(err)
		}
		for range copies {
			w.Write(block.Bytes())
		}
		w.Write(final)
		if err := zw.Close(); err != nil {
			panic(err)
		}
		tenGiBData = buf.Bytes()
	})
	return tenGiBData
}

func requireError(t *testing.T, resp *core.WorkerResponse, parts ...string) {
	t.Helper()
	for _, msg := range errorMessages(resp) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(msg, p)
		}
		if ok {
			return
		}
	}
	t.Errorf("no error mentioning %q; errors: %q", parts, errorMessages(resp))
}

func TestMaxMembersStopsTheBomb(t *testing.T) {
	w := newWorker(t, nil)
	resp := scan(t, w, bombMembers(t), "bomb.zip")
	if len(resp.Extracted) != 1000 {
		t.Fatalf("extracted %d members, want max_members = 1000", len(resp.Extracted))
	}
	requireError(t, resp, "max_members (1000)", `"f1000.txt"`)
	if got := resp.Extracted[999].PayloadMeta.ExtraData["filename"]; got != "f0999.txt" {
		t.Errorf("last extracted %v", got)
	}
	if n := len(resp.Results.(*Results).Members); n != 1000 {
		t.Errorf("%d members listed, want the 1000 read", n)
	}
}

func TestTenGiBMemberStopsAtALimit(t *testing.T) {
	data := tenGiBZip(t)
	t.Logf("the 10 GiB zip64 archive is %d bytes", len(data))
	if _, err := os.Stat("/usr/bin/unzip"); err == nil {
		// The reference tool reads a genuine zip64 member of 10 GiB.
		p := filepath.Join(t.TempDir(), "bomb.zip")
		os.WriteFile(p, data, 0o644)
		if out := string(run(t, filepath.Dir(p), "unzip", "-Z", "-l", p)); !strings.Contains(out, fmt.Sprint(tenGiB)) {
			t.Errorf("unzip -Z does not list a %d-byte member:\n%s", tenGiB, out)
		}
	}
	cases := []struct {
		opts  map[string]string
		error []string
	}{
		{nil, []string{"max_ratio (100)", `"bomb.bin"`}},
		{map[string]string{"max_ratio": "0"}, []string{"maximum_size (50000000 bytes)", `"bomb.bin"`}},
		{map[string]string{"max_ratio": "0", "maximum_size": "0"}, []string{"max_total_size (200000000 bytes", `"bomb.bin"`}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.opts), func(t *testing.T) {
			start := time.Now()
			resp := scan(t, newWorker(t, c.opts), data, "bomb.zip")
			t.Logf("stopped after %v", time.Since(start))
			requireError(t, resp, c.error...)
			if len(resp.Extracted) != 1 || resp.Extracted[0].PayloadMeta.ExtraData["filename"] != "first.txt" {
				t.Errorf("extracted %d payloads, want first.txt alone", len(resp.Extracted))
			}
			members := resp.Results.(*Results).Members
			if len(members) != 2 || *members[1].Size != tenGiB {
				t.Errorf("members %+v", members)
			}
		})
	}
}

func TestMaxTotalSize(t *testing.T) {
	var files []any
	for i := range 10 {
		files = append(files, fmt.Sprintf("m%d", i), randomBytes(1<<20, uint64(i)))
	}
	w := newWorker(t, map[string]string{"max_total_size": fmt.Sprint(3<<20 + 1000)})
	resp := scan(t, w, zipOf(t, files...), "")
	if len(resp.Extracted) != 3 {
		t.Fatalf("extracted %d, want 3", len(resp.Extracted))
	}
	requireError(t, resp, "max_total_size", `"m3"`)
	for i, ex := range resp.Extracted {
		if !bytes.Equal(ex.Content, files[2*i+1].([]byte)) {
			t.Errorf("member %d differs", i)
		}
	}
}

// A member over maximum_size is dropped; the members after it are still
// extracted (as stoQ skipped it).
func TestMaximumSizeSkipsTheMember(t *testing.T) {
	big := text(3<<20, 9)
	archive := zipOf(t, "small1", []byte("a"), "big.txt", big, "small2", []byte("b"))
	resp := scan(t, newWorker(t, map[string]string{"maximum_size": "2000000"}), archive, "")
	requireError(t, resp, "maximum_size (2000000 bytes)", `"big.txt"`)
	got := extractedByName(t, resp)
	if len(got) != 2 || got["small1"].Content == nil || got["small2"].Content == nil {
		t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
	}
}

func TestArchiveLargerThanMaximumSizeIsRefused(t *testing.T) {
	archive := zipOf(t, "r", randomBytes(200_000, 1))
	resp := scan(t, newWorker(t, map[string]string{"maximum_size": "100000"}), archive, "")
	requireError(t, resp, "more than maximum_size (100000 bytes)")
	if resp.Results != nil || len(resp.Extracted) != 0 {
		t.Errorf("refused archive gave results %v", resp.Results)
	}
}

// The ratio check starts after the first MiB: a small file of zeros passes,
// a large one does not, in a zip and in a compressed tar.
func TestMaxRatio(t *testing.T) {
	for _, c := range []struct {
		name    string
		archive []byte
	}{
		{"zip", zipOf(t, "small-zeros", make([]byte, 1<<20), "big-zeros", make([]byte, 8<<20), "after", []byte("x"))},
		{"tar.gz", gzipOf(t, tarOf(t, "small-zeros", make([]byte, 1<<20), "big-zeros", make([]byte, 8<<20), "after", []byte("x")))},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := scan(t, newWorker(t, nil), c.archive, "")
			requireError(t, resp, "max_ratio (100)", `"big-zeros"`)
			got := extractedByName(t, resp)
			if len(got) != 2 || len(got["small-zeros"].Content) != 1<<20 || string(got["after"].Content) != "x" {
				t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
			}
		})
	}
}

// Names that climb out of a folder or are absolute are data: reported as
// written, never used as paths.
func TestPathTraversalNamesAreKeptAsWritten(t *testing.T) {
	names := []string{"../../etc/stoq-test", "/tmp/stoq-absolute", `..\..\windows\system32\x.dll`, "a/../../b"}
	var files []any
	for _, n := range names {
		files = append(files, n, []byte(n))
	}
	cwd, _ := os.Getwd()
	before, _ := os.ReadDir(cwd)
	for _, archive := range [][]byte{zipOf(t, files...), tarOf(t, files...), gzipOf(t, tarOf(t, files...))} {
		resp := scan(t, newWorker(t, nil), archive, "evil")
		got := extractedByName(t, resp)
		for _, n := range names {
			if string(got[n].Content) != n {
				t.Errorf("%q: extracted %q", n, got[n].Content)
			}
		}
	}
	for _, p := range []string{"/tmp/stoq-absolute", filepath.Join(cwd, "../../etc/stoq-test")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written", p)
		}
	}
	if after, _ := os.ReadDir(cwd); len(after) != len(before) {
		t.Errorf("the working folder changed")
	}
}

func TestWrongPasswordIsAnError(t *testing.T) {
	need(t, "zip", "7z")
	c := newCorpus(t)
	recipes := map[string]string{
		"zip ZipCrypto": `zip -q -P secret "$A" hello.txt`,
		"zip AES-256":   `7z a -bd -tzip -psecret -mem=AES256 "$A" hello.txt >/dev/null`,
		"7z":            `7z a -bd -psecret "$A" hello.txt >/dev/null`,
		"7z -mhe=on":    `7z a -bd -psecret -mhe=on "$A" hello.txt >/dev/null`,
	}
	i := 0
	for name, script := range recipes {
		i++
		t.Run(name, func(t *testing.T) {
			ext := ".zip"
			if strings.HasPrefix(name, "7z") {
				ext = ".7z"
			}
			archive := filepath.Join(c.dir, fmt.Sprintf("pw%d%s", i, ext))
			shell(t, c.src, "A="+shellQuote(archive)+"; "+script)
			resp := scanFile(t, newWorker(t, nil), archive)
			if len(resp.Extracted) != 0 {
				t.Errorf("extracted %d with the wrong passwords", len(resp.Extracted))
			}
			if name == "7z -mhe=on" {
				requireError(t, resp, "headers are encrypted", "none of the 3 passwords")
			} else {
				requireError(t, resp, `"hello.txt"`, "encrypted", "none of the 3 passwords")
				if m := resp.Results.(*Results).Members; len(m) != 1 || !m[0].Encrypted {
					t.Errorf("members %+v", m)
				}
			}
			// The right password in the options, or in the payload's
			// extra_data as stoQ allowed, opens it.
			for _, how := range []string{"option", "extra_data"} {
				var resp *core.WorkerResponse
				content, _ := os.ReadFile(archive)
				if how == "option" {
					resp = scan(t, newWorker(t, map[string]string{"passwords": "wrong,secret"}), content, "")
				} else {
					p := stoqtest.Payload(content, map[string]any{"passwords": []any{"nope", "secret"}})
					resp, _ = newWorker(t, nil).Scan(context.Background(), p, stoqtest.Request(p))
				}
				if len(resp.Extracted) != 1 || string(resp.Extracted[0].Content) != string(c.files["hello.txt"]) ||
					resp.Extracted[0].PayloadMeta.ExtraData["password"] != "secret" || len(resp.Errors) != 0 {
					t.Errorf("%s: extracted %d, errors %v", how, len(resp.Extracted), errorMessages(resp))
				}
			}
		})
	}
}

// A 7z member whose bytes were damaged is an error naming its CRC, not an
// extracted payload: the 7z library checks no member's CRC. A stored
// member (-mx0) is damaged where its bytes lie; the archive's other
// members are still extracted.
func TestDamaged7zMemberIsACRCError(t *testing.T) {
	need(t, "7z")
	c := newCorpus(t)
	archive := filepath.Join(c.dir, "damaged.7z")
	shell(t, c.src, "7z a -bd -mx0 "+shellQuote(archive)+" hello.txt 'with space' >/dev/null")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, c.files["hello.txt"])
	if at < 0 || bytes.Contains(data[at+1:], c.files["hello.txt"]) {
		t.Fatalf("hello.txt's bytes are not stored once in the archive")
	}
	data[at] ^= 0x20 // "hello" becomes "Hello"
	resp := scan(t, newWorker(t, nil), data, "damaged.7z")
	requireError(t, resp, `"hello.txt"`, "CRC-32")
	if len(resp.Extracted) != 1 || resp.Extracted[0].PayloadMeta.ExtraData["filename"] != "with space/résumé ü.txt" {
		t.Errorf("extracted %d, want the undamaged member alone", len(resp.Extracted))
	}
	for _, m := range resp.Results.(*Results).Members {
		if m.Encrypted {
			t.Errorf("member %s reported encrypted: a damaged member is not", m.Filename)
		}
	}
	for _, e := range errorMessages(resp) {
		if strings.Contains(e, "password") {
			t.Errorf("a damaged member is reported as a password problem: %s", e)
		}
	}
}

func TestNotAnArchive(t *testing.T) {
	for _, content := range [][]byte{nil, []byte("just text"), randomBytes(5000, 3)} {
		resp := scan(t, newWorker(t, nil), content, "x")
		if resp.Results != nil || len(resp.Extracted) != 0 {
			t.Errorf("%q: results %v", content[:min(len(content), 10)], resp.Results)
		}
		requireError(t, resp, "not an archive")
	}
}

// A truncated or corrupt archive yields the members read before the damage
// and an Error.
func TestDamagedArchivesKeepWhatCameBefore(t *testing.T) {
	first := text(100_000, 1)
	tgz := gzipOf(t, tarOf(t, "first", first, "second", randomBytes(500_000, 2)))
	resp := scan(t, newWorker(t, nil), tgz[:len(tgz)*2/3], "cut.tgz")
	if got := extractedByName(t, resp); len(got) != 1 || !bytes.Equal(got["first"].Content, first) {
		t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
	}
	if len(resp.Errors) == 0 {
		t.Error("no error for a truncated tar.gz")
	}

	z := zipOf(t, "first", first, "second", randomBytes(10_000, 2))
	// Corrupt the second member's data; its CRC-32 no longer matches.
	i := bytes.Index(z, []byte("second")) + len("second") + 100
	z[i] ^= 0xff
	resp = scan(t, newWorker(t, nil), z, "")
	if got := extractedByName(t, resp); len(got) != 1 || !bytes.Equal(got["first"].Content, first) {
		t.Errorf("extracted %v", slices.Sorted(maps.Keys(got)))
	}
	requireError(t, resp, `"second"`)
}

func TestCancelledScanStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := stoqtest.Payload(bombMembers(t), nil)
	resp, err := newWorker(t, nil).Scan(ctx, p, stoqtest.Request(p))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Extracted) != 0 {
		t.Errorf("extracted %d after cancellation", len(resp.Extracted))
	}
	requireError(t, resp, context.Canceled.Error())
}

func TestOptions(t *testing.T) {
	archive := zipOf(t, "a", []byte("a"))
	resp := scan(t, newWorker(t, map[string]string{"always_dispatch": "yara, exif", "archive_extracted": "false"}), archive, "")
	meta := resp.Extracted[0].PayloadMeta
	if meta.ShouldArchive || strings.Join(meta.DispatchTo, ",") != "yara,exif" {
		t.Errorf("meta %+v", meta)
	}
	for _, bad := range []map[string]string{
		{"maximum_size": "-1"}, {"max_members": "lots"}, {"max_ratio": "-2"}, {"archive_extracted": "maybe"}, {"max_total_size": "-5"},
	} {
		_, err := stoqtest.TryNew(t, "decompress", bad)
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Plugin != "decompress" {
			t.Errorf("%v: error %v is not an OptionError", bad, err)
		}
	}
}

// A stored member of a zip, and every member of a plain tar, is the
// payload's own bytes: no copy.
func TestStoredMembersAreSubslices(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "stored", Method: zip.Store})
	w.Write(randomBytes(10_000, 5))
	zw.Close()
	for _, archive := range [][]byte{buf.Bytes(), tarOf(t, "t", randomBytes(10_000, 6))} {
		resp := scan(t, newWorker(t, nil), archive, "")
		ex := resp.Extracted[0].Content
		if len(ex) != 10_000 || !within(ex, archive) {
			t.Errorf("member of %d bytes is a copy", len(ex))
		}
	}
}

func within(sub, whole []byte) bool {
	for i := range whole {
		if &whole[i] == &sub[0] {
			return true
		}
	}
	return false
}

// Without 7z, a CAB (or any format only 7z reads) is an Error, not a
// failure.
func TestFallbackDisabled(t *testing.T) {
	resp := scan(t, newWorker(t, map[string]string{"fallback_7z": ""}), []byte("MSCF\x00\x00\x00\x00rest"), "a.cab")
	requireError(t, resp, "cab: no Go library reads this format and the 7z fallback is not available")
	if resp.Results.(*Results).ArchiveType != "cab" || len(resp.Extracted) != 0 {
		t.Errorf("results %+v", resp.Results)
	}
	resp = scan(t, newWorker(t, map[string]string{"fallback_7z": "/nonexistent/7z"}), []byte("MSCF\x00\x00\x00\x00rest"), "a.cab")
	requireError(t, resp, "7z fallback is not available")
}
