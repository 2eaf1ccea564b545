package ole

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
	"github.com/stoq-go/stoq/plugins/ole/v3/internal/cfbwriter"
)

// Through the engine, as `stoq scan report.doc -s ole` runs it: every
// stream becomes a payload extracted from the document, with stoQ's meta;
// streams with the same content are one payload (extracted twice).
// STOQ_OLE_EXAMPLE=FILE writes the response as JSON to FILE (the README's
// example).
func TestScanThroughTheEngine(t *testing.T) {
	data, _ := cfbwriter.Build([]*cfbwriter.Node{
		cfbwriter.Stream("\x05SummaryInformation", []byte("summary")),
		cfbwriter.Stream("WordDocument", filler(3, 5000)),
		cfbwriter.Storage("ObjectPool", cfbwriter.Storage("_1711632409",
			cfbwriter.Stream("\x01CompObj", []byte("compobj")),
			cfbwriter.Stream("\x01Ole10Native", nativeStream("invoice.exe", `C:\invoice.exe`, `C:\Temp\invoice.exe`, []byte("MZ embedded"))))),
		cfbwriter.Stream("Copy", []byte("compobj")),
	}, cfbwriter.Options{})
	resp := stoqtest.ScanThrough(t, data, nil, "ole")
	if len(resp.Errors) > 0 {
		t.Fatalf("errors %v", resp.Errors)
	}
	if len(resp.Results) != 5 {
		t.Fatalf("%d results, want the document and 4 distinct streams", len(resp.Results))
	}
	root := resp.Results[0].PayloadID
	names := map[string]bool{}
	for _, r := range resp.Results[1:] {
		if r.PayloadMeta.ShouldArchive || r.ExtractedFrom[0] != root || r.ExtractedBy[0] != "ole" {
			t.Errorf("result %+v", r)
		}
		names[r.PayloadMeta.ExtraData["name"].(string)] = true
		if r.PayloadMeta.ExtraData["name"] == "Copy" && len(r.ExtractedBy) != 2 {
			t.Errorf("identical streams Copy and CompObj: extracted_by %v, want one payload extracted twice", r.ExtractedBy)
		}
	}
	for _, n := range []string{"Copy", "ObjectPool__1711632409_Ole10Native_invoice.exe", "SummaryInformation", "WordDocument"} {
		if !names[n] {
			t.Errorf("no payload named %q among %v", n, names)
		}
	}
	if out := os.Getenv("STOQ_OLE_EXAMPLE"); out != "" {
		b, _ := json.MarshalIndent(resp, "", "    ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
