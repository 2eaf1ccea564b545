package elasticsearch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// testTime is the time of every test response: its month names the index.
const testTime = "2026-11-27T14:13:07.481646"

// payloadResult is a payload's results with the given worker results.
func payloadResult(workers map[string]any) *core.PayloadResults {
	r := core.NewPayload([]byte("content"), nil).Results
	for k, v := range workers {
		r.Workers[k] = v
		r.PluginsRun.Workers = append(r.PluginsRun.Workers, k)
	}
	return r
}

// response is a finished scan of the given payload results.
func response(results ...*core.PayloadResults) *core.StoqResponse {
	r := stoqtest.Response()
	r.Time = testTime
	r.Results = results
	return r
}

func hashResponse() *core.StoqResponse {
	return response(payloadResult(map[string]any{"hash": map[string]any{"sha256": "be09", "md5": "65ee", "sha1": "440e"}}))
}

// newPlugin builds the connector against url with quick retries, no timed
// flush (documents go at Close or when a test flushes) and a spool folder
// of the test's own; opts override.
func newPlugin(t testing.TB, url string, opts map[string]string) *Plugin {
	t.Helper()
	return stoqtest.New[*Plugin](t, "elasticsearch", testOptions(t, url, opts))
}

func testOptions(t testing.TB, url string, opts map[string]string) map[string]string {
	all := map[string]string{
		"es_host":              url,
		"spool_dir":            t.TempDir(),
		"es_retry_backoff":     "0.001",
		"es_max_retries":       "3",
		"es_timeout":           "20",
		"flush_interval":       "3600",
		"spool_retry_interval": "3600",
	}
	for k, v := range opts {
		all[k] = v
	}
	return all
}

func mustSave(t testing.TB, p *Plugin, resps ...*core.StoqResponse) {
	t.Helper()
	for _, r := range resps {
		if err := p.Save(context.Background(), r); err != nil {
			t.Fatalf("Save(%s): %v", r.ScanID, err)
		}
	}
}

func mustClose(t testing.TB, p *Plugin) {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// spoolFiles lists the files of a spool folder (pending or rejected).
func spoolFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func readSpoolFile(t testing.TB, path string) spoolRecord {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r spoolRecord
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// waitFor polls cond until it holds; the limit only guards against a hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestBulkBodyIsActionLineAndResponseJSON(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	resp := hashResponse()
	mustSave(t, p, resp)
	mustClose(t, p)

	bodies := es.bulkBodies()
	if len(bodies) != 1 {
		t.Fatalf("got %d bulk requests, want 1", len(bodies))
	}
	want := fmt.Sprintf(`{"create":{"_id":%q,"_index":"stoq-2026-11"}}`+"\n%s\n", resp.ScanID, marshal(t, resp))
	if string(bodies[0]) != want {
		t.Errorf("bulk body:\n%s\nwant:\n%s", bodies[0], want)
	}
	lines := bytes.Split(bytes.TrimSuffix(bodies[0], []byte("\n")), []byte("\n"))
	var action map[string]map[string]string
	if err := json.Unmarshal(lines[0], &action); err != nil {
		t.Fatal(err)
	}
	if got := action["create"]; got["_index"] != "stoq-2026-11" || got["_id"] != resp.ScanID || len(got) != 2 {
		t.Errorf("action line %s", lines[0])
	}
	if !bytes.Equal(lines[1], marshal(t, resp)) {
		t.Errorf("source line differs from the marshalled response")
	}
}

func TestIndexNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  map[string]string
		index string
	}{
		{"by month (default)", nil, "stoq-2026-11"},
		{"not by month", map[string]string{"index_by_month": "false"}, "stoq"},
		{"custom index by month", map[string]string{"es_index": "results"}, "results-2026-11"},
		{"custom index", map[string]string{"es_index": "results", "index_by_month": "no"}, "results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			p := newPlugin(t, es.URL(), tc.opts)
			resp := hashResponse()
			mustSave(t, p, resp)
			mustClose(t, p)
			src, ok := es.doc(tc.index, resp.ScanID)
			if !ok {
				t.Fatalf("no document %s in %s; received %+v", resp.ScanID, tc.index, es.receivedItems())
			}
			if !bytes.Equal(src, marshal(t, resp)) {
				t.Errorf("source %s", src)
			}
		})
	}
}

