package filedir_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"

	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// TestRunModeRoundTrip archives and saves a folder in run mode, then
// re-scans the archive twice: through a provider queueing archiver tasks
// for the archived paths, and through filedir's own provider with
// source_archiver (the `stoq run -P filedir -S filedir` flow). Every
// re-scan must see exactly the original contents.
func TestRunModeRoundTrip(t *testing.T) {
	root := t.TempDir()
	input, archive, results := filepath.Join(root, "in"), filepath.Join(root, "archive"), filepath.Join(root, "results")
	files := map[string]string{}
	for i := range 40 {
		files[fmt.Sprintf("dir%d/file%02d", i%3, i)] = fmt.Sprintf("payload number %d %s", i, string(rune('a'+i%26)))
	}
	files["dup1"], files["dup2"] = "same content", "same content"
	writeTree(t, input, files)
	var originals []string
	for _, c := range files {
		originals = append(originals, sha256Hex([]byte(c)))
	}
	sort.Strings(originals)

	first := stoqtest.Engine(t,
		engine.WithProviders("filedir"), engine.WithDestArchivers("filedir"), engine.WithConnectors("filedir", "fdtest_collect"),
		engine.WithAlwaysDispatch("fdtest_sha"),
		engine.WithPluginOptions(map[string]map[string]string{"filedir": {
			"source_dir": input, "recursive": "true", "archive_dir": archive, "results_dir": results,
		}}))
	if err := first.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	scans, errs := collected(t, first)
	if len(errs) > 0 {
		t.Fatalf("first run errors: %v", errs)
	}
	if got := hashes(scans); !reflect.DeepEqual(got, originals) {
		t.Fatalf("first run scanned %v, want %v", got, originals)
	}

	// The results folder holds one file per scan, naming the archived path.
	entries, err := os.ReadDir(results)
	if err != nil || len(entries) != len(files) {
		t.Fatalf("results folder: %d files (%v), want %d", len(entries), err, len(files))
	}
	var archived []string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(results, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			ScanID  string `json:"scan_id"`
			Results []struct {
				Archivers map[string]struct {
					Path string `json:"path"`
				} `json:"archivers"`
			} `json:"results"`
		}
		if err := json.Unmarshal(data, &resp); err != nil || resp.ScanID != e.Name() || len(resp.Results) != 1 {
			t.Fatalf("results file %s: %v, scan_id %q", e.Name(), err, resp.ScanID)
		}
		path := resp.Results[0].Archivers["filedir"].Path
		if filepath.Dir(path) == "." || !filepath.IsAbs(path) {
			t.Fatalf("results file %s names archive path %q", e.Name(), path)
		}
		archived = append(archived, path)
	}

	paths, _ := json.Marshal(archived)
	second := stoqtest.Engine(t,
		engine.WithProviders("fdtest_tasks"), engine.WithSourceArchivers("filedir"),
		engine.WithConnectors("fdtest_collect"), engine.WithAlwaysDispatch("fdtest_sha"),
		engine.WithPluginOptions(map[string]map[string]string{
			"fdtest_tasks": {"paths": string(paths)},
			"filedir":      {"archive_dir": archive},
		}))
	if err := second.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	rescans, errs := collected(t, second)
	if len(errs) > 0 {
		t.Fatalf("re-scan errors: %v", errs)
	}
	if got := hashes(rescans); !reflect.DeepEqual(got, originals) {
		t.Fatalf("re-scan through archiver tasks saw %v, want %v", got, originals)
	}

	third := stoqtest.Engine(t,
		engine.WithProviders("filedir"), engine.WithSourceArchivers("filedir"),
		engine.WithConnectors("fdtest_collect"), engine.WithAlwaysDispatch("fdtest_sha"),
		engine.WithPluginOptions(map[string]map[string]string{"filedir": {
			"source_dir": archive, "recursive": "true", "source_archiver": "filedir", "archive_dir": archive,
		}}))
	if err := third.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	rescans, errs = collected(t, third)
	if len(errs) > 0 {
		t.Fatalf("re-scan errors: %v", errs)
	}
	// The archive stores each content once: the duplicate collapses.
	unique := uniqueSorted(originals)
	if got := hashes(rescans); !reflect.DeepEqual(got, unique) {
		t.Fatalf("re-scan of the archive folder saw %v, want %v", got, unique)
	}
}

// A source archiver task for a missing file is recorded as an error in a
// saved response, and the run goes on.
func TestRunModeMissingArchivedFileIsRecorded(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	paths, _ := json.Marshal([]string{missing})
	s := stoqtest.Engine(t,
		engine.WithProviders("fdtest_tasks"), engine.WithSourceArchivers("filedir"),
		engine.WithConnectors("fdtest_collect"), engine.WithAlwaysDispatch("fdtest_sha"),
		engine.WithPluginOptions(map[string]map[string]string{"fdtest_tasks": {"paths": string(paths)}}))
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got, errs := collected(t, s)
	if len(got) != 0 || len(errs) != 1 || errs[0].PluginName != "filedir" {
		t.Fatalf("scanned %v, errors %v: want one filedir error", got, errs)
	}
}

func hashes(s []scanned) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.sha256
	}
	sort.Strings(out)
	return out
}

func uniqueSorted(in []string) []string {
	var out []string
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}
