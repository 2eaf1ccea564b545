// Package pecarve is stoq's PE carving worker: it finds Portable Executables
// (Windows .exe, .dll, .sys) embedded anywhere in a payload and extracts
// each one as a new payload, as stoQ's pecarve plugin does.
//
// # What is carved
//
// Candidate headers are located with option pe_headers, a regular
// expression (default MZ|ZM, stoQ's). Each candidate is validated as a PE
// (see peSize for the exact rules: a DOS header, e_lfanew inside the
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
// Every valid candidate is carved independently, so a PE embedded inside
// another PE is carved as well as the outer one, in the order of their
// offsets. Option max_carved (default 100) bounds how many PEs one payload
// yields; when more valid PEs follow, the response carries an Error naming
// the offset of the first one left out.
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
// never match against one, is refused with an error. A pattern that needs
// the text before a match (^, \A, \b, \B) is run over the whole payload at
// once and keeps every match in memory; others resume after each match.
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
	// wholeText is set when headers has an assertion (^, \A, \b, \B) that
	// depends on the text before a match, so it must run over the whole
	// payload at once rather than from each resume point.
	wholeText bool
	maxCarved int
	log       *slog.Logger
}

// New reads options pe_headers and max_carved; the pattern is compiled once.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{log: log}
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
		p.wholeText = needsPrecedingText(parsed)
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

// Scan carves every valid PE out of the payload. It returns no results,
// only extracted payloads (and an Error when max_carved was reached).
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	content := payload.Content
	resp := &core.WorkerResponse{}
	examined := 0
	for offset := range p.candidates(content) {
		if examined++; examined%ctxCheckInterval == 0 {
			if err := ctx.Err(); err != nil {
				return resp, fmt.Errorf("stopped at offset %d of %d: %w", offset, len(content), err)
			}
		}
		size, ok := peSize(content[offset:])
		if !ok {
			continue
		}
		if len(resp.Extracted) == p.maxCarved {
			resp.Errors = append(resp.Errors, core.Errorf(
				"max_carved (%d) reached: the PE at offset %d and any after it were not carved", p.maxCarved, offset))
			break
		}
		meta := core.NewPayloadMeta()
		meta.ExtraData["offset"] = offset
		end := offset + size
		resp.Extracted = append(resp.Extracted, core.ExtractedPayload{
			Content:     content[offset:end:end],
			PayloadMeta: meta,
		})
	}
	return resp, nil
}

// candidates yields the offsets of candidate PE headers, in increasing
// order.
func (p *Plugin) candidates(content []byte) iter.Seq[int] {
	switch {
	case p.headers == nil:
		return mzOffsets(content)
	case p.wholeText:
		return matchStarts(p.headers, content)
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

// matchStarts yields the start of each non-overlapping match of re over
// the whole content, for patterns that need the text before a match.
func matchStarts(re *regexp.Regexp, content []byte) iter.Seq[int] {
	return func(yield func(int) bool) {
		for _, loc := range re.FindAllIndex(content, -1) {
			if loc[0] < len(content) && !yield(loc[0]) {
				return
			}
		}
	}
}

var _ core.Worker = (*Plugin)(nil)
