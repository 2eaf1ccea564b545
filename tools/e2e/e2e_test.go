// Package e2e runs the command lines of the catalogue issues against a real
// stoq binary linking the whole catalogue, built once by `stoq build --all`
// from this checkout: dirmon feeding filedir, the filedir archive round
// trip, and the yara dispatcher routing documents to pecarve with hash and
// exif on every payload.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/tools/internal/sample"
)

var stoqBin string

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	root, err := filepath.Abs("../..")
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "stoq-e2e-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	stoqBin = filepath.Join(tmp, "stoq")
	// The builder itself runs from the workspace; it builds the binary with
	// GOWORK=off from a generated module, as `make` does.
	cmd := exec.Command("go", "run", "./cli/cmd/stoq", "build", "--all", "--catalog", root, "-q", "-o", stoqBin)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "STOQ_HOME="+filepath.Join(tmp, "builder-home"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("building stoq with the catalogue: %v\n%s", err, out)
	}
	return m.Run(), nil
}

type digests struct{ MD5, SHA1, SHA256 string }

func digestsOf(b []byte) digests {
	m, s1, s2 := md5.Sum(b), sha1.Sum(b), sha256.Sum256(b)
	return digests{hex.EncodeToString(m[:]), hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:])}
}

func hashResult(t *testing.T, r *core.PayloadResults) digests {
	t.Helper()
	h, ok := r.Workers["hash"].(map[string]any)
	if !ok {
		t.Fatalf("payload %s has no hash results: %v", r.PayloadID, r.Workers)
	}
	return digests{fmt.Sprint(h["md5"]), fmt.Sprint(h["sha1"]), fmt.Sprint(h["sha256"])}
}

// stoq starts the binary with its own STOQ_HOME.
func stoq(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, stoqBin, args...)
	cmd.Env = append(os.Environ(), "STOQ_HOME="+t.TempDir())
	return cmd
}

