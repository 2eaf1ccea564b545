package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

func TestFailedSavesAreSpooledAndResent(t *testing.T) {
	spool := t.TempDir()
	conn := &memConnector{fail: errors.New("index unavailable")}
	cn := register(t, "flaky", conn, nil)
	w := register(t, "w", &fnWorker{}, nil)
	s := newEngine(t, engine.WithConnectors(cn), engine.WithSetting("spool_dir", spool))
	resp := scan(t, s, "payload", w)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "index unavailable") || !strings.Contains(resp.Errors[0].Message, "spooled to") {
		t.Fatalf("errors %v, want the failure with where it was spooled", errorsOf(resp))
	}
	path := filepath.Join(spool, cn, resp.ScanID+".json")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("response not spooled: %v", err)
	}

	// Still down: the file stays.
	if n, err := s.ResendSpooled(context.Background()); n != 0 || err == nil {
		t.Errorf("ResendSpooled with the connector still failing = %d, %v", n, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("a spooled result was dropped while its connector still fails")
	}

	conn.mu.Lock()
	conn.fail = nil
	conn.mu.Unlock()
	n, err := s.ResendSpooled(context.Background())
	if n != 1 || err != nil {
		t.Fatalf("ResendSpooled = %d, %v", n, err)
	}
	saved := conn.responses()
	if len(saved) != 1 || saved[0].ScanID != resp.ScanID || saved[0].Results[0].PayloadID != resp.Results[0].PayloadID {
		t.Fatalf("re-sent %+v, want the spooled response", saved)
	}
	if _, ok := saved[0].Results[0].Workers[w]; !ok {
		t.Error("worker results lost through the spool")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a re-sent result was left in the spool")
	}
}

func TestRunResendsSpooledResultsFirst(t *testing.T) {
	spool := t.TempDir()
	conn := &memConnector{}
	cn := register(t, "conn", conn, nil)
	dir := filepath.Join(spool, cn)
	os.MkdirAll(dir, 0o700)
	old := stoqtest.Response(core.NewPayload([]byte("old"), nil))
	data := []byte(mustJSON(t, old))
	os.WriteFile(filepath.Join(dir, old.ScanID+".json"), data, 0o600)
	os.WriteFile(filepath.Join(dir, "garbage.json"), []byte("{not json"), 0o600)
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		return q.PutPayload(ctx, core.NewPayload([]byte("new"), nil))
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn), engine.WithSetting("spool_dir", spool))
	if err := s.Run(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	saved := conn.responses()
	if len(saved) != 2 || saved[0].ScanID != old.ScanID {
		t.Fatalf("saved %d responses, want the spooled one first, then the new scan", len(saved))
	}
	if _, err := os.Stat(filepath.Join(dir, "garbage.json")); err != nil {
		t.Error("an unreadable spool file must stay for a person to look at")
	}
}

type terminalConnector struct{ memConnector }

func (*terminalConnector) Unspooled() {}

func TestUnspooledConnectorsAndMissingSpoolDir(t *testing.T) {
	spool := t.TempDir()
	term := &terminalConnector{memConnector{fail: errors.New("broken pipe")}}
	tn := register(t, "term", term, nil)
	s := newEngine(t, engine.WithConnectors(tn), engine.WithSetting("spool_dir", spool))
	resp := scanLost(t, s, "x", tn)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "not spooled") {
		t.Errorf("errors %v", errorsOf(resp))
	}
	if entries, _ := os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("an Unspooled connector's result was spooled: %v", entries)
	}
	flaky := register(t, "flaky", &memConnector{fail: errors.New("down")}, nil)
	s = newEngine(t, engine.WithConnectors(flaky))
	resp = scanLost(t, s, "x", flaky)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "not spooled: no spool_dir configured") {
		t.Errorf("errors %v", errorsOf(resp))
	}
}

// scanLost scans content and wants the result lost for connector: a
// response and a *NotSavedError naming it.
func scanLost(t *testing.T, s *engine.Stoq, content, connector string) *core.StoqResponse {
	t.Helper()
	resp, err := s.Scan(context.Background(), []byte(content), nil, nil)
	var lost *engine.NotSavedError
	if !errors.Is(err, engine.ErrNotSaved) || !errors.As(err, &lost) {
		t.Fatalf("Scan: %v, want a NotSavedError", err)
	}
	if resp == nil || lost.ScanID != resp.ScanID || len(lost.Connectors) != 1 || lost.Connectors[0] != connector {
		t.Fatalf("NotSavedError %+v for response %v, want scan and connector %s named", lost, resp, connector)
	}
	if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), connector) {
		t.Errorf("error %q is not one line naming the connector", err)
	}
	return resp
}

