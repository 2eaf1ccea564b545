// Package pecarve is stoq's PE carving worker: it finds Portable Executables
// (Windows .exe, .dll, .sys) embedded anywhere in a payload and extracts
// each one as a new payload, as stoQ's pecarve plugin does.
//
// # What is carved
//
// Candidate headers are located with option pe_headers, a regular
// expression (default MZ|ZM, stoQ's). Each candidate is validated as a PE
// (see parseHeaders for the exact rules: a DOS header, e_lfanew inside the
// payload, the "PE\0\0" signature, a PE32 or PE32+ optional header and a
// section table inside the payload) and, when valid, extracted from its
// first byte up to the end of its last section's raw data, as pefile's
// trim() does in stoQ: anything appended after the sections (an overlay,
// a COFF symbol table, the rest of the payload) is left out. Beyond stoQ, a
// signed PE keeps its Authenticode certificate table (the security data
// directory, whose address is a file offset) when it lies within the
// payload, so the carved file is the signed file and its signature still
// verifies. A PE whose sections run past the end of the payload (a
// truncated file) is carved up to the end of the payload.
//
// A PE embedded inside another PE (in a section's data, a dropper's
// payload) is carved as well as the outer one, in the order of their
// offsets. Candidates whose headers overlap are not all PEs, though: K DOS
// headers pointing at one NT header, or an "MZ" inside another candidate's
// headers, would otherwise give K overlapping, distinct carves of one PE
// (issue 14's amplification). A run of valid candidates in which each one
// starts inside the headers of the one before it (its DOS header, NT headers
// and section table) is a chain, and only the first and the last of a chain
// are carved: a DOS header planted in front of a real PE and pointing at its
// NT header cannot hide it (the PE is the last of the chain), nor can one
// planted in its DOS stub (it is the first). The section table is walked
// only for PEs that are carved, so a chain costs the same whatever its
// members declare.
//
// A payload this plugin carved itself (pecarve is in its extracted_by, as
// when the yara dispatcher sends a carved PE back to pecarve) is not
// carved again: the scan that carved it examined every candidate inside it,
// so carving it again would find the same PEs or, for those that run past
// its end, the same PEs cut short, new payloads that would come back in turn
// round after round. Option max_carved (default 100) bounds how many PEs
// one payload yields; when more valid PEs follow, the response carries an
// Error naming the offset of the first one left out. Together these bound a
// scan's carved payloads by max_carved for each payload that did not come
// from pecarve.
//
// Each extracted payload's extra_data is {"offset": N}, the offset of the
// PE in the scanned payload. Like stoQ's, the worker returns no results of
// its own (nothing appears under workers.pecarve).
//
// # The pe_headers option
//
// With the default pattern, candidates are found with bytes.Index, not
// with the regular expression, and every occurrence of "MZ" is a candidate
// ("ZM" never starts a valid PE, so it is not searched for). This also
// finds a PE that immediately follows a 'Z' byte, which stoQ's
// non-overlapping regex scan skips (in "ZMZ" it matches "ZM" and resumes
// after it). Other patterns use Go's regexp (RE2 syntax, linear time); a
// candidate is the start of each non-overlapping match. Go's regexp reads
// the payload as UTF-8: a byte of 0x80 or more is seen as U+FFFD, so a
// pattern must be written with ASCII characters (\x4d\x5a works, and . or
// [^Z] match any byte); a pattern asking for a character in U+0080..U+00FF
// (\x90, [\x80-\xff]), which stoQ would read as a byte but Go's regexp can
// never match against one, is refused with an error. The search resumes
// after each match, so memory stays the same however many matches there
// are; a pattern that needs the text before a match (^, \A, \b, \B) resumes
// with the byte before the resume point as context, and finds exactly the
// matches of one search over the whole payload.
//
// # Memory
//
// Extracted content is a subslice of the payload, never a copy (payload
// content is read-only by contract, DESIGN.md): carving a hundred PEs out of
// a large payload costs no extra memory. The subslice's capacity is capped
// at its length, so appending to it cannot overwrite the payload.
package pecarve

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"iter"
	"log/slog"
	"regexp"
	"regexp/syntax"
	"slices"
	"unicode/utf8"

	"github.com/stoq-go/stoq/core/v3"
)

//go:embed pecarve.stoq
var manifest []byte

func init() { core.Register("pecarve", manifest, New) }

// defaultPEHeaders is stoQ's default for option pe_headers.
const defaultPEHeaders = "MZ|ZM"

// defaultMaxCarved is the default for option max_carved.
const defaultMaxCarved = 100

// ctxCheckInterval is how many candidates are examined between checks of
// the scan's deadline: a payload full of "MZ" must still stop in time.
const ctxCheckInterval = 4096

// Plugin is the PE carving worker.
type Plugin struct {
	// headers locates candidates; nil means the bytes.Index fast path for
	// the default pattern.
	headers *regexp.Regexp
	// afterByte is set when headers has an assertion (^, \A, \b, \B) that
	// depends on the text before a match, so a search resumed after a match
	// must know the byte before it: it is headers behind one byte of that
	// context (see contextMatchStarts).
	afterByte *regexp.Regexp
	maxCarved int
	name      string // the plugin's name, as extracted_by records it
	log       *slog.Logger
}