func TestMonthIsTheResponseTimeNotNow(t *testing.T) {
	p := &Plugin{opts: &options{index: "stoq", indexByMonth: true}, log: stoqtest.Logger(t)}
	for _, tc := range []struct{ time, month string }{
		{"2019-05-01T00:00:00.000000", "2019-05"},
		{"2026-12-31T23:59:59.999999", "2026-12"},
		{"2024-02-29T12:00:00Z", "2024-02"},
	} {
		if got := p.month(&core.StoqResponse{Time: tc.time}); got != tc.month {
			t.Errorf("month(%s) = %s, want %s", tc.time, got, tc.month)
		}
	}
	// An unreadable time falls back to now rather than failing the save.
	if got, now := p.month(&core.StoqResponse{Time: "yesterday"}), time.Now().UTC().Format("2006-01"); got != now {
		t.Errorf("month(unreadable) = %s, want %s", got, now)
	}
}

func TestSplitDocumentsIndicesAndIDs(t *testing.T) {
	for _, byMonth := range []bool{true, false} {
		t.Run(fmt.Sprintf("index_by_month=%t", byMonth), func(t *testing.T) {
			es := newFakeES(t)
			p := newPlugin(t, es.URL(), map[string]string{"split": "true", "index_by_month": fmt.Sprint(byMonth)})
			a := payloadResult(map[string]any{"hash": map[string]any{"md5": "aa"}, "yara": []any{"rule1"}})
			b := payloadResult(map[string]any{"hash": map[string]any{"md5": "bb"}})
			c := payloadResult(nil) // no worker results: no document of its own
			resp := response(a, b, c)
			resp.Errors = []core.Error{{Message: "boom", PluginName: "exif", PayloadID: c.PayloadID}}
			mustSave(t, p, resp)
			mustClose(t, p)

			suffix := ""
			if byMonth {
				suffix = "-2026-11"
			}
			parts := resp.Split()
			want := []struct {
				index, payload, worker string
				part                   *core.StoqResponse
			}{
				{"stoq-hash" + suffix, a.PayloadID, "hash", parts[0]},
				{"stoq-yara" + suffix, a.PayloadID, "yara", parts[1]},
				{"stoq-hash" + suffix, b.PayloadID, "hash", parts[2]},
			}
			if len(parts) != len(want) || es.docCount() != len(want) {
				t.Fatalf("%d split parts, %d documents stored, want %d", len(parts), es.docCount(), len(want))
			}
			for _, w := range want {
				id := splitDocumentID(resp.ScanID, w.payload, w.worker)
				src, ok := es.doc(w.index, id)
				if !ok {
					t.Errorf("no document %s (%s on %s) in %s", id, w.worker, w.payload, w.index)
					continue
				}
				if !bytes.Equal(src, marshal(t, w.part)) {
					t.Errorf("document %s: source %s, want %s", id, src, marshal(t, w.part))
				}
			}
		})
	}
}

func TestSplitIDsAreStableAndDistinct(t *testing.T) {
	id := splitDocumentID("scan", "payload", "hash")
	if id != splitDocumentID("scan", "payload", "hash") {
		t.Error("same inputs, different ids")
	}
	if len(id) != 40 {
		t.Errorf("id %q is not a hex SHA-1", id)
	}
	// The separator keeps shifted boundaries apart.
	for _, other := range []string{
		splitDocumentID("scan", "payloadh", "ash"),
		splitDocumentID("scan", "payload", "yara"),
		splitDocumentID("scan2", "payload", "hash"),
	} {
		if other == id {
			t.Errorf("ids collide: %s", id)
		}
	}
}

