package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestDetect(t *testing.T) {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	tw.WriteHeader(&tar.Header{Name: "a", Size: 0, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR})
	tw.Close()
	v7 := bytes.Clone(tarBuf.Bytes())
	copy(v7[257:265], make([]byte, 8)) // no "ustar" magic: checksum only
	fixChecksum(v7)
	cases := []struct {
		data []byte
		want Format
	}{
		{[]byte("PK\x03\x04rest"), Zip},
		{[]byte("PK\x05\x06" + strings.Repeat("\x00", 18)), Zip},
		{[]byte("\x1f\x8b\x08"), Gzip},
		{[]byte("BZh9"), Bzip2},
		{[]byte("BZh0"), ""},
		{[]byte("\xfd7zXZ\x00\x00"), XZ},
		{[]byte("\x28\xb5\x2f\xfd"), Zstd},
		{[]byte("7z\xbc\xaf\x27\x1c\x00\x04"), SevenZip},
		{[]byte("Rar!\x1a\x07\x00"), RAR},
		{[]byte("Rar!\x1a\x07\x01\x00"), RAR},
		{[]byte("MSCF\x00\x00\x00\x00"), CAB},
		{[]byte("!<arch>\ndebian-binary   "), AR},
		{[]byte("070701000"), CPIO},
		{[]byte("\xed\xab\xee\xdb\x03\x00"), RPM},
		{append(make([]byte, 0x8001), "CD001\x01"...), ISO},
		{[]byte("\x60\xea\x2a\x00\x22\x0b\x01\x02"), ARJ},
		{[]byte("\x1f\x00-lh5-\x00"), LZH},
		{tarBuf.Bytes(), Tar},
		{v7, Tar},
		{make([]byte, 1024), ""}, // zeros: no checksum field
		{[]byte("MZ\x90\x00"), ""},
		{nil, ""},
	}
	for _, c := range cases {
		if got := Detect(c.data); got != c.want {
			t.Errorf("Detect(%q) = %q, want %q", head(c.data, 8), got, c.want)
		}
	}
}

func fixChecksum(block []byte) {
	copy(block[148:156], "        ")
	sum := 0
	for _, c := range block[:512] {
		sum += int(c)
	}
	copy(block[148:156], []byte(strings.Repeat("0", 6-len(itoa8(sum)))+itoa8(sum)+"\x00 "))
}

func itoa8(n int) string {
	if n == 0 {
		return "0"
	}
	var s []byte
	for ; n > 0; n /= 8 {
		s = append([]byte{byte('0' + n%8)}, s...)
	}
	return string(s)
}

func TestStripSuffix(t *testing.T) {
	cases := []struct {
		name string
		f    Format
		want string
	}{
		{"a.txt.gz", Gzip, "a.txt"},
		{"logs.TGZ", Gzip, "logs.tar"},
		{"x.tar.bz2", Bzip2, "x.tar"},
		{"x.tbz2", Bzip2, "x.tar"},
		{"y.txz", XZ, "y.tar"},
		{"z.zst", Zstd, "z"},
		{"noext", Gzip, "noext"},
		{".gz", Gzip, ".gz"},
		{"a.gz", XZ, "a.gz"},
	}
	for _, c := range cases {
		if got := stripSuffix(c.name, c.f); got != c.want {
			t.Errorf("stripSuffix(%q, %s) = %q, want %q", c.name, c.f, got, c.want)
		}
	}
}

func TestParseSLT(t *testing.T) {
	out := []byte(`
7-Zip [64] 26.02 : Copyright (c) 1999-2026 Igor Pavlov : 2026-06-25

Listing archive: /tmp/x.cab

--
Path = /tmp/x.cab
Type = Cab
Physical Size = 100

----------
Path = dir
Folder = +
Size = 0
Attributes = D drwxr-xr-x

Path = dir/a b.txt
Folder = -
Size = 12
Packed Size = 
Modified = 2024-03-05 06:07:08.1234567
Attributes = A
Encrypted = -
`)
	got := parseSLT(out)
	if len(got) != 2 || !got[0].dir || got[1].dir {
		t.Fatalf("entries %+v", got)
	}
	e := got[1]
	if e.path != "dir/a b.txt" || e.size != 12 || e.packed != -1 || !e.modified.Equal(time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)) || e.encrypted {
		t.Errorf("entry %+v", e)
	}
}

// readMember stops a reader that never ends at maximum_size, and one that
// returns nothing forever with an error, whatever the decoder does.
func TestReadMemberBounds(t *testing.T) {
	x := &extractor{ctx: context.Background(), opts: Options{Limits: Limits{MemberSize: 5 << 20}}, res: &Result{}}
	_, err := x.readMember("endless", zeroReader{}, -1, nil)
	if err == nil || !strings.Contains(err.Error(), "maximum_size") {
		t.Errorf("endless reader: %v", err)
	}
	_, err = x.readMember("stuck", stuckReader{}, -1, nil)
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Errorf("stuck reader: %v", err)
	}
	got, err := x.readMember("one-byte-reads", iotest.OneByteReader(bytes.NewReader([]byte("abcdef"))), 3, nil)
	if err != nil || string(got) != "abcdef" {
		t.Errorf("one-byte reads: %q %v", got, err)
	}
	// A member larger than its first chunk is joined from several chunks.
	big := bytes.Repeat([]byte("0123456789"), 400_000)
	got, err = x.readMember("chunks", bytes.NewReader(big), 10, nil)
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("chunked member: %d bytes, %v", len(got), err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type stuckReader struct{}

func (stuckReader) Read(p []byte) (int, error) { return 0, nil }
