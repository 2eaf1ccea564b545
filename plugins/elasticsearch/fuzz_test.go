package elasticsearch

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// FuzzDecodeSpoolRecord feeds arbitrary bytes to the spool file reader:
// spool files live on disk where anything may happen to them. It must
// never panic, and what it accepts must survive a write and a read.
func FuzzDecodeSpoolRecord(f *testing.F) {
	good, _ := encodeSpoolRecord(&document{index: "stoq-2026-11", id: "3d28e828", body: []byte(`{"scan_id":"3d28e828","results":[]}`)},
		"status 503", time.Unix(0, 0))
	f.Add(good)
	f.Add([]byte(`{"index":"stoq","id":"x","document":{"a":"<b>"}}`))
	f.Add([]byte(`{"index":"stoq","id":"x","document":[]}`))
	f.Add([]byte(`{"index":"","id":"","document":null}`))
	f.Add([]byte(`not json`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeSpoolRecord(data)
		if err != nil {
			return
		}
		again, err := encodeSpoolRecord(d, "again", time.Unix(0, 0))
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		d2, err := decodeSpoolRecord(again)
		if err != nil {
			t.Fatalf("re-encoded record rejected: %v\n%s", err, again)
		}
		var want, got bytes.Buffer
		if err := json.Compact(&want, d.body); err != nil {
			t.Fatalf("accepted a document that is not JSON: %v", err)
		}
		json.Compact(&got, d2.body)
		if d2.index != d.index || d2.id != d.id || !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("round trip changed the record: %+v -> %+v", d, d2)
		}
	})
}

// FuzzIndexPart checks that any worker name becomes a valid part of an
// index name.
func FuzzIndexPart(f *testing.F) {
	for _, s := range []string{"hash", "Hash Worker", "a/b*c?d", "İstanbul", "\x00\xff", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		part := indexPart(name)
		if len(part) > 64 {
			t.Fatalf("indexPart(%q) is %d bytes", name, len(part))
		}
		if err := checkIndexName("stoq-"+part, false, false); err != nil {
			t.Fatalf("indexPart(%q) = %q: %v", name, part, err)
		}
	})
}

// FuzzErrorReason feeds arbitrary answers to the reader of Elasticsearch
// error bodies (what a cluster, or whatever listens at es_host, answers).
// It must never panic, and what it returns comes from the body.
func FuzzErrorReason(f *testing.F) {
	for _, s := range []string{
		`{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate user [elastic]"}],"type":"security_exception","reason":"unable to authenticate user [elastic]"},"status":401}`,
		`{"error":"Incorrect HTTP method for uri [/_bulk] and method [GET], allowed: [POST, PUT]","status":405}`,
		`{"error":{"type":"x"}}`, `{"error":null}`, `{"error":[1]}`, `<html>502 Bad Gateway</html>`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reason := errorReason(body)
		if len(reason) > len(body) {
			t.Fatalf("reason %q longer than the body", reason)
		}
	})
}
