package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// The catalogue's real results, indexed through the fake cluster: every
// response of testdata/responses (and, in TestFreshCatalogueResponsesIndex,
// responses the plugins of this checkout produce now) must index without
// a rejection under the template, and be found by the README's queries;
// without the template, Elasticsearch's dynamic mapping refuses the yara
// results, which shows the check can fail.

// errorTypeNames are the names Elasticsearch 8 and 7 give a document the
// mapping refuses; the connector must not depend on either.
var errorTypeNames = []string{"document_parsing_exception", "mapper_parsing_exception"}

// loadResponses reads the responses (one JSON file each) of dirs, decoding
// numbers as json.Number so that they marshal back exactly as written.
func loadResponses(t testing.TB, dirs ...string) map[string]*core.StoqResponse {
	t.Helper()
	out := map[string]*core.StoqResponse{}
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			var r core.StoqResponse
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			// The month of the test responses, so index names are fixed.
			r.Time = testTime
			out[filepath.Base(dir)+"/"+strings.TrimSuffix(filepath.Base(f), ".json")] = &r
		}
	}
	if len(out) == 0 {
		t.Fatalf("no responses in %v", dirs)
	}
	return out
}

// named is the response of the sample file name.
func named(t testing.TB, resps map[string]*core.StoqResponse, name string) *core.StoqResponse {
	t.Helper()
	for key, r := range resps {
		if strings.HasSuffix(key, "/"+name) {
			return r
		}
	}
	t.Fatalf("no response of %s", name)
	return nil
}

func committedResponses(t testing.TB) map[string]*core.StoqResponse {
	return loadResponses(t, filepath.Join("testdata", "responses", "catalogue"))
}

// saveAll saves every response through a new connector to es and closes it.
func saveAll(t testing.TB, es *fakeES, resps map[string]*core.StoqResponse, opts map[string]string) *Plugin {
	t.Helper()
	p := newPlugin(t, es.URL(), opts)
	for _, name := range slices.Sorted(maps.Keys(resps)) {
		mustSave(t, p, resps[name])
	}
	mustClose(t, p)
	return p
}