// New reads options pe_headers and max_carved; the pattern is compiled once.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{name: cfg.Name(), log: log}
	pattern := cfg.String("pe_headers", defaultPEHeaders)
	if pattern == "" {
		return nil, cfg.OptionError("pe_headers", "want a regular expression locating PE headers, such as MZ|ZM")
	}
	parsed, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, cfg.OptionError("pe_headers", "not a valid regular expression (Go RE2 syntax): "+err.Error())
	}
	if r, found := latin1Rune(parsed); found {
		return nil, cfg.OptionError("pe_headers", fmt.Sprintf(
			"%U cannot match the byte %#02x: Go's regexp reads the payload as UTF-8, where bytes of 0x80 and more are U+FFFD; write the pattern in ASCII (use . for any byte)", r, r))
	}
	if !isDefaultPattern(parsed) {
		if p.headers, err = regexp.Compile(pattern); err != nil {
			return nil, cfg.OptionError("pe_headers", "not a valid regular expression (Go RE2 syntax): "+err.Error())
		}
		if needsPrecedingText(parsed) {
			if p.afterByte, err = regexp.Compile(afterBytePattern(pattern)); err != nil {
				return nil, cfg.OptionError("pe_headers", "cannot be searched from a given offset: "+err.Error())
			}
		}
	}
	if p.maxCarved, err = cfg.Int("max_carved", defaultMaxCarved); err != nil {
		return nil, err
	}
	if p.maxCarved < 1 {
		return nil, cfg.OptionError("max_carved", "want a positive number of PEs to carve per payload")
	}
	log.Debug("pecarve configured", "pe_headers", pattern, "fast_path", p.headers == nil, "max_carved", p.maxCarved)
	return p, nil
}

// isDefaultPattern reports whether re finds the same valid PEs as stoQ's
// MZ|ZM (or MZ alone, however spelled: \x4d\x5a works too), so that the
// bytes.Index fast path can replace it.
func isDefaultPattern(re *syntax.Regexp) bool {
	s := re.Simplify().String()
	for _, alt := range []string{"MZ|ZM", "ZM|MZ", "MZ"} {
		want, err := syntax.Parse(alt, syntax.Perl)
		if err == nil && want.Simplify().String() == s {
			return true
		}
	}
	return false
}

// latin1Rune finds a character in U+0080..U+00FF that re requires (a
// literal, or a class that does not also accept U+FFFD). Written as \x90
// it means the byte 0x90 to whoever wrote it (stoQ's patterns are bytes),
// but it can never match that byte in Go, so it is refused.
func latin1Rune(re *syntax.Regexp) (rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if r >= 0x80 && r <= 0xff {
				return r, true
			}
		}
	case syntax.OpCharClass:
		var latin1 rune = -1
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo <= utf8.RuneError && utf8.RuneError <= hi {
				return 0, false
			}
			if latin1 < 0 && lo <= 0xff && hi >= 0x80 {
				latin1 = max(lo, 0x80)
			}
		}
		if latin1 >= 0 {
			return latin1, true
		}
	}
	for _, sub := range re.Sub {
		if r, found := latin1Rune(sub); found {
			return r, true
		}
	}
	return 0, false
}

// needsPrecedingText reports whether re contains an assertion about what
// comes before a position (start of text or line, word boundaries).
func needsPrecedingText(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, sub := range re.Sub {
		if needsPrecedingText(sub) {
			return true
		}
	}
	return false
}

// Scan carves the PEs of the payload (see the package documentation for
// which). It returns no results, only extracted payloads, and an Error when
// max_carved was reached.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	resp := &core.WorkerResponse{}
	if p.carvedByUs(payload) {
		p.log.Debug("not carving a PE this plugin carved: its scan examined every header inside it", "payload", payload.ID())
		return resp, nil
	}
	c := carving{content: payload.Content, maxCarved: p.maxCarved, resp: resp}
	// prev is the previous valid candidate. It was carved if it starts a
	// chain (it does not start inside the headers of the candidate before
	// it); otherwise it is carved once it turns out to end its chain (the
	// next valid candidate does not start inside its headers, or there is
	// none).
	var prev candidate
	havePrev, prevCarved := false, false
	examined := 0
	for offset := range p.candidates(c.content) {
		if examined++; examined%ctxCheckInterval == 0 {
			if err := ctx.Err(); err != nil {
				return resp, fmt.Errorf("stopped at offset %d of %d: %w", offset, len(c.content), err)
			}
		}
		h, ok := parseHeaders(c.content[offset:])
		if !ok {
			continue
		}
		cur := candidate{offset, h}
		inChain := havePrev && offset < prev.headersEnd()
		if havePrev && !inChain && !prevCarved && !c.carve(prev) {
			return resp, nil
		}
		prevCarved = !inChain
		if prevCarved && !c.carve(cur) {
			return resp, nil
		}
		prev, havePrev = cur, true
	}
	if havePrev && !prevCarved {
		c.carve(prev)
	}
	return resp, nil
}

