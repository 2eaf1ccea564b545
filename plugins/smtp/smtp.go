// Package smtp is stoq's e-mail worker, stoQ's smtp plugin: it parses an
// RFC 5322 message (an .eml file, a raw SMTP DATA body), returns its
// headers and bodies, and extracts its attachments and attached messages.
//
// # Results
//
// As stoQ's: every header under its lowercased name (a repeated header's
// values joined with "\n"), and, unless omit_body, "body" (the text/plain
// body) and "body_html" (the text/html body), "" when there is none. Header
// values are rendered exactly as Python's email package with
// policy.default shows them (RFC 2047 encoded-words decoded, addresses
// and dates in their canonical form); bodies are decoded by their declared
// transfer encoding and charset to UTF-8. stoQ's URL-unquoting of bodies
// is not done: it changed every "%41" of a mail into "A".
//
// # Extracted payloads
//
// Every part with a filename (Content-Disposition filename or Content-Type
// name, RFC 2231 and RFC 2047 names decoded), at any depth of the MIME
// tree and inline ones included, with its decoded bytes and extra_data
// charset, content-description, disposition, filename and type; every
// attached message (message/rfc822, message/global, message/news) with its
// bytes, dispatched to smtp again; with extract_iocs, one payload of the
// ioc_keys values dispatched to iocextract. Attachments are archived when
// archive_attachments is set and sent to the always_dispatch plugins.
//
// # Hostile mail
//
// The parser (internal/email) reads any bytes: what is not valid MIME is
// kept as text, and the response carries an Error per kind of damage
// (broken boundaries, bad base64, unknown charsets, truncated headers).
// It costs time linear in the message: parts are slices of the payload,
// max_parts and max_depth bound the tree, and header values that would
// cost far more than their length to parse as Python does are rendered as
// plain text with an Error.
package smtp

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/smtp/v3/internal/email"
)

//go:embed smtp.stoq
var manifest []byte

func init() { core.Register("smtp", manifest, New) }

// defaultIOCKeys is stoQ's default for option ioc_keys.
var defaultIOCKeys = []string{"received", "x-orig-ip", "x-originating-ip", "x-remote-ip", "x-sender-ip", "body", "body_html"}

const (
	defaultMaxParts = 200_000
	defaultMaxDepth = 50
	// ctxCheckParts is how many parts are extracted between checks of the
	// call's deadline.
	ctxCheckParts = 1024
)

// Plugin is the smtp worker.
type Plugin struct {
	omitBody           bool
	alwaysDispatch     []string
	archiveAttachments bool
	extractIOCs        bool
	iocKeys            []string
	extractUnnamed     bool
	limits             email.Options
}

// New reads the options; a value that does not parse is an error naming
// the option.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{
		alwaysDispatch: cfg.List("always_dispatch", nil),
	}
	var err error
	for _, b := range []struct {
		key string
		def bool
		dst *bool
	}{
		{"omit_body", false, &p.omitBody},
		{"archive_attachments", true, &p.archiveAttachments},
		{"extract_iocs", false, &p.extractIOCs},
		{"extract_unnamed", false, &p.extractUnnamed},
	} {
		if *b.dst, err = cfg.Bool(b.key, b.def); err != nil {
			return nil, err
		}
	}
	for _, n := range []struct {
		key string
		def int
		dst *int
	}{
		{"max_parts", defaultMaxParts, &p.limits.MaxParts},
		{"max_depth", defaultMaxDepth, &p.limits.MaxDepth},
	} {
		if *n.dst, err = cfg.Int(n.key, n.def); err != nil {
			return nil, err
		}
		if *n.dst < 1 {
			return nil, cfg.OptionError(n.key, "want a positive integer")
		}
	}
	// A new slice: cfg.List returns defaultIOCKeys itself when unset.
	for _, k := range cfg.List("ioc_keys", defaultIOCKeys) {
		p.iocKeys = append(p.iocKeys, strings.ToLower(k))
	}
	log.Debug("smtp configured", "omit_body", p.omitBody, "always_dispatch", strings.Join(p.alwaysDispatch, ","),
		"archive_attachments", p.archiveAttachments, "extract_iocs", p.extractIOCs,
		"max_parts", p.limits.MaxParts, "max_depth", p.limits.MaxDepth)
	return p, nil
}

