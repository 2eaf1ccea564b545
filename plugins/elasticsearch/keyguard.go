package elasticsearch

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// This file guards against the two things Elasticsearch still refuses in a
// flattened field, which a hostile payload can put into a result: a key
// holding the NUL character (flattened reserves it), and a key so long that
// key path and value together pass Lucene's 32,766-byte term limit (smtp
// returns each header under its name; a mail can carry a 40 KB header
// name). The cluster would refuse the whole document, and the scan would
// not be searchable at all: an evasion. So for such a document, and only
// for it, the offending keys are rewritten (NUL becomes U+FFFD; a key over
// maxKeyBytes keeps its first bytes and gets a hash of the whole key) and an
// Error of plugin "elasticsearch" added to the document's errors says so.
// Every other document is sent exactly as stoq marshalled it.

// maxKeyBytes is the longest key kept as it is in a document that needs the
// guard. With the flattened depth limit it keeps any key path far under
// the term limit: 64 levels of 512 bytes are 32 KiB only in theory, and the
// re-check below catches that.
const maxKeyBytes = 512

// shortKeyBytes is what a longer key keeps, before its hash.
const shortKeyBytes = 480

// longKeyHint is the shortest key worth checking: a refused key path is
// over 32,766 - 1 - 3*ignoreAbove = 8,192 bytes, made of at most
// flattenedDepthLimit keys, so one of them is over 8192/64 = 128 bytes.
const longKeyHint = (maxTermBytes - 1 - 3*ignoreAbove) / flattenedDepthLimit

// maxTermBytes is Lucene's limit on one indexed term.
const maxTermBytes = 32766

// flattenedRoots are the paths of the template's flattened fields, from
// the document's root ("results" is an array).
var flattenedRoots = [][]string{
	{"results", "workers"}, {"results", "archivers"}, {"results", "payload_meta", "extra_data"},
	{"request_meta", "extra_data"}, {"decorators"},
}

// guardKeys returns body as it is, or, when a flattened field holds a key
// the cluster would refuse, a copy with those keys rewritten and an Error
// naming them; rewritten counts the keys changed.
func guardKeys(body []byte) (out []byte, rewritten int, err error) {
	if !mayHoldBadKey(body) {
		return body, 0, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return body, 0, nil // not ours to judge: the cluster answers
	}
	var notes []keyNote
	for _, root := range flattenedRoots {
		forEachAt(doc, root, "", func(obj map[string]any, payloadID any, where string) {
			if refusedKeys(obj, "") {
				notes = append(notes, rewriteKeys(obj, where, payloadID)...)
			}
		})
	}
	if len(notes) == 0 {
		return body, 0, nil
	}
	errs, _ := doc["errors"].([]any)
	byPlace := map[string][]keyNote{}
	for _, n := range notes {
		byPlace[n.where] = append(byPlace[n.where], n)
	}
	for _, place := range slices.Sorted(maps.Keys(byPlace)) {
		ns := byPlace[place]
		errs = append(errs, map[string]any{
			"error": fmt.Sprintf("elasticsearch: %d key(s) of %s rewritten so that Elasticsearch indexes the document "+
				"(a flattened field refuses NUL in keys and keys longer than its term limit); first: %s",
				len(ns), ns[0].where, ns[0].describe()),
			"plugin_name": "elasticsearch",
			"payload_id":  ns[0].payloadID,
		})
	}
	doc["errors"] = errs
	out, err = json.Marshal(doc)
	if err != nil {
		return nil, 0, err
	}
	return out, len(notes), nil
}

// mayHoldBadKey is the fast check: no object key of the JSON is longer
// than longKeyHint bytes, and no string holds an escaped NUL.
func mayHoldBadKey(body []byte) bool {
	if bytes.Contains(body, []byte(`\u0000`)) {
		return true
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(body) && body[i] != '"'; i++ {
			if body[i] == '\\' {
				i++
			}
		}
		if i-start-1 <= longKeyHint {
			continue
		}
		j := i + 1
		for j < len(body) && (body[j] == ' ' || body[j] == '\n' || body[j] == '\t' || body[j] == '\r') {
			j++
		}
		if j < len(body) && body[j] == ':' {
			return true
		}
	}
	return false
}

