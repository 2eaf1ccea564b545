package redis

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// The manifest's defaults are the issue's: one stream, one group, a
// consumer per process.
func TestDefaults(t *testing.T) {
	p := stoqtest.New[*Plugin](t, "redis", nil)
	want := "stream=stoq:tasks group=stoq batch=10 block=5s claim=1m0s max=3 dead=stoq:tasks:dead results=stoq:results maxlen=100000 ttl=168h0m0s inline=65536 delete=true"
	got := fmt.Sprintf("stream=%s group=%s batch=%d block=%s claim=%s max=%d dead=%s results=%s maxlen=%d ttl=%s inline=%d delete=%v",
		p.stream, p.group, p.batch, p.block, p.claimIdle, p.maxDeliveries, p.deadLetterStream, p.resultsStream, p.maxLen, p.payloadTTL, p.maxInline, p.deleteAcked)
	if got != want {
		t.Errorf("defaults\n got %s\nwant %s", got, want)
	}
	host, _ := os.Hostname()
	if p.consumer != fmt.Sprintf("%s-%d", host, os.Getpid()) {
		t.Errorf("consumer %q, want HOSTNAME-PID", p.consumer)
	}
	if p.where != "tcp 127.0.0.1:6379" {
		t.Errorf("server %q", p.where)
	}
}

// A bad option stops the plugin from loading, naming the option; a
// password never appears in the error.
func TestOptionErrors(t *testing.T) {
	tests := []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"redis_url": "http://x"}, "redis_url"},
		{map[string]string{"redis_url": "redis://user:s3cret@host:6379/0?nope=1"}, "redis_url"},
		{map[string]string{"batch": "0"}, "batch"},
		{map[string]string{"block_ms": "0"}, "block_ms"},
		{map[string]string{"claim_idle_ms": "-5"}, "claim_idle_ms"},
		{map[string]string{"max_deliveries": "0"}, "max_deliveries"},
		{map[string]string{"maxlen": "many"}, "maxlen"},
		{map[string]string{"stream": " "}, "stream"},
		{map[string]string{"dead_letter_stream": "stoq:tasks"}, "dead_letter_stream"},
		{map[string]string{"delete_acked": "perhaps"}, "delete_acked"},
		{map[string]string{"max_inline": "1000000000"}, "max_inline"},
	}
	for _, tt := range tests {
		_, err := stoqtest.TryNew(t, "redis", tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one naming %s", tt.opts, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") || strings.Contains(tt.opts["redis_url"], "s3cret") && !strings.Contains(fmt.Sprint(err), "REDACTED") {
			t.Errorf("the password is in the error: %v", err)
		}
	}
}

