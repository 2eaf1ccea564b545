// Package peinfo is stoq's PE information worker: it reads a Portable
// Executable (Windows .exe, .dll, .sys) and reports what stoQ's peinfo
// plugin reported — imphash, compile time, image base, entry point,
// machine, imports, exports, sections, resources, version information, Rich
// header hash, TLS callbacks, debug (PDB) information and Authenticode
// certificates — and, as stoQ's does, extracts each resource and each
// signature as a new payload.
//
// # Parsing
//
// stoQ's plugin is built on pefile; this one on internal/pe, which follows
// pefile's rules (see its package documentation), so that imphash,
// sections, imports, exports and the compile time equal pefile's on the
// same bytes. A damaged file gives what could be read plus an Error per
// problem, and is_valid false; bytes that start like an executable (MZ or
// ZM) but are not a PE give one Error ("not a PE file: ...") and no
// results, as stoQ's plugin failed. Anything else (a text, an image, a
// resource peinfo itself extracted) gives neither results nor Error: with
// `-a hash peinfo` peinfo sees every payload, and saying "not a PE" of each
// would bury the errors that matter.
// Parsing is bounded (pefile's limits, and internal/pe's where pefile has
// none) and stops at the call's deadline.
//
// # Results
//
// Every key is always present (a stoQ plugin left empty ones out): see
// Results. Values are computed as stoQ computed them, except where the
// README's "Differences from stoQ" says otherwise.
//
// # Options
//
//   - extract_resources (true): extract each resource's content, with its
//     entry of results.resources (and filename, its name) as extra_data.
//   - extract_certificates (true): extract each Authenticode signature (the
//     PKCS#7 SignedData), with stoQ's extra_data: its md5, sha1, sha256,
//     revision, cert_type, entry_size, cert_size and filename (its sha256).
package peinfo

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/plugins/peinfo/v3/internal/pe"
)

//go:embed peinfo.stoq
var manifest []byte

func init() { core.Register("peinfo", manifest, New) }

// hashBudgetFloor is added to twice the payload's size to bound the bytes
// hashed for sections: sections of a real file do not overlap, so they sum
// to at most its size, while 2,048 crafted sections could each claim all of
// it.
const hashBudgetFloor = 1 << 20

// Plugin is the PE information worker.
type Plugin struct {
	extractResources    bool
	extractCertificates bool
}

// New reads options extract_resources and extract_certificates.
func New(cfg *core.Config, log *slog.Logger) (*Plugin, error) {
	p := &Plugin{}
	var err error
	if p.extractResources, err = cfg.Bool("extract_resources", true); err != nil {
		return nil, err
	}
	if p.extractCertificates, err = cfg.Bool("extract_certificates", true); err != nil {
		return nil, err
	}
	log.Debug("peinfo configured", "extract_resources", p.extractResources,
		"extract_certificates", p.extractCertificates, "pefile_rules", pe.PefileVersion)
	return p, nil
}

// looksExecutable reports whether content starts with a DOS executable's
// magic, MZ (or ZM, which pefile names): only then is "not a PE" news.
func looksExecutable(content []byte) bool {
	return bytes.HasPrefix(content, []byte("MZ")) || bytes.HasPrefix(content, []byte("ZM"))
}

// Scan reports on the payload as a PE. A payload that is not one gives an
// Error and no results.
func (p *Plugin) Scan(ctx context.Context, payload *core.Payload, request *core.Request) (*core.WorkerResponse, error) {
	if !looksExecutable(payload.Content) {
		return &core.WorkerResponse{}, nil
	}
	f, err := pe.Parse(ctx, payload.Content)
	if err != nil {
		return &core.WorkerResponse{Errors: []core.Error{core.Errorf("%v", err)}}, nil
	}
	resp := &core.WorkerResponse{}
	var problems []string
	results := &Results{
		Imphash:          f.Imphash(),
		CompileTimeEpoch: f.TimeDateStamp,
		CompileTime:      formatTime(f.TimeDateStamp),
		ImageBase:        f.ImageBase,
		Entrypoint:       f.AddressOfEntryPoint,
		IsExe:            f.IsExe(),
		IsDLL:            f.IsDLL(),
		IsDriver:         f.IsDriver(),
		Imports:          imports(f),
		Exports:          exports(f),
		VersionInfo:      versionInfo(f),
		TLSCallbacks:     nonNil(f.TLSCallbacks()),
		DebugInfo:        debugInfo(f),
	}
	if name, ok := pe.MachineName(f.Machine); ok {
		results.MachineType = &name
	}
	if f.RichHeader != nil {
		results.RichHeader = f.RichHeader.MD5()
	}
	var entropies map[*pe.Section]float64
	results.Sections, entropies, problems = sections(ctx, f, problems)
	results.IsPacked = f.IsProbablyPacked(func(s *pe.Section) float64 { return entropies[s] })
	results.Resources = p.resources(f, resp)
	results.Certificates, problems = p.certificates(f, resp, problems)

	problems = slices.Concat(f.Problems(), problems)
	results.IsValid = len(problems) == 0
	for _, msg := range problems {
		resp.Errors = append(resp.Errors, core.Errorf("%s", msg))
	}
	resp.Results = results
	return resp, nil
}

