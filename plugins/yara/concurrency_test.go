package yara

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// TestConcurrentScans scans from 16 goroutines at once, worker and
// dispatcher interleaved, each payload with its own marker offset, and checks
// every result belongs to its own payload (run with -race; a scanner shared
// between goroutines corrupts libyara's match lists).
func TestConcurrentScans(t *testing.T) {
	p := newPlugin(t, map[string]string{
		"worker_rules":   filepath.Join("testdata", "bench.yar"),
		"dispatch_rules": filepath.Join("rules", "dispatcher.yar"),
	})
	const goroutines, perGoroutine = 16, 12
	marker := []byte("http://malicious.example.com/payload.bin")
	pe := minimalPE()

	var wg sync.WaitGroup
	errs := make(chan error, goroutines*perGoroutine)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perGoroutine {
				offset := 1000 + 97*g + 13*i
				content := make([]byte, 8192+offset)
				copy(content[offset:], marker)
				copy(content[offset+100:], pe)
				pl := stoqtest.Payload(content, nil)

				resp, err := p.Scan(context.Background(), pl, stoqtest.Request(pl))
				if err != nil {
					errs <- err
					continue
				}
				if err := checkURLAt(resp.Results.(Results).Matches, uint64(offset)); err != nil {
					errs <- fmt.Errorf("goroutine %d scan %d: %w", g, i, err)
				}
				d, err := p.GetDispatches(context.Background(), pl, stoqtest.Request(pl))
				if err != nil {
					errs <- err
					continue
				}
				m, ok := d.Meta["pecarve"].(Match)
				if !ok || len(m.Strings) == 0 || m.Strings[0].Identifier != "$mz" || m.Strings[0].Offset != uint64(offset+100) {
					errs <- fmt.Errorf("goroutine %d scan %d: dispatch %+v, want $mz at %d", g, i, d, offset+100)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func checkURLAt(matches []Match, offset uint64) error {
	for _, m := range matches {
		if m.Rule == "Suspicious_URL" {
			if len(m.Strings) != 1 || m.Strings[0].Offset != offset {
				return fmt.Errorf("Suspicious_URL strings %+v, want one at %d", m.Strings, offset)
			}
			return nil
		}
	}
	return fmt.Errorf("no Suspicious_URL among %v", ruleNames(matches))
}