func TestUnwritableSpoolLosesTheResultLoudly(t *testing.T) {
	spool := filepath.Join(t.TempDir(), "spool")
	// A file where the spool's folder must go: no spool can be written,
	// even by root.
	if err := os.WriteFile(spool, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cn := register(t, "down", &memConnector{fail: errors.New("disk full")}, nil)
	ok := register(t, "ok", &memConnector{}, nil)
	s := newEngine(t, engine.WithConnectors(ok, cn), engine.WithSetting("spool_dir", spool))
	scanLost(t, s, "x", cn)

	// Saved by one connector and spooled for the other: nothing lost.
	s = newEngine(t, engine.WithConnectors(ok, cn), engine.WithSetting("spool_dir", t.TempDir()))
	if _, err := s.Scan(context.Background(), []byte("x"), nil, nil); err != nil {
		t.Errorf("a spooled result reported as lost: %v", err)
	}
}

// pickyConnector fails to save the responses whose first payload has
// extra_data "lose".
type pickyConnector struct{}

func (pickyConnector) Save(_ context.Context, r *core.StoqResponse) error {
	if len(r.Results) > 0 && r.Results[0].PayloadMeta.ExtraData["lose"] == true {
		return errors.New("disk full")
	}
	return nil
}

func TestRunCountsLostResults(t *testing.T) {
	cn := register(t, "picky", pickyConnector{}, nil)
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		for i := range 5 {
			meta := core.NewPayloadMeta()
			meta.ExtraData["lose"] = i >= 3
			if err := q.PutPayload(ctx, core.NewPayload(fmt.Appendf(nil, "%d", i), meta)); err != nil {
				return err
			}
		}
		return nil
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn))
	err := s.Run(context.Background(), nil)
	var lost *engine.LostResultsError
	if !errors.Is(err, engine.ErrNotSaved) || !errors.As(err, &lost) {
		t.Fatalf("Run: %v, want a LostResultsError", err)
	}
	if lost.Lost != 2 || lost.Responses != 5 || err.Error() != "2 of 5 results were neither saved nor spooled (each is logged with its scan_id)" {
		t.Errorf("Run: %v (%+v), want 2 of 5 lost", err, lost)
	}
}

func TestRunResendsSpooledResultsWhileItRuns(t *testing.T) {
	spool := t.TempDir()
	conn := &memConnector{fail: errors.New("down")}
	cn := register(t, "conn", conn, nil)
	var resentWhileRunning bool
	pn := register(t, "prov", &fnProvider{ingest: func(ctx context.Context, q *core.Queue) error {
		if err := q.PutPayload(ctx, core.NewPayload([]byte("during the outage"), nil)); err != nil {
			return err
		}
		// The result is spooled; end the outage, and stay running until the
		// periodic re-send delivered it (a long-running provider's case).
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if entries, _ := os.ReadDir(filepath.Join(spool, cn)); len(entries) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		conn.mu.Lock()
		conn.fail = nil
		conn.mu.Unlock()
		for time.Now().Before(deadline) && len(conn.responses()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		resentWhileRunning = len(conn.responses()) == 1
		return nil
	}}, nil)
	s := newEngine(t, engine.WithProviders(pn), engine.WithConnectors(cn),
		engine.WithSetting("spool_dir", spool), engine.WithSetting("spool_retry_interval", "0.02"))
	done := make(chan error)
	go func() { done <- s.Run(context.Background(), nil) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not finish")
	}
	if !resentWhileRunning {
		t.Error("the spooled result was not re-sent while the run went on")
	}
	if saved := conn.responses(); len(saved) != 1 || saved[0].Results[0].Size != len("during the outage") {
		t.Fatalf("saved %d responses, want the spooled one, once", len(saved))
	}
}

// A spooled response is re-sent as it was saved: numbers in worker results
// and in the request's extra_data keep every digit (an int64 or uint64
// past 2^53 read back as a float64 would not).
func TestSpooledResponsesKeepTheirNumbers(t *testing.T) {
	spool := t.TempDir()
	conn := &memConnector{fail: errors.New("index unavailable")}
	cn := register(t, "flaky", conn, nil)
	w := register(t, "w", &fnWorker{scan: func(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
		return &core.WorkerResponse{Results: map[string]any{
			"max_uint64": uint64(18446744073709551615), "min_int64": int64(-9223372036854775808),
			"odd": int64(1<<53 + 1), "ratio": 0.1, "large": 1e21,
		}}, nil
	}}, nil)
	s := newEngine(t, engine.WithConnectors(cn), engine.WithSetting("spool_dir", spool))
	meta := core.NewRequestMeta()
	meta.ExtraData = map[string]any{"case": uint64(12345678901234567891), "nested": map[string]any{"id": int64(1<<60 + 3)}}
	resp, err := s.Scan(context.Background(), []byte("payload"), nil, meta, w)
	if err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	conn.fail = nil
	conn.mu.Unlock()
	if n, err := s.ResendSpooled(context.Background()); n != 1 || err != nil {
		t.Fatalf("ResendSpooled = %d, %v", n, err)
	}
	// The response returned also names where it was spooled, which the
	// spooled copy, written before, does not.
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "spooled to") {
		t.Fatalf("errors %v, want the spool's", errorsOf(resp))
	}
	resp.Errors = []core.Error{}
	want, got := mustJSON(t, resp), mustJSON(t, conn.responses()[0])
	if got != want {
		t.Errorf("re-sent response differs from the spooled one:\n got %s\nwant %s", got, want)
	}
}
