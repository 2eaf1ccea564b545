package elasticsearch

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The fake's mapping rules are what the catalogue tests trust: each is
// checked here on the documents that show it.

func TestFakeDynamicMappingRules(t *testing.T) {
	long := strings.Repeat("x", 40000)
	manyKeys := func(n int) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%04d":%d`, i, i)
		}
		b.WriteString("}")
		return b.String()
	}
	deep := func(n int) string {
		return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	}
	for _, tc := range []struct {
		name     string
		template string   // mappings of the index, "" for none
		docs     []string // indexed in order
		refused  int      // index of the first refused document, -1 for none
		reason   string
	}{
		{"first seen type wins across documents", "", []string{`{"a":1}`, `{"a":"x"}`}, 1, "failed to parse field [a] of type [long]"},
		{"numbers go into a string field", "", []string{`{"a":"x"}`, `{"a":1}`}, -1, ""},
		{"an array has the type of its first value", "", []string{`{"s":[[3876,"$u1","http://x"]]}`}, 0, "failed to parse field [s] of type [long] in document with id 'd0'. Preview of field's value: '$u1'"},
		{"string first, then a number", "", []string{`{"s":["$u1",3876]}`}, -1, ""},
		{"decimals go into a long", "", []string{`{"v":10}`, `{"v":10.5}`}, -1, ""},
		{"a version string is not a number", "", []string{`{"v":10.0}`, `{"v":"10.0.14393.0"}`}, 1, "failed to parse field [v] of type [float]"},
		{"date detection", "", []string{`{"d":"2026-11-27T14:13:07Z"}`, `{"d":"Tue, 01 Dec 2026"}`}, 1, "failed to parse field [d] of type [date]"},
		{"date detection of a day", "", []string{`{"d":"2026-11-27"}`, `{"d":"soon"}`}, 1, "of type [date]"},
		{"digits are not a date", "", []string{`{"d":"2026"}`, `{"d":"soon"}`}, -1, ""},
		{"no date detection", `{"date_detection":false}`, []string{`{"d":"2026-11-27"}`, `{"d":"soon"}`}, -1, ""},
		{"an object, then a value", "", []string{`{"o":{"x":1}}`, `{"o":"s"}`}, 1, "object mapping for [o] tried to parse field [o] as object, but found a concrete value"},
		{"a value, then an object", "", []string{`{"o":"s"}`, `{"o":{"x":1}}`}, 1, "failed to parse field [o] of type [text]"},
		{"dots make objects", "", []string{`{"a.b":1}`, `{"a":{"b":"x"}}`}, 1, "failed to parse field [a.b] of type [long]"},
		{"empty field name", "", []string{`{"":1}`}, 0, "field name cannot be an empty string"},
		{"total fields limit", "", []string{manyKeys(1001)}, 0, "Limit of total fields [1000] has been exceeded while adding new fields [1001]"},
		{"under the total fields limit", "", []string{manyKeys(999)}, -1, ""},
		{"fields add up across documents", "", []string{manyKeys(600), strings.ReplaceAll(manyKeys(600), `"k`, `"j`)}, 1, "Limit of total fields [1000]"},
		{"depth limit", "", []string{deep(21)}, 0, "Limit of mapping depth [20] has been exceeded"},
		{"text keeps a keyword of 256", "", []string{`{"t":"` + long + `"}`}, -1, ""},
		{"a refused document adds no field", "", []string{`{"a":1,"b":"x"}`, `{"a":"x","c":1}`, `{"c":"y"}`}, 1, "of type [long]"},
		{"keyword without ignore_above", `{"properties":{"k":{"type":"keyword"}}}`, []string{`{"k":"` + long + `"}`}, 0, "Document contains at least one immense term in field=\"k\""},
		{"keyword with ignore_above", `{"properties":{"k":{"type":"keyword","ignore_above":8191}}}`, []string{`{"k":"` + long + `"}`}, -1, ""},
		{"dynamic false", `{"dynamic":false,"properties":{"k":{"type":"keyword"}}}`, []string{`{"a":1}`, `{"a":"x","b":{"c":[1,"x"]}}`}, -1, ""},
		{"dynamic strict", `{"dynamic":"strict","properties":{"k":{"type":"keyword"}}}`, []string{`{"a":1}`}, 0, "mapping set to strict, dynamic introduction of [a] within [_doc] is not allowed"},
		{"long with ignore_malformed", `{"properties":{"n":{"type":"long","ignore_malformed":true}}}`, []string{`{"n":"x"}`}, -1, ""},
		{"date with its format", `{"properties":{"t":{"type":"date","format":"strict_date_optional_time||epoch_millis"}}}`,
			[]string{`{"t":"2026-11-27T14:13:07.481646"}`, `{"t":1796119321000}`, `{"t":"27/11/2026"}`}, 2, "of type [date]"},
		{"flattened takes any shapes", `{"properties":{"f":{"type":"flattened"}}}`,
			[]string{`{"f":{"a":1,"b":[1,"x",{"c":true}]}}`, `{"f":{"a":{"x":"y"},"b":"z"}}`, `{"f":{"a":null}}`}, -1, ""},
		{"flattened wants an object", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":"x"}`}, 0, "of type [flattened]"},
		{"flattened depth limit", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":` + deep(21) + `}`}, 0, "exceeds the maximum depth limit of [20]"},
		{"flattened within its depth limit", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":` + deep(20) + `}`}, -1, ""},
		{"flattened keys may not hold NUL", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":{"a\u0000b":1}}`}, 0, "cannot contain the reserved character \\0"},
		{"flattened without ignore_above", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":{"c":"` + long + `"}}`}, 0, "contains one immense field whose keyed encoding is longer than the allowed max length of 32766 bytes"},
		{"flattened with ignore_above", `{"properties":{"f":{"type":"flattened","ignore_above":8191}}}`, []string{`{"f":{"c":"` + long + `"}}`}, -1, ""},
		{"flattened adds no field", `{"properties":{"f":{"type":"flattened"}}}`, []string{`{"f":` + manyKeys(5000) + `}`}, -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx := newMIndex("test")
			if tc.template != "" {
				mt, merr := parseTemplate("t", []byte(`{"index_patterns":["test"],"template":{"mappings":`+tc.template+`}}`))
				if merr != nil {
					t.Fatal(merr)
				}
				idx = mt.index
			}
			refused := -1
			var reason string
			for i, doc := range tc.docs {
				before := idx.Root.count()
				if err := indexDocument(idx, fmt.Sprintf("d%d", i), []byte(doc), "document_parsing_exception"); err != nil {
					if idx.Root.count() != before {
						t.Errorf("document %d was refused but changed the mapping", i)
					}
					refused = i
					reason = err.Reason
					if err.Cause != nil {
						reason += " (" + err.Cause.Reason + ")"
					}
					break
				}
			}
			if refused != tc.refused || !strings.Contains(reason, tc.reason) {
				t.Errorf("refused document %d (%s), want %d (%s)", refused, reason, tc.refused, tc.reason)
			}
		})
	}
}

func TestFakeTemplates(t *testing.T) {
	es := newFakeES(t)
	put := func(name, body string) int {
		req := strings.NewReader(body)
		res, err := es.srv.Client().Post(es.URL()+"/_index_template/"+name, "application/json", req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := put("a", `{"index_patterns":["logs-*"],"priority":10,"template":{"mappings":{"properties":{"n":{"type":"keyword"}}}}}`); got != 200 {
		t.Fatalf("PUT a: %d", got)
	}
	// Same priority, overlapping patterns: refused.
	if got := put("b", `{"index_patterns":["logs-app*"],"priority":10}`); got != 400 {
		t.Errorf("overlapping template of equal priority: %d", got)
	}
	if got := put("b", `{"index_patterns":["logs-app*"],"priority":11,"template":{"mappings":{"properties":{"n":{"type":"long"}}}}}`); got != 200 {
		t.Errorf("PUT b: %d", got)
	}
	// Same priority, patterns that cannot meet: fine.
	if got := put("c", `{"index_patterns":["metrics-*"],"priority":10}`); got != 200 {
		t.Errorf("PUT c: %d", got)
	}
	// Parameters the fake does not model are refused rather than ignored.
	for _, body := range []string{
		`{"index_patterns":["x"],"template":{"mappings":{"dynamic_templates":[]}}}`,
		`{"index_patterns":["x"],"template":{"mappings":{"properties":{"n":{"type":"keyword","normalizer":"lower"}}}}}`,
		`{"index_patterns":["x"],"template":{"mappings":{"properties":{"n":{"type":"wildcard"}}}}}`,
		`{"index_patterns":["x"],"template":{"settings":{"index":{"codec":"best_compression"}}}}`,
	} {
		if got := put("x", body); got != 400 {
			t.Errorf("%s: %d, want 400", body, got)
		}
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	for name, want := range map[string]string{"logs-app-1": "b", "logs-db-1": "a", "metrics-1": "c", "other": ""} {
		idx := es.index(name)
		if idx.Template != want {
			t.Errorf("index %s made from %q, want %q", name, idx.Template, want)
		}
	}
	if es.indices["logs-app-1"].Root.Properties["n"].Type != "long" {
		t.Error("the template of highest priority did not win")
	}
	// A template applies to indices created after it, not to existing ones.
	es.templates["z"] = &mTemplate{Name: "z", Patterns: []string{"other"}, Priority: 99, index: newMIndex("")}
	if es.index("other").Template != "" {
		t.Error("a template changed an existing index")
	}
}

func TestFakeGlobsOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"stoq", "stoq-*", false},
		{"stoq-*", "stoq-malware-*", true},
		{"stoq-*", "stoq-malware", true},
		{"stoq", "stor", false},
		{"stoq-*", "stor-*", false},
		{"*-2026-*", "stoq-*", true},
		{"a*b", "*c", false},
		{"a*", "*b", true},
	} {
		if got := globsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("globsOverlap(%q, %q) = %t", tc.a, tc.b, got)
		}
		if got := globsOverlap(tc.b, tc.a); got != tc.want {
			t.Errorf("globsOverlap(%q, %q) = %t", tc.b, tc.a, got)
		}
	}
}

// TestFakeSearchHonoursTheMapping: what the mapping does not index is not
// found, though it is in the source.
func TestFakeSearchHonoursTheMapping(t *testing.T) {
	mt, merr := parseTemplate("t", []byte(`{"index_patterns":["i"],"template":{"mappings":{"dynamic":false,"properties":{
		"k":{"type":"keyword","ignore_above":5},"f":{"type":"flattened","ignore_above":5},"n":{"type":"long","ignore_malformed":true},
		"t":{"type":"text","fields":{"keyword":{"type":"keyword"}}}}}}}`))
	if merr != nil {
		t.Fatal(merr)
	}
	es := newFakeES(t)
	es.mu.Lock()
	es.templates["t"] = mt
	idx := es.index("i")
	for id, doc := range map[string]string{
		"1": `{"k":"short","f":{"a":{"b":"x"},"c":[1,"toolong"]},"n":"bad","t":"Hello World","u":"unmapped"}`,
		"2": `{"k":"toolong","f":{"a":{"b":"y"}},"n":7,"t":"bye"}`,
	} {
		if err := indexDocument(idx, id, []byte(doc), "document_parsing_exception"); err != nil {
			t.Fatal(err)
		}
		es.docs["i/"+id] = json.RawMessage(doc)
	}
	es.mu.Unlock()
	for query, want := range map[string]string{
		`{"term":{"k":"short"}}`:               "i/1",
		`{"term":{"k":"toolong"}}`:             "",
		`{"term":{"f.a.b":"y"}}`:               "i/2",
		`{"term":{"f":"x"}}`:                   "i/1",
		`{"term":{"f.c":"1"}}`:                 "i/1",
		`{"term":{"f.c":1}}`:                   "i/1",
		`{"term":{"f.c":"toolong"}}`:           "",
		`{"term":{"n":7}}`:                     "i/2",
		`{"exists":{"field":"n"}}`:             "i/2",
		`{"term":{"u":"unmapped"}}`:            "",
		`{"match":{"t":"hello"}}`:              "i/1",
		`{"term":{"t":"Hello"}}`:               "",
		`{"term":{"t.keyword":"Hello World"}}`: "i/1",
		`{"prefix":{"f.a.b":"x"}}`:             "i/1",
		`{"wildcard":{"k":"sh*t"}}`:            "i/1",
		`{"bool":{"must":[{"term":{"f.a.b":"x"}}],"must_not":[{"term":{"k":"short"}}]}}`: "",
		`{"bool":{"should":[{"term":{"k":"short"}},{"term":{"n":7}}]}}`:                  "i/1,i/2",
	} {
		got := strings.Join(es.find(t, "i", query), ",")
		if got != want {
			t.Errorf("%s finds %q, want %q", query, got, want)
		}
	}
}
