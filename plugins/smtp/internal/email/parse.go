// Package email reads RFC 5322 / MIME messages the way Python's email
// package reads them with email.message_from_bytes(data,
// policy=email.policy.default), so that stoq's smtp worker shows the
// headers, bodies, attachments and filenames that stoQ users (and their
// result consumers) know from Python, on hostile mail too, in bounded time
// and memory.
//
// It is written for this purpose from the behaviour of Python 3.11's
// feedparser, headerregistry, _header_value_parser and message modules,
// which the tests compare it with: the same lines are headers, the same
// boundaries split parts (outer boundaries end inner parts, a missing
// boundary leaves what was read), header values render to the same text,
// and the same parameters, filenames and charsets are found. It differs
// from Python only where this package says so (Part.Decoded,
// Part.Text, the limits of Options).
//
// The message is never copied: parts and their bodies are slices of the
// bytes given to Parse.
package email

import (
	"bytes"
	"fmt"
	"sort"
)

// Options bound the work one message may cost.
type Options struct {
	// MaxParts is how many parts (the message itself, every part of every
	// multipart) are read; the rest of a multipart past it is left unread.
	MaxParts int
	// MaxDepth is how deeply multiparts may nest; a deeper multipart is
	// read as a single part.
	MaxDepth int
}

// Header is one header field as it appears in the message.
type Header struct {
	// Name is the field name as written (Python keeps it, spaces before
	// the colon included).
	Name string
	// Raw is the value: the text after the colon without the white space
	// that starts it, continuation lines included, the final line break
	// removed.
	Raw []byte
}

type span struct{ start, end int }

// Part is the message or one of its parts.
type Part struct {
	Headers []Header
	// Children are the parts of a multipart. Python's is_multipart() is
	// IsMultipart.
	Children    []*Part
	IsMultipart bool
	// Index is the part's number in walk order (0 is the message).
	Index int
	// Depth is how many multiparts enclose the part.
	Depth int

	data        []byte
	body        []span
	defaultType string

	rendered []*Rendered // by header index, rendered when first asked for
}

// Message is a parsed message and what went wrong while reading it.
type Message struct {
	Root *Part
	// Parts is every part in walk order (Root first).
	Parts []*Part
	// Problems describe what could not be read as it should have been,
	// one line per kind of problem, with how many parts had it.
	Problems []string
}

// Problem kinds, counted per message.
const (
	probNoBoundary        = "multipart without a boundary parameter: read as one part"
	probNoStartBoundary   = "multipart whose boundary never starts a part: its text is read as one part"
	probNoCloseBoundary   = "multipart without its closing boundary (truncated?): parts read up to the end"
	probMissingSeparator  = "a line that is not a header where headers were expected: it starts the body"
	probContinuationFirst = "the first header line is a continuation line: ignored"
	probEndsInHeaders     = "ends inside its headers, without the blank line and body (truncated?)"
	probDepth             = "multipart nested deeper than max_depth: read as one part"
	probParts             = "more parts than max_parts: the rest of the multipart is not split"
)

type problem struct {
	count int
	first int
}

type parser struct {
	data     []byte
	pos      int
	pushback []span // lines given back, last one read first
	eof      []string
	opts     Options
	parts    []*Part
	last     *Part
	problems map[string]*problem
	stopped  bool // MaxParts reached
}

// Parse reads a message. It never fails: what cannot be read as MIME is
// kept as text and described in Message.Problems.
func Parse(data []byte, opts Options) *Message {
	if opts.MaxParts <= 0 {
		opts.MaxParts = 1 << 30
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 1 << 30
	}
	p := &parser{data: data, opts: opts, problems: map[string]*problem{}}
	root := p.newPart(0, "text/plain")
	p.parse(root)
	m := &Message{Root: root, Parts: p.parts}
	kinds := make([]string, 0, len(p.problems))
	for k := range p.problems {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		pr := p.problems[k]
		if pr.count == 1 {
			m.Problems = append(m.Problems, fmt.Sprintf("part %d: %s", pr.first, k))
		} else {
			m.Problems = append(m.Problems, fmt.Sprintf("%d parts (first: part %d): %s", pr.count, pr.first, k))
		}
	}
	return m
}

func (p *parser) note(kind string, part *Part) {
	if pr, ok := p.problems[kind]; ok {
		pr.count++
		return
	}
	p.problems[kind] = &problem{count: 1, first: part.Index}
}

func (p *parser) newPart(depth int, defaultType string) *Part {
	part := &Part{Index: len(p.parts), Depth: depth, data: p.data, defaultType: defaultType}
	p.parts = append(p.parts, part)
	p.last = part
	return part
}

