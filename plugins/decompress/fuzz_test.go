package decompress

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stoq-go/stoq/plugins/decompress/v3/internal/archive"
	"github.com/ulikunitz/xz"
)

// Fuzz targets, one per format's entry point, each seeded with small real
// archives (made by the Go writers here, and by Debian's archivers when
// they are installed). Every input must come back without a panic (a
// decoder panic recovered by Extract fails the target), within the limits,
// and with every extracted member no larger than maximum_size.

var fuzzLimits = archive.Limits{MemberSize: 1 << 20, TotalSize: 4 << 20, Members: 50, Ratio: 100}

func fuzzExtract(t *testing.T, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := archive.Extract(ctx, data, archive.Options{Limits: fuzzLimits, Passwords: []string{"", "infected"}, Name: "fuzz.bin"})
	for _, p := range res.Problems {
		if strings.Contains(p, "decoder failure") {
			t.Fatalf("decoder panicked: %s", p)
		}
	}
	if len(res.Members) > fuzzLimits.Members {
		t.Fatalf("%d members, more than max_members", len(res.Members))
	}
	total := 0
	for _, m := range res.Members {
		if m.Extracted && int64(len(m.Content)) > fuzzLimits.MemberSize {
			t.Fatalf("member %q of %d bytes, more than maximum_size", m.Name, len(m.Content))
		}
		total += len(m.Content)
	}
	if int64(total) > fuzzLimits.TotalSize {
		t.Fatalf("%d bytes extracted, more than max_total_size", total)
	}
}

// toolSeed runs an archiver on two small files and returns its archive, or
// nil when the tool is missing.
func toolSeed(f *testing.F, out, script string, tools ...string) []byte {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil
		}
	}
	dir := f.TempDir()
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("hello, stoq\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.bin"), randomBytes(3000, 1), 0o644)
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "A="+filepath.Join(dir, out))
	if err := cmd.Run(); err != nil {
		f.Logf("seed %s: %v", script, err)
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(dir, out))
	return b
}

func addSeeds(f *testing.F, seeds ...[]byte) {
	f.Add([]byte{})
	for _, s := range seeds {
		if s != nil {
			f.Add(s)
			f.Add(s[:len(s)/2]) // truncated
		}
	}
}

func FuzzZip(f *testing.F) {
	addSeeds(f,
		zipOf(f, "a.txt", []byte("hello"), "../b", randomBytes(2000, 1)),
		toolSeed(f, "a.zip", `zip -q "$A" a.txt b.bin`, "zip"),
		toolSeed(f, "a.zip", `zip -q -P infected "$A" a.txt b.bin`, "zip"),
		toolSeed(f, "a.zip", `7z a -tzip -pinfected -mem=AES256 "$A" a.txt b.bin >/dev/null`, "7z"),
		toolSeed(f, "a.zip", `7z a -tzip -m0=LZMA "$A" a.txt b.bin >/dev/null`, "7z"),
		toolSeed(f, "a.zip", `zip -q -Z bzip2 "$A" a.txt b.bin`, "zip"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzTar(f *testing.F) {
	addSeeds(f,
		tarOf(f, "a.txt", []byte("hello"), "/abs", randomBytes(2000, 1)),
		toolSeed(f, "a.tar", `tar --format=pax -cf "$A" a.txt b.bin`, "tar"),
		toolSeed(f, "a.tar", `tar --format=gnu -cf "$A" a.txt b.bin`, "tar"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzGzip(f *testing.F) {
	addSeeds(f,
		gzipOf(f, []byte("hello, stoq")),
		gzipOf(f, tarOf(f, "a.txt", []byte("hello"))),
		toolSeed(f, "a.gz", `gzip -c b.bin > "$A"`, "gzip"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzBzip2(f *testing.F) {
	addSeeds(f,
		toolSeed(f, "a.bz2", `bzip2 -c b.bin > "$A"`, "bzip2"),
		toolSeed(f, "a.tbz", `tar -cjf "$A" a.txt b.bin`, "tar", "bzip2"),
		[]byte("BZh91AY&SY"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzXZ(f *testing.F) {
	var buf bytes.Buffer
	xw, _ := xz.NewWriter(&buf)
	xw.Write([]byte("hello, stoq, hello, stoq"))
	xw.Close()
	addSeeds(f,
		buf.Bytes(),
		toolSeed(f, "a.xz", `xz -c b.bin > "$A"`, "xz"),
		toolSeed(f, "a.txz", `tar -cJf "$A" a.txt b.bin`, "tar", "xz"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzZstd(f *testing.F) {
	enc, _ := zstd.NewWriter(nil)
	addSeeds(f,
		enc.EncodeAll([]byte("hello, stoq, hello, stoq"), nil),
		enc.EncodeAll(tarOf(f, "a.txt", []byte("hello")), nil),
		toolSeed(f, "a.zst", `zstd -q -c b.bin > "$A"`, "zstd"),
	)
	f.Fuzz(fuzzExtract)
}

func Fuzz7z(f *testing.F) {
	addSeeds(f,
		toolSeed(f, "a.7z", `7z a "$A" a.txt b.bin >/dev/null`, "7z"),
		toolSeed(f, "a.7z", `7z a -pinfected "$A" a.txt b.bin >/dev/null`, "7z"),
		toolSeed(f, "a.7z", `7z a -m0=PPMd "$A" a.txt b.bin >/dev/null`, "7z"),
		toolSeed(f, "a.7z", `7z a -pinfected -mhe=on "$A" a.txt b.bin >/dev/null`, "7z"),
	)
	f.Fuzz(fuzzExtract)
}

func FuzzRAR(f *testing.F) {
	files := []rarFile{{"a.txt", []byte("hello"), corpusMTime}, {"b.bin", randomBytes(2000, 1), corpusMTime}}
	addSeeds(f, rar5Stored(files), rar5(files, "infected"))
	f.Fuzz(fuzzExtract)
}
