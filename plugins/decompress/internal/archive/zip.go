package archive

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/flate"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
	"golang.org/x/text/encoding/charmap"
)

// Zip reading: archive/zip (standard library) parses the directory,
// zip64 included, and gives each member's data offset; the member's raw
// bytes are then a subslice of the payload, decrypted here (ZipCrypto and
// WinZip AES, zipcrypt.go) and decompressed by the method's decoder, with
// the CRC-32 (or the AES authentication code) checked at the end. Reading
// the raw bytes ourselves is what makes passwords possible: the standard
// library refuses encrypted members, and the Go zip forks that decrypt are
// not on the module proxy. A stored, unencrypted member is the payload's
// own bytes (no copy).

// Zip compression methods.
const (
	methodStore   = 0
	methodDeflate = 8
	methodDefl64  = 9
	methodBzip2   = 12
	methodLZMA    = 14
	methodZstd    = 93
	methodXZ      = 95
	methodPPMd    = 98
	methodAES     = 99
)

var methodNames = map[uint16]string{
	methodStore: "store", methodDeflate: "deflate", methodDefl64: "deflate64", methodBzip2: "bzip2",
	methodLZMA: "lzma", methodZstd: "zstd", methodXZ: "xz", methodPPMd: "ppmd", methodAES: "aes",
}

// zip flag bits.
const (
	flagEncrypted      = 0x1
	flagLZMAEOS        = 0x2
	flagDataDescriptor = 0x8
	flagStrongEncrypt  = 0x40
	flagUTF8           = 0x800
)

// errWrongPassword means a password failed its check value.
var errWrongPassword = errors.New("wrong password")

// looksLikeZipFromEnd reports whether data ends with a zip directory
// (an end-of-central-directory record within the last 64 KiB + 22 bytes).
func looksLikeZipFromEnd(data []byte) bool {
	tail := data[max(0, len(data)-(1<<16+22)):]
	i := bytes.LastIndex(tail, []byte("PK\x05\x06"))
	return i >= 0 && len(tail)-i >= 22
}

func (x *extractor) zip(data []byte) {
	var ra io.ReaderAt = bytes.NewReader(data)
	size := int64(len(data))
	if limit := directoryLimit(x.opts.Members); limit > 0 {
		if view, viewSize, declared := truncatedZipView(data, limit); view != nil {
			ra, size = view, viewSize
			x.problem("zip: the directory lists %d entries; only the first %d are read (max_members is %d)", declared, limit, x.opts.Members)
		}
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		x.problem("%s", named("zip", err))
		return
	}
	tmp := "" // the archive for 7z, written when a member needs it
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") || f.Mode().IsDir() || f.Mode()&fs.ModeSymlink != 0 {
			continue // directories, symbolic links: nothing to extract
		}
		// Anything else holds content, whatever mode it records: Info-ZIP
		// stores the mode of its input, a named pipe for `zip - -`.
		name := zipName(f)
		if !x.admit(name) {
			return
		}
		m := Member{
			Name:           name,
			Size:           sizeOrUnknown(f.UncompressedSize64),
			CompressedSize: sizeOrUnknown(f.CompressedSize64),
			Modified:       f.Modified,
			Encrypted:      f.Flags&flagEncrypted != 0,
		}
		raw, err := zipRaw(data, f)
		if err != nil {
			x.finish(m, nil, err)
			continue
		}
		if !m.Encrypted {
			content, err := x.zipMember(f, name, raw, nil)
			if errors.Is(err, errUnsupportedMethod) && x.opts.SevenZip != "" {
				content, err = x.zipMemberWith7z(data, f, m, &tmp)
			}
			x.finish(m, content, err)
			if x.stopped {
				return
			}
			continue
		}
		if f.Flags&flagStrongEncrypt != 0 {
			x.finish(m, nil, errors.New("PKWARE strong encryption is not supported"))
			continue
		}
		x.zipEncrypted(f, m, raw)
		if x.stopped {
			return
		}
	}
}