// Scan parses the payload as an e-mail message. It never fails on the
// content: damage is reported as Errors next to what could be read.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	msg := email.Parse(payload.Content, p.limits)
	errs := &errorLog{}
	for _, problem := range msg.Problems {
		errs.raw(problem)
	}

	// Repeated headers are joined with "\n" once all are read: joining as
	// they come would copy the value so far at every repetition.
	values := map[string][]string{}
	for i, h := range msg.Root.Headers {
		key := email.Key(h.Name)
		r := email.RenderHeader(h.Name, h.Raw)
		if r.Err != nil {
			errs.add(r.Err.Error()+": rendered as plain text", fmt.Sprintf("header %d (%s)", i+1, key))
		}
		values[key] = append(values[key], r.Value)
	}
	results := make(map[string]string, len(values)+2)
	for k, vs := range values {
		results[k] = strings.Join(vs, "\n")
	}

	bodies := map[*email.Part]bool{}
	body := func(subtype string) string {
		part := msg.Body(subtype)
		if part == nil {
			return ""
		}
		bodies[part] = true
		text, problems := part.Text()
		for _, pr := range problems {
			errs.add(pr, describe(part, "body_"+subtype))
		}
		return text
	}
	if !p.omitBody {
		results["body"] = body("plain")
		results["body_html"] = body("html")
	} else if p.extractUnnamed {
		// The bodies are still not attachments.
		for _, st := range []string{"plain", "html"} {
			if part := msg.Body(st); part != nil {
				bodies[part] = true
			}
		}
	}

	resp := &core.WorkerResponse{Results: results}
	for i, part := range msg.Parts {
		if i%ctxCheckParts == ctxCheckParts-1 {
			if err := ctx.Err(); err != nil {
				resp.Errors = errs.errors()
				return resp, fmt.Errorf("stopped after %d of %d parts: %w", i, len(msg.Parts), err)
			}
		}
		if ex, ok := p.extract(part, bodies, errs); ok {
			resp.Extracted = append(resp.Extracted, ex)
		}
	}

	if p.extractIOCs {
		content := []byte{}
		for _, k := range p.iocKeys {
			v, ok := results[k]
			if !ok && p.omitBody {
				switch k {
				case "body":
					v, ok = body("plain"), true
				case "body_html":
					v, ok = body("html"), true
				}
			}
			if ok && v != "" {
				content = append(append(content, '\n'), v...)
			}
		}
		meta := core.NewPayloadMeta()
		meta.ShouldArchive = false
		meta.DispatchTo = []string{"iocextract"}
		resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: content, PayloadMeta: meta})
	}
	resp.Errors = errs.errors()
	return resp, nil
}

// extract returns the payload a part becomes, if it is an attachment or an
// attached message.
func (p *Plugin) extract(part *email.Part, bodies map[*email.Part]bool, errs *errorLog) (core.ExtractedPayload, bool) {
	if part.IsMultipart {
		return core.ExtractedPayload{}, false
	}
	meta := core.NewPayloadMeta()
	meta.ShouldArchive = p.archiveAttachments
	meta.ExtraData = extraData(part)
	if part.IsAttachedMessage() {
		meta.DispatchTo = []string{"smtp"}
		return core.ExtractedPayload{Content: part.AttachedMessage(), PayloadMeta: meta}, true
	}
	if _, named := part.Filename(); !named && !(p.extractUnnamed && part.Index > 0 && !bodies[part]) {
		return core.ExtractedPayload{}, false
	}
	data, problem := part.Decoded()
	if problem != "" {
		errs.add(problem, describe(part, "attachment"))
	}
	meta.DispatchTo = append(meta.DispatchTo, p.alwaysDispatch...)
	return core.ExtractedPayload{Content: data, PayloadMeta: meta}, true
}

// extraData is stoQ's extra_data of an attachment; absent values are null.
func extraData(part *email.Part) map[string]any {
	m := map[string]any{
		"charset":             nil,
		"content-description": nil,
		"disposition":         nil,
		"filename":            nil,
		"type":                part.ContentType(),
	}
	if v, ok := part.Charset(); ok {
		m["charset"] = v
	}
	if v, ok := part.HeaderValue("content-description"); ok {
		m["content-description"] = v
	}
	if v, ok := part.Disposition(); ok {
		m["disposition"] = v
	}
	if v, ok := part.Filename(); ok {
		m["filename"] = v
	}
	return m
}

// describe names a part in an Error: its number, type and filename.
func describe(part *email.Part, role string) string {
	s := fmt.Sprintf("part %d (%s, %s", part.Index, role, part.ContentType())
	if cs, ok := part.ParamText("content-type", "charset"); ok {
		s += fmt.Sprintf(", charset %q", cs)
	}
	if name, ok := part.Filename(); ok {
		s += fmt.Sprintf(", filename %q", name)
	}
	return s + ")"
}

// errorLog collects the response's Errors, one per kind of problem however
// many parts have it, so that a message of a hundred thousand damaged
// parts yields a few Errors, not a hundred thousand.
type errorLog struct {
	order []string
	kinds map[string]*errorKind
	plain []string
}

type errorKind struct {
	count int
	first string
}

func (l *errorLog) raw(msg string) { l.plain = append(l.plain, msg) }

func (l *errorLog) add(problem, where string) {
	if l.kinds == nil {
		l.kinds = map[string]*errorKind{}
	}
	if k, ok := l.kinds[problem]; ok {
		k.count++
		return
	}
	l.kinds[problem] = &errorKind{count: 1, first: where}
	l.order = append(l.order, problem)
}

func (l *errorLog) errors() []core.Error {
	var out []core.Error
	for _, msg := range l.plain {
		out = append(out, core.Error{Message: msg})
	}
	for _, problem := range l.order {
		k := l.kinds[problem]
		if k.count == 1 {
			out = append(out, core.Errorf("%s: %s", k.first, problem))
		} else {
			out = append(out, core.Errorf("%d times (first: %s): %s", k.count, k.first, problem))
		}
	}
	return out
}

var _ core.Worker = (*Plugin)(nil)