func TestSplitWithoutWorkerResultsSavesTheWholeResponse(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), map[string]string{"split": "true"})
	resp := response(payloadResult(nil))
	resp.Errors = []core.Error{{Message: "yara: rules did not compile", PluginName: "yara"}}
	mustSave(t, p, resp)
	mustClose(t, p)
	src, ok := es.doc("stoq-2026-11", resp.ScanID)
	if !ok || !bytes.Equal(src, marshal(t, resp)) {
		t.Fatalf("whole response not saved in stoq-2026-11: %+v", es.receivedItems())
	}
}

func TestResponseWithoutScanIDGetsAContentID(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	resp := hashResponse()
	resp.ScanID = ""
	mustSave(t, p, resp, resp) // twice: the same id, so one document
	mustClose(t, p)
	items := es.receivedItems()
	if len(items) != 2 || items[0].ID != items[1].ID || len(items[0].ID) != 40 {
		t.Fatalf("items %+v", items)
	}
	if es.docCount() != 1 {
		t.Errorf("%d documents, want 1", es.docCount())
	}
}

func TestWholeRequestFailuresAreRetriedWithTheSameIDs(t *testing.T) {
	for _, status := range []int{503, 429, 502} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			es := newFakeES(t)
			es.set(func(f *fakeES) { f.failBulks = []int{status} })
			p := newPlugin(t, es.URL(), nil)
			resp := hashResponse()
			mustSave(t, p, resp)
			mustClose(t, p)

			bodies := es.bulkBodies()
			if len(bodies) != 2 {
				t.Fatalf("%d bulk requests, want 2 (the %d, then the retry)", len(bodies), status)
			}
			if !bytes.Equal(bodies[0], bodies[1]) {
				t.Errorf("the retry differs:\n%s\n%s", bodies[0], bodies[1])
			}
			if _, ok := es.doc("stoq-2026-11", resp.ScanID); !ok || es.docCount() != 1 {
				t.Errorf("want one document %s, have %d", resp.ScanID, es.docCount())
			}
			if n := len(spoolFiles(t, p.opts.spoolDir)); n != 0 {
				t.Errorf("spool holds %d files", n)
			}
		})
	}
}

func TestDocumentAlreadyThereIsSaved(t *testing.T) {
	// A retry of a request that had succeeded finds the document: 409 on
	// create means saved, not failed, and nothing is duplicated.
	es := newFakeES(t)
	resp := hashResponse()
	es.set(func(f *fakeES) { f.docs["stoq-2026-11/"+resp.ScanID] = marshal(t, resp) })
	p := newPlugin(t, es.URL(), nil)
	mustSave(t, p, resp)
	mustClose(t, p)
	if es.attemptsOf("stoq-2026-11", resp.ScanID) != 1 || es.docCount() != 1 {
		t.Errorf("attempts %d, documents %d", es.attemptsOf("stoq-2026-11", resp.ScanID), es.docCount())
	}
	if pending, rejected := p.spool.counts(); pending != 0 || rejected != 0 {
		t.Errorf("spool: %d pending, %d rejected", pending, rejected)
	}
}

