// Package archive takes archives and compressed streams apart in memory,
// within limits, for stoq's decompress worker.
//
// Extract recognises the format by its leading bytes (Detect), lists every
// regular file the archive holds and extracts each one's content, member by
// member, through a reader that counts every byte it produces: no member is
// read whole before its size is checked, and no byte ever touches the
// filesystem (the optional 7z fallback writes the archive, never its
// members, to a private temporary file). Names are kept exactly as the
// archive writes them, "../../x" and "/etc/passwd" included: they are data.
//
// # Limits
//
// A member stops being read as soon as it passes Limits.MemberSize (it is
// then not extracted, and the next member is tried), or once it has
// produced more than RatioFloor bytes at more than Limits.Ratio bytes per
// compressed byte (likewise). The whole archive stops when the bytes
// decompressed so far (kept or not) pass Limits.TotalSize, at the
// Limits.Members+1-th member, or when ctx ends. Every stop is a Problem
// naming the limit and the member; the members extracted before it are
// kept.
//
// # Compressed tar
//
// A gzip, bzip2, xz or zstd stream whose content starts with a tar header
// (.tgz, .tar.xz, ...) is read as one archive, in one pass: its members are
// the tar's members (Result.Format is Tar, Result.Compression the stream's
// format), so the tar itself is never held in memory, and each member is
// checked against the limits as it comes out of the decompressor. Any other
// stream is a single member.
package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
)

// Format names an archive or compression format as the decompress worker
// reports it in archive_type.
type Format string

// The formats Extract reads.
const (
	Zip      Format = "zip"
	Tar      Format = "tar"
	Gzip     Format = "gzip"
	Bzip2    Format = "bzip2"
	XZ       Format = "xz"
	Zstd     Format = "zstd"
	SevenZip Format = "7z"
	RAR      Format = "rar"
	CAB      Format = "cab"
	// Formats no Go library reads, handed to the 7z fallback.
	AR   Format = "ar"
	CPIO Format = "cpio"
	RPM  Format = "rpm"
	ISO  Format = "iso"
	ARJ  Format = "arj"
	LZH  Format = "lzh"
)

// RatioFloor is how many bytes a member must have produced before
// Limits.Ratio applies, so that small, highly compressible files (a page of
// spaces, an empty spreadsheet) pass.
const RatioFloor = 1 << 20

// Limits bound what one archive may cost. A zero or negative value
// disables that limit.
type Limits struct {
	// MemberSize is the most bytes one member may have.
	MemberSize int64
	// TotalSize is the most bytes decompressed from one archive, counting
	// the parts of members that were read and then dropped at a limit.
	TotalSize int64
	// Members is the most members extracted from one archive.
	Members int
	// Ratio is the most bytes a member may produce per compressed byte,
	// once it has produced more than RatioFloor bytes.
	Ratio float64
}

// Options configure Extract.
type Options struct {
	Limits
	// Passwords are tried in order on encrypted members; "" means no
	// password.
	Passwords []string
	// Name is the archive's own file name, if known: a single-stream
	// member without a stored name is named after it, less its suffix.
	Name string
	// SevenZip is the path of a 7z program used for the formats no Go
	// library reads (CAB); empty disables the fallback.
	SevenZip string
}

// Member is one regular file of an archive.
type Member struct {
	// Name is the path inside the archive, exactly as written in it.
	Name string
	// Size is the uncompressed size the archive declares, or the size
	// extracted when it declares none; -1 when neither is known.
	Size int64
	// CompressedSize is the member's size inside the archive, -1 when the
	// format does not store one per member (7z's solid blocks, the members
	// of a compressed tar).
	CompressedSize int64
	// Modified is the modification time the archive records (zero when
	// none).
	Modified time.Time
	// Encrypted reports that the member's content is encrypted.
	Encrypted bool
	// Password is the password that opened the member (valid when
	// PasswordUsed).
	Password     string
	PasswordUsed bool
	// Extracted reports that Content holds the member's whole content.
	Extracted bool
	Content   []byte
}