// forEachAt calls fn with every object at path in v (through arrays),
// with the payload id of the result it belongs to.
func forEachAt(v any, path []string, where string, fn func(obj map[string]any, payloadID any, where string)) {
	var walk func(v any, path []string, where string, payloadID any)
	walk = func(v any, path []string, where string, payloadID any) {
		switch x := v.(type) {
		case []any:
			for i, e := range x {
				walk(e, path, fmt.Sprintf("%s[%d]", where, i), payloadID)
			}
		case map[string]any:
			if id, ok := x["payload_id"]; ok {
				payloadID = id
			}
			if len(path) == 0 {
				fn(x, payloadID, where)
				return
			}
			next := path[0]
			if where != "" {
				next = where + "." + path[0]
			}
			walk(x[path[0]], path[1:], next, payloadID)
		}
	}
	walk(v, path, where, nil)
}

// refusedKeys reports whether Elasticsearch would refuse the flattened
// object obj: a key path with NUL, or key path and an indexed value longer
// than the term limit.
func refusedKeys(obj any, key string) bool {
	switch x := obj.(type) {
	case map[string]any:
		for k, v := range x {
			sub := k
			if key != "" {
				sub = key + "." + k
			}
			if refusedKeys(v, sub) {
				return true
			}
		}
		return false
	case []any:
		for _, e := range x {
			if refusedKeys(e, key) {
				return true
			}
		}
		return false
	case nil:
		return strings.ContainsRune(key, 0)
	}
	if strings.ContainsRune(key, 0) {
		return true
	}
	text := leafValueText(obj)
	return utf16Units(text) <= ignoreAbove && len(key)+1+len(text) > maxTermBytes
}

// keyNote records one rewritten key.
type keyNote struct {
	where     string // the flattened field: results[0].workers
	original  string
	payloadID any
}

func (n keyNote) describe() string {
	sum := sha256.Sum256([]byte(n.original))
	prefix := n.original
	if len(prefix) > 60 {
		prefix = truncateUTF8(prefix, 60) + "…"
	}
	return fmt.Sprintf("%q (%d bytes, sha256 %s)", prefix, len(n.original), hex.EncodeToString(sum[:8]))
}

// rewriteKeys renames, in obj and below, every key holding NUL or longer
// than maxKeyBytes.
func rewriteKeys(obj any, where string, payloadID any) []keyNote {
	var notes []keyNote
	switch x := obj.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			v := x[k]
			notes = append(notes, rewriteKeys(v, where, payloadID)...)
			if !strings.ContainsRune(k, 0) && len(k) <= maxKeyBytes {
				continue
			}
			nk := safeKey(k)
			for _, taken := x[nk]; taken; _, taken = x[nk] {
				nk += "~"
			}
			delete(x, k)
			x[nk] = v
			notes = append(notes, keyNote{where: where, original: k, payloadID: payloadID})
		}
	case []any:
		for _, e := range x {
			notes = append(notes, rewriteKeys(e, where, payloadID)...)
		}
	}
	return notes
}

// safeKey is k with NUL replaced, and, when it is long, cut to
// shortKeyBytes with a hash of the whole key after it.
func safeKey(k string) string {
	clean := strings.ReplaceAll(k, "\x00", "\uFFFD")
	if len(clean) <= maxKeyBytes {
		return clean
	}
	sum := sha256.Sum256([]byte(k))
	return truncateUTF8(clean, shortKeyBytes) + "…sha256:" + hex.EncodeToString(sum[:8])
}

// truncateUTF8 cuts s to at most n bytes at a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// leafValueText is the text Elasticsearch indexes for a JSON leaf.
func leafValueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	return fmt.Sprint(v)
}

// utf16Units is the length Elasticsearch compares with ignore_above.
func utf16Units(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 2
		} else {
			n++
		}
	}
	return n
}