// TestItemRefusals covers what happens to a document the cluster refuses
// in an otherwise successful bulk request, by status.
func TestItemRefusals(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		errType   string
		refusals  int // how many times the target is refused
		stored    bool
		pending   bool
		rejected  bool
		wantTries int
	}{
		{"429 once is retried", 429, "es_rejected_execution_exception", 1, true, false, false, 2},
		{"503 twice is retried", 503, "unavailable_shards_exception", 2, true, false, false, 3},
		{"400 is rejected for good", 400, "mapper_parsing_exception", 99, false, false, true, 1},
		{"413 is rejected for good", 413, "request_entity_too_large", 99, false, false, true, 1},
		// Sent, spooled, and sent once more by Close's pass over the spool.
		{"403 waits in the spool", 403, "cluster_block_exception", 99, false, true, false, 2},
		{"404 waits in the spool", 404, "index_not_found_exception", 99, false, true, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			target, other := hashResponse(), hashResponse()
			es.set(func(f *fakeES) {
				f.itemStatus = func(it bulkItem, attempt int) (int, string, string) {
					if it.ID == target.ScanID && attempt <= tc.refusals {
						return tc.status, tc.errType, "scripted refusal of " + it.ID
					}
					return 0, "", ""
				}
			})
			p := newPlugin(t, es.URL(), nil)
			mustSave(t, p, target, other)
			mustClose(t, p)

			if _, ok := es.doc("stoq-2026-11", other.ScanID); !ok {
				t.Error("the other document of the batch was not saved")
			}
			if _, ok := es.doc("stoq-2026-11", target.ScanID); ok != tc.stored {
				t.Errorf("stored = %t, want %t", ok, tc.stored)
			}
			if got := es.attemptsOf("stoq-2026-11", target.ScanID); got != tc.wantTries {
				t.Errorf("sent %d times, want %d", got, tc.wantTries)
			}
			pending := spoolFiles(t, p.spool.dir)
			rejected := spoolFiles(t, p.spool.rejectedDir)
			if (len(pending) == 1) != tc.pending || (len(rejected) == 1) != tc.rejected || len(pending) > 1 || len(rejected) > 1 {
				t.Fatalf("spool: pending %v, rejected %v", pending, rejected)
			}
			for _, f := range append(pending, rejected...) {
				rec := readSpoolFile(t, f)
				if rec.Index != "stoq-2026-11" || rec.ID != target.ScanID || !bytes.Equal(rec.Document, marshal(t, target)) {
					t.Errorf("spool record %+v", rec)
				}
				wantErr := fmt.Sprintf("status %d: %s: scripted refusal of %s", tc.status, tc.errType, target.ScanID)
				if rec.Error != wantErr {
					t.Errorf("spool error %q, want %q", rec.Error, wantErr)
				}
			}
		})
	}
}

func TestItemRetriesExhaustedGoToTheSpool(t *testing.T) {
	es := newFakeES(t)
	target := hashResponse()
	es.set(func(f *fakeES) {
		f.itemStatus = func(it bulkItem, attempt int) (int, string, string) {
			return 429, "es_rejected_execution_exception", "queue full"
		}
	})
	p := newPlugin(t, es.URL(), map[string]string{"es_max_retries": "2", "flush_interval": "0.005"})
	mustSave(t, p, target)
	waitFor(t, "three attempts", func() bool { return es.attemptsOf("stoq-2026-11", target.ScanID) >= 3 })
	waitFor(t, "the spool file", func() bool { n, _ := p.spool.counts(); return n == 1 })
	mustClose(t, p)
	if got := es.attemptsOf("stoq-2026-11", target.ScanID); got != 4 {
		t.Errorf("sent %d times, want 4 (1 + es_max_retries, then Close's pass over the spool)", got)
	}
	files := spoolFiles(t, p.spool.dir)
	if len(files) != 1 {
		t.Fatalf("pending %v", files)
	}
	if rec := readSpoolFile(t, files[0]); !strings.Contains(rec.Error, "status 429") {
		t.Errorf("spool error %q", rec.Error)
	}
}

func TestNoRetryWhenDisabled(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.failBulks = []int{503} })
	p := newPlugin(t, es.URL(), map[string]string{"es_retry": "false"})
	resp := hashResponse()
	mustSave(t, p, resp)
	mustClose(t, p)
	if n := len(es.bulkBodies()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if n, _ := p.spool.counts(); n != 1 {
		t.Errorf("%d spooled, want 1", n)
	}
}

