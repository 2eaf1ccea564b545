// Package decompress is stoq's archive worker: it takes zip, tar, gzip,
// bzip2, xz, zstd, 7z, RAR, CAB (and more through 7z) payloads apart and returns every member
// as an extracted payload, as stoQ's decompress plugin does, but in memory,
// in Go, and within limits that make an archive bomb cost a bounded amount
// of time and memory.
//
// # Formats
//
// The format is recognised by the payload's leading bytes (or, for a zip
// with data in front of it, by its directory at the end), so no mimetype
// worker is needed. zip (stored, deflate, bzip2, lzma, zstd, xz; ZipCrypto
// and WinZip AES), tar, gzip, bzip2, xz, zstd, 7z and RAR are read by Go
// libraries; CAB, ar, cpio, RPM, ISO, ARJ and LZH, which no Go library on
// the module proxy reads, and zip members compressed with Deflate64 or
// PPMd, go to the 7z program when one is installed (option fallback_7z). A gzip, bzip2,
// xz or zstd stream holding a tar is read as that tar (archive_type "tar",
// and "compression" names the stream format), member by member in one
// pass; any other stream is one member.
//
// # Results
//
// Results are {"archive_type": …, "members": [{"filename", "size",
// "compressed_size", "modified", "encrypted"}]}, members in archive order,
// null for what the format does not record. Each extracted payload's
// extra_data has filename (the path exactly as the archive writes it; a
// single stream's stored name, else the archive's own name less its
// suffix), size, archive_type, encrypted, and password when one was
// needed. Members are dispatched like any payload, so an archive inside an
// archive comes round again (max_recursion bounds the depth);
// always_dispatch sends every member to the workers it names, as in stoQ.
//
// # Limits
//
// An archive larger than maximum_size is refused, as in stoQ. Members are
// streamed out of their decoder through a counting reader: one passing
// maximum_size, or max_ratio after its first MiB, is dropped with an Error
// and the next member is tried; passing max_total_size bytes decompressed
// from the archive, the max_members+1-th member, or the call's deadline
// stops the archive with an Error. Every Error names the limit and the
// member, and what was extracted before it is kept. Names such as
// "../../x" are reported as written and never touch the filesystem: nothing
// is ever written to disk, except the archive itself for the 7z fallback
// (a private temporary file, removed when done).
package decompress

import (
	"context"
	_ "embed"
	"log/slog"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/decompress/v3/internal/archive"
)

//go:embed decompress.stoq
var manifest []byte

func init() { core.Register("decompress", manifest, New) }

// Defaults of the options, stoQ's where stoQ has the option.
var defaultPasswords = []string{"-", "infected", "password"}

const (
	defaultMaximumSize  = 50_000_000
	defaultMaxTotalSize = 200_000_000
	defaultMaxMembers   = 1000
	defaultMaxRatio     = 100
)

// Plugin is the decompress worker.
type Plugin struct {
	passwords        []string
	limits           archive.Limits
	alwaysDispatch   []string
	archiveExtracted bool
	sevenZip         string
	log              *slog.Logger
}

// New reads the options and looks for the 7z program.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{log: log}
	p.passwords = passwordList(cfg.List("passwords", defaultPasswords))
	var err error
	if p.limits.MemberSize, err = positiveInt(cfg, "maximum_size", defaultMaximumSize, "a size in bytes"); err != nil {
		return nil, err
	}
	if p.limits.TotalSize, err = positiveInt(cfg, "max_total_size", defaultMaxTotalSize, "a size in bytes"); err != nil {
		return nil, err
	}
	members, err := positiveInt(cfg, "max_members", defaultMaxMembers, "a number of members")
	if err != nil {
		return nil, err
	}
	p.limits.Members = int(members)
	if p.limits.Ratio, err = cfg.Float("max_ratio", defaultMaxRatio); err != nil {
		return nil, err
	}
	if p.limits.Ratio < 0 {
		return nil, cfg.OptionError("max_ratio", "want a ratio of uncompressed to compressed bytes (0 disables the check)")
	}
	p.alwaysDispatch = cfg.List("always_dispatch", nil)
	if p.archiveExtracted, err = cfg.Bool("archive_extracted", true); err != nil {
		return nil, err
	}
	if bin := cfg.String("fallback_7z", "7z"); bin != "" {
		if path, err := exec.LookPath(bin); err == nil {
			p.sevenZip = path
		} else {
			log.Info("decompress: 7z not found, CAB archives will not be extracted", "fallback_7z", bin, "error", err)
		}
	}
	log.Debug("decompress configured", "passwords", len(p.passwords), "maximum_size", p.limits.MemberSize,
		"max_total_size", p.limits.TotalSize, "max_members", p.limits.Members, "max_ratio", p.limits.Ratio,
		"fallback_7z", p.sevenZip)
	return p, nil
}