// decodeTask reads the fields of stoQ-shaped tasks and refuses, as
// malformed, what can never be scanned.
func TestDecodeTask(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	good := []struct {
		name   string
		fields map[string]any
		check  func(*queuedTask) string
	}{
		{"content", map[string]any{fieldContent: "abc"}, func(q *queuedTask) string {
			return fmt.Sprintf("%s %v %v %v", q.content, q.payloadMeta.ShouldScan, q.payloadMeta.ExtraData, q.requestMeta)
		}},
		{"partial payload meta keeps defaults", map[string]any{fieldContent: "x", fieldPayloadMeta: `{"extra_data": {"n": 12345678901234567890}}`}, func(q *queuedTask) string {
			return fmt.Sprintf("%v %v %v %v", q.payloadMeta.ShouldScan, q.payloadMeta.ShouldArchive, q.payloadMeta.ExtraData["n"], q.payloadMeta.DispatchTo)
		}},
		{"null lists", map[string]any{fieldContent: "x", fieldPayloadMeta: `{"dispatch_to": null, "extra_data": null}`}, func(q *queuedTask) string {
			return fmt.Sprintf("%v %v", q.payloadMeta.ExtraData != nil, q.payloadMeta.DispatchTo != nil)
		}},
		{"request meta", map[string]any{fieldContent: "x", fieldRequestMeta: `{"source": "s", "archive_payloads": false}`}, func(q *queuedTask) string {
			return fmt.Sprintf("%s %v %v", q.requestMeta.Source, q.requestMeta.ArchivePayloads, q.requestMeta.ExtraData)
		}},
		{"own reference", map[string]any{fieldArchived: `{"redis": {"sha256": "` + strings.ToUpper(sum) + `"}}`}, func(q *queuedTask) string { return q.ref }},
		{"other archiver", map[string]any{fieldArchived: `{"filedir": {"path": "/a/b"}}`}, func(q *queuedTask) string {
			return fmt.Sprintf("%q %v", q.ref, q.archived)
		}},
		{"several archivers", map[string]any{fieldArchived: `{"redis": {"sha256": "` + sum + `"}, "filedir": {"path": "/p"}}`}, func(q *queuedTask) string {
			return fmt.Sprintf("%q %d", q.ref, len(q.archived))
		}},
		{"bytes values", map[string]any{fieldContent: []byte("raw\x00bytes")}, func(q *queuedTask) string { return fmt.Sprintf("%q", q.content) }},
	}
	wants := []string{
		"abc true map[] <nil>",
		"true true 12345678901234567890 []",
		"true true",
		"s false map[]",
		sum,
		`"" map[filedir:map[path:/a/b]]`,
		`"" 2`,
		`"raw\x00bytes"`,
	}
	for i, tt := range good {
		q, err := decodeTask("1-0", tt.fields)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if got := tt.check(q); got != wants[i] {
			t.Errorf("%s: got %s, want %s", tt.name, got, wants[i])
		}
	}
	bad := map[string]map[string]any{
		"neither":         {"x": "y"},
		"both":            {fieldContent: "x", fieldArchived: `{"redis": {}}`},
		"content type":    {fieldContent: 5},
		"archived text":   {fieldArchived: "filedir"},
		"archived empty":  {fieldArchived: "{}"},
		"archived list":   {fieldArchived: "[]"},
		"bad name":        {fieldArchived: `{"../x": {}}`},
		"short sum":       {fieldArchived: `{"redis": {"sha256": "abc"}}`},
		"no sum":          {fieldArchived: `{"redis": {"path": "/x"}}`},
		"trailing text":   {fieldContent: "x", fieldPayloadMeta: `{} {}`},
		"meta type":       {fieldContent: "x", fieldPayloadMeta: `{"should_scan": "yes"}`},
		"request type":    {fieldContent: "x", fieldRequestMeta: `{"extra_data": []}`},
		"not json object": {fieldContent: "x", fieldRequestMeta: `"text"`},
	}
	for name, fields := range bad {
		if _, err := decodeTask("7-1", fields); !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), "7-1") {
			t.Errorf("%s: error %v, want a malformed-task error naming the entry", name, err)
		}
	}
}

// The scan_id of a task is a UUID of its stream and entry id: the same
// for every delivery, different for other entries and other streams.
func TestScanIDFor(t *testing.T) {
	a := scanIDFor("stoq:tasks", "1700000000000-0")
	if a != scanIDFor("stoq:tasks", "1700000000000-0") {
		t.Error("scan_id differs between deliveries")
	}
	for _, other := range []string{scanIDFor("stoq:tasks", "1700000000000-1"), scanIDFor("other", "1700000000000-0")} {
		if other == a {
			t.Errorf("two tasks share scan_id %s", a)
		}
	}
	if len(a) != 36 || a[14] != '5' {
		t.Errorf("scan_id %s is not a version 5 UUID", a)
	}
}

