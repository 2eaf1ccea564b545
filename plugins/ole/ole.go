// Package ole is stoq's ole worker: it extracts every stream of an OLE2
// compound file (Compound File Binary: .doc, .xls, .ppt, .msg, .msi, ...)
// as a payload of its own, as stoQ's ole plugin does with olefile.
//
// # What is extracted
//
// Every stream, in the order olefile's listdir(streams=True) lists them
// (depth first, each storage's entries sorted by name). Each extracted
// payload has should_archive false and extra_data
//
//	{"index": N, "name": "ObjectPool__1234_\x01CompObj"}
//
// where index is the stream's position in that list (0, 1, 2, ...) and name
// is its storages' names and its own joined with "_", keeping only the
// characters of Python's string.printable (so "\x05SummaryInformation"
// becomes "SummaryInformation"), as stoQ computes them. Streams named
// \x01Ole10Native (regardless of case) hold an embedded OLE 1.0 object:
// the file embedded in it is extracted instead of the stream, and its
// stored file name is appended to name ("..._\x01Ole10Native" gives
// "ObjectPool__1234_invoice.exe"; "_olenative" when it has none), as
// oletools' oleobj reads it. Like stoQ's, the worker has no results of its
// own.
//
// # Damaged and hostile files
//
// The compound file is read by internal/cfb, which reads what olefile reads
// and reports damage instead of failing: a stream whose chain of sectors
// breaks is extracted up to the break with an Error naming it; damage to
// the FAT, directory or mini stream becomes an Error and the streams that
// can still be found are extracted. No sector is read twice, so the
// extracted streams never add up to more than the payload, however the file
// is linked, and a file costs time and memory linear in its size. Option
// max_streams bounds how many streams one file yields. A payload that is
// not a compound file gives one Error.
//
// Extracted streams are subslices of the payload when their sectors follow
// each other (no copy), freshly allocated otherwise.
package ole

import (
	"context"
	_ "embed"
	"log/slog"
	"strings"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfb"
)

//go:embed ole.stoq
var manifest []byte

func init() { core.Register("ole", manifest, New) }

// defaultMaxStreams is the default for option max_streams: beyond the
// largest installers and mailboxes (an .msi of a big product holds a few
// thousand streams).
const defaultMaxStreams = 10000

// maxStreamErrors bounds the Errors reported for individual streams; the
// rest are counted in one last Error.
const maxStreamErrors = 100

// Plugin is the ole worker.
type Plugin struct {
	maxStreams int
	log        *slog.Logger
}

// New reads option max_streams.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{log: log}
	var err error
	if p.maxStreams, err = cfg.Int("max_streams", defaultMaxStreams); err != nil {
		return nil, err
	}
	if p.maxStreams < 1 {
		return nil, cfg.OptionError("max_streams", "want a positive number of streams to extract per compound file")
	}
	log.Debug("ole configured", "max_streams", p.maxStreams)
	return p, nil
}

// Scan extracts the streams of a compound file. It returns no results, only
// extracted payloads and Errors for what could not be read.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	resp := &core.WorkerResponse{}
	f, err := cfb.Read(payload.Content, cfb.Limits{MaxStreams: p.maxStreams})
	if err != nil {
		resp.Errors = append(resp.Errors, core.Errorf("%v", err))
		return resp, nil
	}
	if err := ctx.Err(); err != nil {
		return resp, err
	}
	for _, n := range f.Notes {
		p.log.Debug("ole: compound file departs from MS-CFB", "note", n)
	}
	for _, prob := range f.Problems {
		resp.Errors = append(resp.Errors, core.Errorf("%s", prob))
	}
	if f.MoreProblems > 0 {
		resp.Errors = append(resp.Errors, core.Errorf("%d more problems with the compound file's structure", f.MoreProblems))
	}
	streamErrors := 0
	streamError := func(format string, args ...any) {
		if streamErrors++; streamErrors <= maxStreamErrors {
			resp.Errors = append(resp.Errors, core.Errorf(format, args...))
		}
	}
	for i, st := range f.Streams {
		name := printable(strings.Join(st.Path, "_"))
		content := st.Data
		if st.Err != nil {
			streamError("stream %d %q: %v", i, strings.Join(st.Path, "/"), st.Err)
		}
		if strings.EqualFold(st.Path[len(st.Path)-1], oleNativeStreamName) {
			native, err := parseOleNative(st.Data)
			switch {
			case err != nil:
				streamError("stream %d %q: not unwrapped, extracted as it is: %v", i, strings.Join(st.Path, "/"), err)
			default:
				if uint64(native.declared) > uint64(len(native.data)) {
					streamError("stream %d %q: the embedded file declares %d bytes, %d are present", i, strings.Join(st.Path, "/"), native.declared, len(native.data))
				}
				content = native.data
				if native.filename != "" {
					name += "_" + native.filename
				} else {
					name += "_olenative"
				}
			}
		}
		meta := core.NewPayloadMeta()
		meta.ShouldArchive = false
		meta.ExtraData["index"] = i
		meta.ExtraData["name"] = name
		resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: content, PayloadMeta: meta})
	}
	if streamErrors > maxStreamErrors {
		resp.Errors = append(resp.Errors, core.Errorf("%d more streams could not be read whole", streamErrors-maxStreamErrors))
	}
	return resp, nil
}

// printable keeps the characters of Python's string.printable: ASCII
// digits, letters, punctuation and whitespace (space, \t, \n, \r, \v, \f).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x20 && r < 0x7f || r >= '\t' && r <= '\r' {
			return r
		}
		return -1
	}, s)
}

var _ core.Worker = (*Plugin)(nil)
