package archive

import (
	"bytes"
	"errors"
	"io"

	"github.com/nwaples/rardecode/v2"
)

// RAR: github.com/nwaples/rardecode/v2 reads RAR 1.5 to 7 archives (all
// compression methods, solid archives, AES encryption of RAR 3 and 5,
// encrypted headers), single volume. The decoder's dictionary is capped at
// maxRARDictionary (RAR's own default is 32 MiB, its maximum for RAR 5
// 1 GiB).
const maxRARDictionary = 256 << 20

// rar reads the archive sequentially with one password at a time ("" is
// none). An encrypted member that the current password does not open makes
// the walk start again with the next untried password, from that member on
// (members already handled are skipped). Once every password has failed on
// a member, it is recorded as not extracted and the remaining encrypted
// members that fail are recorded the same way without further tries.
func (x *extractor) rar(data []byte) {
	w := rarWalk{pw: "", tried: map[string]bool{"": true}}
	for {
		stuck, done := x.rarPass(data, &w)
		if done || x.stopped {
			return
		}
		found := false
		for _, cand := range x.passwordsToTry() {
			if !w.tried[cand] {
				w.pw, w.tried[cand], found = cand, true, true
				break
			}
		}
		if found {
			continue
		}
		if stuck == nil {
			x.problem("rar: the archive's headers are encrypted, and none of the %d passwords opened them", len(x.opts.Passwords))
			return
		}
		x.finish(*stuck, nil, x.noPassword(nil))
		w.next++
		w.gaveUp = true
		w.tried = map[string]bool{w.pw: true}
	}
}

// rarWalk is the state of rar's passes over an archive.
type rarWalk struct {
	pw     string
	next   int // index of the first regular file not yet handled
	tried  map[string]bool
	gaveUp bool
}

func (x *extractor) openRAR(data []byte, pw string) (*rardecode.Reader, error) {
	opts := []rardecode.Option{rardecode.MaxDictionarySize(maxRARDictionary)}
	if pw != "" {
		opts = append(opts, rardecode.Password(pw))
	}
	return rardecode.NewReader(bytes.NewReader(data), opts...)
}

func needsPassword(err error) bool {
	return errors.Is(err, rardecode.ErrArchiveEncrypted) || errors.Is(err, rardecode.ErrBadPassword) ||
		errors.Is(err, rardecode.ErrArchivedFileEncrypted)
}

// rarPass walks the archive with w.pw from member w.next on. It returns
// done when the walk reached the end (or a limit, or a corrupt block), or
// else the member that needs another password (nil when the headers do).
func (x *extractor) rarPass(data []byte, w *rarWalk) (stuck *Member, done bool) {
	r, err := x.openRAR(data, w.pw)
	if err != nil {
		if needsPassword(err) && w.next == 0 {
			return nil, false
		}
		x.problem("rar: %v", err)
		return nil, true
	}
	for i := 0; ; {
		hdr, err := r.Next()
		if err == io.EOF {
			return nil, true
		}
		if err != nil {
			if needsPassword(err) && i == 0 && w.next == 0 {
				return nil, false
			}
			x.problem("rar: %v", err)
			return nil, true
		}
		if hdr.IsDir || hdr.LinkType != rardecode.LinkTypeNone {
			continue
		}
		if i < w.next {
			i++
			continue
		}
		if !x.admit(hdr.Name) {
			return nil, true
		}
		m := Member{
			Name:           hdr.Name,
			Size:           hdr.UnPackedSize,
			CompressedSize: hdr.PackedSize,
			Modified:       hdr.ModificationTime,
			Encrypted:      hdr.Encrypted || hdr.HeaderEncrypted,
		}
		if hdr.UnKnownSize {
			m.Size = -1
		}
		if m.Encrypted && w.pw != "" {
			m.Password, m.PasswordUsed = w.pw, true
		}
		packed := min(max(hdr.PackedSize, 0), int64(len(data)))
		content, err := x.readMember(m.Name, r, m.Size, func() int64 { return packed })
		var le *limitError
		if err != nil && m.Encrypted && !errors.As(err, &le) {
			if !w.gaveUp {
				m.Password, m.PasswordUsed = "", false
				return &m, false
			}
			err = x.noPassword(err)
		}
		if err == nil && m.Encrypted {
			x.rememberPassword(w.pw)
			w.gaveUp = false
		}
		if err != nil {
			m.Password, m.PasswordUsed = "", false
		}
		x.finish(m, content, err)
		i++
		w.next = i
		w.tried = map[string]bool{w.pw: true}
		if x.stopped {
			return nil, true
		}
	}
}