// Result is what Extract found.
type Result struct {
	// Format is the archive's format ("" when Detect did not recognise it).
	Format Format
	// Compression is the stream format around a tar (Gzip for a .tgz), or
	// "".
	Compression Format
	// Members lists the regular files met, in archive order, up to where
	// extraction stopped.
	Members []Member
	// Problems are the errors met, each naming the member it concerns.
	Problems []string
}

// Extract detects the format of data and extracts its members within
// opts.Limits. It never panics on hostile input (decoders' panics are
// recovered into a Problem) and returns the members read before any
// failure.
func Extract(ctx context.Context, data []byte, opts Options) (res *Result) {
	res = &Result{Format: Detect(data)}
	x := &extractor{ctx: ctx, opts: opts, res: res}
	defer func() {
		if r := recover(); r != nil {
			x.problem("decoder failure (a bug in a decoder, reported instead of crashing): %v", r)
		}
	}()
	switch res.Format {
	case Zip:
		x.zip(data)
	case Tar:
		x.tar(bytes.NewReader(data), data, nil)
	case Gzip, Bzip2, XZ, Zstd:
		x.stream(data, res.Format)
	case SevenZip:
		x.sevenZip(data)
	case RAR:
		x.rar(data)
	case CAB, AR, CPIO, RPM, ISO, ARJ, LZH:
		x.external(data)
	default:
		// A zip can carry anything in front of it (a self-extracting
		// executable, a polyglot): its directory is found from the end.
		if looksLikeZipFromEnd(data) {
			res.Format = Zip
			x.zip(data)
			return res
		}
		x.problem("not an archive or compressed stream decompress can read (first bytes %q)", head(data, 8))
	}
	return res
}

func head(b []byte, n int) []byte { return b[:min(len(b), n)] }