func TestCloseFlushes(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil) // flush_interval is an hour
	resps := []*core.StoqResponse{hashResponse(), hashResponse(), hashResponse()}
	mustSave(t, p, resps...)
	if n := len(es.bulkBodies()); n != 0 {
		t.Fatalf("%d bulk requests before Close, want 0", n)
	}
	mustClose(t, p)
	for _, r := range resps {
		if _, ok := es.doc("stoq-2026-11", r.ScanID); !ok {
			t.Errorf("document %s not saved by Close", r.ScanID)
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := p.Save(context.Background(), hashResponse()); !errors.Is(err, errClosed) {
		t.Errorf("Save after Close: %v", err)
	}
}

func TestCloseSpoolsWhatIsNotAnsweredInTime(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.hang = true })
	p := newPlugin(t, es.URL(), map[string]string{"es_timeout": "0.2"})
	resp := hashResponse()
	mustSave(t, p, resp)
	mustClose(t, p)
	files := spoolFiles(t, p.spool.dir)
	if len(files) != 1 {
		t.Fatalf("spool %v", files)
	}
	if rec := readSpoolFile(t, files[0]); rec.ID != resp.ScanID || !bytes.Equal(rec.Document, marshal(t, resp)) {
		t.Errorf("spool record %+v", rec)
	}
}

func TestFlushBytesSendsWithoutWaiting(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), map[string]string{"flush_bytes": "1"})
	resp := hashResponse()
	mustSave(t, p, resp)
	// Every document is over the threshold: it is sent at once.
	waitFor(t, "the document", func() bool { _, ok := es.doc("stoq-2026-11", resp.ScanID); return ok })
}

func TestServerDownSpoolsThenResendsOnNextStart(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.down = true })
	spoolDir := t.TempDir()
	opts := map[string]string{"spool_dir": spoolDir, "es_max_retries": "1"}
	p := newPlugin(t, es.URL(), opts)
	resps := []*core.StoqResponse{hashResponse(), hashResponse()}
	mustSave(t, p, resps...)
	mustClose(t, p)
	if es.docCount() != 0 {
		t.Fatal("documents stored while down")
	}
	files := spoolFiles(t, spoolDir)
	if len(files) != 2 {
		t.Fatalf("spool %v", files)
	}
	byID := map[string]spoolRecord{}
	for _, f := range files {
		rec := readSpoolFile(t, f)
		byID[rec.ID] = rec
	}
	for _, r := range resps {
		rec, ok := byID[r.ScanID]
		if !ok || rec.Index != "stoq-2026-11" || !bytes.Equal(rec.Document, marshal(t, r)) || rec.Error == "" {
			t.Errorf("spool record of %s: %+v", r.ScanID, rec)
		}
	}

	// Next start, cluster up: New's re-sender empties the spool.
	es.set(func(f *fakeES) { f.down = false })
	p2 := newPlugin(t, es.URL(), opts)
	waitFor(t, "the spool to empty", func() bool { n, _ := p2.spool.counts(); return n == 0 })
	mustClose(t, p2)
	for _, r := range resps {
		src, ok := es.doc("stoq-2026-11", r.ScanID)
		if !ok || !bytes.Equal(src, marshal(t, r)) {
			t.Errorf("document %s not re-sent as saved", r.ScanID)
		}
	}
}

func TestServerDownThenUpResendsWhileRunning(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.down = true })
	p := newPlugin(t, es.URL(), map[string]string{
		"es_max_retries": "1", "flush_interval": "0.005", "spool_retry_interval": "0.01"})
	first := hashResponse()
	mustSave(t, p, first)
	waitFor(t, "the first document in the spool", func() bool { n, _ := p.spool.counts(); return n == 1 })
	if !p.isDown() {
		t.Fatal("cluster not marked down after a failed request")
	}
	// While down, Save spools directly: the file exists when Save returns.
	second := hashResponse()
	mustSave(t, p, second)
	if n, _ := p.spool.counts(); n != 2 {
		t.Fatalf("%d spooled after a Save while down, want 2", n)
	}

	es.set(func(f *fakeES) { f.down = false })
	waitFor(t, "the spool to empty", func() bool { n, _ := p.spool.counts(); return n == 0 })
	waitFor(t, "both documents", func() bool { return es.docCount() == 2 })
	if p.isDown() {
		t.Error("cluster still marked down")
	}
	third := hashResponse()
	mustSave(t, p, third)
	mustClose(t, p)
	for _, r := range []*core.StoqResponse{first, second, third} {
		if _, ok := es.doc("stoq-2026-11", r.ScanID); !ok {
			t.Errorf("document %s missing", r.ScanID)
		}
	}
}