func readResults(t *testing.T, dir string) map[string]*core.StoqResponse {
	t.Helper()
	out := map[string]*core.StoqResponse{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var r core.StoqResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if d.Name() != r.ScanID {
			return fmt.Errorf("result file %s holds scan %s: files are named by scan_id", p, r.ScanID)
		}
		out[r.ScanID] = &r
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

func windowsPE(t *testing.T) []byte {
	t.Helper()
	exes, err := sample.Executables(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return exes[0].Content
}

// TestDirmonToFiledir is the run-mode example of stoQ's guide:
// stoq run -P dirmon -C filedir -a hash --plugin-opts dirmon:source_dir=D filedir:results_dir=R
func TestDirmonToFiledir(t *testing.T) {
	watch, results := t.TempDir(), t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := stoq(t, ctx, "run", "-P", "dirmon", "-C", "filedir", "-a", "hash",
		"--plugin-opts", "dirmon:source_dir="+watch, "filedir:results_dir="+results)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	watching := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			t.Log(sc.Text())
			if !once && strings.Contains(sc.Text(), "monitoring folder") {
				once = true
				close(watching)
			}
		}
	}()
	select {
	case <-watching:
	case <-ctx.Done():
		t.Fatal("dirmon did not start")
	}
	pe := windowsPE(t)
	want := digestsOf(pe)
	// The log line comes just before the watch is in place: copy again under
	// a new name until a result appears (each copy is a new file).
	var got []*core.StoqResponse
	for i := 0; len(got) == 0; i++ {
		if ctx.Err() != nil {
			t.Fatal("no result appeared in results_dir")
		}
		copyTo := filepath.Join(watch, fmt.Sprintf("bad-%d.exe", i))
		tmp := filepath.Join(t.TempDir(), "bad.exe")
		if err := os.WriteFile(tmp, pe, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := exec.Command("cp", tmp, copyTo).Run(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(got) == 0 && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			for _, r := range readResults(t, results) {
				got = append(got, r)
			}
		}
	}
	r := got[0]
	if len(r.Results) != 1 {
		t.Fatalf("%d results", len(r.Results))
	}
	if h := hashResult(t, r.Results[0]); h != want {
		t.Errorf("hashes %+v, want %+v", h, want)
	}
	if fn, _ := r.Results[0].PayloadMeta.ExtraData["filename"].(string); !strings.HasPrefix(fn, "bad-") {
		t.Errorf("extra_data %v, want the file name", r.Results[0].PayloadMeta.ExtraData)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("stoq run after SIGINT: %v, want exit 0", err)
	}
}

// TestFiledirArchiveRoundTrip archives payloads with -A filedir, then scans
// them again from the archive through the source archiver (-S filedir).
func TestFiledirArchiveRoundTrip(t *testing.T) {
	in, archive, first, second := t.TempDir(), t.TempDir(), t.TempDir(), t.TempDir()
	want := map[digests]bool{}
	for i := 0; i < 5; i++ {
		content := []byte(fmt.Sprintf("payload number %d\n%s", i, strings.Repeat("x", i*1000)))
		want[digestsOf(content)] = true
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("f%d.txt", i)), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := stoq(t, ctx, "run", "-P", "filedir", "-A", "filedir", "-C", "filedir", "-a", "hash",
		"--plugin-opts", "filedir:source_dir="+in, "filedir:archive_dir="+archive, "filedir:results_dir="+first).CombinedOutput()
	if err != nil {
		t.Fatalf("archiving run: %v\n%s", err, out)
	}
	archived := readResults(t, first)
	if len(archived) != 5 {
		t.Fatalf("%d results from the archiving run", len(archived))
	}
	for _, r := range archived {
		if _, ok := r.Results[0].Archivers["filedir"]; !ok {
			t.Errorf("no archiver result: %v", r.Results[0].Archivers)
		}
	}
	out, err = stoq(t, ctx, "run", "-P", "filedir", "-S", "filedir", "-C", "filedir", "-a", "hash",
		"--plugin-opts", "filedir:source_dir="+archive, "filedir:recursive=true", "filedir:source_archiver=filedir",
		"filedir:archive_dir="+archive, "filedir:results_dir="+second).CombinedOutput()
	if err != nil {
		t.Fatalf("re-scan run: %v\n%s", err, out)
	}
	rescanned := readResults(t, second)
	got := map[digests]bool{}
	for _, r := range rescanned {
		if len(r.Errors) != 0 {
			t.Errorf("errors: %+v", r.Errors)
		}
		for _, res := range r.Results {
			got[hashResult(t, res)] = true
		}
	}
	if len(got) != len(want) {
		t.Fatalf("re-scanned %d distinct payloads, want %d", len(got), len(want))
	}
	for d := range want {
		if !got[d] {
			t.Errorf("payload %s not re-scanned from the archive", d.SHA256)
		}
	}
}

// TestYaraDispatchesDocumentsToPecarve is the catalogue wave 2 check:
// stoq run -P filedir -R yara -a hash exif -C filedir over documents with
// embedded executables.
func TestYaraDispatchesDocumentsToPecarve(t *testing.T) {
	in, results := t.TempDir(), t.TempDir()
	exes, err := sample.Executables(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// pecarve trims each executable to the end of its last section, as
	// stoQ's pefile trim() does (these MinGW binaries carry a symbol table
	// after their sections, which is left behind).
	wantPE := map[string]bool{}
	for _, e := range exes {
		wantPE[digestsOf(e.Content[:sectionsEnd(t, e.Content)]).SHA256] = true
	}
	for i := 0; i < 3; i++ {
		doc := sample.PDF(exes)
		doc = append(doc, []byte(fmt.Sprintf("%% document %d\n", i))...) // distinct documents
		if err := os.WriteFile(filepath.Join(in, fmt.Sprintf("invoice-%d.pdf", i)), doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := stoq(t, ctx, "run", "-P", "filedir", "-R", "yara", "-a", "hash", "exif", "-C", "filedir",
		"--plugin-opts", "filedir:source_dir="+in, "filedir:results_dir="+results).CombinedOutput()
	if err != nil {
		t.Fatalf("stoq run: %v\n%s", err, out)
	}
	responses := readResults(t, results)
	if len(responses) != 3 {
		t.Fatalf("%d responses, want one per document", len(responses))
	}
	for _, r := range responses {
		if len(r.Errors) != 0 {
			t.Errorf("errors: %+v", r.Errors)
		}
		if len(r.Results) != 1+len(exes) {
			t.Fatalf("%d payloads, want the document and %d carved executables", len(r.Results), len(exes))
		}
		doc := r.Results[0]
		if !contains(doc.PluginsRun.Workers, "pecarve") {
			t.Errorf("the document was not dispatched to pecarve: ran %v", doc.PluginsRun.Workers)
		}
		if ft := doc.Workers["exif"].(map[string]any)["FileType"]; ft != "PDF" {
			t.Errorf("document exif FileType %v", ft)
		}
		var carved []string
		for _, res := range r.Results[1:] {
			if !equal(res.ExtractedBy, "pecarve") || res.ExtractedFrom[0] != doc.PayloadID {
				t.Errorf("payload extracted_by %v from %v", res.ExtractedBy, res.ExtractedFrom)
			}
			if _, ok := res.PayloadMeta.ExtraData["offset"]; !ok {
				t.Errorf("carved payload without its offset: %v", res.PayloadMeta.ExtraData)
			}
			carved = append(carved, hashResult(t, res).SHA256)
			exif, _ := res.Workers["exif"].(map[string]any)
			if ft, _ := exif["FileType"].(string); !strings.HasPrefix(ft, "Win") || !strings.Contains(ft, "EXE") {
				t.Errorf("carved payload exif FileType %q, want a Windows EXE", ft)
			}
		}
		sort.Strings(carved)
		for _, c := range carved {
			if !wantPE[c] {
				t.Errorf("carved %s is none of the embedded executables", c)
			}
		}
	}
}

// sectionsEnd is where a PE's last section's raw data ends.
func sectionsEnd(t *testing.T, exe []byte) int {
	t.Helper()
	f, err := pe.NewFile(bytes.NewReader(exe))
	if err != nil {
		t.Fatal(err)
	}
	end := 0
	for _, s := range f.Sections {
		end = max(end, int(s.Offset+s.Size))
	}
	return end
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// equal reports whether list holds only s (pecarve may find a carved PE
// again inside itself, which de-duplication appends).
func equal(list []string, s string) bool {
	for _, x := range list {
		if x != s {
			return false
		}
	}
	return len(list) > 0
}

// TestEmailPipeline is the e-mail pipeline check: `stoq scan mail.eml -R
// yara -a hash` takes an e-mail carrying a zip (made by Debian's zip)
// carrying a document with embedded executables all the way down, routed
// by the yara plugin's shipped dispatch rules alone: smtp extracts the zip,
// decompress the document, pecarve the executables, and hash runs on each.
func TestEmailPipeline(t *testing.T) {
	work := t.TempDir()
	exes, err := sample.Executables(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	doc := sample.PDF(exes)
	if err := os.WriteFile(filepath.Join(work, "invoice.pdf"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	zipCmd := exec.Command("zip", "-q", "-X", "invoice.zip", "invoice.pdf")
	zipCmd.Dir = work
	if out, err := zipCmd.CombinedOutput(); err != nil {
		t.Fatalf("zip (Debian's, from scripts/deps.sh): %v\n%s", err, out)
	}
	zipped, err := os.ReadFile(filepath.Join(work, "invoice.zip"))
	if err != nil {
		t.Fatal(err)
	}
	mail := filepath.Join(work, "invoice.eml")
	if err := os.WriteFile(mail, sample.Mail(sample.File{Name: "invoice.zip", Content: zipped}), 0o644); err != nil {
		t.Fatal(err)
	}
	r, out := scanJSON(t, mail, "-R", "yara", "-a", "hash")
	if len(r.Errors) != 0 {
		t.Errorf("errors: %+v", r.Errors)
	}
	byID := map[string]*core.PayloadResults{}
	for _, res := range r.Results {
		byID[res.PayloadID] = res
	}
	// Each level: which worker extracted it and which ran on it.
	levels := []struct {
		name        string
		content     []byte
		extractedBy string
		ran         string
	}{
		{"the e-mail", nil, "", "smtp"},
		{"the zip", zipped, "smtp", "decompress"},
		{"the document", doc, "decompress", "pecarve"},
	}
	parent := ""
	for i, lv := range levels {
		var found *core.PayloadResults
		for _, res := range r.Results {
			if lv.extractedBy == "" && len(res.ExtractedFrom) == 0 ||
				lv.extractedBy != "" && contains(res.ExtractedBy, lv.extractedBy) && contains(res.ExtractedFrom, parent) {
				found = res
				break
			}
		}
		if found == nil {
			t.Fatalf("level %d: no payload for %s (extracted by %q from %s); results:\n%s", i, lv.name, lv.extractedBy, parent, out)
		}
		if !contains(found.PluginsRun.Workers, lv.ran) || !contains(found.PluginsRun.Workers, "hash") {
			t.Errorf("%s: workers run %v, want %s and hash", lv.name, found.PluginsRun.Workers, lv.ran)
		}
		if lv.content != nil && hashResult(t, found).SHA256 != digestsOf(lv.content).SHA256 {
			t.Errorf("%s: sha256 %s, want the original's %s", lv.name, hashResult(t, found).SHA256, digestsOf(lv.content).SHA256)
		}
		parent = found.PayloadID
	}
	wantPE := map[string]bool{}
	for _, e := range exes {
		wantPE[digestsOf(e.Content[:sectionsEnd(t, e.Content)]).SHA256] = true
	}
	carved := 0
	for _, res := range r.Results {
		if contains(res.ExtractedBy, "pecarve") && contains(res.ExtractedFrom, parent) {
			carved++
			if sum := hashResult(t, res).SHA256; !wantPE[sum] {
				t.Errorf("carved %s is none of the embedded executables", sum)
			}
		}
	}
	if carved != len(exes) {
		t.Errorf("%d executables carved from the document, want %d", carved, len(exes))
	}
}

// TestPEBehindAnMZFloodIsCarved: a real executable placed behind 2 MiB of
// "MZ" markers (an evasion of quadratic dispatch rules) is still routed to
// pecarve by yara's shipped rules and carved with its own hashes.
func TestPEBehindAnMZFloodIsCarved(t *testing.T) {
	exes, err := sample.Executables(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	exe := exes[0].Content
	flood := append(bytes.Repeat([]byte("MZ"), 1<<20), exe...)
	path := filepath.Join(t.TempDir(), "flood.bin")
	if err := os.WriteFile(path, flood, 0o644); err != nil {
		t.Fatal(err)
	}
	r, _ := scanJSON(t, path, "-R", "yara", "-a", "hash")
	want := digestsOf(exe[:sectionsEnd(t, exe)]).SHA256
	for _, res := range r.Results {
		if contains(res.ExtractedBy, "pecarve") && hashResult(t, res).SHA256 == want {
			return
		}
	}
	t.Fatalf("the executable behind the flood was not carved; %d payloads, errors %v", len(r.Results), r.Errors)
}

// scanJSON runs `stoq scan FILE ARGS...` and returns its response, and the
// JSON as printed.
func scanJSON(t *testing.T, file string, args ...string) (*core.StoqResponse, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := stoq(t, ctx, append([]string{"scan", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("stoq scan: %v\n%s", err, stderr.Bytes())
	}
	var r core.StoqResponse
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("response: %v\n%s", err, out)
	}
	return &r, out
}
