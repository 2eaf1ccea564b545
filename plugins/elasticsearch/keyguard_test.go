package elasticsearch

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
)

// TestGuardLeavesOrdinaryDocumentsAlone: every real catalogue response but
// the hostile one is sent byte for byte as stoq marshalled it.
func TestGuardLeavesOrdinaryDocumentsAlone(t *testing.T) {
	for name, r := range committedResponses(t) {
		body := marshal(t, r)
		out, n, err := guardKeys(body)
		if err != nil {
			t.Fatal(err)
		}
		hostile := strings.HasSuffix(name, "/longheader.eml")
		if hostile != (n > 0) || (!hostile && !bytes.Equal(out, body)) {
			t.Errorf("%s: %d keys rewritten", name, n)
		}
	}
}

// TestLongHeaderNameIsIndexed is smtp's real result for a mail whose
// header name is 40,000 characters long. Sent as it is, the cluster refuses
// it (key and value pass the term limit) and the mail is not searchable at
// all; guarded, it is indexed, found by its other fields, and its errors
// say what was rewritten.
func TestLongHeaderNameIsIndexed(t *testing.T) {
	resp := named(t, committedResponses(t), "longheader.eml")
	body := marshal(t, resp)

	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	es.mu.Lock()
	idx := es.index("stoq-probe")
	es.mu.Unlock()
	merr := indexDocument(idx, resp.ScanID, body, "document_parsing_exception")
	if merr == nil || !strings.Contains(merr.Cause.Reason, "immense field whose keyed encoding") {
		t.Fatalf("the unguarded document was not refused as Elasticsearch refuses it: %v", merr)
	}

	mustSave(t, p, resp)
	mustClose(t, p)
	if files := append(spoolFiles(t, p.spool.dir), spoolFiles(t, p.spool.rejectedDir)...); len(files) != 0 {
		t.Fatalf("spooled or rejected: %s", readSpoolFile(t, files[0]).Error)
	}
	if got := es.find(t, "stoq-*", `{"term":{"results.workers.smtp.subject":"hidden"}}`); !slices.Equal(got, []string{"stoq-2026-11/" + resp.ScanID}) {
		t.Errorf("subject finds %v", got)
	}
	if got := es.find(t, "stoq-*", `{"term":{"errors.plugin_name":"elasticsearch"}}`); len(got) != 1 {
		t.Errorf("the guard's error finds %v", got)
	}
	src, _ := es.doc("stoq-2026-11", resp.ScanID)
	var doc struct {
		Results []struct {
			PayloadID string                    `json:"payload_id"`
			Workers   map[string]map[string]any `json:"workers"`
		} `json:"results"`
		Errors []core.Error `json:"errors"`
	}
	if err := json.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	var long []string
	for k := range doc.Results[0].Workers["smtp"] {
		if strings.HasPrefix(k, "x-lll") {
			long = append(long, k)
		}
	}
	if len(long) != 1 || len(long[0]) > maxKeyBytes || !strings.Contains(long[0], "…sha256:") {
		t.Errorf("the long key became %q", long)
	}
	last := doc.Errors[len(doc.Errors)-1]
	if last.PluginName != "elasticsearch" || last.PayloadID != doc.Results[0].PayloadID ||
		!strings.Contains(last.Message, "1 key(s) of results[0].workers rewritten") || !strings.Contains(last.Message, "40002 bytes") {
		t.Errorf("error %+v", last)
	}
}

func TestGuardRewritesNULKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp *core.StoqResponse
		want string
	}{
		{"worker", response(payloadResult(map[string]any{"third": map[string]any{"a\x00b": 1, "ok": "x"}})), "results[0].workers"},
		{"extra data", func() *core.StoqResponse {
			r := hashResponse()
			r.Results[0].PayloadMeta.ExtraData["file\x00name"] = "x"
			return r
		}(), "results[0].payload_meta.extra_data"},
		{"decorator", func() *core.StoqResponse {
			r := hashResponse()
			r.Decorators = map[string]any{"tags": map[string]any{"\x00": []any{"x"}}}
			return r
		}(), "decorators"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			p := newPlugin(t, es.URL(), nil)
			mustSave(t, p, tc.resp)
			mustClose(t, p)
			src, ok := es.doc("stoq-2026-11", tc.resp.ScanID)
			if !ok {
				t.Fatalf("not indexed; rejected: %v", spoolFiles(t, p.spool.rejectedDir))
			}
			if bytes.Contains(src, []byte(`\u0000`)) || !bytes.Contains(src, []byte("\uFFFD")) {
				t.Errorf("source %s", src)
			}
			if !bytes.Contains(src, []byte("rewritten so that Elasticsearch indexes the document")) || !bytes.Contains(src, []byte(tc.want)) {
				t.Errorf("no error naming %s in %s", tc.want, src)
			}
		})
	}
}

func TestGuardFastPath(t *testing.T) {
	for _, tc := range []struct {
		body string
		may  bool
	}{
		{`{"a":"` + strings.Repeat("x", 100000) + `"}`, false}, // a long value is no key
		{`{"` + strings.Repeat("k", longKeyHint) + `":1}`, false},
		{`{"` + strings.Repeat("k", longKeyHint+1) + `" : 1}`, true},
		{`{"a":"x\u0000y"}`, true},
		{`{"a\"` + strings.Repeat("k", 200) + `":1}`, true},
		{`{"a":"\\"}`, false},
	} {
		if got := mayHoldBadKey([]byte(tc.body)); got != tc.may {
			t.Errorf("mayHoldBadKey(%.40q…) = %t", tc.body, got)
		}
	}
	// A NUL in a value is fine: the document is decoded, found clean, and
	// sent unchanged.
	body := []byte(`{"results":[{"workers":{"w":{"v":"a\u0000b"}}}]}`)
	if out, n, _ := guardKeys(body); n != 0 || !bytes.Equal(out, body) {
		t.Errorf("value with NUL: %d rewritten, %s", n, out)
	}
}

// FuzzGuardKeys: whatever the document, the guard does not fail on JSON,
// and what it sends the fake's flattened rules accept wherever the template
// maps a flattened field.
func FuzzGuardKeys(f *testing.F) {
	f.Add([]byte(`{"results":[{"payload_id":"p","workers":{"w":{"a\u0000b":1}}}],"errors":[]}`))
	f.Add([]byte(`{"decorators":{"` + strings.Repeat("k", 600) + `":"` + strings.Repeat("v", 8000) + `"}}`))
	f.Add([]byte(`{"request_meta":{"extra_data":{"x":[{"` + strings.Repeat("é", 300) + `":true}]}}}`))
	mt, merr := parseTemplate("t", marshalTemplate(f))
	if merr != nil {
		f.Fatal(merr)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, _, err := guardKeys(body)
		if err != nil || !json.Valid(body) {
			return
		}
		idx := &mIndex{Root: mt.index.Root.clone(), TotalFieldsLimit: 1000, DepthLimit: 20}
		if merr := indexDocument(idx, "x", out, "document_parsing_exception"); merr != nil && merr.Cause != nil &&
			(strings.Contains(merr.Cause.Reason, "reserved character") || strings.Contains(merr.Cause.Reason, "immense field")) {
			t.Fatalf("guarded document still refused: %v\n%s", merr, out)
		}
	})
}

func marshalTemplate(t testing.TB) []byte {
	b, err := json.Marshal(indexTemplate("stoq"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