func TestConnectionRefusedSpools(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	p := newPlugin(t, "http://"+addr, map[string]string{"es_max_retries": "1"})
	if err := p.HealthCheck(context.Background()); err == nil {
		t.Error("HealthCheck succeeded with no server")
	}
	resp := hashResponse()
	mustSave(t, p, resp)
	mustClose(t, p)
	files := spoolFiles(t, p.spool.dir)
	if len(files) != 1 {
		t.Fatalf("spool %v", files)
	}
	if rec := readSpoolFile(t, files[0]); rec.ID != resp.ScanID || rec.Error == "" {
		t.Errorf("spool record %+v", rec)
	}
}

func TestServerThatIsNotElasticsearchSpools(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.noProduct = true })
	p := newPlugin(t, es.URL(), nil)
	if err := p.HealthCheck(context.Background()); err == nil || !strings.Contains(err.Error(), "not Elasticsearch") {
		t.Errorf("HealthCheck: %v", err)
	}
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	if n, _ := p.spool.counts(); n != 1 {
		t.Errorf("%d spooled, want 1", n)
	}
}

func TestHealthCheck(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	if err := p.HealthCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAuthHeaders(t *testing.T) {
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	for _, tc := range []struct {
		name     string
		opts     map[string]string
		userinfo string
		want     string
	}{
		{"none", nil, "", ""},
		{"basic", map[string]string{"es_username": "elastic", "es_password": "s3cret:x"}, "", basic("elastic", "s3cret:x")},
		{"api key", map[string]string{"es_api_key": "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="}, "",
			"APIKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
		{"api key wins over basic", map[string]string{"es_api_key": "a2V5", "es_username": "u", "es_password": "p"}, "", "APIKey a2V5"},
		{"credentials in the URL", nil, "elastic:pw@", basic("elastic", "pw")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			url := strings.Replace(es.URL(), "http://", "http://"+tc.userinfo, 1)
			p := newPlugin(t, url, tc.opts)
			if err := p.HealthCheck(context.Background()); err != nil {
				t.Fatal(err)
			}
			mustSave(t, p, hashResponse())
			mustClose(t, p)
			headers := es.authHeaders()
			if len(headers) < 2 {
				t.Fatalf("%d requests", len(headers))
			}
			for _, h := range headers {
				if h != tc.want {
					t.Errorf("Authorization %q, want %q", h, tc.want)
				}
			}
		})
	}
}

func TestCACert(t *testing.T) {
	es := newFakeESHandler(t)
	es.srv = httptest.NewUnstartedServer(es)
	es.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake the untrusting client aborts
	es.srv.StartTLS()
	t.Cleanup(es.srv.Close)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: es.srv.Certificate().Raw})
	if err := os.WriteFile(caFile, pemData, 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("trusted", func(t *testing.T) {
		p := newPlugin(t, es.URL(), map[string]string{"es_ca_cert": caFile})
		resp := hashResponse()
		mustSave(t, p, resp)
		mustClose(t, p)
		if _, ok := es.doc("stoq-2026-11", resp.ScanID); !ok {
			t.Error("document not saved over TLS")
		}
	})
	t.Run("unknown authority spools", func(t *testing.T) {
		p := newPlugin(t, es.URL(), map[string]string{"es_max_retries": "0"})
		mustSave(t, p, hashResponse())
		mustClose(t, p)
		files := spoolFiles(t, p.spool.dir)
		if len(files) != 1 || !strings.Contains(readSpoolFile(t, files[0]).Error, "certificate") {
			t.Errorf("no spooled document with a certificate error in %v", files)
		}
	})
	t.Run("bad files", func(t *testing.T) {
		notPEM := filepath.Join(dir, "not.pem")
		os.WriteFile(notPEM, []byte("hello"), 0o600)
		badCert := filepath.Join(dir, "bad.pem")
		os.WriteFile(badCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), 0o600)
		for file, want := range map[string]string{
			filepath.Join(dir, "missing.pem"): "no such file",
			notPEM:                            "no PEM certificate",
			badCert:                           "certificate 1",
		} {
			_, err := stoqtest.TryNew(t, "elasticsearch", testOptions(t, es.URL(), map[string]string{"es_ca_cert": file}))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "es_ca_cert") {
				t.Errorf("es_ca_cert %s: error %v, want one naming es_ca_cert and %q", filepath.Base(file), err, want)
			}
		}
	})
}

