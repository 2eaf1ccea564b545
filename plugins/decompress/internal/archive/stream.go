package archive

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"io"
	"path"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// maxZstdWindow bounds the zstd window (and so the decoder's memory): the
// zstd command line refuses larger windows by default too (128 MiB,
// --long=27) unless told otherwise.
const maxZstdWindow = 128 << 20

func newZstd(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(maxZstdWindow))
}

// streamSuffixes are the file name endings of each single-stream format
// and what replaces them: the member of a stream that stores no name is
// the archive's name without its suffix ("a.txt.gz" is "a.txt", "b.tgz"
// is "b.tar", "c" stays "c"), as gzip -d and 7z name it.
var streamSuffixes = map[Format][][2]string{
	Gzip:  {{".tgz", ".tar"}, {".taz", ".tar"}, {".gz", ""}, {".gzip", ""}, {".z", ""}},
	Bzip2: {{".tbz2", ".tar"}, {".tbz", ".tar"}, {".tb2", ".tar"}, {".bz2", ""}, {".bzip2", ""}, {".bz", ""}},
	XZ:    {{".txz", ".tar"}, {".xz", ""}},
	Zstd:  {{".tzst", ".tar"}, {".zst", ""}, {".zstd", ""}},
}

func stripSuffix(name string, f Format) string {
	lower := strings.ToLower(name)
	for _, s := range streamSuffixes[f] {
		if strings.HasSuffix(lower, s[0]) && len(name) > len(s[0]) {
			return name[:len(name)-len(s[0])] + s[1]
		}
	}
	return name
}

// stream extracts a gzip, bzip2, xz or zstd stream: a tar inside it is
// read member by member, anything else is one member.
func (x *extractor) stream(data []byte, f Format) {
	// The decoders read a *bytes.Reader directly (fast paths), and its
	// position counts the compressed bytes consumed.
	counter := bytes.NewReader(data)
	var dec io.Reader
	var closeDec func()
	headerName, modified := "", time.Time{}
	switch f {
	case Gzip:
		gr, err := gzip.NewReader(counter)
		if err != nil {
			x.problem("%s", named("gzip", err))
			return
		}
		// The header's name is the original file name (gzip stores it by
		// default, gunzip -N restores it).
		headerName, modified = gr.Name, gr.ModTime
		dec, closeDec = gr, func() { gr.Close() }
	case Bzip2:
		dec, closeDec = bzip2.NewReader(counter), func() {}
	case XZ:
		xr, err := xz.ReaderConfig{DictCap: 1 << 20}.NewReader(counter)
		if err != nil {
			x.problem("xz: %v", err)
			return
		}
		dec, closeDec = xr, func() {}
	case Zstd:
		zr, err := newZstd(counter)
		if err != nil {
			x.problem("zstd: %v", err)
			return
		}
		dec, closeDec = zr, zr.Close
	}
	defer closeDec()
	compressed := func() int64 { return counter.Size() - int64(counter.Len()) }

	// Peek at the first tar block to choose between tar and one member.
	br := bufio.NewReaderSize(dec, 64<<10)
	first, _ := br.Peek(512)
	if isTarHeader(first) {
		x.res.Format, x.res.Compression = Tar, f
		x.tar(br, nil, compressed)
		return
	}
	name := headerName
	if name == "" && x.opts.Name != "" {
		name = stripSuffix(path.Base(x.opts.Name), f)
	}
	m := Member{Name: name, Size: -1, CompressedSize: int64(len(data)), Modified: modified}
	if !x.admit(name) {
		return
	}
	x.record(m, br, compressed)
}

// named is err's text prefixed by the format's name, unless the library's
// error already starts with it ("zip: not a valid zip file").
func named(format string, err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, format+":") {
		return msg
	}
	return format + ": " + err.Error()
}