// generic reads a response back as plain JSON values, numbers as text.
func generic(t testing.TB, v any) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(marshal(t, v)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// valuesAt collects the leaf values at a dotted path, through arrays.
func valuesAt(v any, path string) []string {
	var raw []any
	collect(v, strings.Split(path, "."), &raw)
	var out []string
	for _, x := range raw {
		switch y := x.(type) {
		case []any:
			for _, e := range flattenArray(y) {
				out = append(out, leafText(e))
			}
		case map[string]any, nil:
		default:
			out = append(out, leafText(y))
		}
	}
	return out
}

// expectWhole is the sorted index/id of the whole-scan documents whose
// JSON holds want at path.
func expectWhole(t testing.TB, resps map[string]*core.StoqResponse, path, want string) []string {
	var out []string
	for _, r := range resps {
		if slices.Contains(valuesAt(generic(t, r), path), want) {
			out = append(out, "stoq-2026-11/"+r.ScanID)
		}
	}
	sort.Strings(out)
	return out
}

// templateFields is how many fields the template maps (the README says
// so): an index made from it never grows.
const templateFields = 27

func TestCatalogueResponsesIndexUnderTheTemplate(t *testing.T) {
	for _, errType := range errorTypeNames {
		t.Run(errType, func(t *testing.T) {
			checkCatalogueIndexes(t, errType, committedResponses(t))
		})
	}
}

// checkCatalogueIndexes saves the responses whole and split under the
// template: nothing refused, every index made from the template, and the
// README's queries find what the responses hold.
func checkCatalogueIndexes(t *testing.T, errType string, resps map[string]*core.StoqResponse) {
	for _, split := range []bool{false, true} {
		es := newFakeES(t)
		es.set(func(f *fakeES) { f.parseErrorType = errType })
		p := saveAll(t, es, resps, map[string]string{"split": fmt.Sprint(split)})
		pending, rejected := spoolFiles(t, p.spool.dir), spoolFiles(t, p.spool.rejectedDir)
		if len(pending)+len(rejected) > 0 {
			for _, f := range append(pending, rejected...) {
				t.Errorf("split=%t: %s: %s", split, filepath.Base(f), readSpoolFile(t, f).Error)
			}
			t.FailNow()
		}
		want := 0
		for _, r := range resps {
			docs, err := p.documents(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range docs {
				src, ok := es.doc(d.index, d.id)
				if !ok || !bytes.Equal(src, d.body) {
					t.Fatalf("split=%t: document %s/%s not stored as sent", split, d.index, d.id)
				}
				want++
			}
		}
		if es.docCount() != want {
			t.Errorf("split=%t: %d documents stored, want %d", split, es.docCount(), want)
		}
		es.mu.Lock()
		for name, idx := range es.indices {
			if idx.Template != "stoq-stoq" {
				t.Errorf("split=%t: index %s was created from template %q, want stoq-stoq", split, name, idx.Template)
			}
			if n := idx.Root.count(); n != templateFields {
				t.Errorf("split=%t: index %s maps %d fields: the mapping grows with the results", split, name, n)
			}
		}
		es.mu.Unlock()
		if split {
			checkSplitQueries(t, es, resps)
		} else {
			checkWholeQueries(t, es, resps)
		}
	}
}

// readmeQuery is one of the README's example queries: a query on one field
// for a value, which must find exactly the documents holding it.
type readmeQuery struct {
	field, value string
}

func checkWholeQueries(t *testing.T, es *fakeES, resps map[string]*core.StoqResponse) {
	sha := valuesAt(generic(t, named(t, resps, "blob.bin")), "results.workers.hash.sha256")[0]
	peSHA := valuesAt(generic(t, named(t, resps, "gcc-386-mingw-exec.exe")), "results.workers.hash.sha256")
	for _, q := range []readmeQuery{
		{"results.workers.yara.matches.rule", "URL"},
		{"results.workers.yara.matches.rule", "PE_File"},
		{"results.workers.yara.matches.tags", "suspicious"},
		{"results.workers.exif.FileType", "PNG"},
		{"results.workers.exif.FileType", "Win32 EXE"},
		{"results.workers.exif.PDFVersion", "1.7"},
		{"results.workers.hash.sha256", sha},
		{"results.workers.hash.sha256", peSHA[len(peSHA)-1]},
		{"results.workers.mimetype.mimetype", "application/pdf"},
		{"results.workers.decompress.members.filename", "docs/invoice.pdf"},
		{"results.payload_meta.extra_data.filename", "setup.exe"},
		{"results.extracted_by", "pecarve"},
		{"results.plugins_run.workers", "ole"},
		{"errors.plugin_name", "decompress"},
		{"results.workers.peinfo.imports.KERNEL32.dll", "GetLastError"},
		{"results.workers.peinfo.machine_type", "IMAGE_FILE_MACHINE_I386"},
		{"results.workers.smtp.x-trace-0042", "hop 42"},
		{"results.workers.smtp.from", "Jörg Müller <jorg@example.de>"},
		{"results.workers.iocextract.ipv4", "198.51.100.7"},
	} {
		want := expectWhole(t, resps, q.field, q.value)
		if len(want) == 0 {
			t.Errorf("no response holds %s = %q: the query checks nothing", q.field, q.value)
			continue
		}
		query := fmt.Sprintf(`{"term":{%q:%q}}`, q.field, q.value)
		if got := es.find(t, "stoq-*", query); !slices.Equal(got, want) {
			t.Errorf("%s finds %v, want %v", query, got, want)
		}
	}
	// The root of a flattened field matches a leaf under any key.
	var anyKey []string
	for _, r := range resps {
		found := false
		for _, pr := range r.Results {
			flattenedLeaves("", generic(t, pr)["workers"], func(_ string, leaf any) {
				found = found || leafText(leaf) == "198.51.100.7"
			})
		}
		if found {
			anyKey = append(anyKey, "stoq-2026-11/"+r.ScanID)
		}
	}
	sort.Strings(anyKey)
	if got := es.find(t, "stoq-*", `{"term":{"results.workers":"198.51.100.7"}}`); len(anyKey) == 0 || !slices.Equal(got, anyKey) {
		t.Errorf("any worker's 198.51.100.7 finds %v, want %v", got, anyKey)
	}
	if got, want := es.find(t, "stoq-*", `{"prefix":{"results.workers.smtp.subject":"Facture"}}`), expectWhole(t, resps, "results.workers.smtp.subject", "Facture payée – échéance 2026-12-01"); len(want) != 1 || !slices.Equal(got, want) {
		t.Errorf("prefix on the subject finds %v, want %v", got, want)
	}
	// Errors are text too: a word of the message finds them.
	if got := es.find(t, "stoq-*", `{"match":{"errors.error":"valid"}}`); len(got) != 1 {
		t.Errorf("match errors.error found %v", got)
	}
	// Every document has its time, mapped as a date.
	if got := es.find(t, "stoq-*", `{"range":{"time":{"gte":"2026-11-01","lt":"2026-12-01"}}}`); len(got) != len(resps) {
		t.Errorf("range on time found %d of %d", len(got), len(resps))
	}
	// The 50,000-character ExifTool comment is kept in the source, not
	// indexed (it is over ignore_above): Lucene could not hold it.
	png := generic(t, named(t, resps, "image.png"))
	comment := valuesAt(png, "results.workers.exif.Comment")
	if len(comment) != 1 || len(comment[0]) != 50000 {
		t.Fatalf("the PNG's comment: %d values", len(comment))
	}
	if got := es.find(t, "stoq-*", fmt.Sprintf(`{"term":{"results.workers.exif.Comment":%q}}`, comment[0])); len(got) != 0 {
		t.Errorf("a 50,000-character value was indexed: %v", got)
	}
	want := expectWhole(t, resps, "results.workers.exif.Title", "Quarterly figures") // image.png, archive.zip
	if got := es.find(t, "stoq-*", `{"term":{"results.workers.exif.Title":"Quarterly figures"}}`); len(want) != 2 || !slices.Equal(got, want) {
		t.Errorf("the PNG's title finds %v, want %v", got, want)
	}
}

func checkSplitQueries(t *testing.T, es *fakeES, resps map[string]*core.StoqResponse) {
	// In split indexes a document is one payload's results of one worker:
	// the query finds payloads.
	var want []string
	for _, r := range resps {
		for _, pr := range r.Results {
			if slices.Contains(valuesAt(generic(t, pr), "workers.yara.matches.rule"), "URL") {
				want = append(want, "stoq-yara-2026-11/"+splitDocumentID(r.ScanID, pr.PayloadID, "yara"))
			}
		}
	}
	sort.Strings(want)
	if len(want) == 0 {
		t.Fatal("no payload matched rule URL")
	}
	if got := es.find(t, "stoq-yara-*", `{"term":{"results.workers.yara.matches.rule":"URL"}}`); !slices.Equal(got, want) {
		t.Errorf("split: rule URL finds %v, want %v", got, want)
	}
	if got := es.find(t, "stoq-exif-*", `{"term":{"results.workers.exif.FileType":"PNG"}}`); len(got) != 2 {
		t.Errorf("split: two PNG payloads (image.png and the one in archive.zip), found %v", got)
	}
}

// TestCatalogueResponsesWithoutTheTemplate is the control: with the
// cluster's dynamic mapping, every yara result with strings is refused
// (its [offset, identifier, data] arrays mix a number and strings), and so
// is smtp's message with 1,200 headers (the total-fields limit). The
// refused documents go to the rejected folder with the cluster's reason,
// whatever name Elasticsearch gives the error.
func TestCatalogueResponsesWithoutTheTemplate(t *testing.T) {
	for _, errType := range errorTypeNames {
		t.Run(errType, func(t *testing.T) {
			checkRejectedWithoutTemplate(t, errType, committedResponses(t))
		})
	}
}

func checkRejectedWithoutTemplate(t *testing.T, errType string, resps map[string]*core.StoqResponse) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.parseErrorType = errType })
	p := saveAll(t, es, resps, map[string]string{"manage_template": "false"})
	if calls := es.templateCallLog(); len(calls) != 0 {
		t.Fatalf("manage_template = false, yet the connector called %v", calls)
	}
	reasons := map[string]string{}
	for _, f := range spoolFiles(t, p.spool.rejectedDir) {
		rec := readSpoolFile(t, f)
		reasons[rec.ID] = rec.Error
	}
	dropper := named(t, resps, "dropper.ps1").ScanID
	reason, ok := reasons[dropper]
	if !ok {
		t.Fatalf("the yara result of dropper.ps1 was not rejected without the template (rejected: %v)", reasons)
	}
	for _, want := range []string{"status 400", errType, "results.workers.yara.matches.strings", "[long]"} {
		if !strings.Contains(reason, want) {
			t.Errorf("rejection %q does not say %q", reason, want)
		}
	}
	headers := named(t, resps, "headers.eml").ScanID
	if !strings.Contains(reasons[headers], "Limit of total fields [1000] has been exceeded") {
		t.Errorf("the 1,200-header message: %q", reasons[headers])
	}
	if n, _ := p.spool.counts(); n != 0 {
		t.Errorf("%d documents wait in the spool: rejected documents must not be re-sent", n)
	}
}