func TestBadOptions(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"es_host", "", "es_host"},
		{"es_host", "localhost:9200", "http:// or https://"},
		{"es_host", "ftp://user:hunter2@example.org", "http:// or https://"},
		{"es_index", "Stoq", "lowercase"},
		{"es_index", "stoq results", "may not contain"},
		{"es_index", "_stoq", "may not start"},
		{"es_index", "..", "may not be named"},
		{"es_index", strings.Repeat("s", 250), "at most 247 bytes"},
		{"index_by_month", "maybe", "boolean"},
		{"split", "2", "boolean"},
		{"es_retry", "sure", "boolean"},
		{"es_timeout", "0", "positive"},
		{"es_timeout", "soon", "seconds"},
		{"es_max_retries", "-1", "0 or more"},
		{"es_max_retries", "ten", "integer"},
		{"es_retry_backoff", "-1", "seconds"},
		{"flush_interval", "0", "positive"},
		{"flush_bytes", "0", "positive"},
		{"flush_bytes", "5MB", "integer"},
		{"spool_retry_interval", "0", "positive"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			_, err := stoqtest.TryNew(t, "elasticsearch", testOptions(t, "http://127.0.0.1:9", map[string]string{tc.key: tc.value}))
			var oe *core.OptionError
			if !errors.As(err, &oe) || oe.Option != tc.key || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want an OptionError for %s mentioning %q", err, tc.key, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestSpoolDirMustBeWritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err := stoqtest.TryNew(t, "elasticsearch", testOptions(t, "http://127.0.0.1:9", map[string]string{"spool_dir": filepath.Join(file, "spool")}))
	if err == nil || !strings.Contains(err.Error(), "spool_dir") {
		t.Fatalf("error %v", err)
	}
}

func TestDefaultSpoolDir(t *testing.T) {
	t.Setenv("STOQ_HOME", "/opt/stoq")
	if d, err := defaultSpoolDir(); err != nil || d != filepath.FromSlash("/opt/stoq/spool/elasticsearch") {
		t.Errorf("with STOQ_HOME: %s, %v", d, err)
	}
	t.Setenv("STOQ_HOME", "")
	t.Setenv("XDG_CACHE_HOME", "/var/cache/me")
	if d, err := defaultSpoolDir(); err != nil || d != filepath.FromSlash("/var/cache/me/stoq/elasticsearch-spool") {
		t.Errorf("without STOQ_HOME: %s, %v", d, err)
	}
}

func TestSaveRejectsWhatCannotBeSent(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	if err := p.Save(context.Background(), nil); err == nil {
		t.Error("Save(nil) succeeded")
	}
	bad := response(payloadResult(map[string]any{"float": math.Inf(1)}))
	if err := p.Save(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "marshal") || !strings.Contains(err.Error(), bad.ScanID) {
		t.Errorf("Save(unmarshallable): %v", err)
	}
	p.opts.split = true
	if err := p.Save(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "worker float") {
		t.Errorf("Save(unmarshallable, split): %v", err)
	}
}

