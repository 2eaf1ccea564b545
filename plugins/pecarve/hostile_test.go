package pecarve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Hostile payloads built to make a carver amplify its input (reliability
// issue 14, item 1), and the engine harness that measures what a whole scan
// makes of them when every payload holding "MZ" goes back to pecarve, as the
// yara dispatcher's exe_file rule does.

// sharedNTHeaders returns size bytes whose first dosBytes hold as many DOS
// headers as fit, eight bytes apart, all pointing (e_lfanew) at one NT
// header right after them. Its only section's raw data runs from the start
// of the PE to claim bytes past it, relative to whichever DOS header is read,
// so that every candidate's carve ends at a different place (a claim past
// the payload is cut at its end).
//
// The DOS headers overlap: the e_lfanew of the header at 8i (its bytes
// 0x3c-0x3f) is bytes 4-7 of the header at 8i+56. Each one is a valid PE to
// a parser that checks candidates one by one.
func sharedNTHeaders(size, dosBytes int, claim uint32) []byte {
	le := binary.LittleEndian
	pe := synthPE(synth{sections: [][2]uint32{{0, claim}}, fileSize: 400}).build()
	nt := pe[64:] // the NT headers and the section table, 336 bytes
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*13 + 5)
	}
	copy(b[dosBytes:], nt)
	for off := 0; off+dosHeaderSize <= dosBytes; off += 8 {
		copy(b[off:], "MZ")
		le.PutUint32(b[off+dosLfanewOffset:], uint32(dosBytes-off))
	}
	return b
}

// nestedChain returns size bytes holding a chain of distinct small PEs, each
// starting right after the previous one's headers (so inside its section)
// and each declaring a section from its own first byte to claim bytes past
// it: every PE lies inside the ones before it, up to its claim.
func nestedChain(size int, claim uint32) []byte {
	one := synthPE(synth{lfanew: 4, sizeOfHeaders: 1, sections: [][2]uint32{{0, claim}}, fileSize: 4 + 24 + 224 + 40}).build()
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*29 + 11)
	}
	for off := 0; off+len(one) <= size; off += len(one) {
		copy(b[off:], one)
		binary.LittleEndian.PutUint16(b[off+2:], uint16(off/len(one))) // each PE distinct
	}
	return b
}

// everyMZToPecarve is a dispatcher standing in for yara's exe_file rule: any
// payload holding "MZ" is sent to pecarve.
type everyMZToPecarve struct{}

const mzDispatcherName = "pecarvetest_mz"

func init() {
	core.Register(mzDispatcherName, []byte("[Core]\nName = "+mzDispatcherName+"\n"), func(*core.Config, *slog.Logger) (everyMZToPecarve, error) {
		return everyMZToPecarve{}, nil
	})
}

func (everyMZToPecarve) GetDispatches(_ context.Context, p *core.Payload, _ *core.Request) (*core.DispatcherResponse, error) {
	if strings.Contains(string(p.Content), "MZ") {
		return &core.DispatcherResponse{PluginNames: []string{"pecarve"}}, nil
	}
	return &core.DispatcherResponse{}, nil
}

var _ core.Dispatcher = everyMZToPecarve{}

// scanOutcome is what one engine scan of a hostile payload produced.
type scanOutcome struct {
	payloads  int   // results in the response, the root included
	jsonBytes int   // size of the response as JSON
	carved    int64 // bytes of all the carved payloads
	errors    []core.Error
}

// scanThroughEngine scans content with the stand-in dispatcher and pecarve,
// max_recursion at the engine's default.
func scanThroughEngine(t testing.TB, content []byte) scanOutcome {
	t.Helper()
	resp := stoqtest.ScanThrough(t, content, []engine.Option{engine.WithDispatchers(mzDispatcherName)})
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	o := scanOutcome{payloads: len(resp.Results), jsonBytes: len(out), errors: resp.Errors}
	for _, r := range resp.Results[1:] {
		o.carved += int64(r.Size)
	}
	return o
}

// TestMeasureHostile prints, for the record (README, reliability notes),
// what a whole scan makes of each hostile payload. It only runs when
// PECARVE_MEASURE is set: timings belong to benchmarks, not tests.
func TestMeasureHostile(t *testing.T) {
	if os.Getenv("PECARVE_MEASURE") == "" {
		t.Skip("set PECARVE_MEASURE=1 to print the hostile scans' figures")
	}
	for _, c := range hostileCases() {
		if !strings.Contains(c.name, os.Getenv("PECARVE_MEASURE")) && os.Getenv("PECARVE_MEASURE") != "1" {
			continue
		}
		start := time.Now()
		o := scanThroughEngine(t, c.content)
		t.Logf("%-40s %8d bytes: %6d payloads, %10d bytes of JSON, %12d bytes carved, %d errors, %v",
			c.name, len(c.content), o.payloads, o.jsonBytes, o.carved, len(o.errors), time.Since(start).Round(time.Millisecond))
	}
}

