package smtp

import (
	"encoding/json"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// FuzzScan runs the worker on arbitrary payloads: it never returns an
// error or panics, its response marshals to JSON, and every extracted
// payload is either a slice of the payload or freshly decoded bytes no
// larger than the payload.
func FuzzScan(f *testing.F) {
	for _, m := range malformedMessages() {
		if len(m) < 4096 {
			f.Add(m)
		}
	}
	f.Add([]byte(sample))
	w := stoqtest.New[*Plugin](f, "smtp", map[string]string{"extract_iocs": "true", "extract_unnamed": "true",
		"max_parts": "300", "max_depth": "8"})
	f.Fuzz(func(t *testing.T, data []byte) {
		p := stoqtest.Payload(data, nil)
		resp, err := w.Scan(t.Context(), p, stoqtest.Request(p))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(resp.Results); err != nil {
			t.Fatal(err)
		}
		for i, ex := range resp.Extracted {
			if len(ex.Content) > len(data)+1<<20 {
				t.Fatalf("payload %d: %d bytes from %d", i, len(ex.Content), len(data))
			}
			if _, err := json.Marshal(ex.PayloadMeta); err != nil {
				t.Fatal(err)
			}
		}
	})
}