// formatTime is stoQ's compile_time format, in UTC.
func formatTime(epoch uint32) string {
	return time.Unix(int64(epoch), 0).UTC().Format(time.DateTime)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// imports maps each DLL to its functions, as stoQ lists them: descriptors
// naming the same DLL share one list.
func imports(f *pe.File) map[string][]string {
	out := make(map[string][]string, len(f.Imports))
	for _, desc := range f.Imports {
		list := out[desc.DLL]
		if list == nil {
			list = make([]string, 0, len(desc.Symbols))
		}
		for _, sym := range desc.Symbols {
			if sym.Name != "" {
				list = append(list, sym.Name)
			} else {
				list = append(list, fmt.Sprintf("ord%d", sym.Ordinal))
			}
		}
		out[desc.DLL] = list
	}
	return out
}

// exports lists the named exports (stoQ leaves out exports by ordinal only).
func exports(f *pe.File) []string {
	out := []string{}
	if f.Exports != nil {
		for _, sym := range f.Exports.Symbols {
			if sym.Name != "" {
				out = append(out, sym.Name)
			}
		}
	}
	return out
}

// versionInfo merges the StringFileInfo tables' pairs; a key repeated in a
// later table (another language) takes that table's value, as in stoQ.
func versionInfo(f *pe.File) map[string]string {
	out := make(map[string]string, len(f.Version))
	for _, kv := range f.Version {
		out[kv.Key] = kv.Value
	}
	return out
}

func debugInfo(f *pe.File) []DebugInfo {
	out := []DebugInfo{}
	for _, e := range f.Debug {
		info := DebugInfo{
			MajorVersion:   e.MajorVersion,
			MinorVersion:   e.MinorVersion,
			SizeOfData:     e.SizeOfData,
			TimeDateStamp:  e.TimeDateStamp,
			TimeDateString: formatTime(e.TimeDateStamp),
			Type:           e.Type,
		}
		if e.Type == 2 && (e.SizeOfData < 24 || e.SizeOfData > 0xffff) {
			continue // stoQ leaves out CodeView entries of an unlikely size
		}
		if cv, ok := f.CodeView(e); ok {
			info.DebugSig = cv.Signature
			info.DebugAge = &cv.Age
			pdb := strings.ToValidUTF8(string(cv.PDB), "\uFFFD")
			info.DebugPDB = &pdb
			if cv.Signature == "RSDS" {
				info.DebugGUID = cv.GUID
			} else {
				info.DebugTime = &cv.Time
			}
		}
		out = append(out, info)
	}
	return out
}

// sections describes every section, hashing at most twice the payload's
// size in all; a section past that budget has no md5 and entropy (and is
// not counted by is_packed).
func sections(ctx context.Context, f *pe.File, problems []string) ([]Section, map[*pe.Section]float64, []string) {
	out := make([]Section, 0, len(f.Sections))
	entropies := make(map[*pe.Section]float64, len(f.Sections))
	budget := 2*int64(len(f.Data())) + hashBudgetFloor
	hashing := true // until the budget is spent
	for i, s := range f.Sections {
		sec := Section{
			Name:        strings.ToValidUTF8(s.Name, "\uFFFD"),
			VirtualAddr: s.VirtualAddress,
			VirtualSize: s.VirtualSize,
			RawSize:     s.SizeOfRawData,
		}
		if hashing {
			data := s.Data(f)
			if budget -= int64(len(data)); budget < 0 {
				problems = append(problems, fmt.Sprintf(
					"sections overlap: more than twice the file's size to hash, sections %d to %d have no md5 and entropy", i, len(f.Sections)-1))
				hashing = false
			} else if err := ctx.Err(); err != nil {
				problems = append(problems, fmt.Sprintf("hashing sections stopped: %v", err))
				break
			} else {
				sum := md5.Sum(data)
				digest := hex.EncodeToString(sum[:])
				entropy := pe.Entropy(data)
				sec.MD5, sec.Entropy = &digest, &entropy
				entropies[s] = entropy
			}
		}
		out = append(out, sec)
	}
	return out, entropies, problems
}

// resources lists the leaves of the resource tree's three levels (type,
// name, language), as stoQ does, and extracts their content.
func (p *Plugin) resources(f *pe.File, resp *core.WorkerResponse) []Resource {
	out := []Resource{}
	if f.Resources == nil {
		return out
	}
	// Entries sharing their data are extracted once (the engine would
	// de-duplicate them anyway; crafted files make thousands).
	type span struct{ offset, size int64 }
	extracted := map[span]bool{}
	for _, typ := range f.Resources.Entries {
		typeName := "unknown"
		if !typ.NameIsString {
			if name, ok := pe.ResourceTypeName(typ.ID); ok {
				typeName = name
			}
		}
		if typ.Directory == nil {
			continue
		}
		for _, name := range typ.Directory.Entries {
			if name.Directory == nil {
				continue
			}
			for _, lang := range name.Directory.Entries {
				if lang.Data == nil {
					continue
				}
				r := Resource{
					Type:         typeName,
					ResourceType: "IMAGE_RESOURCE_DATA_ENTRY",
					Address:      lang.Data.OffsetToData,
					Size:         lang.Data.Size,
					SubLanguage:  pe.SublanguageName(lang.Lang, lang.Sublang),
					Language:     "unknown",
				}
				if l, ok := pe.LanguageName(lang.Lang); ok {
					r.Language = l
				}
				if lang.NameIsString {
					r.Name = fmt.Sprintf("resource_%s_%s", typeName, lang.Name)
				} else {
					id := lang.ID
					r.ResourceID = &id
					r.Name = fmt.Sprintf("resource_%s_%d", typeName, id)
				}
				content, offset, ok := f.ResourceBytes(lang.Data)
				if ok {
					r.Offset = &offset
				}
				out = append(out, r)
				if at := (span{offset, int64(len(content))}); p.extractResources && len(content) > 0 && !extracted[at] {
					extracted[at] = true
					meta := core.NewPayloadMeta()
					meta.ExtraData = r.extraData()
					resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: content, PayloadMeta: meta})
				}
			}
		}
	}
	return out
}