// Tasks encoded by stoq submit decode to what was encoded.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	meta := core.NewPayloadMeta()
	meta.ExtraData["filename"] = "a.exe"
	meta.DispatchTo = []string{"yara"}
	req := core.NewRequestMeta()
	req.Source = "src"
	for _, ref := range []string{"", strings.Repeat("aa", 32)} {
		fields, err := encodeTask([]byte("content"), ref, meta, req)
		if err != nil {
			t.Fatal(err)
		}
		values := map[string]any{}
		for i := 0; i < len(fields); i += 2 {
			switch v := fields[i+1].(type) {
			case []byte:
				values[fields[i].(string)] = string(v)
			default:
				values[fields[i].(string)] = v
			}
		}
		q, err := decodeTask("1-1", values)
		if err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("%q %s %v %v %s", q.content, q.ref, q.payloadMeta.ExtraData, q.payloadMeta.DispatchTo, q.requestMeta.Source)
		want := fmt.Sprintf("%q %s map[filename:a.exe] [yara] src", "content", ref)
		if ref != "" {
			want = fmt.Sprintf("%q %s map[filename:a.exe] [yara] src", "", ref)
		}
		if got != want {
			t.Errorf("round trip: got %s, want %s", got, want)
		}
	}
}

// Dead-letter entries keep the task's fields, renaming those that clash
// with the ones added.
func TestDeadLetterFields(t *testing.T) {
	got := fmt.Sprint(deadLetterFields("9-0", map[string]any{"content": "x", "error": "theirs"}, 3, "why"))
	if want := "[content x task_error theirs id 9-0 deliveries 3 error why]"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// FuzzDecodeTask: any fields a producer writes decode or are refused as
// malformed, without panicking.
func FuzzDecodeTask(f *testing.F) {
	f.Add("abc", "", `{"extra_data": {}}`, "")
	f.Add("", `{"redis": {"sha256": "`+strings.Repeat("0", 64)+`"}}`, "", `{"source": "x"}`)
	f.Add("", `{"filedir": {"path": "/x"}}`, `{"dispatch_to": ["a"]}`, `{"extra_data": {"k": [1, {"x": null}]}}`)
	f.Fuzz(func(t *testing.T, content, archived, payloadMeta, requestMeta string) {
		fields := map[string]any{}
		for k, v := range map[string]string{fieldContent: content, fieldArchived: archived, fieldPayloadMeta: payloadMeta, fieldRequestMeta: requestMeta} {
			if v != "" {
				fields[k] = v
			}
		}
		q, err := decodeTask("1-0", fields)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not match errMalformed", err)
			}
			return
		}
		if (q.content == nil) == (q.archived == nil) {
			t.Fatalf("decoded task has content %v and archived %v", q.content != nil, q.archived != nil)
		}
		if q.payloadMeta.ExtraData == nil || q.payloadMeta.DispatchTo == nil {
			t.Fatal("payload meta with nil maps")
		}
		if _, err := json.Marshal(q.payloadMeta); err != nil {
			t.Fatalf("payload meta does not marshal: %v", err)
		}
	})
}

// Save appends one entry per response, trimmed to about maxlen.
func TestSaveAppendsToTheResultsStream(t *testing.T) {
	h := newHarness(t, map[string]string{"maxlen": "10"})
	p := h.plugin()
	for i := range 300 {
		resp := stoqtest.Response(stoqtest.Payload([]byte(fmt.Sprint(i)), nil))
		if err := p.Save(h.ctx(), resp); err != nil {
			t.Fatal(err)
		}
	}
	n := h.streamLen("stoq:results")
	if n < 10 || n >= 300 {
		t.Errorf("results stream holds %d entries: want about maxlen (10), trimmed by whole nodes", n)
	}
	last := h.results()
	r := last[len(last)-1]
	var buf bytes.Buffer
	if err := r.response.Encode(&buf, true); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(r.response.Results[0].Size) != "3" {
		t.Errorf("last response %+v", r.response.Results[0])
	}
}