type hostileCase struct {
	name    string
	content []byte
}

func hostileCases() []hostileCase {
	var cases []hostileCase
	for _, size := range []int{20_000, 57_000, 1_000_000} {
		kb := strconv.Itoa(size/1000) + "KB"
		cases = append(cases,
			hostileCase{"shared NT, claim past the end/" + kb, sharedNTHeaders(size, size/4, 0x7fff0000)},
			hostileCase{"shared NT, claim half/" + kb, sharedNTHeaders(size, size/4, uint32(size/2))},
			hostileCase{"nested chain, claim past the end/" + kb, nestedChain(size, 0x7fff0000)},
			hostileCase{"nested chain, claim half/" + kb, nestedChain(size, uint32(size/2))},
		)
	}
	return cases
}

// manySections returns size bytes whose first dosBytes hold DOS headers
// eight bytes apart, all pointing at one NT header declaring 65,535
// sections: a carver that walks the section table of every candidate does
// 65,535 steps per DOS header.
func manySections(dosBytes int) []byte {
	secs := make([][2]uint32, 0xffff)
	for i := range secs {
		secs[i] = [2]uint32{uint32(i) * 0x200, 0x200}
	}
	pe := synthPE(synth{sections: secs, fileSize: 64 + 24 + 224 + 0xffff*40}).build()
	b := make([]byte, dosBytes+len(pe)-64)
	copy(b[dosBytes:], pe[64:])
	for off := 0; off+dosHeaderSize <= dosBytes; off += 8 {
		copy(b[off:], "MZ")
		binary.LittleEndian.PutUint32(b[off+dosLfanewOffset:], uint32(dosBytes-off))
	}
	return b
}

// K DOS headers sharing one NT header are one chain of candidates whose
// headers overlap: only its first and its last are carved, not K PEs.
func TestSharedNTHeaderIsNotKPEs(t *testing.T) {
	for _, claim := range []uint32{0x7fff0000, 10_000} {
		payload := sharedNTHeaders(20_000, 5_000, claim)
		last := 5_000 - 64 - (5_000-64)%8
		got, resp := carveAll(t, nil, payload)
		if len(got) != 2 || got[0].offset != 0 || got[1].offset != last || len(resp.Errors) != 0 {
			t.Errorf("claim %d: carved %v, errors %v; want the chain's first (0) and last (%d) DOS headers", claim, got, resp.Errors, last)
		}
		if size, _ := peSize(payload[last:]); got[1].size != size {
			t.Errorf("claim %d: the last DOS header's PE is %d bytes, want %d", claim, got[1].size, size)
		}
	}
}

// A DOS header planted in front of a real PE and pointing at its NT header
// does not hide it (the last of a chain is carved), nor does one planted in
// its DOS stub (the first of a chain is carved): the real PE is carved byte
// for byte either way.
func TestPlantedDOSHeadersDoNotHideAPE(t *testing.T) {
	exe := debugPEExe(t, "gcc-386-mingw-no-symbols-exec")
	lfanew := int(binary.LittleEndian.Uint32(exe[dosLfanewOffset:]))
	if lfanew < 0x48 {
		t.Fatalf("test executable's e_lfanew is %#x: no room for a DOS header in its stub", lfanew)
	}
	const at = 1000
	plant := func(payload []byte, off int) {
		copy(payload[off:], "MZ")
		binary.LittleEndian.PutUint32(payload[off+dosLfanewOffset:], uint32(at+lfanew-off))
	}

	before := embed(filler(at+len(exe)+500, 11), map[int][]byte{at: exe})
	plant(before, at-100)
	got, _ := carveAll(t, nil, before)
	if !slices.Contains(got, expect(at, exe)) {
		t.Errorf("with a DOS header planted before it: carved %v, want the PE at %d among them", got, at)
	}

	stub := embed(filler(at+len(exe)+500, 12), map[int][]byte{at: exe})
	plant(stub, at+8) // bytes 8-0x47 of the PE: inside its DOS header and stub
	got, _ = carveAll(t, nil, stub)
	if !slices.Contains(got, expect(at, stub[at:at+len(exe)])) {
		t.Errorf("with a DOS header planted in its stub: carved %v, want the PE at %d among them", got, at)
	}
}

