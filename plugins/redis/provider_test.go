package redis

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
)

// Tasks queued before any worker started are scanned (the group is created
// from the start of the stream); each response's scan_id derives from its
// task's entry id; the task's meta is kept; every task is acknowledged and
// deleted, and the worker leaves the group when it closes.
func TestProviderScansTasksQueuedBeforeItStarted(t *testing.T) {
	h := newHarness(t, nil)
	ids := map[string]int{}
	for i := range 20 {
		id := h.add(fieldContent, fmt.Sprintf("payload %d", i), fieldPayloadMeta, fmt.Sprintf(`{"extra_data": {"n": %d}, "dispatch_to": ["%s"]}`, i, sizeWorker))
		ids[id] = i
	}
	withMeta := h.add(fieldContent, "with request meta", fieldRequestMeta, `{"archive_payloads": false, "source": "producer", "extra_data": {"batch": "b1", "case": 12345678901234567891}}`)
	s := h.engine()
	stop := h.run(s, sizeWorker)
	waitFor(t, "21 results", func() bool { return len(h.results()) == 21 })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, r := range h.results() {
		content := workerResult(t, r.response, sizeWorker)["content"].(string)
		if content == "with request meta" {
			if r.scanID != scanIDFor("stoq:tasks", withMeta) {
				t.Errorf("scan_id %s, want the one of entry %s", r.scanID, withMeta)
			}
			m := r.response.RequestMeta
			if m.Source != "producer" || m.ArchivePayloads || fmt.Sprint(m.ExtraData) != "map[batch:b1 case:12345678901234567891]" {
				t.Errorf("request meta %+v, want the task's", m)
			}
			continue
		}
		var n int
		fmt.Sscanf(content, "payload %d", &n)
		var id string
		for k, v := range ids {
			if v == n {
				id = k
			}
		}
		if r.scanID != scanIDFor("stoq:tasks", id) {
			t.Errorf("payload %d: scan_id %s, want the one of entry %s", n, r.scanID, id)
		}
		if got := fmt.Sprint(r.response.Results[0].PayloadMeta.ExtraData["n"]); got != fmt.Sprint(n) {
			t.Errorf("payload %d: extra_data n = %s", n, got)
		}
		if r.response.RequestMeta.Source != "" {
			t.Errorf("payload %d: a task without request_meta must get the run's, got source %q", n, r.response.RequestMeta.Source)
		}
	}
	if n := h.streamLen("stoq:tasks"); n != 0 {
		t.Errorf("%d tasks left in the stream, want 0 (acknowledged tasks are deleted)", n)
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d tasks pending, want 0", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	consumers, err := h.rdb.XInfoConsumers(h.ctx(), "stoq:tasks", "stoq").Result()
	if err != nil || len(consumers) != 0 {
		t.Errorf("consumers left in the group: %v (%v), want none", consumers, err)
	}
}

// A reference to the plugin's own archive is loaded by the provider; a
// task naming another source archiver is loaded through it (-S); with
// delete_acked off, acknowledged tasks stay in the stream.
func TestProviderLoadsReferencesAndOtherArchivers(t *testing.T) {
	h := newHarness(t, map[string]string{"delete_acked": "false"})
	p := h.plugin()
	resp, err := p.Archive(h.ctx(), core.NewPayload([]byte("archived in redis"), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := resp.Results.(map[string]any)["sha256"].(string)
	theArchive.mu.Lock()
	theArchive.stored["k1"] = []byte("archived elsewhere")
	theArchive.mu.Unlock()
	h.add(fieldArchived, fmt.Sprintf(`{"redis": {"sha256": "%s"}}`, sum), fieldPayloadMeta, `{"extra_data": {"from": "ref"}}`)
	h.add(fieldArchived, fmt.Sprintf(`{"%s": {"key": "k1"}}`, testArchiver))
	s := h.engine(engine.WithSourceArchivers(testArchiver))
	stop := h.run(s, sizeWorker)
	waitFor(t, "2 results", func() bool { return len(h.results()) == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var contents []string
	for _, r := range h.results() {
		res := workerResult(t, r.response, sizeWorker)
		contents = append(contents, res["content"].(string))
		if res["content"] == "archived in redis" && r.response.Results[0].PayloadMeta.ExtraData["from"] != "ref" {
			t.Errorf("the reference task's payload_meta was not applied: %+v", r.response.Results[0].PayloadMeta)
		}
	}
	slices.Sort(contents)
	if !slices.Equal(contents, []string{"archived elsewhere", "archived in redis"}) {
		t.Errorf("scanned %q", contents)
	}
	if n := h.streamLen("stoq:tasks"); n != 2 {
		t.Errorf("%d tasks in the stream, want both kept (delete_acked = false)", n)
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d pending, want 0", n)
	}
}

// A task whose referenced payload is not in Redis is loaded when a scanner
// takes it (core.Task.Open), fails, and is recorded in a response of its
// own (its scan_id, the Error) at each delivery, as a source archiver's
// failure is; after max_deliveries it is dead-lettered with its fields,
// id, deliveries and error.
func TestMissingReferenceIsDeadLetteredAfterMaxDeliveries(t *testing.T) {
	h := newHarness(t, map[string]string{"max_deliveries": "2", "claim_idle_ms": "200"})
	missing := strings.Repeat("ab", 32)
	id := h.add(fieldArchived, fmt.Sprintf(`{"redis": {"sha256": "%s"}}`, missing), "note", "kept")
	ok := h.add(fieldContent, "fine")
	stop := h.run(h.engine(), sizeWorker)
	waitFor(t, "a dead letter", func() bool { return len(h.deadLetters()) == 1 })
	waitFor(t, "the good task's result", func() bool { return len(h.results()) == 3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d := h.deadLetters()[0].Values
	if d[fieldDeadID] != id || d[fieldDeadDeliveries] != "2" || d["note"] != "kept" || !strings.Contains(d[fieldArchived].(string), missing) {
		t.Errorf("dead letter %v, want the task's fields, id %s and 2 deliveries", d, id)
	}
	if e, _ := d[fieldDeadError].(string); !strings.Contains(e, "is not stored in Redis") {
		t.Errorf("dead letter error %q", e)
	}
	failures := 0
	for _, r := range h.results() {
		switch r.scanID {
		case scanIDFor("stoq:tasks", ok):
			workerResult(t, r.response, sizeWorker)
		case scanIDFor("stoq:tasks", id):
			failures++
			if len(r.response.Results) != 0 || len(r.response.Errors) != 1 || !strings.Contains(r.response.Errors[0].Message, "is not stored in Redis") {
				t.Errorf("the missing payload's response: %+v", r.response)
			}
		default:
			t.Errorf("result with scan_id %s, of no task", r.scanID)
		}
	}
	if failures != 2 {
		t.Errorf("%d responses recording the missing payload, want one per delivery (2)", failures)
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d pending, want 0", n)
	}
}

// A reference whose payload is larger than max_payload_size is refused
// before it is read.
func TestReferenceOverMaxPayloadSize(t *testing.T) {
	h := newHarness(t, map[string]string{"max_deliveries": "1"})
	p := h.plugin()
	resp, err := p.Archive(h.ctx(), core.NewPayload([]byte(strings.Repeat("x", 2048)), nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	h.add(fieldArchived, fmt.Sprintf(`{"redis": {"sha256": "%s"}}`, resp.Results.(map[string]any)["sha256"]))
	stop := h.run(h.engine(engine.WithSetting("max_payload_size", "1KiB")), sizeWorker)
	waitFor(t, "the dead letter", func() bool { return len(h.deadLetters()) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if e := h.deadLetters()[0].Values[fieldDeadError].(string); !strings.Contains(e, "more than max_payload_size") {
		t.Errorf("dead letter error %q", e)
	}
}

// A task that can never be scanned goes to the dead-letter stream at its
// first delivery, saying what is wrong with it.
func TestMalformedTasksAreDeadLetteredAtOnce(t *testing.T) {
	h := newHarness(t, nil)
	bad := [][]any{
		{"unknown", "field"},
		{fieldContent, "x", fieldArchived, `{"redis": {}}`},
		{fieldArchived, "not json"},
		{fieldArchived, `{"Not A Name": {}}`},
		{fieldArchived, `{"redis": {"sha256": "xyz"}}`},
		{fieldContent, "x", fieldPayloadMeta, "[1, 2]"},
		{fieldContent, "x", fieldRequestMeta, `{"source": 5}`},
	}
	for _, fields := range bad {
		h.add(fields...)
	}
	stop := h.run(h.engine(), sizeWorker)
	waitFor(t, "every dead letter", func() bool { return len(h.deadLetters()) == len(bad) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, m := range h.deadLetters() {
		if m.Values[fieldDeadDeliveries] != "1" || !strings.Contains(m.Values[fieldDeadError].(string), "malformed task") {
			t.Errorf("dead letter %v: want 1 delivery and a malformed-task error", m.Values)
		}
	}
	if r := h.results(); len(r) != 0 {
		t.Errorf("%d results for malformed tasks", len(r))
	}
}

// readAs makes consumer read (and hold) up to n new tasks, as a worker
// that then dies.
func (h *harness) readAs(consumer string, n int) []redis.XMessage {
	h.t.Helper()
	if err := h.rdb.XGroupCreateMkStream(h.ctx(), "stoq:tasks", "stoq", "0").Err(); err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		h.t.Fatal(err)
	}
	streams, err := h.rdb.XReadGroup(h.ctx(), &redis.XReadGroupArgs{Group: "stoq", Consumer: consumer, Streams: []string{"stoq:tasks", ">"}, Count: int64(n), Block: -1}).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return streams[0].Messages
}

// The tasks a dead worker held are claimed by a live one after
// claim_idle_ms, scanned with the scan_id of their entry, and counted.
func TestTasksOfADeadWorkerAreClaimed(t *testing.T) {
	h := newHarness(t, nil)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.add(fieldContent, fmt.Sprint("task ", i)))
	}
	if got := h.readAs("dead-worker", 5); len(got) != 5 {
		t.Fatalf("the dead worker read %d tasks", len(got))
	}
	s := h.engine()
	stop := h.run(s, sizeWorker)
	inst, _ := s.LoadPlugin("redis")
	metrics := map[string]float64{}
	waitFor(t, "5 results acknowledged", func() bool {
		for _, m := range inst.(*Plugin).Metrics() {
			metrics[m.Name] = m.Value
		}
		return len(h.results()) == 5 && metrics["stoq_redis_acknowledged_total"] == 5
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h.results() {
		got = append(got, r.scanID)
	}
	var want []string
	for _, id := range ids {
		want = append(want, scanIDFor("stoq:tasks", id))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scan ids %v, want those of the entries %v", got, want)
	}
	if metrics["stoq_redis_claimed_total"] != 5 || metrics["stoq_redis_acknowledged_total"] != 5 {
		t.Errorf("metrics %v, want 5 claimed and 5 acknowledged", metrics)
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d pending, want 0", n)
	}
}

// A task that killed its worker max_deliveries times (its delivery count
// says so and it is idle) is dead-lettered when claimed, not scanned again.
func TestTaskDeliveredTooOftenIsDeadLettered(t *testing.T) {
	h := newHarness(t, nil)
	id := h.add(fieldContent, "kills its worker")
	h.readAs("dead-worker", 1)
	// Two more deliveries to dead workers: XCLAIM with RETRYCOUNT sets the
	// count, IDLE makes it claimable now.
	if err := h.rdb.Do(h.ctx(), "XCLAIM", "stoq:tasks", "stoq", "dead-worker-3", 0, id, "IDLE", 100000, "RETRYCOUNT", 3).Err(); err != nil {
		t.Fatal(err)
	}
	stop := h.run(h.engine(), sizeWorker)
	waitFor(t, "the dead letter", func() bool { return len(h.deadLetters()) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	d := h.deadLetters()[0].Values
	if d[fieldDeadID] != id || d[fieldDeadDeliveries] != "3" || !strings.Contains(d[fieldDeadError].(string), "delivered 3 times without being finished") {
		t.Errorf("dead letter %v", d)
	}
	if r := h.results(); len(r) != 0 {
		t.Errorf("the task was scanned again: %d results", len(r))
	}
}

// A worker refreshes the tasks it holds, so a scan longer than
// claim_idle_ms is not claimed by other workers.
func TestHeldTasksStayWithTheirWorker(t *testing.T) {
	h := newHarness(t, map[string]string{"claim_idle_ms": "900"})
	h.add(fieldContent, "slow")
	stop := h.run(h.engine(), slowWorker)
	<-theSlow.started
	until := time.Now().Add(3 * 900 * time.Millisecond)
	for time.Now().Before(until) {
		pending, err := h.rdb.XPendingExt(h.ctx(), &redis.XPendingExtArgs{Stream: "stoq:tasks", Group: "stoq", Start: "-", End: "+", Count: 10}).Result()
		if err != nil || len(pending) != 1 {
			t.Fatalf("pending %v (%v), want the one task", pending, err)
		}
		if pending[0].Idle >= 900*time.Millisecond || pending[0].RetryCount != 1 {
			t.Fatalf("held task idle %s with %d deliveries: it would be claimed", pending[0].Idle, pending[0].RetryCount)
		}
		time.Sleep(50 * time.Millisecond)
	}
	theSlow.release <- struct{}{}
	waitFor(t, "the result", func() bool { return len(h.results()) == 1 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// A response no connector could save nor spool fails the task: it is not
// acknowledged, is delivered again, and the second run's result carries
// the same scan_id.
func TestUnsavedResultIsDeliveredAgain(t *testing.T) {
	h := newHarness(t, map[string]string{"claim_idle_ms": "200"})
	theFlaky.failures.Store(1)
	id := h.add(fieldContent, "saved on the second try")
	s := h.engine(engine.WithConnectors(flakySaver))
	stop := h.run(s, sizeWorker)
	waitFor(t, "two results and no pending task", func() bool { return len(h.results()) == 2 && h.pending() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range h.results() {
		if r.scanID != scanIDFor("stoq:tasks", id) {
			t.Errorf("scan_id %s, want the entry's on every delivery", r.scanID)
		}
	}
}

// A worker that panics is an Error in the result, not a failed task.
func TestWorkerPanicIsAnErrorNotAFailedTask(t *testing.T) {
	h := newHarness(t, nil)
	h.add(fieldContent, "x")
	stop := h.run(h.engine(), panicWorker)
	waitFor(t, "the result", func() bool { return len(h.results()) == 1 && h.pending() == 0 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	r := h.results()[0].response
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "panic") {
		t.Errorf("errors %v, want the panic", r.Errors)
	}
	if len(h.deadLetters()) != 0 {
		t.Errorf("a task whose worker panics must not be dead-lettered")
	}
}

// Stopping a run ends a read blocked in Redis at once (block_ms is ten
// minutes here), and the tasks already taken are finished and
// acknowledged before Run returns.
func TestStopUnblocksAndDrains(t *testing.T) {
	h := newHarness(t, map[string]string{"block_ms": "600000", "batch": "5"})
	for i := range 5 {
		h.add(fieldContent, fmt.Sprint("held ", i))
	}
	s := h.engine(engine.WithSetting("max_queue", "10"), engine.WithSetting("provider_consumers", "1"))
	stop := h.run(s, slowWorker)
	<-theSlow.started
	// The worker holds 5 tasks (one in a scan) and waits in XREADGROUP.
	waitFor(t, "5 tasks pending", func() bool { return h.pending() == 5 })
	go func() {
		for range 5 {
			theSlow.release <- struct{}{}
		}
	}()
	// stop fails the test when Run has not returned within a minute.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for len(theSlow.started) > 0 {
		<-theSlow.started
	}
	if n := len(h.results()); n != 5 {
		t.Errorf("%d results, want the 5 tasks held when stopped", n)
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d pending after the drain, want 0", n)
	}
}