// TestFreshCatalogueResponsesIndex runs the catalogue plugins of this
// checkout (testdata/catalogue) and indexes what they answer now.
func TestFreshCatalogueResponsesIndex(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not running the catalogue plugins")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./testdata/catalogue", "-out", out)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := fmt.Sprintf("running the catalogue plugins (go run ./testdata/catalogue): %v\n%s", err, stderr.String())
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "\n(needs the repository's go.work, libyara, libmagic and exiftool; scripts/deps.sh installs them)")
	}
	resps := loadResponses(t, out)
	committed := loadResponses(t, filepath.Join("testdata", "responses", "catalogue"))
	if len(resps) != len(committed) {
		msg := fmt.Sprintf("the program wrote %d responses, testdata/responses/catalogue holds %d (a sample tool missing? %s)",
			len(resps), len(committed), strings.TrimSpace(stderr.String()))
		if os.Getenv("CI") == "true" {
			t.Error(msg)
		} else {
			t.Log(msg)
		}
	}
	// Under the template, whole and split, for both error names: checked
	// with the whole-scan queries that hold for these samples.
	for _, split := range []bool{false, true} {
		es := newFakeES(t)
		p := saveAll(t, es, resps, map[string]string{"split": fmt.Sprint(split)})
		for _, f := range append(spoolFiles(t, p.spool.dir), spoolFiles(t, p.spool.rejectedDir)...) {
			t.Errorf("split=%t: %s", split, readSpoolFile(t, f).Error)
		}
	}
	checkRejectedWithoutTemplate(t, "document_parsing_exception", resps)
}