// nextLine returns the next line with its line break (\r\n, \r or \n),
// ignoring the boundaries that end parts.
func (p *parser) nextLine() (span, bool) {
	if n := len(p.pushback); n > 0 {
		l := p.pushback[n-1]
		p.pushback = p.pushback[:n-1]
		return l, true
	}
	if p.pos >= len(p.data) {
		return span{}, false
	}
	start := p.pos
	rest := p.data[start:]
	end := len(rest)
	if i := bytes.IndexByte(rest, '\n'); i >= 0 {
		end = i + 1
	}
	if j := bytes.IndexByte(rest[:end], '\r'); j >= 0 {
		end = j + 1
		if j+1 < len(rest) && rest[j+1] == '\n' {
			end = j + 2
		}
	}
	p.pos = start + end
	return span{start, start + end}, true
}

// readLine is BufferedSubFile.readline: the next line, or false at the end
// of the data or at a line that matches the boundary of an enclosing
// multipart (that line is given back, for the multipart to see).
func (p *parser) readLine() (span, bool) {
	l, ok := p.nextLine()
	if !ok {
		return l, false
	}
	line := p.data[l.start:l.end]
	for _, sep := range p.eof {
		if _, ok := matchBoundary(line, sep); ok {
			p.pushback = append(p.pushback, l)
			return span{}, false
		}
	}
	return l, true
}

func (p *parser) unread(l span) { p.pushback = append(p.pushback, l) }

// matchBoundary is feedparser's boundaryre.match: the line is "--boundary",
// maybe "--" (closing), white space, a line break.
func matchBoundary(line []byte, sep string) (closing bool, ok bool) {
	if len(line) < len(sep) || line[0] != '-' || string(line[:len(sep)]) != sep {
		return false, false
	}
	rest := line[len(sep):]
	closing = bytes.HasPrefix(rest, []byte("--"))
	if closing {
		rest = rest[2:]
	}
	rest = bytes.TrimLeft(rest, " \t")
	switch string(rest) {
	case "", "\r\n", "\r", "\n":
		return closing, true
	}
	return false, false
}

