package peinfo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/peinfo/v3/internal/pe"
)

// fuzzSeeds are real PEs (Go's debug/pe test data, mingw-built ones when
// mingw is installed), pecarve's fuzz corpus, and the crafted hostile PEs.
func fuzzSeeds(f *testing.F) [][]byte {
	_, goroot := goToolchain(f)
	var seeds [][]byte
	testdata, _ := filepath.Glob(filepath.Join(goroot, "src", "debug", "pe", "testdata", "*"))
	for _, path := range testdata {
		if b, err := os.ReadFile(path); err == nil && !strings.HasSuffix(path, ".c") {
			seeds = append(seeds, b)
		}
	}
	corpus, _ := filepath.Glob("../pecarve/testdata/fuzz/FuzzScan/*")
	for _, path := range corpus {
		if b, ok := readFuzzCorpusFile(path); ok {
			seeds = append(seeds, b)
		}
	}
	for _, c := range hostileCases() {
		if b := c.build(); len(b) < 64<<10 {
			seeds = append(seeds, b)
		}
	}
	if _, err := os.Stat("/usr/bin/x86_64-w64-mingw32-gcc"); err == nil {
		for _, p := range mingwBuilt(f) {
			seeds = append(seeds, p.data)
		}
	}
	return seeds
}

// readFuzzCorpusFile reads a "go test fuzz v1" file holding one []byte.
func readFuzzCorpusFile(path string) ([]byte, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	lines := strings.SplitN(string(raw), "\n", 3)
	if len(lines) < 2 || lines[0] != "go test fuzz v1" {
		return nil, false
	}
	quoted, ok := strings.CutPrefix(strings.TrimSpace(lines[1]), "[]byte(")
	if !ok {
		return nil, false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(quoted, ")"))
	return []byte(s), err == nil
}

// FuzzScan: peinfo never panics on any bytes, answers either nothing (not
// an executable), "not a PE" (one Error, no results) or results that marshal to JSON, with is_valid
// true exactly when there is no Error, extracted payloads that are capped
// subslices of the payload, and the same answer twice.
func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	cfg := stoqtest.Config(f, "peinfo", nil)
	w, err := New(cfg, stoqtest.Discard())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		first, firstJSON := fuzzScan(t, w, data)
		_, secondJSON := fuzzScan(t, w, data)
		if !bytes.Equal(firstJSON, secondJSON) {
			t.Fatalf("two scans differ:\n%s\n%s", firstJSON, secondJSON)
		}
		if first.Results == nil {
			if !looksExecutable(data) {
				if len(first.Errors) != 0 || len(first.Extracted) != 0 {
					t.Fatalf("not an executable, but errors %v, %d extracted", first.Errors, len(first.Extracted))
				}
				return
			}
			if len(first.Errors) != 1 || !strings.HasPrefix(first.Errors[0].Message, "not a PE file: ") || len(first.Extracted) != 0 {
				t.Fatalf("no results, errors %v, %d extracted", first.Errors, len(first.Extracted))
			}
			return
		}
		if r := first.Results.(*Results); r.IsValid != (len(first.Errors) == 0) {
			t.Fatalf("is_valid %v with errors %v", r.IsValid, first.Errors)
		}
		for i, ex := range first.Extracted {
			if !isSubslice(ex.Content, data) || cap(ex.Content) != len(ex.Content) || len(ex.Content) == 0 {
				t.Fatalf("extracted %d is not a capped, non-empty subslice of the payload", i)
			}
		}
	})
}

func fuzzScan(t *testing.T, w *Plugin, data []byte) (*core.WorkerResponse, []byte) {
	p := stoqtest.Payload(data, nil)
	resp, err := w.Scan(context.Background(), p, stoqtest.Request(p))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(struct {
		R any
		E []core.Error
		X []core.ExtractedPayload
	}{resp.Results, resp.Errors, resp.Extracted})
	if err != nil {
		t.Fatalf("results do not marshal: %v", err)
	}
	return resp, out
}

// FuzzSignature: reading an Authenticode signature never panics, on any
// bytes, and every certificate read has a serial number. Seeds in
// testdata/fuzz/FuzzSignature are the signatures osslsigncode made in
// TestSignedExecutables (SHA-256, and SHA-256 with a nested SHA-1 one).
func FuzzSignature(f *testing.F) {
	f.Add([]byte{0x30, 0x80})
	f.Fuzz(func(t *testing.T, blob []byte) {
		certs, _ := pe.ParseSignature(blob)
		for _, c := range certs {
			if c.SerialNumber == nil {
				t.Fatal("a certificate without a serial number")
			}
		}
	})
}
