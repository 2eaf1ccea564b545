package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// fanOut extracts n distinct payloads from every payload it sees, each its
// parent's content plus a suffix: every level is new content, as the
// overlapping carves of a hostile PE were.
func fanOut(n, size int) *fnWorker {
	return &fnWorker{scan: func(_ context.Context, p *core.Payload, _ *core.Request) (*core.WorkerResponse, error) {
		resp := &core.WorkerResponse{}
		for i := range n {
			c := make([]byte, 0, len(p.Content)+size+8)
			c = append(c, p.Content...)
			c = fmt.Appendf(c, "/%d", i)
			for len(c) < len(p.Content)+size {
				c = append(c, '.')
			}
			resp.Extracted = append(resp.Extracted, core.ExtractedPayload{Content: c})
		}
		return resp, nil
	}}
}

// limitErrors returns the errors naming limit.
func limitErrors(r *core.StoqResponse, limit string) []core.Error {
	var out []core.Error
	for _, e := range r.Errors {
		if strings.HasPrefix(e.Message, limit+" ") {
			out = append(out, e)
		}
	}
	return out
}

func TestMaxPayloadsBoundsAnAmplifyingExtractor(t *testing.T) {
	w := register(t, "fanout", fanOut(300, 0), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithSetting("max_payloads", "100"))
	resp := scan(t, s, "root")
	if len(resp.Results) != 100 {
		t.Fatalf("%d payloads, want max_payloads = 100", len(resp.Results))
	}
	errs := limitErrors(resp, "max_payloads")
	if len(errs) != 1 {
		t.Fatalf("%d max_payloads errors, want 1: %v", len(errs), errorsOf(resp))
	}
	// Round 1 extracts 300 of which 99 fit; round 2 asks the 99 for 300
	// each, all dropped.
	want := fmt.Sprintf("max_payloads (100) reached: %d more extracted payload(s)", 300-99+99*300)
	if !strings.HasPrefix(errs[0].Message, want) || !strings.Contains(errs[0].Message, "extracted by "+w) {
		t.Errorf("error %q, want it to start %q and name %s", errs[0].Message, want, w)
	}
	if n := len(resp.Errors); n != 1 {
		t.Errorf("%d errors, want only the limit's: %v", n, errorsOf(resp)[:min(n, 5)])
	}
}