// Archive stores a payload by sha256 with the TTL; Get loads it back with
// the task's keys in extra_data and refuses a missing or altered payload.
func TestArchiveAndGet(t *testing.T) {
	h := newHarness(t, map[string]string{"payload_ttl": "3600"})
	p := h.plugin()
	content := []byte("payload to archive")
	resp, err := p.Archive(h.ctx(), core.NewPayload(content, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(content)
	sum := hex.EncodeToString(digest[:])
	if fmt.Sprint(resp.Results) != "map[sha256:"+sum+"]" {
		t.Fatalf("archiver results %v", resp.Results)
	}
	ttl, err := h.rdb.TTL(h.ctx(), payloadKeyPrefix+sum).Result()
	if err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL %s (%v), want up to an hour", ttl, err)
	}
	got, err := p.Get(h.ctx(), &core.ArchiverResponse{Results: map[string]any{"sha256": sum, "origin": "test"}})
	if err != nil || !bytes.Equal(got.Content, content) || got.Meta().ExtraData["origin"] != "test" {
		t.Fatalf("Get: %v, %+v", err, got)
	}
	if _, err := p.Get(h.ctx(), &core.ArchiverResponse{Results: map[string]any{"sha256": strings.Repeat("1", 64)}}); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Errorf("missing payload: %v", err)
	}
	if err := h.rdb.Set(h.ctx(), payloadKeyPrefix+sum, "tampered", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(h.ctx(), &core.ArchiverResponse{Results: map[string]any{"sha256": sum}}); err == nil || !strings.Contains(err.Error(), "another sha256") {
		t.Errorf("altered payload: %v", err)
	}
	if _, err := p.Get(h.ctx(), &core.ArchiverResponse{Results: "not a task"}); err == nil {
		t.Error("a task without sha256 was accepted")
	}

	forever := newHarness(t, map[string]string{"payload_ttl": "0"}).plugin()
	if _, err := forever.Archive(h.ctx(), core.NewPayload(content, nil), nil); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := forever.client.TTL(h.ctx(), payloadKeyPrefix+sum).Result(); ttl != -1 {
		t.Errorf("payload_ttl = 0: TTL %s, want none", ttl)
	}
}

// invocation builds stoq submit's invocation as the stoq command does.
func invocation(t *testing.T, p *Plugin, stdin string, args ...string) (*core.Invocation, *bytes.Buffer) {
	t.Helper()
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	submitCommand.Flags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	return &core.Invocation{Args: fs.Args(), Flags: fs, Plugin: p, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out}, &out
}

// tasks reads the task stream, decoded.
func (h *harness) tasks() []*queuedTask {
	h.t.Helper()
	msgs, err := h.rdb.XRange(h.ctx(), "stoq:tasks", "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*queuedTask
	for _, m := range msgs {
		q, err := decodeTask(m.ID, m.Values)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, q)
	}
	return out
}

// stoq submit queues every visible regular file of a folder (and files
// and stdin named alone) with filename and source_dir, large ones by
// reference, with the request meta of its flags, and prints the count.
func TestSubmit(t *testing.T) {
	h := newHarness(t, map[string]string{"max_inline": "16"})
	p := h.plugin()
	dir := t.TempDir()
	write := func(name, content string) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.txt", "small")
	write("sub/b.bin", "larger than sixteen bytes")
	write(".hidden", "skipped")
	write("sub/.dot/c", "skipped")
	inv, out := invocation(t, p, "from stdin", "--request-source", "lab", "--request-extra", "case=7", "--request-extra", "urgent=true", "--dispatch-to", "yara", dir, "-")
	if err := submit(h.ctx(), inv); err != nil {
		t.Fatal(err)
	}
	if out.String() != "submitted 3\n" {
		t.Errorf("printed %q", out.String())
	}
	tasks := h.tasks()
	if len(tasks) != 3 {
		t.Fatalf("%d tasks queued, want 3", len(tasks))
	}
	absDir, _ := filepath.Abs(dir)
	a, b, stdin := tasks[0], tasks[1], tasks[2]
	if string(a.content) != "small" || a.payloadMeta.ExtraData["filename"] != "a.txt" || a.payloadMeta.ExtraData["source_dir"] != absDir {
		t.Errorf("a.txt queued as %q %v", a.content, a.payloadMeta.ExtraData)
	}
	if b.ref == "" || b.payloadMeta.ExtraData["source_dir"] != filepath.Join(absDir, "sub") {
		t.Errorf("b.bin (over max_inline) queued as %q ref %q %v", b.content, b.ref, b.payloadMeta.ExtraData)
	} else if stored, _ := h.rdb.Get(h.ctx(), payloadKeyPrefix+b.ref).Result(); stored != "larger than sixteen bytes" {
		t.Errorf("b.bin stored as %q", stored)
	}
	if string(stdin.content) != "from stdin" || stdin.payloadMeta.ExtraData["filename"] != nil {
		t.Errorf("stdin queued as %q %v", stdin.content, stdin.payloadMeta.ExtraData)
	}
	for _, q := range tasks {
		if m := q.requestMeta; m == nil || m.Source != "lab" || m.ExtraData["case"] != "7" || m.ExtraData["urgent"] != true {
			t.Errorf("request meta %+v", q.requestMeta)
		}
		if fmt.Sprint(q.payloadMeta.DispatchTo) != "[yara]" {
			t.Errorf("dispatch_to %v", q.payloadMeta.DispatchTo)
		}
	}
	groups, err := h.rdb.XInfoGroups(h.ctx(), "stoq:tasks").Result()
	if err != nil || len(groups) != 1 || groups[0].Name != "stoq" {
		t.Errorf("groups %v (%v): submit creates the group so no task is missed", groups, err)
	}
}

// stoq submit's mistakes are usage errors; without flags, tasks carry no
// request meta (the workers' applies).
func TestSubmitErrors(t *testing.T) {
	h := newHarness(t, nil)
	p := h.plugin()
	for _, args := range [][]string{{}, {"/no/such/file"}, {"--request-extra", "novalue", "-"}, {"--dispatch-to", "Bad Name", "-"}} {
		inv, _ := invocation(t, p, "", args...)
		if err := submit(h.ctx(), inv); !errors.Is(err, core.ErrUsage) {
			t.Errorf("%v: error %v, want a usage error", args, err)
		}
	}
	inv, _ := invocation(t, p, "plain", "-")
	if err := submit(h.ctx(), inv); err != nil {
		t.Fatal(err)
	}
	if q := h.tasks(); len(q) != 1 || q[0].requestMeta != nil {
		t.Errorf("tasks %+v, want one without request meta", q)
	}
	down := stoqtest.New[*Plugin](t, "redis", map[string]string{"redis_url": "redis://127.0.0.1:1/0"})
	inv, out := invocation(t, down, "x", "-")
	if err := submit(h.ctx(), inv); err == nil || errors.Is(err, core.ErrUsage) {
		t.Errorf("server down: error %v, want a failure", err)
	} else if out.String() != "" {
		t.Errorf("server down: printed %q, want nothing (nothing was submitted)", out.String())
	}
}

// A plugin that is no provider reports no metrics; HealthCheck pings.
func TestMetricsAndHealth(t *testing.T) {
	h := newHarness(t, nil)
	p := h.plugin()
	if m := p.Metrics(); m != nil {
		t.Errorf("metrics of a plugin that never ingested: %v", m)
	}
	if err := p.HealthCheck(h.ctx()); err != nil {
		t.Errorf("HealthCheck: %v", err)
	}
	down := stoqtest.New[*Plugin](t, "redis", map[string]string{"redis_url": "redis://127.0.0.1:1/0"})
	if err := down.HealthCheck(h.ctx()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("HealthCheck of a server that is down: %v", err)
	}
}
