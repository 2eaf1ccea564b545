package elasticsearch

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// A provider with nothing to send: a run over an empty folder.
const emptyProviderManifest = "[Core]\nName = esempty\n\n[options]\nmin_stoq_version = 3.0.0\n"

type emptyProvider struct{}

func (emptyProvider) Ingest(context.Context, *core.Queue) error { return nil }

func init() {
	core.Register("esempty", []byte(emptyProviderManifest), func(*core.Config, *slog.Logger) (emptyProvider, error) {
		return emptyProvider{}, nil
	})
}

// fillSpool writes n documents to the spool folder dir, as an earlier run
// whose cluster was down would have left them, and returns their ids.
func fillSpool(t testing.TB, dir string, n int) []string {
	t.Helper()
	if _, err := openSpool(dir); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range ids {
		resp := hashResponse()
		ids[i] = resp.ScanID
		d := &document{index: "stoq-2026-11", id: resp.ScanID, body: marshal(t, resp)}
		data, err := encodeSpoolRecord(d, "flush: dial tcp 127.0.0.1:9200: connect: connection refused", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// Not synced one by one as the spool does: the test needs the
		// files, not their durability.
		if err := os.WriteFile(filepath.Join(dir, fileName(d.index, d.id)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func checkResent(t testing.TB, es *fakeES, spoolDir string, ids []string) {
	t.Helper()
	missing := 0
	for _, id := range ids {
		if _, ok := es.doc("stoq-2026-11", id); !ok {
			missing++
		}
	}
	left := len(spoolFiles(t, spoolDir))
	if missing != 0 || left != 0 {
		t.Fatalf("%d of %d spooled documents re-sent, %d spool files left", len(ids)-missing, len(ids), left)
	}
}

// TestCloseReplaysTheSpool is issue 14's run over an empty folder: the
// connector starts with 1,502 documents in its spool and is closed at once;
// Close re-sends them all before returning.
func TestCloseReplaysTheSpool(t *testing.T) {
	es := newFakeES(t)
	dir := t.TempDir()
	ids := fillSpool(t, dir, 1502)
	p := newPlugin(t, es.URL(), map[string]string{"spool_dir": dir})
	mustClose(t, p)
	checkResent(t, es, dir, ids)
}

// TestRunOverAnEmptyFolderReplaysTheSpool is the same through the engine's
// run mode, with a provider that has nothing to send.
func TestRunOverAnEmptyFolderReplaysTheSpool(t *testing.T) {
	es := newFakeES(t)
	dir := t.TempDir()
	ids := fillSpool(t, dir, 1502)
	s, err := engine.New(engine.WithProviders("esempty"), engine.WithConnectors("elasticsearch"),
		engine.WithLogger(stoqtest.Logger(t)),
		engine.WithPluginOptions(map[string]map[string]string{"elasticsearch": testOptions(t, es.URL(), map[string]string{"spool_dir": dir})}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkResent(t, es, dir, ids)
}

// TestScanReplaysTheSpool is `stoq scan`: each command builds an engine,
// scans one payload and closes. The first scan with the cluster back
// delivers everything spooled, and its own result.
func TestScanReplaysTheSpool(t *testing.T) {
	es := newFakeES(t)
	dir := t.TempDir()
	ids := fillSpool(t, dir, 1502)
	for i := range 3 {
		s, err := engine.New(engine.WithConnectors("elasticsearch"), engine.WithLogger(stoqtest.Logger(t)),
			engine.WithPluginOptions(map[string]map[string]string{"elasticsearch": testOptions(t, es.URL(), map[string]string{"spool_dir": dir})}))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := s.Scan(context.Background(), []byte(fmt.Sprint("payload ", i)), nil, nil, "esanswer")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := es.doc("stoq-"+resp.Time[:7], resp.ScanID); !ok {
			t.Fatalf("scan %d: its own result was not saved", i)
		}
		checkResent(t, es, dir, ids)
	}
	if n := len(spoolFiles(t, filepath.Join(dir, rejectedFolder))); n != 0 {
		t.Errorf("%d rejected", n)
	}
}

// TestCloseDeliversWhatThisRunSpooled: the cluster is down while the run
// saves (Save spools directly) and back when it ends: Close delivers.
func TestCloseDeliversWhatThisRunSpooled(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.down = true })
	p := newPlugin(t, es.URL(), map[string]string{"es_max_retries": "1"})
	if err := p.HealthCheck(context.Background()); err == nil {
		t.Fatal("HealthCheck succeeded while down")
	}
	if !p.isDown() {
		t.Fatal("cluster not marked down")
	}
	resps := []*core.StoqResponse{hashResponse(), hashResponse()}
	mustSave(t, p, resps...)
	if n, _ := p.spool.counts(); n != 2 {
		t.Fatalf("%d spooled while down, want 2", n)
	}
	es.set(func(f *fakeES) { f.down = false })
	mustClose(t, p)
	ids := []string{resps[0].ScanID, resps[1].ScanID}
	checkResent(t, es, p.spool.dir, ids)
}

// TestCloseWithTheClusterStillDownKeepsTheSpool: Close asks once, finds the
// cluster still down, and leaves every file where it is.
func TestCloseWithTheClusterStillDownKeepsTheSpool(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.down = true })
	dir := t.TempDir()
	fillSpool(t, dir, 20)
	p := newPlugin(t, es.URL(), map[string]string{"spool_dir": dir, "es_max_retries": "0"})
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	if n := len(spoolFiles(t, dir)); n != 21 {
		t.Fatalf("%d spool files, want 21", n)
	}
	if es.docCount() != 0 {
		t.Fatal("documents stored while down")
	}
}

// TestCloseReplayStopsAtTheTimeout: a cluster that takes documents and never
// answers holds Close for es_timeout, not longer; the files stay.
func TestCloseReplayStopsAtTheTimeout(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.hang = true })
	dir := t.TempDir()
	fillSpool(t, dir, 20)
	p := newPlugin(t, es.URL(), map[string]string{"spool_dir": dir, "es_timeout": "0.3"})
	mustClose(t, p)
	if n := len(spoolFiles(t, dir)); n != 20 {
		t.Fatalf("%d spool files, want 20", n)
	}
}
