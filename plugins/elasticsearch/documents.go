package elasticsearch

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stoq-go/stoq/core/v3"
)

// document is one Elasticsearch document on its way: where it goes, its id
// and its source, with what its delivery has gone through.
type document struct {
	index string
	id    string
	body  []byte
	// attempts counts the bulk answers refusing it with 429 or 5xx.
	attempts int
	// spoolFile is the spool file it was read from, when it is re-sent.
	spoolFile string
	round     *resendRound
}

// maxIDBytes is Elasticsearch's limit on the length of a document id.
const maxIDBytes = 512

// documents turns a response into the documents Save sends.
func (p *Plugin) documents(resp *core.StoqResponse) ([]*document, error) {
	month := ""
	if p.opts.indexByMonth {
		month = p.month(resp)
	}
	if p.opts.split {
		parts := resp.Split()
		docs := make([]*document, 0, len(parts))
		for _, part := range parts {
			payload := part.Results[0]
			var worker string
			for name := range payload.Workers {
				worker = name
			}
			body, err := json.Marshal(part)
			if err != nil {
				return nil, fmt.Errorf("elasticsearch: scan %s: results of worker %s on payload %s do not marshal to JSON: %w",
					resp.ScanID, worker, payload.PayloadID, err)
			}
			if body, err = p.guard(resp.ScanID, body); err != nil {
				return nil, err
			}
			docs = append(docs, &document{
				index: indexName(p.opts.index, worker, month),
				id:    splitDocumentID(resp.ScanID, payload.PayloadID, worker),
				body:  body,
			})
		}
		if len(docs) > 0 {
			return docs, nil
		}
		// Nothing to split (no worker results): save the whole response, so
		// its errors and metadata are not lost.
	}
	body, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: scan %s: response does not marshal to JSON: %w", resp.ScanID, err)
	}
	if body, err = p.guard(resp.ScanID, body); err != nil {
		return nil, err
	}
	return []*document{{index: indexName(p.opts.index, "", month), id: documentID(resp.ScanID, body), body: body}}, nil
}

// guard rewrites the keys of body that Elasticsearch would refuse (see
// keyguard.go), saying so in the log.
func (p *Plugin) guard(scanID string, body []byte) ([]byte, error) {
	out, rewritten, err := guardKeys(body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: scan %s: %w", scanID, err)
	}
	if rewritten > 0 {
		p.log.Warn("keys Elasticsearch refuses (NUL, or too long) rewritten so that the scan is indexed; the document's errors name them",
			"scan_id", scanID, "keys", rewritten)
	}
	return out, nil
}

// month is the YYYY-MM of the response's time, so that a document keeps its
// index whenever it is sent; a response without a readable time uses now.
func (p *Plugin) month(resp *core.StoqResponse) string {
	for _, layout := range []string{core.TimeFormat, time.RFC3339Nano} {
		if t, err := time.Parse(layout, resp.Time); err == nil {
			return t.Format("2006-01")
		}
	}
	p.log.Warn("response time unreadable: indexing in the current month", "scan_id", resp.ScanID, "time", resp.Time)
	return time.Now().UTC().Format("2006-01")
}

// indexName is base, then "-worker" when splitting, then "-YYYY-MM" when
// indexing by month: stoq, stoq-2026-11, stoq-hash, stoq-hash-2026-11.
func indexName(base, worker, month string) string {
	var b strings.Builder
	b.WriteString(base)
	if worker != "" {
		b.WriteByte('-')
		b.WriteString(indexPart(worker))
	}
	if month != "" {
		b.WriteByte('-')
		b.WriteString(month)
	}
	return b.String()
}

// indexPart makes a worker name usable in an index name. Registered plugin
// names already are; a name from a hand-built response is lowercased and
// its forbidden characters replaced with '_'.
func indexPart(name string) string {
	const maxPart = 64
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if strings.ContainsRune(forbiddenIndexChars, r) || r < ' ' || r == utf8.RuneError {
			r = '_'
		}
		if b.Len()+utf8.RuneLen(r) > maxPart {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// documentID is the id of a whole response: its scan id, or, for a
// response without a usable one, the hex SHA-1 of its JSON (still the same
// id on every retry).
func documentID(scanID string, body []byte) string {
	if scanID != "" && len(scanID) <= maxIDBytes && !strings.HasPrefix(scanID, "_") {
		return scanID
	}
	sum := sha1.Sum(body)
	return hex.EncodeToString(sum[:])
}

// splitDocumentID is the id of one worker's results on one payload: the hex
// SHA-1 of scan id, payload id and worker name, NUL separated.
func splitDocumentID(scanID, payloadID, worker string) string {
	h := sha1.New()
	h.Write([]byte(scanID))
	h.Write([]byte{0})
	h.Write([]byte(payloadID))
	h.Write([]byte{0})
	h.Write([]byte(worker))
	return hex.EncodeToString(h.Sum(nil))
}

// forbiddenIndexChars may not appear in an Elasticsearch index name.
const forbiddenIndexChars = `\/*?"<>| ,#:`

// checkIndexName checks es_index against Elasticsearch's rules for index
// names, leaving room for the suffixes split and index_by_month add.
func checkIndexName(name string, split, byMonth bool) error {
	room := 255
	if byMonth {
		room -= len("-2006-01")
	}
	if split {
		room -= 1 + 64
	}
	switch {
	case name == "":
		return errors.New("want an index name")
	case name == "." || name == "..":
		return errors.New(`an index may not be named "." or ".."`)
	case strings.ToLower(name) != name:
		return errors.New("index names are lowercase")
	case strings.ContainsAny(name, forbiddenIndexChars):
		return fmt.Errorf("index names may not contain any of %s", forbiddenIndexChars)
	case strings.IndexFunc(name, func(r rune) bool { return r < ' ' }) >= 0:
		return errors.New("index names may not contain control characters")
	case strings.ContainsAny(name[:1], "-_+"):
		return errors.New("index names may not start with -, _ or +")
	case len(name) > room:
		return fmt.Errorf("want at most %d bytes, to leave room for the suffixes", room)
	}
	return nil
}
