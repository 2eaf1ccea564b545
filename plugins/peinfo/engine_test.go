package peinfo

import (
	"slices"
	"testing"

	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Through the engine, as `stoq scan app.exe -s peinfo` runs it: the root
// payload has peinfo's results, and each resource is a new payload
// extracted by peinfo, with its entry as extra_data.
func TestEngineScan(t *testing.T) {
	app := mingwBuilt(t)[0]
	resp := stoqtest.ScanThrough(t, app.data, nil, "peinfo")
	if len(resp.Errors) != 0 {
		t.Fatalf("errors: %v", resp.Errors)
	}
	out := stoqtest.JSON(t, resp).(map[string]any)
	results := out["results"].([]any)
	root := maps(results[0])
	info, ok := maps(root["workers"])["peinfo"].(map[string]any)
	if !ok || info["is_exe"] != true || info["imphash"] == "" {
		t.Fatalf("root workers %s", compact(root["workers"]))
	}
	resources := info["resources"].([]any)
	if len(results) != 1+len(resources) {
		t.Fatalf("%d results, want the PE and its %d resources", len(results), len(resources))
	}
	for i, r := range results[1:] {
		r := maps(r)
		extra := maps(maps(r["payload_meta"])["extra_data"])
		if want := maps(resources[i])["name"]; extra["filename"] != want {
			t.Errorf("result %d: filename %v, want %v", i+1, extra["filename"], want)
		}
		if !slices.Equal(r["extracted_by"].([]any), []any{"peinfo"}) {
			t.Errorf("result %d: extracted_by %v", i+1, r["extracted_by"])
		}
	}
}