func TestSaveSpoolsWhenTheQueueStaysFull(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Save's deadline is already over: the queue is not waited for
	saved := 0
	for range 50 {
		if err := p.Save(ctx, hashResponse()); err != nil {
			t.Fatal(err)
		}
		saved++
	}
	mustClose(t, p)
	spooled, _ := p.spool.counts()
	if es.docCount()+spooled != saved {
		t.Errorf("%d stored + %d spooled, want %d", es.docCount(), spooled, saved)
	}
}

func TestUnreadableSpoolFileIsSetAside(t *testing.T) {
	es := newFakeES(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "0123.json"), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, es.URL(), map[string]string{"spool_dir": dir})
	waitFor(t, "the file to move", func() bool {
		_, err := os.Stat(filepath.Join(dir, rejectedFolder, "0123.json.unreadable"))
		return err == nil
	})
	mustClose(t, p)
	if es.docCount() != 0 {
		t.Error("garbage was sent")
	}
}

func TestRejectedDocumentsAreNotResent(t *testing.T) {
	es := newFakeES(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, rejectedFolder), 0o700)
	d := &document{index: "stoq", id: "x", body: []byte(`{"scan_id":"x"}`)}
	data, err := encodeSpoolRecord(d, "status 400: mapper_parsing_exception", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, rejectedFolder, fileName("stoq", "x")), data, 0o600)
	pending := &document{index: "stoq", id: "y", body: []byte(`{"scan_id":"y"}`)}
	sp := &spool{dir: dir, rejectedDir: filepath.Join(dir, rejectedFolder)}
	if _, err := sp.put(pending, "test"); err != nil {
		t.Fatal(err)
	}
	p := newPlugin(t, es.URL(), map[string]string{"spool_dir": dir})
	waitFor(t, "the pending document", func() bool { _, ok := es.doc("stoq", "y"); return ok })
	mustClose(t, p)
	if _, ok := es.doc("stoq", "x"); ok {
		t.Error("a rejected document was re-sent")
	}
	if _, rejected := p.spool.counts(); rejected != 1 {
		t.Errorf("%d rejected, want 1", rejected)
	}
}

func TestBackoff(t *testing.T) {
	for _, tc := range []struct {
		base    time.Duration
		attempt int
		want    time.Duration
	}{
		{time.Second, 1, time.Second},
		{time.Second, 2, 2 * time.Second},
		{time.Second, 4, 8 * time.Second},
		{time.Second, 6, 30 * time.Second},
		{time.Second, 1000, 30 * time.Second},
		{0, 5, 0},
		{time.Second, 0, 0},
	} {
		if got := backoff(tc.base, tc.attempt); got != tc.want {
			t.Errorf("backoff(%s, %d) = %s, want %s", tc.base, tc.attempt, got, tc.want)
		}
	}
}

func TestIndexPart(t *testing.T) {
	for in, want := range map[string]string{
		"hash":                   "hash",
		"Hash Worker":            "hash_worker",
		"a/b*c?d":                "a_b_c_d",
		strings.Repeat("x", 100): strings.Repeat("x", 64),
	} {
		if got := indexPart(in); got != want {
			t.Errorf("indexPart(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSpoolRecordRoundTrip(t *testing.T) {
	d := &document{index: "stoq-hash-2026-11", id: "abc", body: marshal(t, hashResponse())}
	data, err := encodeSpoolRecord(d, "status 503", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeSpoolRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.index != d.index || got.id != d.id || !bytes.Equal(got.body, d.body) {
		t.Errorf("round trip: %+v", got)
	}
	for _, bad := range []string{
		``, `{}`, `[]`, `{"index":"stoq","id":"x","document":[1]}`, `{"index":"STOQ","id":"x","document":{}}`,
		`{"index":"stoq","id":"","document":{}}`, `{"index":"stoq","id":"x","document":{}} trailing`,
	} {
		if _, err := decodeSpoolRecord([]byte(bad)); err == nil {
			t.Errorf("decodeSpoolRecord(%q) succeeded", bad)
		}
	}
}
