package engine

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
)

// The per-request limits of the [core] settings, as the scan loop applies
// them (see addExtracted and refuseOversizedRoots):
//
//	max_payload_size     a payload larger than this is neither loaded nor scanned:
//	                     a root one stays in the response, unscanned, with an Error;
//	                     an extracted one is dropped
//	max_payloads         the request holds at most this many payloads, roots included
//	max_extracted_bytes  the content extracted in one request adds up to at most this
//
// Reaching max_payloads or max_extracted_bytes closes the request to
// extraction: everything extracted before stays and is scanned, everything
// extracted after is dropped without being hashed (so duplicates of
// payloads already there are dropped too, instead of extending their
// extracted_by). Each limit reached records one Error, once the rounds are
// over, saying what it dropped: how many payloads, how many bytes, and
// which plugins extracted them.

// limit names one of the limits an extracted payload can be dropped by.
type limit int

const (
	limitPayloadSize limit = iota
	limitPayloads
	limitExtractedBytes
	numLimits
)

// dropped is what one limit dropped in a request.
type dropped struct {
	payloads int
	bytes    int64
	largest  int64
	by       map[string]struct{} // the plugins that extracted them
}

func (d *dropped) add(p *core.Payload) {
	n := int64(len(p.Content))
	d.payloads++
	d.bytes += n
	d.largest = max(d.largest, n)
	if d.by == nil {
		d.by = map[string]struct{}{}
	}
	for _, name := range p.Results.ExtractedBy {
		d.by[name] = struct{}{}
	}
}

// requestLimits is the bookkeeping of the limits for one request.
type requestLimits struct {
	extractedBytes int64 // content of the extracted payloads kept
	// closedBy is the limit that closed the request to extraction, or
	// numLimits while it is open.
	closedBy limit
	dropped  [numLimits]dropped
}

// admit decides whether an extracted payload may join a request that holds
// held payloads: it returns false, counting the payload as dropped, when a
// limit refuses it. duplicate, called only when no limit stops the payload
// before it must be hashed, reports whether it is a duplicate (then it
// joins nothing but is not dropped either).
func (l *requestLimits) admit(s Settings, held int, p *core.Payload, duplicate func() bool) (add bool) {
	size := int64(len(p.Content))
	switch {
	case l.closedBy != numLimits:
		l.dropped[l.closedBy].add(p)
		return false
	case size > s.MaxPayloadSize:
		l.dropped[limitPayloadSize].add(p)
		return false
	case duplicate():
		return false
	case held >= s.MaxPayloads:
		l.closedBy = limitPayloads
	case l.extractedBytes+size > s.MaxExtractedBytes:
		l.closedBy = limitExtractedBytes
	default:
		l.extractedBytes += size
		return true
	}
	l.dropped[l.closedBy].add(p)
	return false
}

// errors returns one Error per limit that dropped something.
func (l *requestLimits) errors(s Settings) []core.Error {
	var out []core.Error
	for lim := range numLimits {
		d := l.dropped[lim]
		if d.payloads == 0 {
			continue
		}
		by := ""
		if len(d.by) > 0 {
			by = ", extracted by " + strings.Join(slices.Sorted(maps.Keys(d.by)), ", ")
		}
		var msg string
		switch lim {
		case limitPayloadSize:
			msg = fmt.Sprintf("max_payload_size (%d bytes) exceeded: %d extracted payload(s) of %d bytes in all (the largest %d bytes) dropped%s",
				s.MaxPayloadSize, d.payloads, d.bytes, d.largest, by)
		case limitPayloads:
			msg = fmt.Sprintf("max_payloads (%d) reached: %d more extracted payload(s) of %d bytes in all dropped%s",
				s.MaxPayloads, d.payloads, d.bytes, by)
		case limitExtractedBytes:
			msg = fmt.Sprintf("max_extracted_bytes (%d bytes) reached after %d bytes: %d more extracted payload(s) of %d bytes in all dropped%s",
				s.MaxExtractedBytes, l.extractedBytes, d.payloads, d.bytes, by)
		}
		out = append(out, core.Error{Message: msg})
	}
	return out
}

// refuseOversizedRoots keeps a root payload larger than max_payload_size
// out of every round and every archiver, with an Error; it stays in the
// response, so the response says what was not scanned.
func (s *Stoq) refuseOversizedRoots(st *scanState) {
	for _, p := range st.req.Payloads {
		if int64(len(p.Content)) <= s.settings.MaxPayloadSize {
			continue
		}
		p.Results.PayloadMeta.ShouldScan = false
		p.Results.PayloadMeta.ShouldArchive = false
		st.addError(core.Error{Message: fmt.Sprintf("max_payload_size (%d bytes) exceeded: payload of %d bytes not scanned", s.settings.MaxPayloadSize, len(p.Content)), PayloadID: p.ID()})
	}
}