// isHeaderLine is feedparser's headerRE: "From ", a (possibly empty) field
// name of printable ASCII followed by a colon, or a continuation line.
func isHeaderLine(line []byte) bool {
	if len(line) == 0 {
		return false
	}
	if line[0] == ' ' || line[0] == '\t' || bytes.HasPrefix(line, []byte("From ")) {
		return true
	}
	for _, c := range line {
		if c == ':' {
			return true
		}
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return false
}

func isBlankLine(line []byte) bool { return len(line) > 0 && (line[0] == '\r' || line[0] == '\n') }

// parse is FeedParser._parsegen for one part: its headers, then its body up
// to the end of the part.
func (p *parser) parse(part *Part) {
	var headerLines []span
	endedInHeaders := true
	for {
		l, ok := p.readLine()
		if !ok {
			break
		}
		line := p.data[l.start:l.end]
		if !isHeaderLine(line) {
			endedInHeaders = false
			if !isBlankLine(line) {
				p.note(probMissingSeparator, part)
				p.unread(l)
			}
			break
		}
		headerLines = append(headerLines, l)
	}
	if endedInHeaders && len(headerLines) > 0 {
		p.note(probEndsInHeaders, part)
	}
	p.parseHeaders(part, headerLines)

	if part.MainType() == "multipart" {
		p.parseMultipart(part)
		return
	}
	// Any other part, an attached message or a delivery status included,
	// is read to its end: Python parses a message/* part as a message of
	// its own, which reads every line up to the end of the part; the worker
	// hands its bytes to smtp again instead.
	part.body = p.readToEnd()
}

func (p *parser) readToEnd() []span {
	var body []span
	for {
		l, ok := p.readLine()
		if !ok {
			return body
		}
		body = appendSpan(body, l)
	}
}

// appendSpan adds line l to a body, merging it with the previous line when
// they are contiguous (the usual case: one span per body).
func appendSpan(body []span, l span) []span {
	if n := len(body); n > 0 && body[n-1].end == l.start {
		body[n-1].end = l.end
		return body
	}
	return append(body, l)
}

// parseHeaders is FeedParser._parse_headers with policy.default's
// header_source_parse.
func (p *parser) parseHeaders(part *Part, lines []span) {
	var cur []span
	flush := func() {
		if len(cur) > 0 {
			part.Headers = append(part.Headers, p.sourceHeader(cur))
			cur = nil
		}
	}
	for i, l := range lines {
		line := p.data[l.start:l.end]
		if line[0] == ' ' || line[0] == '\t' {
			if len(cur) == 0 {
				p.note(probContinuationFirst, part)
				continue
			}
			cur = append(cur, l)
			continue
		}
		flush()
		if bytes.HasPrefix(line, []byte("From ")) {
			switch {
			case i == 0:
				continue // the mbox envelope line
			case i == len(lines)-1:
				// The first line of the body, probably.
				p.unread(l)
				return
			default:
				continue // a misplaced envelope line, ignored
			}
		}
		if bytes.IndexByte(line, ':') == 0 {
			continue // no field name: ignored
		}
		cur = []span{l}
	}
	flush()
}

// sourceHeader is header_source_parse: name up to the first colon, value
// after it without leading spaces and tabs, continuation lines appended,
// trailing CR and LF removed.
func (p *parser) sourceHeader(lines []span) Header {
	first := p.data[lines[0].start:lines[0].end]
	colon := bytes.IndexByte(first, ':')
	name := string(first[:colon])
	value := bytes.TrimLeft(first[colon+1:], " \t")
	if len(lines) > 1 {
		joined := make([]byte, 0, len(value)+(lines[len(lines)-1].end-lines[1].start))
		joined = append(joined, value...)
		for _, l := range lines[1:] {
			joined = append(joined, p.data[l.start:l.end]...)
		}
		value = joined
	}
	value = bytes.TrimRight(value, "\r\n")
	return Header{Name: name, Raw: value[:len(value):len(value)]}
}

// parseMultipart reads the parts of a multipart, as the multipart branch
// of _parsegen.
func (p *parser) parseMultipart(part *Part) {
	boundary, ok := part.Boundary()
	if !ok {
		p.note(probNoBoundary, part)
		part.body = p.readToEnd()
		return
	}
	if part.Depth >= p.opts.MaxDepth {
		p.note(probDepth, part)
		part.body = p.readToEnd()
		return
	}
	sep := "--" + boundary
	childType := childDefaultType(part) // read once: a part's headers do not change while its children are read
	capturingPreamble := true
	var preamble []span
	closeSeen := false
	for {
		l, ok := p.readLine()
		if !ok {
			break
		}
		closing, isBoundary := matchBoundary(p.data[l.start:l.end], sep)
		if !isBoundary {
			preamble = appendSpan(preamble, l)
			continue
		}
		if closing {
			closeSeen = true
			break
		}
		if capturingPreamble {
			capturingPreamble = false
			p.unread(l)
			continue
		}
		// One or more boundary lines: the part starts after the last.
		for {
			l, ok := p.readLine()
			if !ok {
				break
			}
			if _, again := matchBoundary(p.data[l.start:l.end], sep); !again {
				p.unread(l)
				break
			}
		}
		if p.stopped || len(p.parts) >= p.opts.MaxParts {
			if !p.stopped {
				p.note(probParts, part)
				p.stopped = true
			}
			p.readToEnd()
			return
		}
		child := p.newPart(part.Depth+1, childType)
		part.Children = append(part.Children, child)
		part.IsMultipart = true
		p.eof = append(p.eof, sep)
		p.parse(child)
		p.eof = p.eof[:len(p.eof)-1]
		// The line break before a boundary belongs to the boundary.
		if last := p.last; last != nil {
			if last.MainType() != "multipart" {
				last.body = trimFinalLineBreak(p.data, last.body)
			}
		}
		p.last = part
	}
	if capturingPreamble {
		p.note(probNoStartBoundary, part)
		part.body = preamble
		p.readToEnd()
		return
	}
	if !closeSeen {
		p.note(probNoCloseBoundary, part)
		return
	}
	p.readToEnd() // the epilogue
}

// childDefaultType is text/plain, or message/rfc822 inside
// multipart/digest.
func childDefaultType(parent *Part) string {
	if parent.ContentType() == "multipart/digest" {
		return "message/rfc822"
	}
	return "text/plain"
}

// trimFinalLineBreak removes the line break that ends a body.
func trimFinalLineBreak(data []byte, body []span) []span {
	n := len(body)
	if n == 0 {
		return body
	}
	last := body[n-1]
	b := data[last.start:last.end]
	switch {
	case bytes.HasSuffix(b, []byte("\r\n")):
		last.end -= 2
	case bytes.HasSuffix(b, []byte("\n")), bytes.HasSuffix(b, []byte("\r")):
		last.end--
	default:
		return body
	}
	out := append(body[:n-1:n-1], last)
	if last.end == last.start {
		out = out[:n-1]
	}
	return out
}

// Body is the part's text as Python's _payload holds it (before transfer
// decoding): a slice of the message when it is contiguous, as it nearly
// always is.
func (part *Part) Body() []byte {
	switch len(part.body) {
	case 0:
		return nil
	case 1:
		s := part.body[0]
		return part.data[s.start:s.end:s.end]
	}
	var out []byte
	for _, s := range part.body {
		out = append(out, part.data[s.start:s.end]...)
	}
	return out
}