// zipEncrypted tries every password on an encrypted member.
func (x *extractor) zipEncrypted(f *zip.File, m Member, raw []byte) {
	var lastErr error
	for _, pw := range x.passwordsToTry() {
		content, err := x.zipMember(f, m.Name, raw, []byte(pw))
		var le *limitError
		if err == nil || errors.As(err, &le) {
			if err == nil {
				x.rememberPassword(pw)
				m.Password, m.PasswordUsed = pw, true
			}
			x.finish(m, content, err)
			return
		}
		lastErr = err
	}
	// noPassword says so when no password is configured.
	x.finish(m, nil, x.noPassword(lastErr))
}

// zipName is the member's name as written: UTF-8 when the archive says so
// or when it is valid UTF-8, otherwise code page 437, as the zip
// specification and Info-ZIP's unzip read it.
func zipName(f *zip.File) string {
	if f.Flags&flagUTF8 != 0 || utf8.ValidString(f.Name) {
		return f.Name
	}
	if s, err := charmap.CodePage437.NewDecoder().String(f.Name); err == nil {
		return s
	}
	return f.Name
}

func sizeOrUnknown(n uint64) int64 {
	if n > math.MaxInt64 {
		return -1
	}
	return int64(n)
}

// zipRaw returns the member's stored bytes, a subslice of data.
func zipRaw(data []byte, f *zip.File) ([]byte, error) {
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("local header: %w", err)
	}
	if off < 0 || off > int64(len(data)) || f.CompressedSize64 > uint64(int64(len(data))-off) {
		return nil, fmt.Errorf("its %d stored bytes at offset %d run past the end of the archive (%d bytes)", f.CompressedSize64, off, len(data))
	}
	end := off + int64(f.CompressedSize64)
	return data[off:end:end], nil
}

// zipMember decrypts (when password is not nil) and decompresses one
// member and checks its CRC-32 or authentication code. A wrong password
// is an error wrapping errWrongPassword, or a decoder or CRC error.
func (x *extractor) zipMember(f *zip.File, name string, raw []byte, password []byte) ([]byte, error) {
	// The decoders read a *bytes.Reader directly (klauspost's inflater has
	// a fast path for it), and its position counts the compressed bytes
	// consumed; a decrypting reader is counted by a wrapper.
	plain := bytes.NewReader(raw)
	var src io.Reader = plain
	consumed := func() int64 { return plain.Size() - int64(plain.Len()) }
	counter := &countingReader{}
	method := f.Method
	checkCRC := true
	var aes *aesReader
	if password != nil {
		if f.Method == methodAES {
			extra, err := parseAESExtra(f.Extra)
			if err != nil {
				return nil, err
			}
			if aes, err = newAESReader(raw, password, extra.strength); err != nil {
				return nil, err
			}
			// The reader counts consumed ciphertext for the ratio check.
			counter.r = aes
			src, consumed = counter, func() int64 { return counter.n }
			method = extra.method
			checkCRC = extra.version == 1 // AE-2 stores no CRC
		} else {
			check := byte(f.CRC32 >> 24)
			if f.Flags&flagDataDescriptor != 0 {
				check = byte(f.ModifiedTime >> 8)
			}
			zc, err := newZipCryptoReader(raw, password, check)
			if err != nil {
				return nil, err
			}
			counter.r = zc
			src, consumed = counter, func() int64 { return counter.n }
		}
	} else if f.Method == methodAES {
		return nil, errors.New("encrypted (AES) but not flagged as encrypted")
	}
	if method == methodStore && password == nil && f.CRC32 == crc32.ChecksumIEEE(raw) {
		// The payload's own bytes: limits still apply.
		if err := x.checkStored(name, int64(len(raw))); err != nil {
			return nil, err
		}
		return raw, nil
	}
	dec, closeDec, err := zipDecoder(method, src, f)
	if err != nil {
		return nil, err
	}
	defer closeDec()
	h := crc32.NewIEEE()
	content, err := x.readMember(name, io.TeeReader(dec, h), sizeOrUnknown(f.UncompressedSize64), consumed)
	if err != nil {
		return nil, err
	}
	if aes != nil {
		if err := aes.authenticate(); err != nil {
			return nil, err
		}
	}
	if checkCRC && h.Sum32() != f.CRC32 {
		return nil, &crcError{sum: h.Sum32(), want: f.CRC32}
	}
	if int64(len(content)) != sizeOrUnknown(f.UncompressedSize64) {
		return nil, fmt.Errorf("%d bytes extracted, the archive says %d", len(content), f.UncompressedSize64)
	}
	return content, nil
}

