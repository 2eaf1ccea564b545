package elasticsearch

import (
	"bytes"
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
)

// This file is the fake cluster's search: the queries the README's
// examples and the tests use (term, terms, match, prefix, wildcard,
// exists, range, bool, match_all), evaluated against what the mapping
// indexes, so that a value the mapping leaves out (above ignore_above,
// under dynamic false, malformed and ignored) is not found, as on a real
// cluster. A query the fake does not model is refused.

// fieldRef is a field of a query resolved against an index's mapping.
type fieldRef struct {
	leaf   *mField  // the mapped field, nil when unmapped
	source []string // path of its values in _source
	keyed  string   // for a flattened field: the key path under it ("" = any)
	object bool     // the path names an object (exists only)
}

func resolveField(idx *mIndex, path string) fieldRef {
	segs := strings.Split(path, ".")
	cur := idx.Root
	for i, seg := range segs {
		next, ok := cur.Properties[seg]
		if !ok {
			return fieldRef{}
		}
		if next.Type == "object" {
			cur = next
			if i == len(segs)-1 {
				return fieldRef{leaf: next, source: segs, object: true}
			}
			continue
		}
		rest := segs[i+1:]
		switch {
		case len(rest) == 0:
			return fieldRef{leaf: next, source: segs[:i+1]}
		case next.Type == "flattened":
			return fieldRef{leaf: next, source: segs[:i+1], keyed: strings.Join(rest, ".")}
		case len(rest) == 1 && next.Fields[rest[0]] != nil:
			return fieldRef{leaf: next.Fields[rest[0]], source: segs[:i+1]}
		}
		return fieldRef{}
	}
	return fieldRef{}
}

// collect appends the values at path in node: arrays are looked through,
// and a key holding dots ("a.b") answers for the path a, b.
func collect(node any, segs []string, out *[]any) {
	if arr, ok := node.([]any); ok {
		for _, e := range arr {
			collect(e, segs, out)
		}
		return
	}
	if len(segs) == 0 {
		*out = append(*out, node)
		return
	}
	obj, ok := node.(map[string]any)
	if !ok {
		return
	}
	for i := 1; i <= len(segs); i++ {
		if v, ok := obj[strings.Join(segs[:i], ".")]; ok {
			collect(v, segs[i:], out)
		}
	}
}

// indexedValues are the values the field indexes for the document, as text.
func indexedValues(ref fieldRef, doc any) []any {
	if ref.leaf == nil || ref.object {
		return nil
	}
	var raw []any
	collect(doc, ref.source, &raw)
	var out []any
	for _, v := range raw {
		if v == nil {
			continue
		}
		if ref.leaf.Type == "flattened" {
			flattenedLeaves("", v, func(key string, leaf any) {
				if leaf == nil || (ref.keyed != "" && key != ref.keyed) {
					return
				}
				if ref.leaf.IgnoreAbove > 0 && utf16Len(leafText(leaf)) > ref.leaf.IgnoreAbove {
					return
				}
				out = append(out, leafText(leaf))
			})
			continue
		}
		if _, isObj := v.(map[string]any); isObj {
			continue
		}
		switch ref.leaf.Type {
		case "keyword":
			if ref.leaf.IgnoreAbove > 0 && utf16Len(leafText(v)) > ref.leaf.IgnoreAbove {
				continue
			}
		case "long", "integer":
			if _, ok := parseLong(v); !ok {
				continue
			}
		case "double", "float":
			if _, ok := parseDouble(v); !ok {
				continue
			}
		case "date":
			if !parseDate(ref.leaf.Format, v) {
				continue
			}
		}
		out = append(out, v)
	}
	return out
}

func flattenedLeaves(key string, v any, fn func(key string, leaf any)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			sub := k
			if key != "" {
				sub = key + "." + k
			}
			flattenedLeaves(sub, x[k], fn)
		}
	case []any:
		for _, e := range x {
			flattenedLeaves(key, e, fn)
		}
	default:
		fn(key, v)
	}
}