// Detect names the format of data from its leading bytes, or returns "".
func Detect(data []byte) Format {
	switch {
	case hasPrefix(data, "PK\x03\x04"), hasPrefix(data, "PK\x05\x06"), hasPrefix(data, "PK\x07\x08PK\x03\x04"):
		return Zip
	case hasPrefix(data, "\x1f\x8b"):
		return Gzip
	case len(data) >= 4 && hasPrefix(data, "BZh") && data[3] >= '1' && data[3] <= '9':
		return Bzip2
	case hasPrefix(data, "\xfd7zXZ\x00"):
		return XZ
	case hasPrefix(data, "\x28\xb5\x2f\xfd"):
		return Zstd
	case hasPrefix(data, "7z\xbc\xaf\x27\x1c"):
		return SevenZip
	case hasPrefix(data, "Rar!\x1a\x07\x00"), hasPrefix(data, "Rar!\x1a\x07\x01\x00"):
		return RAR
	case hasPrefix(data, "MSCF\x00\x00\x00\x00"):
		return CAB
	case isTarHeader(data):
		return Tar
	case hasPrefix(data, "!<arch>\n"):
		return AR // Debian packages, static libraries
	case hasPrefix(data, "070701"), hasPrefix(data, "070702"), hasPrefix(data, "070707"), hasPrefix(data, "\xc7\x71"), hasPrefix(data, "\x71\xc7"):
		return CPIO
	case hasPrefix(data, "\xed\xab\xee\xdb"):
		return RPM
	case len(data) > 0x8006 && string(data[0x8001:0x8006]) == "CD001":
		return ISO
	case hasPrefix(data, "\x60\xea") && len(data) >= 8:
		return ARJ
	case len(data) >= 7 && data[2] == '-' && data[3] == 'l' && (data[4] == 'h' || data[4] == 'z') && data[6] == '-':
		return LZH
	}
	return ""
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// extractor holds the state of one Extract call.
type extractor struct {
	ctx  context.Context
	opts Options
	res  *Result
	// produced counts every byte decompressed so far, for Limits.TotalSize.
	produced int64
	// stopped is set when an archive-wide limit was reached.
	stopped bool
	// lastPassword is the password that last opened a member, tried first
	// on the next one.
	lastPassword     string
	lastPasswordUsed bool
}

func (x *extractor) problem(format string, args ...any) {
	x.res.Problems = append(x.res.Problems, fmt.Sprintf(format, args...))
}

// admit is called before a member is read: it returns false, and records
// why, when the archive must stop (max_members reached, deadline passed).
func (x *extractor) admit(name string) bool {
	if x.stopped {
		return false
	}
	if err := x.ctx.Err(); err != nil {
		x.stop("stopped before member %q: %v", name, err)
		return false
	}
	if n := x.opts.Members; n > 0 && len(x.res.Members) >= n {
		x.stop("max_members (%d) reached: member %q and any after it were not extracted", n, name)
		return false
	}
	return true
}

func (x *extractor) stop(format string, args ...any) {
	x.stopped = true
	x.problem(format, args...)
}

// passwordsToTry lists the passwords to try on an encrypted member: the one
// that opened the previous member first, then the configured ones.
func (x *extractor) passwordsToTry() []string {
	if !x.lastPasswordUsed {
		return x.opts.Passwords
	}
	out := []string{x.lastPassword}
	for _, p := range x.opts.Passwords {
		if p != x.lastPassword {
			out = append(out, p)
		}
	}
	return out
}

// noPassword is the error of an encrypted member no password opened.
func (x *extractor) noPassword(last error) error {
	if len(x.opts.Passwords) == 0 {
		return errors.New("encrypted, and no passwords are configured")
	}
	if last == nil {
		return fmt.Errorf("encrypted, and none of the %d passwords opened it", len(x.opts.Passwords))
	}
	return fmt.Errorf("encrypted, and none of the %d passwords opened it (last failure: %v)", len(x.opts.Passwords), last)
}

func (x *extractor) rememberPassword(p string) { x.lastPassword, x.lastPasswordUsed = p, true }

// limitError is returned by readMember when a limit stopped the member.
type limitError struct {
	// archiveWide is set for limits that stop the whole archive: finish,
	// where every member's outcome goes, stops the extraction then.
	archiveWide bool
	msg         string
}

func (e *limitError) Error() string { return e.msg }

// readChunk is how much readMember asks a decoder for at a time.
const readChunk = 64 << 10

// readMember reads one member's content from r, enforcing the limits.
// declared is the size the archive declares (-1 unknown), used only to
// size the first buffer;
// compressed reports how many compressed bytes the member has consumed so
// far (nil when unknown: no ratio check). It returns the content, a
// *limitError when a limit stopped it, or the decoder's error.
//
// Memory: content accumulates in chunks that are never copied while the
// member is read, so a member stopped at a limit has cost at most the
// limit; an honest declared size is allocated at once, and a member that
// needed several chunks is joined into one buffer when it is complete.
func (x *extractor) readMember(name string, r io.Reader, declared int64, compressed func() int64) ([]byte, error) {
	lim := x.opts.Limits
	// bound is one byte past the most this member may hold.
	bound := int64(math.MaxInt64)
	if lim.MemberSize > 0 {
		bound = lim.MemberSize + 1
	}
	if lim.TotalSize > 0 {
		bound = min(bound, max(lim.TotalSize-x.produced, 0)+1)
	}
	first := int64(readChunk)
	if declared >= 0 {
		// Trust the declared size up to a few MiB: a header may lie.
		first = min(declared+1, bound, firstChunkTrust)
	}
	var chunks [][]byte
	cur := make([]byte, 0, max(first, 512))
	size := int64(0)
	zeroReads := 0
	for {
		if size > 0 && size%(16*readChunk) == 0 {
			if err := x.ctx.Err(); err != nil {
				return nil, &limitError{archiveWide: true, msg: fmt.Sprintf("stopped while extracting member %q: %v", name, err)}
			}
		}
		if len(cur) == cap(cur) {
			chunks = append(chunks, cur)
			next := min(max(size, readChunk), maxChunk, max(bound-size, readChunk))
			cur = make([]byte, 0, next)
		}
		want := min(cap(cur)-len(cur), readChunk)
		n, err := r.Read(cur[len(cur) : len(cur)+want])
		if n < 0 || n > want {
			return nil, fmt.Errorf("decoder returned %d bytes for a %d-byte read", n, want)
		}
		cur = cur[:len(cur)+n]
		x.produced += int64(n)
		size += int64(n)
		if lim.MemberSize > 0 && size > lim.MemberSize {
			return nil, &limitError{msg: fmt.Sprintf("member %q: maximum_size (%d bytes) exceeded: not extracted", name, lim.MemberSize)}
		}
		if lim.TotalSize > 0 && x.produced > lim.TotalSize {
			return nil, &limitError{archiveWide: true, msg: fmt.Sprintf(
				"max_total_size (%d bytes decompressed from this archive) reached while extracting member %q: it and any member after it were not extracted",
				lim.TotalSize, name)}
		}
		if lim.Ratio > 0 && size > RatioFloor && compressed != nil {
			if c := compressed(); float64(size) > lim.Ratio*float64(max(c, 1)) {
				return nil, &limitError{msg: fmt.Sprintf(
					"member %q: max_ratio (%g) exceeded: %d bytes out of %d compressed bytes: not extracted", name, lim.Ratio, size, c)}
			}
		}
		if err == io.EOF {
			if len(chunks) == 0 {
				return trim(cur), nil
			}
			out := make([]byte, 0, size)
			for _, c := range chunks {
				out = append(out, c...)
			}
			return append(out, cur...), nil
		}
		if err != nil {
			return nil, err
		}
		if n > 0 {
			zeroReads = 0
		} else if zeroReads++; zeroReads > 100 {
			return nil, errors.New("decoder made no progress")
		}
	}
}

// crcError is a member whose content does not have the CRC-32 the archive
// stores for it.
type crcError struct{ sum, want uint32 }

func (e *crcError) Error() string {
	return fmt.Sprintf("CRC-32 %08x, the archive says %08x", e.sum, e.want)
}

// firstChunkTrust is how much of a declared size readMember allocates
// before any byte has arrived; maxChunk the largest chunk it allocates
// afterwards.
const (
	firstChunkTrust = 8 << 20
	maxChunk        = 64 << 20
)

// trim returns buf, copied to a right-sized array when most of its
// capacity is unused (a header that declared far more than it held must
// not pin a large buffer for the rest of the scan).
func trim(buf []byte) []byte {
	if cap(buf)-len(buf) > len(buf)/8+4096 {
		return slices.Clone(buf)
	}
	return buf[:len(buf):len(buf)]
}

// record appends m to the result after reading its content from r: on
// success m is extracted; a limit or decoder error is recorded as a
// Problem. It reports whether the archive may go on.
func (x *extractor) record(m Member, r io.Reader, compressed func() int64) bool {
	content, err := x.readMember(m.Name, r, m.Size, compressed)
	x.finish(m, content, err)
	return !x.stopped
}

// finish appends m with the outcome of reading it.
func (x *extractor) finish(m Member, content []byte, err error) {
	var le *limitError
	switch {
	case errors.As(err, &le):
		x.problem("%s", le.msg)
		if le.archiveWide {
			x.stopped = true
		}
	case err != nil:
		x.problem("member %q: %v", m.Name, err)
	default:
		m.Content, m.Extracted = content, true
		if m.Size < 0 {
			m.Size = int64(len(content))
		}
	}
	x.res.Members = append(x.res.Members, m)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