// positiveInt reads a limit; 0 disables it.
func positiveInt(cfg *core.Config, key string, def int, what string) (int64, error) {
	n, err := cfg.Int(key, def)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, cfg.OptionError(key, "want "+what+" (0 disables the limit)")
	}
	return int64(n), nil
}

// passwordList maps stoQ's "-" (no password) to "" and drops duplicates.
func passwordList(items []string) []string {
	out := []string{}
	for _, pw := range items {
		if pw == "-" {
			pw = ""
		}
		if !slices.Contains(out, pw) {
			out = append(out, pw)
		}
	}
	return out
}

// Results is what the worker returns for an archive.
type Results struct {
	ArchiveType string `json:"archive_type"`
	// Compression is the stream format around a tar (a .tgz says "gzip");
	// absent otherwise.
	Compression string   `json:"compression,omitempty"`
	Members     []Member `json:"members"`
}

// Member describes one regular file of the archive; null marks what the
// format does not record.
type Member struct {
	Filename       string  `json:"filename"`
	Size           *int64  `json:"size"`
	CompressedSize *int64  `json:"compressed_size"`
	Modified       *string `json:"modified"`
	Encrypted      bool    `json:"encrypted"`
}

// Scan extracts the payload's members. An archive it cannot read is an
// Error in the response, not a failure of the call.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	resp := &core.WorkerResponse{}
	content := payload.Content
	if p.limits.MemberSize > 0 && int64(len(content)) > p.limits.MemberSize {
		resp.Errors = append(resp.Errors, core.Errorf(
			"the archive is %d bytes, more than maximum_size (%d bytes): not extracted", len(content), p.limits.MemberSize))
		return resp, nil
	}
	extra := payload.Meta().ExtraData
	name, _ := extra["filename"].(string)
	res := archive.Extract(ctx, content, archive.Options{
		Limits:    p.limits,
		Passwords: p.passwordsFor(extra),
		Name:      name,
		SevenZip:  p.sevenZip,
	})
	for _, msg := range res.Problems {
		resp.Errors = append(resp.Errors, core.Error{Message: msg})
	}
	if res.Format == "" {
		return resp, nil
	}
	results := &Results{ArchiveType: string(res.Format), Compression: string(res.Compression), Members: make([]Member, 0, len(res.Members))}
	for _, m := range res.Members {
		results.Members = append(results.Members, describe(m))
		if !m.Extracted {
			continue
		}
		meta := core.NewPayloadMeta()
		meta.ShouldArchive = p.archiveExtracted
		meta.DispatchTo = append(meta.DispatchTo, p.alwaysDispatch...)
		meta.ExtraData["filename"] = m.Name
		meta.ExtraData["size"] = len(m.Content)
		meta.ExtraData["archive_type"] = string(res.Format)
		meta.ExtraData["encrypted"] = m.Encrypted
		if m.PasswordUsed {
			meta.ExtraData["password"] = m.Password
		}
		resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: m.Content, PayloadMeta: meta})
	}
	resp.Results = results
	return resp, nil
}

// passwordsFor returns the passwords to try on this payload: its
// extra_data "passwords" (a list, or a comma-separated string) when set,
// as in stoQ, else the configured ones.
func (p *Plugin) passwordsFor(extra map[string]any) []string {
	switch v := extra["passwords"].(type) {
	case []string:
		return passwordList(v)
	case []any:
		var items []string
		for _, item := range v {
			if s, ok := item.(string); ok {
				items = append(items, s)
			}
		}
		return passwordList(items)
	case string:
		var items []string
		for _, item := range strings.Split(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		return passwordList(items)
	}
	return p.passwords
}

func describe(m archive.Member) Member {
	out := Member{Filename: m.Name, Encrypted: m.Encrypted}
	if m.Size >= 0 {
		out.Size = &m.Size
	}
	if m.CompressedSize >= 0 {
		out.CompressedSize = &m.CompressedSize
	}
	if !m.Modified.IsZero() {
		s := m.Modified.UTC().Format(time.RFC3339)
		out.Modified = &s
	}
	return out
}

var _ core.Worker = (*Plugin)(nil)