// A PE pecarve carved is not carved again when it comes back to pecarve
// (the yara dispatcher sends it there): the scan that carved it saw every
// header inside it. A PE nested in another is still carved, once, from the
// payload holding both.
func TestCarvedPEIsNotCarvedAgain(t *testing.T) {
	inner := goExe(t, "go-hello")
	const innerAt = 0x400 + 333
	outer := synthPE(synth{plus: true, sections: [][2]uint32{{0x400, uint32(innerAt - 0x400 + len(inner) + 100)}}}).build()
	copy(outer[innerAt:], inner)
	payload := embed(filler(4321+len(outer)+1000, 3), map[int][]byte{4321: outer})

	resp := stoqtest.ScanThrough(t, payload, []engine.Option{engine.WithDispatchers(mzDispatcherName)})
	if len(resp.Errors) != 0 || len(resp.Results) != 3 {
		t.Fatalf("%d results, errors %v; want the payload and the two PEs", len(resp.Results), resp.Errors)
	}
	for _, r := range resp.Results[1:] {
		if !slices.Equal(r.ExtractedBy, []string{"pecarve"}) || !slices.Contains(r.PluginsRun.Workers, "pecarve") {
			t.Errorf("carved payload of %d bytes: extracted_by %v, plugins_run %v; want pecarve once, and pecarve run on it",
				r.Size, r.ExtractedBy, r.PluginsRun.Workers)
		}
	}
	if resp.Results[1].Size != len(outer) || resp.Results[2].Size != len(inner) {
		t.Errorf("carved %d and %d bytes, want %d and %d", resp.Results[1].Size, resp.Results[2].Size, len(outer), len(inner))
	}
}

// The hostile payloads of issue 14, through an engine that sends every
// payload holding "MZ" back to pecarve for ten rounds: at most max_carved
// PEs come out of each, whatever their size, and never more bytes than
// max_carved payloads' worth. Before, the 20 KB ones gave up to 56,851
// payloads and 278 MB of JSON.
func TestHostileScansAreBounded(t *testing.T) {
	for _, c := range hostileCases() {
		if testing.Short() && len(c.content) > 100_000 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			o := scanThroughEngine(t, c.content)
			if o.payloads > 1+defaultMaxCarved {
				t.Errorf("%d payloads, want at most 1+max_carved (%d)", o.payloads, 1+defaultMaxCarved)
			}
			if o.carved > int64(defaultMaxCarved*len(c.content)) {
				t.Errorf("%d bytes carved out of %d", o.carved, len(c.content))
			}
			if o.jsonBytes > 400*o.payloads+1000 {
				t.Errorf("%d bytes of JSON for %d payloads", o.jsonBytes, o.payloads)
			}
			for _, e := range o.errors {
				if !strings.Contains(e.Message, "max_carved (100) reached") {
					t.Errorf("unexpected error %q", e.Message)
				}
			}
		})
	}
	// The section table of a chain's middle candidates is never walked:
	// 32,000 DOS headers sharing a 65,535-section NT header cost two walks.
	got, _ := carveAll(t, nil, manySections(256_000))
	if len(got) != 2 {
		t.Errorf("carved %d PEs out of the many-sections chain, want 2", len(got))
	}
}

// A real PE behind 2 MiB of "MZ" (1,048,576 candidates, none valid) is
// carved byte for byte, with or without its DOS stub text: the case the
// yara dispatcher used to miss (issue 14, item 2; yara's
// TestShippedRulesFindPEBehindMZFlood dispatches it here).
func TestCarvePEBehindMZFlood(t *testing.T) {
	exe := goExe(t, "go-hello")
	noStub := bytes.Clone(exe)
	i := bytes.Index(noStub, []byte("This program cannot be run in DOS mode"))
	if i < 0 {
		t.Fatal("the Go-built executable has no DOS stub text")
	}
	copy(noStub[i:], strings.Repeat("-", 38))
	flood := bytes.Repeat([]byte("MZ"), 1<<20)
	for name, pe := range map[string][]byte{"with stub": exe, "without stub": noStub} {
		got, resp := carveAll(t, nil, append(bytes.Clone(flood), pe...))
		checkCarved(t, got, []carved{expect(len(flood), pe)})
		if len(resp.Errors) != 0 {
			t.Errorf("%s: errors %v", name, resp.Errors)
		}
	}
}
