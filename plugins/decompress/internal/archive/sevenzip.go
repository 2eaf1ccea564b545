package archive

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"sync/atomic"

	"github.com/bodgit/sevenzip"
)

// 7z: github.com/bodgit/sevenzip reads the archive (LZMA, LZMA2, PPMd,
// BCJ/BCJ2 and the other filters, deflate, bzip2, zstd, brotli, lz4, and
// 7-Zip's AES-256 with its key derivation capped at 2^24 rounds). A 7z
// stores no compressed size per file (files share solid blocks), so
// CompressedSize is -1 and the ratio check measures the archive bytes read
// while the member was produced.

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func (x *extractor) sevenZip(data []byte) {
	ra := &countingReaderAt{r: bytes.NewReader(data)}
	size := int64(len(data))
	// Readers by password, opened when first needed; "" is no password.
	readers := map[string]*sevenzip.Reader{}
	open := func(pw string) (*sevenzip.Reader, error) {
		if r, ok := readers[pw]; ok {
			return r, nil
		}
		r, err := sevenzip.NewReaderWithPassword(ra, size, pw)
		if err == nil {
			readers[pw] = r
		}
		return r, err
	}
	zr, err := open("")
	headerPassword, headerEncrypted := "", false
	if err != nil {
		if !isEncryptedError(err) {
			x.problem("7z: %v", err)
			return
		}
		// Encrypted headers (7z -mhe=on): the listing itself needs the
		// password.
		headerEncrypted = true
		for _, pw := range x.passwordsToTry() {
			if zr, err = open(pw); err == nil {
				headerPassword = pw
				x.rememberPassword(pw)
				break
			}
		}
		if zr == nil {
			x.problem("7z: the archive's headers are encrypted, and none of the %d passwords opened them", len(x.opts.Passwords))
			return
		}
	}
	for i, f := range zr.File {
		if f.Mode().IsDir() || f.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if !x.admit(f.Name) {
			return
		}
		m := Member{Name: f.Name, Size: sizeOrUnknown(f.UncompressedSize), CompressedSize: -1, Modified: f.Modified}
		if headerEncrypted {
			m.Encrypted, m.Password, m.PasswordUsed = true, headerPassword, true
		}
		content, err := x.sevenZipMember(f, ra)
		if err != nil && !headerEncrypted && x.sevenZipEncrypted(open, ra, i, err) {
			m.Encrypted = true
			content, err = x.sevenZipWithPasswords(open, ra, i, &m)
		}
		x.finish(m, content, err)
		if x.stopped {
			return
		}
	}
}

// sevenZipEncrypted reports whether err, what reading member i without a
// password gave, means the member is encrypted. The library says so when
// the decoder fails on an encrypted folder. But no password is the empty
// password, which decrypts to noise that now and then decodes to a member
// of the declared size (about 1 in 100: an LZMA2 stream whose first byte
// says "uncompressed"), and then only the CRC fails. A folder that is not
// encrypted reads the same whatever the password, so the member is
// encrypted when another password reads it differently.
func (x *extractor) sevenZipEncrypted(open func(string) (*sevenzip.Reader, error), ra *countingReaderAt, i int, err error) bool {
	if isEncryptedError(err) {
		return true
	}
	var first *crcError
	if !errors.As(err, &first) {
		return false
	}
	zr, oerr := open(probePassword)
	if oerr != nil || i >= len(zr.File) {
		return false
	}
	_, perr := x.sevenZipMember(zr.File[i], ra)
	var probe *crcError
	return !errors.As(perr, &probe) || probe.sum != first.sum
}

// probePassword is the password sevenZipEncrypted reads a member with to
// tell an encrypted member from a damaged one; nobody's password.
const probePassword = "\x00stoq: is this member encrypted?"

// sevenZipWithPasswords reads member i of the archive opened with each
// password in turn.
func (x *extractor) sevenZipWithPasswords(open func(string) (*sevenzip.Reader, error), ra *countingReaderAt, i int, m *Member) ([]byte, error) {
	var lastErr error
	tried := 0
	for _, pw := range x.passwordsToTry() {
		if pw == "" {
			continue
		}
		tried++
		zr, err := open(pw)
		if err == nil && i < len(zr.File) {
			var content []byte
			content, err = x.sevenZipMember(zr.File[i], ra)
			var le *limitError
			if err == nil || errors.As(err, &le) {
				if err == nil {
					x.rememberPassword(pw)
					m.Password, m.PasswordUsed = pw, true
				}
				return content, err
			}
		}
		lastErr = err
	}
	if tried == 0 {
		return nil, errors.New("encrypted, and no passwords are configured")
	}
	return nil, x.noPassword(lastErr)
}

// sevenZipMember reads one member and checks its CRC-32 (the library
// checks none), which tells a damaged member, or one decrypted with a wrong
// password, from the member; a CRC of zero is 7z's "none stored". ra counts
// the archive bytes read for the ratio check.
func (x *extractor) sevenZipMember(f *sevenzip.File, ra *countingReaderAt) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	start := ra.n.Load()
	content, err := x.readMember(f.Name, rc, sizeOrUnknown(f.UncompressedSize), func() int64 { return ra.n.Load() - start })
	if err != nil {
		return nil, err
	}
	if f.CRC32 != 0 {
		if sum := crc32.ChecksumIEEE(content); sum != f.CRC32 {
			return nil, &crcError{sum: sum, want: f.CRC32}
		}
	}
	return content, nil
}

func isEncryptedError(err error) bool {
	var re sevenzip.ReadError
	if errors.As(err, &re) && re.Encrypted {
		return true
	}
	var rp *sevenzip.ReadError
	return errors.As(err, &rp) && rp.Encrypted
}
