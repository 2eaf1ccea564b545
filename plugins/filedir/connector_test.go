package filedir

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

func newResponse(extra string) *core.StoqResponse {
	p := stoqtest.Payload([]byte("payload "+extra), map[string]any{"filename": "x<&>" + extra})
	p.Results.Workers["hash"] = map[string]any{"sha1": "abc"}
	return stoqtest.Response(p)
}

// listFiles lists every file under dir, relative, sorted.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSaveWritesOneFileNamedByScanID(t *testing.T) {
	for _, fsync := range []string{"false", "true"} {
		t.Run("fsync="+fsync, func(t *testing.T) { testSaveWritesOneFile(t, fsync) })
	}
}

func testSaveWritesOneFile(t *testing.T, fsync string) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir, "fsync": fsync})
	resp := newResponse("1")
	if err := p.Save(context.Background(), resp); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{resp.ScanID}) {
		t.Fatalf("results folder holds %v, want only %s", got, resp.ScanID)
	}
	data, err := os.ReadFile(filepath.Join(dir, resp.ScanID))
	if err != nil {
		t.Fatal(err)
	}
	var got any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("results file is not JSON: %v", err)
	}
	if !reflect.DeepEqual(got, stoqtest.JSON(t, resp)) {
		t.Fatalf("results file = %s, want the response", data)
	}
	if info, _ := os.Stat(filepath.Join(dir, resp.ScanID)); info.Mode().Perm() != 0o644 {
		t.Errorf("results file mode %v, want 0644", info.Mode().Perm())
	}
}

func TestSaveCompactlyOrIndented(t *testing.T) {
	resp := newResponse("fmt")
	for _, tc := range []struct {
		compactly string
		check     func(t *testing.T, data []byte)
	}{
		{"true", func(t *testing.T, data []byte) {
			if bytes.Count(data, []byte("\n")) != 1 || !bytes.HasSuffix(data, []byte("}\n")) {
				t.Errorf("compact results are not one line: %q", data)
			}
			if !bytes.Contains(data, []byte(`"filename":"x<&>fmt"`)) {
				t.Errorf("HTML characters escaped, unlike stoQ: %s", data)
			}
		}},
		{"false", func(t *testing.T, data []byte) {
			if !bytes.HasPrefix(data, []byte("{\n    \"time\": ")) {
				t.Errorf("indented results do not use 4 spaces: %q", data[:min(len(data), 40)])
			}
			if !bytes.Contains(data, []byte("\n            \"payload_meta\": {\n")) {
				t.Errorf("nested keys not indented by 4 per level: %s", data)
			}
		}},
	} {
		t.Run("compactly="+tc.compactly, func(t *testing.T) {
			dir := t.TempDir()
			p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir, "compactly": tc.compactly})
			if err := p.Save(context.Background(), resp); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, resp.ScanID))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, data)
			var back any
			if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, stoqtest.JSON(t, resp)) {
				t.Errorf("results do not decode to the response (%v)", err)
			}
		})
	}
}

func TestSaveDateMode(t *testing.T) {
	at := time.Date(2026, 3, 7, 9, 5, 1, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		format, folder string
	}{
		{"", "2026/03/07"}, // the default, %Y/%m/%d
		{"%Y-%m-%d", "2026-03-07"},
		{"%Y/%j/%H%M", "2026/066/0905"},
		{"day %d of %B", "day 07 of March"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			dir := t.TempDir()
			opts := map[string]string{"results_dir": dir, "date_mode": "yes"}
			if tc.format != "" {
				opts["date_format"] = tc.format
			}
			p := stoqtest.New[*Plugin](t, "filedir", opts)
			p.now = func() time.Time { return at }
			resp := newResponse("date")
			if err := p.Save(context.Background(), resp); err != nil {
				t.Fatal(err)
			}
			if got, want := listFiles(t, dir), []string{tc.folder + "/" + resp.ScanID}; !reflect.DeepEqual(got, want) {
				t.Fatalf("results folder holds %v, want %v", got, want)
			}
		})
	}
}

func TestSaveWithoutDateModeIgnoresDateFormat(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir, "date_format": "%Y"})
	resp := newResponse("flat")
	if err := p.Save(context.Background(), resp); err != nil {
		t.Fatal(err)
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{resp.ScanID}) {
		t.Fatalf("results folder holds %v", got)
	}
}

func TestSaveNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir})
	resp := newResponse("again")
	ctx := context.Background()
	if err := p.Save(ctx, resp); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, resp.ScanID)
	first, _ := os.ReadFile(path)

	// A retried save of the same scan is a success and changes nothing.
	if err := p.Save(ctx, resp); err != nil {
		t.Fatalf("saving the same response again: %v", err)
	}
	// The same scan id with different content is refused.
	changed := *resp
	changed.Errors = []core.Error{{Message: "late error"}}
	err := p.Save(ctx, &changed)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "different content") {
		t.Fatalf("saving different content under the same scan id = %v, want an error naming %s", err, path)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, first) {
		t.Fatal("existing results file was modified")
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{resp.ScanID}) {
		t.Fatalf("results folder holds %v (temporary files left behind?)", got)
	}
}

// Concurrent saves of one scan id: identical content all succeed, and one
// complete file exists; different contents: exactly one wins, the others
// fail, and the file is whole.
func TestSaveConcurrentIsAtomic(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": dir})
	base := newResponse("race")
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	variants := make([]*core.StoqResponse, n)
	for i := range n {
		v := *base
		v.Errors = []core.Error{{Message: strings.Repeat("x", i*1000)}}
		variants[i] = &v
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Save(context.Background(), variants[i])
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("two different contents were both saved: %d and %d", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no save succeeded: %v", errors.Join(errs...))
	}
	data, _ := os.ReadFile(filepath.Join(dir, base.ScanID))
	var want bytes.Buffer
	variants[winner].Encode(&want, p.compactly)
	if !bytes.Equal(data, want.Bytes()) {
		t.Fatal("the results file is not the winner's whole content")
	}

	for i := range n { // identical content: every save succeeds
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.Save(context.Background(), variants[winner])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("identical saves failed: %v", err)
	}
	if got := listFiles(t, dir); !reflect.DeepEqual(got, []string{base.ScanID}) {
		t.Fatalf("results folder holds %v", got)
	}
}

func TestSaveRefusesUnsafeScanIDs(t *testing.T) {
	dir := t.TempDir()
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": filepath.Join(dir, "results")})
	for _, id := range []string{"", "../escape", "a/b", "/abs", ".hidden", ".."} {
		resp := newResponse("id")
		resp.ScanID = id
		if err := p.Save(context.Background(), resp); err == nil {
			t.Errorf("Save with scan_id %q succeeded", id)
		}
	}
	if got := listFiles(t, dir); len(got) != 0 {
		t.Fatalf("files written: %v", got)
	}
}

func TestSaveHonoursCancelledContext(t *testing.T) {
	p := stoqtest.New[*Plugin](t, "filedir", map[string]string{"results_dir": t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Save(ctx, newResponse("c")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Save with a cancelled context = %v", err)
	}
}

func TestBadOptionsAreConstructorErrors(t *testing.T) {
	for _, tc := range []struct{ option, value string }{
		{"date_format", "%Y/%Q"},
		{"date_format", "%Y%"},
		{"date_format", "/var/%Y"},
		{"date_format", "../%Y"},
		{"date_format", "%Y/../.."},
		{"compactly", "maybe"},
		{"date_mode", "2"},
		{"use_sha", "sha"},
		{"recursive", "deep"},
		{"restrict_to_archive_dir", "x"},
		{"results_dir", " "},
		{"archive_dir", ""},
	} {
		_, err := stoqtest.TryNew(t, "filedir", map[string]string{tc.option: tc.value})
		var oe *core.OptionError
		if !errors.As(err, &oe) || oe.Option != tc.option || oe.Plugin != "filedir" {
			t.Errorf("%s = %q: New error = %v, want an OptionError naming the option", tc.option, tc.value, err)
		}
	}
}

func TestManifestDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	p := stoqtest.New[*Plugin](t, "filedir", nil)
	if p.resultsDir != filepath.Join(dir, "results") || p.archiveDir != filepath.Join(dir, "archive") {
		t.Errorf("default folders %s and %s, want results and archive in the working directory", p.resultsDir, p.archiveDir)
	}
	if p.recursive || p.dateMode || !p.compactly || !p.useSHA || p.restrictToDir || p.sourceDir != "" || p.sourceArchiver != "" {
		t.Errorf("defaults differ from stoQ's: %+v", p)
	}
	if got := p.dateFormat.Format(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); got != "2026/11/27" {
		t.Errorf("default date_format prints %q, want 2026/11/27", got)
	}
}