func TestMaxPayloadsCountsRootsAndKeepsThem(t *testing.T) {
	w := register(t, "fanout", fanOut(3, 0), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithSetting("max_payloads", "4"))
	var roots []*core.Payload
	for i := range 5 {
		roots = append(roots, core.NewPayload(fmt.Appendf(nil, "root %d", i), nil))
	}
	resp, err := s.ScanRequest(context.Background(), core.NewRequest(roots, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 5 {
		t.Errorf("%d payloads, want the 5 roots", len(resp.Results))
	}
	for i, r := range resp.Results {
		if got := strings.Join(r.PluginsRun.Workers, ","); got != w {
			t.Errorf("root %d: workers run %q, want %s", i, got, w)
		}
	}
	if errs := limitErrors(resp, "max_payloads"); len(errs) != 1 || !strings.Contains(errs[0].Message, ": 15 more") {
		t.Errorf("errors %v, want one max_payloads error dropping 15", errorsOf(resp))
	}
}

func TestMaxExtractedBytesKeepsWhatCameBefore(t *testing.T) {
	const mib = 1 << 20
	w := register(t, "fanout", fanOut(10, mib), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithMaxRecursion(1), engine.WithSetting("max_extracted_bytes", "3MiB"))
	resp := scan(t, s, "root")
	if len(resp.Results) != 1+2 {
		// Each is "root" and 1 MiB: two fit in 3 MiB, the third does not.
		t.Fatalf("%d payloads, want the root and 2 extracted", len(resp.Results))
	}
	errs := limitErrors(resp, "max_extracted_bytes")
	if len(errs) != 1 {
		t.Fatalf("errors %v, want one max_extracted_bytes error", errorsOf(resp))
	}
	one := len("root") + mib
	want := fmt.Sprintf("max_extracted_bytes (3145728 bytes) reached after %d bytes: 8 more extracted payload(s) of %d bytes in all dropped", 2*one, 8*one)
	if !strings.HasPrefix(errs[0].Message, want) {
		t.Errorf("error %q, want %q", errs[0].Message, want)
	}
}

func TestMaxExtractedBytesZeroExtractsNothing(t *testing.T) {
	w := register(t, "fanout", fanOut(2, 0), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithSetting("max_extracted_bytes", "0"))
	resp := scan(t, s, "root")
	if len(resp.Results) != 1 || len(limitErrors(resp, "max_extracted_bytes")) != 1 {
		t.Errorf("%d payloads, errors %v: want the root alone and one error", len(resp.Results), errorsOf(resp))
	}
}

func TestMaxPayloadSizeRefusesRootsAndDropsExtracted(t *testing.T) {
	w := register(t, "fanout", fanOut(3, 100), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithSetting("max_payload_size", "50"))
	big := scan(t, s, strings.Repeat("x", 51))
	if len(big.Results) != 1 || len(big.Results[0].PluginsRun.Workers) != 0 {
		t.Fatalf("an oversized root was scanned: %+v", big.Results)
	}
	if m := big.Results[0].PayloadMeta; m.ShouldScan || m.ShouldArchive {
		t.Errorf("oversized root's meta %+v, want should_scan and should_archive false", m)
	}
	errs := limitErrors(big, "max_payload_size")
	if len(errs) != 1 || errs[0].PayloadID != big.Results[0].PayloadID || !strings.Contains(errs[0].Message, "payload of 51 bytes not scanned") {
		t.Errorf("errors %+v, want one naming the root", big.Errors)
	}

	small := scan(t, s, "root")
	if len(small.Results) != 1 || len(small.Results[0].PluginsRun.Workers) != 1 {
		t.Fatalf("results %+v, want the root scanned and nothing extracted", small.Results)
	}
	errs = limitErrors(small, "max_payload_size")
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "3 extracted payload(s) of 312 bytes in all (the largest 104 bytes) dropped") {
		t.Errorf("errors %v, want one max_payload_size error for 3 payloads", errorsOf(small))
	}
}

func TestDuplicatesMergeBeforeAnyLimit(t *testing.T) {
	w := register(t, "same", extractor("a", "a", "a", "b"), nil)
	s := newEngine(t, engine.WithAlwaysDispatch(w), engine.WithSetting("max_payloads", "3"))
	resp := scan(t, s, "root")
	if len(resp.Results) != 3 || len(resp.Errors) != 0 {
		t.Fatalf("%d payloads, errors %v: want root, a and b, no error", len(resp.Results), errorsOf(resp))
	}
	if got := len(resp.Results[1].ExtractedBy); got < 3 {
		t.Errorf("a's extracted_by has %d entries, want at least 3", got)
	}
}

func TestLimitSettingsAreChecked(t *testing.T) {
	s := newEngine(t)
	got := s.Settings()
	if got.MaxPayloads != 1000 || got.MaxExtractedBytes != 1<<30 || got.MaxPayloadSize != 4<<30 {
		t.Errorf("defaults %d, %d, %d", got.MaxPayloads, got.MaxExtractedBytes, got.MaxPayloadSize)
	}
	s = newEngine(t, engine.WithSetting("max_payload_size", " 512 MiB "), engine.WithSetting("max_extracted_bytes", "2gib"))
	if got := s.Settings(); got.MaxPayloadSize != 512<<20 || got.MaxExtractedBytes != 2<<30 {
		t.Errorf("sizes with units: %d, %d", got.MaxPayloadSize, got.MaxExtractedBytes)
	}
	for key, bad := range map[string]string{
		"max_payloads": "0", "max_payload_size": "0", "max_extracted_bytes": "-1",
		"max_payload_size ": "1e9", "max_extracted_bytes ": "12abc", "max_payloads ": "99999999999",
	} {
		key = strings.TrimSpace(key)
		_, err := engine.New(engine.WithSetting(key, bad))
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("%s = %s: %v, want an error naming both", key, bad, err)
		}
	}
}