// analyze is the standard analyzer, near enough: lowercase words.
func analyze(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// termMatches compares an indexed value with a term query's value.
func termMatches(leaf *mField, v any, q any) bool {
	qText := leafText(q)
	switch leaf.Type {
	case "keyword", "flattened", "boolean":
		return leafText(v) == qText
	case "text":
		for _, tok := range analyze(leafText(v)) {
			if tok == qText {
				return true
			}
		}
		return false
	case "long", "integer":
		a, ok1 := parseLong(v)
		b, ok2 := parseLong(q)
		return ok1 && ok2 && a == b
	case "double", "float":
		a, ok1 := parseDouble(v)
		b, ok2 := parseDouble(q)
		return ok1 && ok2 && a == b
	case "date":
		a, ok1 := dateValue(v)
		b, ok2 := dateValue(q)
		return ok1 && ok2 && a.Equal(b)
	}
	return false
}

func dateValue(v any) (time.Time, bool) {
	if n, ok := v.(json.Number); ok {
		ms, err := n.Int64()
		return time.UnixMilli(ms).UTC(), err == nil
	}
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// compare orders an indexed value and a range bound: numbers as numbers,
// dates as dates, keywords as strings.
func compare(leaf *mField, v, bound any) (int, bool) {
	switch leaf.Type {
	case "long", "integer", "double", "float":
		a, ok1 := parseDouble(v)
		b, ok2 := parseDouble(bound)
		if !ok1 || !ok2 {
			return 0, false
		}
		switch {
		case a < b:
			return -1, true
		case a > b:
			return 1, true
		}
		return 0, true
	case "date":
		a, ok1 := dateValue(v)
		b, ok2 := dateValue(bound)
		if !ok1 || !ok2 {
			return 0, false
		}
		return a.Compare(b), true
	case "keyword", "flattened":
		return strings.Compare(leafText(v), leafText(bound)), true
	}
	return 0, false
}

// queryError is a query the fake refuses.
type queryError struct{ reason string }

func (e *queryError) Error() string { return e.reason }

// matchQuery evaluates query q on the document doc of index idx.
func matchQuery(idx *mIndex, doc any, q map[string]any) (bool, error) {
	if len(q) != 1 {
		return false, &queryError{"a query object must have exactly one key"}
	}
	for kind, body := range q {
		switch kind {
		case "match_all":
			return true, nil
		case "bool":
			return matchBool(idx, doc, body)
		}
		spec, ok := body.(map[string]any)
		if !ok || len(spec) != 1 {
			return false, &queryError{"[" + kind + "] query malformed"}
		}
		if kind == "exists" {
			field, _ := spec["field"].(string)
			ref := resolveField(idx, field)
			if ref.object {
				for _, sub := range leafPaths(ref.leaf, field) {
					if len(indexedValues(resolveField(idx, sub), doc)) > 0 {
						return true, nil
					}
				}
				return false, nil
			}
			return len(indexedValues(ref, doc)) > 0, nil
		}
		for field, arg := range spec {
			ref := resolveField(idx, field)
			if kind == "wildcard" && ref.leaf != nil && ref.leaf.Type == "flattened" {
				// As Elasticsearch 7 and 8 answer for keyed flattened fields.
				return false, &queryError{"[wildcard] queries are not currently supported on keyed [flattened] fields"}
			}
			values := indexedValues(ref, doc)
			switch kind {
			case "term", "match", "prefix", "wildcard":
				qv := arg
				if m, ok := arg.(map[string]any); ok {
					key := "value"
					if kind == "match" {
						key = "query"
					}
					qv = m[key]
				}
				for _, v := range values {
					if valueMatches(kind, ref.leaf, v, qv) {
						return true, nil
					}
				}
				return false, nil
			case "terms":
				list, ok := arg.([]any)
				if !ok {
					return false, &queryError{"[terms] wants a list"}
				}
				for _, v := range values {
					for _, qv := range list {
						if termMatches(ref.leaf, v, qv) {
							return true, nil
						}
					}
				}
				return false, nil
			case "range":
				bounds, ok := arg.(map[string]any)
				if !ok {
					return false, &queryError{"[range] wants bounds"}
				}
				for _, v := range values {
					if inRange(ref.leaf, v, bounds) {
						return true, nil
					}
				}
				return false, nil
			}
		}
		return false, &queryError{"unknown query [" + kind + "] (not modelled by the fake)"}
	}
	return false, nil
}

func valueMatches(kind string, leaf *mField, v, q any) bool {
	switch kind {
	case "term":
		return termMatches(leaf, v, q)
	case "match":
		if leaf.Type != "text" {
			return termMatches(leaf, v, q)
		}
		tokens := analyze(leafText(v))
		for _, want := range analyze(leafText(q)) {
			for _, tok := range tokens {
				if tok == want {
					return true
				}
			}
		}
		return false
	case "prefix":
		if leaf.Type == "text" {
			for _, tok := range analyze(leafText(v)) {
				if strings.HasPrefix(tok, leafText(q)) {
					return true
				}
			}
			return false
		}
		return strings.HasPrefix(leafText(v), leafText(q))
	case "wildcard":
		if leaf.Type == "flattened" {
			return false // refused by matchQuery
		}
		re := "^" + strings.NewReplacer(`\*`, ".*", `\?`, ".").Replace(regexp.QuoteMeta(leafText(q))) + "$"
		return regexp.MustCompile(re).MatchString(leafText(v))
	}
	return false
}

func inRange(leaf *mField, v any, bounds map[string]any) bool {
	for op, b := range bounds {
		c, ok := compare(leaf, v, b)
		if !ok {
			return false
		}
		switch op {
		case "gte":
			ok = c >= 0
		case "gt":
			ok = c > 0
		case "lte":
			ok = c <= 0
		case "lt":
			ok = c < 0
		default:
			return false
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchBool(idx *mIndex, doc any, body any) (bool, error) {
	spec, ok := body.(map[string]any)
	if !ok {
		return false, &queryError{"[bool] malformed"}
	}
	clauses := func(key string) ([]map[string]any, error) {
		switch x := spec[key].(type) {
		case nil:
			return nil, nil
		case map[string]any:
			return []map[string]any{x}, nil
		case []any:
			var out []map[string]any
			for _, e := range x {
				m, ok := e.(map[string]any)
				if !ok {
					return nil, &queryError{"[bool] clause malformed"}
				}
				out = append(out, m)
			}
			return out, nil
		}
		return nil, &queryError{"[bool] clause malformed"}
	}
	for key := range spec {
		if key != "must" && key != "filter" && key != "should" && key != "must_not" {
			return false, &queryError{"[bool] " + key + " is not modelled"}
		}
	}
	required := 0
	for _, key := range []string{"must", "filter"} {
		cs, err := clauses(key)
		if err != nil {
			return false, err
		}
		for _, c := range cs {
			required++
			ok, err := matchQuery(idx, doc, c)
			if err != nil || !ok {
				return false, err
			}
		}
	}
	nots, err := clauses("must_not")
	if err != nil {
		return false, err
	}
	for _, c := range nots {
		ok, err := matchQuery(idx, doc, c)
		if err != nil || ok {
			return false, err
		}
	}
	shoulds, err := clauses("should")
	if err != nil {
		return false, err
	}
	if len(shoulds) == 0 || required > 0 {
		return true, nil
	}
	for _, c := range shoulds {
		ok, err := matchQuery(idx, doc, c)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// leafPaths lists the dotted paths of the leaves under an object mapping.
func leafPaths(f *mField, prefix string) []string {
	var out []string
	for name, sub := range f.Properties {
		if sub.Type == "object" {
			out = append(out, leafPaths(sub, prefix+"."+name)...)
		} else {
			out = append(out, prefix+"."+name)
		}
	}
	sort.Strings(out)
	return out
}

// searchHit is one document a search found.
type searchHit struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Score  float64         `json:"_score"`
	Source json.RawMessage `json:"_source"`
}

// search runs a query over the named indices (comma separated, * allowed).
func (f *fakeES) search(target string, body []byte) ([]searchHit, int, error) {
	var req struct {
		Query map[string]any `json:"query"`
		Size  *int           `json:"size"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			return nil, 0, &queryError{"search body: " + err.Error()}
		}
	}
	if req.Query == nil {
		req.Query = map[string]any{"match_all": map[string]any{}}
	}
	size := 10
	if req.Size != nil {
		size = *req.Size
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, pattern := range strings.Split(target, ",") {
		if pattern == "_all" {
			pattern = "*"
		}
		found := false
		for name := range f.indices {
			if globMatch(pattern, name) {
				names = append(names, name)
				found = true
			}
		}
		if !found && !strings.Contains(pattern, "*") {
			return nil, 0, &queryError{"index_not_found_exception: no such index [" + pattern + "]"}
		}
	}
	sort.Strings(names)
	var hits []searchHit
	for _, name := range names {
		idx := f.indices[name]
		var ids []string
		for key := range f.docs {
			if strings.HasPrefix(key, name+"/") {
				ids = append(ids, strings.TrimPrefix(key, name+"/"))
			}
		}
		sort.Strings(ids)
		for _, id := range ids {
			src := f.docs[name+"/"+id]
			dec := json.NewDecoder(bytes.NewReader(src))
			dec.UseNumber()
			var doc any
			if err := dec.Decode(&doc); err != nil {
				return nil, 0, err
			}
			ok, err := matchQuery(idx, doc, req.Query)
			if err != nil {
				return nil, 0, err
			}
			if ok {
				hits = append(hits, searchHit{Index: name, ID: id, Score: 1, Source: src})
			}
		}
	}
	total := len(hits)
	if len(hits) > size {
		hits = hits[:size]
	}
	return hits, total, nil
}