// checkStored applies the limits to a member taken as is from the payload.
func (x *extractor) checkStored(name string, size int64) error {
	lim := x.opts.Limits
	if lim.MemberSize > 0 && size > lim.MemberSize {
		x.produced += lim.MemberSize
		return &limitError{msg: fmt.Sprintf("member %q: maximum_size (%d bytes) exceeded: not extracted", name, lim.MemberSize)}
	}
	x.produced += size
	if lim.TotalSize > 0 && x.produced > lim.TotalSize {
		return &limitError{archiveWide: true, msg: fmt.Sprintf(
			"max_total_size (%d bytes decompressed from this archive) reached while extracting member %q: it and any member after it were not extracted",
			lim.TotalSize, name)}
	}
	return nil
}

// zipDecoder returns the decoder of a zip compression method.
func zipDecoder(method uint16, src io.Reader, f *zip.File) (io.Reader, func(), error) {
	nop := func() {}
	switch method {
	case methodStore:
		return src, nop, nil
	case methodDeflate:
		fr := flate.NewReader(src)
		return fr, func() { fr.Close() }, nil
	case methodBzip2:
		return bzip2.NewReader(src), nop, nil
	case methodLZMA:
		r, err := zipLZMA(src, f)
		return r, nop, err
	case methodZstd:
		zr, err := newZstd(src)
		if err != nil {
			return nil, nop, err
		}
		return zr, zr.Close, nil
	case methodXZ:
		xr, err := xz.ReaderConfig{DictCap: 1 << 20}.NewReader(src)
		return xr, nop, err
	}
	name := methodNames[method]
	if name == "" {
		name = "unknown"
	}
	return nil, nop, fmt.Errorf("compression method %d (%s): %w", method, name, errUnsupportedMethod)
}

// errUnsupportedMethod is a zip compression method no Go decoder reads
// (deflate64, PPMd, ...).
var errUnsupportedMethod = errors.New("not supported by the Go decoders")

// zipMemberWith7z extracts an unencrypted member whose method only 7z
// decodes, from the archive written once to a temporary file (*tmp), and
// checks its CRC-32.
func (x *extractor) zipMemberWith7z(data []byte, f *zip.File, m Member, tmp *string) ([]byte, error) {
	if *tmp == "" {
		path, _, err := writeTemp(data)
		if err != nil {
			return nil, err
		}
		*tmp = path
	}
	content, err := x.externalMember(*tmp, externalEntry{path: m.Name, size: m.Size, packed: m.CompressedSize})
	if err != nil {
		return nil, fmt.Errorf("method %d through 7z: %w", f.Method, err)
	}
	if sum := crc32.ChecksumIEEE(content); sum != f.CRC32 {
		return nil, &crcError{sum: sum, want: f.CRC32}
	}
	return content, nil
}

// maxLZMADictionary bounds the dictionary an LZMA header may ask for
// (7-Zip's -mx9 uses 64 MiB).
const maxLZMADictionary = 256 << 20

// zipLZMA reads a zip LZMA member: a 4-byte header (version, properties
// size), the 5 LZMA properties, then the raw stream. The classic .lzma
// header (properties, dictionary size, uncompressed size) is rebuilt for
// the lzma decoder.
func zipLZMA(src io.Reader, f *zip.File) (io.Reader, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(src, hdr[:]); err != nil {
		return nil, fmt.Errorf("lzma header: %w", err)
	}
	propSize := binary.LittleEndian.Uint16(hdr[2:])
	if propSize != 5 {
		return nil, fmt.Errorf("lzma properties of %d bytes, want 5", propSize)
	}
	var classic [13]byte
	if _, err := io.ReadFull(src, classic[:5]); err != nil {
		return nil, fmt.Errorf("lzma properties: %w", err)
	}
	size := f.UncompressedSize64
	if f.Flags&flagLZMAEOS != 0 {
		size = math.MaxUint64 // unknown: the stream ends with its marker
	}
	binary.LittleEndian.PutUint64(classic[5:], size)
	return lzma.ReaderConfig{DictCap: maxLZMADictionary}.NewReader(io.MultiReader(bytes.NewReader(classic[:]), src))
}