// carvedByUs reports whether payload is a PE this plugin carved: the scan
// that carved it out of its parent examined every candidate inside it, so
// carving it again could only find the same PEs, or the same PEs cut short
// at its end (distinct payloads, each carved again in the next round: the
// amplification of issue 14).
func (p *Plugin) carvedByUs(payload *core.Payload) bool {
	return payload.Results != nil && slices.Contains(payload.Results.ExtractedBy, p.name)
}

// candidate is a valid PE header at an offset of the payload.
type candidate struct {
	offset int
	peHeaders
}

// headersEnd is the payload offset where the candidate's headers end.
func (c candidate) headersEnd() int { return c.offset + int(c.peHeaders.headersEnd()) }

// carving collects the carved PEs of one scan.
type carving struct {
	content   []byte
	maxCarved int
	resp      *core.WorkerResponse
}

// carve extracts the PE at c, or reports that max_carved was reached and
// returns false.
func (cv *carving) carve(c candidate) bool {
	if len(cv.resp.Extracted) == cv.maxCarved {
		cv.resp.Errors = append(cv.resp.Errors, core.Errorf(
			"max_carved (%d) reached: the PE at offset %d and any after it were not carved", cv.maxCarved, c.offset))
		return false
	}
	meta := core.NewPayloadMeta()
	meta.ExtraData["offset"] = c.offset
	end := c.offset + c.size(cv.content[c.offset:])
	cv.resp.Extracted = append(cv.resp.Extracted, core.ExtractedPayload{
		Content:     cv.content[c.offset:end:end],
		PayloadMeta: meta,
	})
	return true
}

// candidates yields the offsets of candidate PE headers, in increasing
// order.
func (p *Plugin) candidates(content []byte) iter.Seq[int] {
	switch {
	case p.headers == nil:
		return mzOffsets(content)
	case p.afterByte != nil:
		return contextMatchStarts(p.headers, p.afterByte, content)
	default:
		return resumedMatchStarts(p.headers, content)
	}
}

var mz = []byte("MZ")

// mzOffsets yields every offset of "MZ" in content.
func mzOffsets(content []byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		for pos := 0; pos < len(content); {
			i := bytes.Index(content[pos:], mz)
			if i < 0 || !yield(pos+i) {
				return
			}
			pos += i + len(mz) // "MZ" cannot overlap itself
		}
	}
}

// resumedMatchStarts yields the start of each non-overlapping match of re,
// searching again from the end of the previous match: memory stays constant
// however many matches there are. Valid only for patterns that assert
// nothing about the text before a match.
func resumedMatchStarts(re *regexp.Regexp, content []byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		for pos := 0; pos <= len(content); {
			loc := re.FindIndex(content[pos:])
			if loc == nil || !yield(pos+loc[0]) {
				return
			}
			if loc[1] > loc[0] {
				pos += loc[1]
			} else {
				pos += loc[0] + 1 // an empty match: move on by one byte
			}
		}
	}
}

// afterBytePattern is pattern behind one character of context, captured
// as group 1: matched against content[pos-1:], it finds pattern's matches
// from pos on as a search of the whole content would, assertions about the
// text before them (^, \b, \B) included, since they only look at the
// character before a position, and \A cannot match past the start.
func afterBytePattern(pattern string) string { return `(?s:.)(` + pattern + `)` }

// contextMatchStarts yields the start of each match that re.FindAllIndex
// would return over content, in order, without holding the matches: each
// search resumes where the last one ended, with afterByte (re behind one
// character, afterBytePattern) run from the byte before, so assertions about
// the preceding text see it. Positions follow FindAllIndex exactly: after an
// empty match the search moves on by one UTF-8 character, and an empty match
// right where the previous match ended is skipped.
//
// The character afterByte's "." consumes is exactly content[pos-1]: pos is
// where a match ended or a character boundary, so that byte ends a
// character, and a byte that ends a multi-byte character does not start a
// valid one (it is read as one invalid byte, as Go's regexp reads it).
func contextMatchStarts(re, afterByte *regexp.Regexp, content []byte) iter.Seq[int] {
	find := func(pos int) (start, end int, ok bool) {
		if pos == 0 {
			loc := re.FindIndex(content)
			if loc == nil {
				return 0, 0, false
			}
			return loc[0], loc[1], true
		}
		loc := afterByte.FindSubmatchIndex(content[pos-1:])
		if loc == nil {
			return 0, 0, false
		}
		return pos - 1 + loc[2], pos - 1 + loc[3], true
	}
	return func(yield func(int) bool) {
		prevEnd := -1
		for pos := 0; pos <= len(content); {
			start, end, ok := find(pos)
			if !ok {
				return
			}
			accept := true
			if end == pos { // an empty match at pos
				accept = start != prevEnd
				if _, width := utf8.DecodeRune(content[pos:]); width > 0 {
					pos += width
				} else {
					pos++ // at the end of the content
				}
			} else {
				pos = end
			}
			prevEnd = end
			if accept && start < len(content) && !yield(start) {
				return
			}
		}
	}
}

var _ core.Worker = (*Plugin)(nil)