// certificates lists the X.509 certificates of every Authenticode
// signature and extracts the signatures.
func (p *Plugin) certificates(f *pe.File, resp *core.WorkerResponse, problems []string) ([]Certificate, []string) {
	out := []Certificate{}
	for i, sig := range f.Signatures() {
		certs, err := pe.ParseSignature(sig.Blob)
		for _, c := range certs {
			out = append(out, Certificate{
				Subject:         c.Subject,
				Issuer:          c.Issuer,
				SerialNumber:    c.SerialNumber.Text(16),
				NotBefore:       c.NotBefore.Format(time.RFC3339),
				NotAfter:        c.NotAfter.Format(time.RFC3339),
				DigestAlgorithm: c.DigestAlgorithm,
			})
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("signature %d: %v", i, err))
		}
		if p.extractCertificates {
			md5sum, sha1sum, sha256sum := md5.Sum(sig.Blob), sha1.Sum(sig.Blob), sha256.Sum256(sig.Blob)
			sha256hex := hex.EncodeToString(sha256sum[:])
			meta := core.NewPayloadMeta()
			meta.ExtraData = map[string]any{
				"md5":        hex.EncodeToString(md5sum[:]),
				"sha1":       hex.EncodeToString(sha1sum[:]),
				"sha256":     sha256hex,
				"revision":   sig.Revision,
				"cert_type":  sig.CertType,
				"entry_size": sig.EntrySize,
				"cert_size":  sig.CertSize,
				"filename":   sha256hex,
			}
			resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: sig.Blob, PayloadMeta: meta})
		}
	}
	return out, problems
}

var _ core.Worker = (*Plugin)(nil)
