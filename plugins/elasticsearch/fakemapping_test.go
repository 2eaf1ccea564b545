package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
)

// This file is the fake cluster's mapping: the rules by which
// Elasticsearch turns a document into indexed fields, and refuses it.
// Only the rules that decide whether stoq's responses index are modelled,
// and modelled strictly (from the Elasticsearch reference and the sources
// of its document parser and flattened field):
//
//   - an index gets its mapping and settings from the matching index
//     template of highest priority when it is created by its first
//     document; templates of equal priority may not have overlapping
//     patterns;
//   - dynamic mapping: a new field takes the type of the first value seen
//     (string: text with a keyword sub-field, or date when it looks like
//     one and date_detection is on; integer: long; decimal: float;
//     boolean; object), in a document and in later ones; every value of
//     an array is parsed with that one type; dots in names make objects;
//   - parsing a value against a type: a long refuses "$a", an object refuses
//     a string and a string field refuses an object, a date refuses what
//     its formats do not read (unless ignore_malformed);
//   - index.mapping.total_fields.limit (1,000) and index.mapping.depth.limit
//     (20) on what a document adds; dynamic false and strict;
//   - Lucene's 32,766-byte limit on an indexed term, with ignore_above;
//   - flattened fields: every leaf indexed as a keyword under its dotted
//     key path, ignore_above, depth_limit, the \0 reserved in keys and the
//     limit on the keyed term;
//   - a refused document is a 400 item whose error type is the fake's
//     parseErrorType: document_parsing_exception (Elasticsearch 8) or
//     mapper_parsing_exception (7).
//
// A template using a mapping parameter the fake does not model is refused
// (400), so that the tests cannot pass on something they do not check.

// luceneMaxTermBytes is Lucene's IndexWriter.MAX_TERM_LENGTH.
const luceneMaxTermBytes = 32766

// mField is one field of a mapping.
type mField struct {
	Type            string             // "object" for objects
	Properties      map[string]*mField // object
	Dynamic         string             // object: "", "true", "false", "strict" ("" inherits)
	Fields          map[string]*mField // multi-fields of a leaf
	IgnoreAbove     int                // keyword, flattened; 0: none
	IgnoreMalformed bool               // numbers, dates
	DepthLimit      int                // flattened
	Format          string             // date
}

func (f *mField) clone() *mField {
	c := *f
	if f.Properties != nil {
		c.Properties = make(map[string]*mField, len(f.Properties))
		for k, v := range f.Properties {
			c.Properties[k] = v.clone()
		}
	}
	if f.Fields != nil {
		c.Fields = make(map[string]*mField, len(f.Fields))
		for k, v := range f.Fields {
			c.Fields[k] = v.clone()
		}
	}
	return &c
}

// count is the number of fields index.mapping.total_fields.limit counts
// below f: every object and leaf, and every multi-field.
func (f *mField) count() int {
	n := 0
	for _, p := range f.Properties {
		n += 1 + p.count()
	}
	for _, m := range f.Fields {
		n += 1 + m.count()
	}
	return n
}

// MarshalJSON writes the mapping as GET _mapping shows it.
func (f *mField) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	if f.Type != "object" {
		m["type"] = f.Type
	}
	if f.Properties != nil {
		m["properties"] = f.Properties
	}
	if f.Dynamic != "" {
		m["dynamic"] = f.Dynamic
	}
	if f.Fields != nil {
		m["fields"] = f.Fields
	}
	if f.IgnoreAbove > 0 {
		m["ignore_above"] = f.IgnoreAbove
	}
	if f.IgnoreMalformed {
		m["ignore_malformed"] = true
	}
	if f.Type == "flattened" && f.DepthLimit != 20 {
		m["depth_limit"] = f.DepthLimit
	}
	if f.Format != "" {
		m["format"] = f.Format
	}
	return json.Marshal(m)
}

// mIndex is an index of the fake cluster.
type mIndex struct {
	Name             string
	Template         string // the template it was created from, "" for none
	Root             *mField
	DateDetection    bool
	NumericDetection bool
	TotalFieldsLimit int
	DepthLimit       int
}

func newMIndex(name string) *mIndex {
	return &mIndex{Name: name, Root: &mField{Type: "object", Properties: map[string]*mField{}, Dynamic: "true"},
		DateDetection: true, TotalFieldsLimit: 1000, DepthLimit: 20}
}

// mTemplate is a composable index template.
type mTemplate struct {
	Name     string
	Patterns []string
	Priority int
	Version  *int
	Raw      json.RawMessage // the body as PUT, for GET
	index    *mIndex         // the mapping and settings it gives
}

// mappingError is a refusal, with the type and reason Elasticsearch gives.
type mappingError struct {
	Type   string
	Reason string
	Cause  *mappingError
}

func (e *mappingError) Error() string { return e.Type + ": " + e.Reason }

// --- templates ---------------------------------------------------------

// parseTemplate reads a PUT _index_template body strictly.
func parseTemplate(name string, body []byte) (*mTemplate, *mappingError) {
	var t struct {
		IndexPatterns json.RawMessage `json:"index_patterns"`
		Priority      *int            `json:"priority"`
		Version       *int            `json:"version"`
		Meta          map[string]any  `json:"_meta"`
		ComposedOf    []string        `json:"composed_of"`
		DataStream    any             `json:"data_stream"`
		Template      *struct {
			Settings map[string]any `json:"settings"`
			Mappings map[string]any `json:"mappings"`
			Aliases  map[string]any `json:"aliases"`
		} `json:"template"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, &mappingError{Type: "x_content_parse_exception", Reason: err.Error()}
	}
	if len(t.ComposedOf) > 0 || t.DataStream != nil {
		return nil, &mappingError{Type: "fake_not_implemented", Reason: "composed_of and data_stream are not modelled"}
	}
	var patterns []string
	if json.Unmarshal(t.IndexPatterns, &patterns) != nil {
		var one string
		if json.Unmarshal(t.IndexPatterns, &one) != nil {
			return nil, &mappingError{Type: "action_request_validation_exception", Reason: "Validation Failed: 1: index patterns are missing;"}
		}
		patterns = []string{one}
	}
	if len(patterns) == 0 {
		return nil, &mappingError{Type: "action_request_validation_exception", Reason: "Validation Failed: 1: index patterns are missing;"}
	}
	mt := &mTemplate{Name: name, Patterns: patterns, Version: t.Version, Raw: append(json.RawMessage(nil), body...), index: newMIndex("")}
	if t.Priority != nil {
		if *t.Priority < 0 {
			return nil, &mappingError{Type: "illegal_argument_exception", Reason: "index template priority must be >= 0"}
		}
		mt.Priority = *t.Priority
	}
	if t.Template != nil {
		if len(t.Template.Aliases) > 0 {
			return nil, &mappingError{Type: "fake_not_implemented", Reason: "aliases are not modelled"}
		}
		if err := applySettings(mt.index, t.Template.Settings); err != nil {
			return nil, err
		}
		if t.Template.Mappings != nil {
			if err := parseRootMapping(mt.index, t.Template.Mappings); err != nil {
				return nil, err
			}
		}
	}
	return mt, nil
}

// applySettings reads the index settings the fake models, nested
// ({"index":{"mapping":…}}) or dotted ("index.mapping.…").
func applySettings(idx *mIndex, settings map[string]any) *mappingError {
	flat := map[string]any{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok {
			for k, sub := range m {
				walk(prefix+k+".", sub)
			}
			return
		}
		flat[strings.TrimSuffix(prefix, ".")] = v
	}
	walk("", settings)
	for k, v := range flat {
		k = strings.TrimPrefix(k, "index.")
		n, err := strconv.Atoi(fmt.Sprint(v))
		switch k {
		case "mapping.total_fields.limit":
			if err != nil {
				return &mappingError{Type: "illegal_argument_exception", Reason: "bad " + k}
			}
			idx.TotalFieldsLimit = n
		case "mapping.depth.limit":
			if err != nil {
				return &mappingError{Type: "illegal_argument_exception", Reason: "bad " + k}
			}
			idx.DepthLimit = n
		case "number_of_shards", "number_of_replicas", "refresh_interval":
		default:
			return &mappingError{Type: "fake_not_implemented", Reason: "setting [" + k + "] is not modelled"}
		}
	}
	return nil
}

func parseRootMapping(idx *mIndex, m map[string]any) *mappingError {
	for k, v := range m {
		switch k {
		case "dynamic":
			idx.Root.Dynamic = fmt.Sprint(v)
		case "date_detection":
			b, ok := v.(bool)
			if !ok {
				return unknownParam(k, "_doc", "object")
			}
			idx.DateDetection = b
		case "numeric_detection":
			b, ok := v.(bool)
			if !ok {
				return unknownParam(k, "_doc", "object")
			}
			idx.NumericDetection = b
		case "properties":
			props, err := parseProperties("", v)
			if err != nil {
				return err
			}
			idx.Root.Properties = props
		case "_meta":
		default:
			// dynamic_templates among others: not modelled.
			return &mappingError{Type: "mapper_parsing_exception", Reason: "Root mapping definition has unsupported parameters: [" + k + "] (not modelled by the fake)"}
		}
	}
	switch idx.Root.Dynamic {
	case "true", "false", "strict":
	default:
		return &mappingError{Type: "mapper_parsing_exception", Reason: "dynamic [" + idx.Root.Dynamic + "] is not modelled"}
	}
	return nil
}

func unknownParam(param, field, typ string) *mappingError {
	return &mappingError{Type: "mapper_parsing_exception",
		Reason: fmt.Sprintf("unknown parameter [%s] on mapper [%s] of type [%s]", param, field, typ)}
}

func parseProperties(prefix string, v any) (map[string]*mField, *mappingError) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "properties of [" + prefix + "] must be an object"}
	}
	out := map[string]*mField{}
	for name, def := range m {
		f, err := parseFieldDef(prefix+name, def)
		if err != nil {
			return nil, err
		}
		out[name] = f
	}
	return out, nil
}

var leafParams = map[string][]string{
	"keyword":   {"ignore_above", "fields"},
	"text":      {"fields"},
	"long":      {"ignore_malformed"},
	"integer":   {"ignore_malformed"},
	"double":    {"ignore_malformed"},
	"float":     {"ignore_malformed"},
	"boolean":   {},
	"date":      {"format", "ignore_malformed"},
	"flattened": {"ignore_above", "depth_limit"},
}

func parseFieldDef(path string, v any) (*mField, *mappingError) {
	def, ok := v.(map[string]any)
	if !ok {
		return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "Expected map for property [" + path + "]"}
	}
	typ, _ := def["type"].(string)
	if typ == "" || typ == "object" {
		f := &mField{Type: "object", Properties: map[string]*mField{}}
		for k, pv := range def {
			switch k {
			case "type":
			case "properties":
				props, err := parseProperties(path+".", pv)
				if err != nil {
					return nil, err
				}
				f.Properties = props
			case "dynamic":
				f.Dynamic = fmt.Sprint(pv)
				if f.Dynamic != "true" && f.Dynamic != "false" && f.Dynamic != "strict" {
					return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "dynamic [" + f.Dynamic + "] is not modelled"}
				}
			default:
				return nil, unknownParam(k, path, "object")
			}
		}
		return f, nil
	}
	allowed, known := leafParams[typ]
	if !known {
		return nil, &mappingError{Type: "mapper_parsing_exception", Reason: fmt.Sprintf("No handler for type [%s] declared on field [%s] (or not modelled by the fake)", typ, path)}
	}
	f := &mField{Type: typ}
	if typ == "flattened" {
		f.DepthLimit = 20
	}
	for k, pv := range def {
		if k == "type" {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, unknownParam(k, path, typ)
		}
		switch k {
		case "ignore_above", "depth_limit":
			n, isNum := pv.(float64)
			if !isNum || n < 0 || n != math.Trunc(n) {
				return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "[" + k + "] on [" + path + "] must be a non-negative integer"}
			}
			if k == "ignore_above" {
				f.IgnoreAbove = int(n)
			} else {
				f.DepthLimit = int(n)
			}
		case "ignore_malformed":
			b, isBool := pv.(bool)
			if !isBool {
				return nil, unknownParam(k, path, typ)
			}
			f.IgnoreMalformed = b
		case "format":
			f.Format = fmt.Sprint(pv)
			for _, fm := range strings.Split(f.Format, "||") {
				if _, ok := dateFormats[fm]; !ok {
					return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "date format [" + fm + "] is not modelled by the fake"}
				}
			}
		case "fields":
			subs, err := parseProperties(path+".", pv)
			if err != nil {
				return nil, err
			}
			for name, sf := range subs {
				if sf.Type == "object" || sf.Type == "flattened" {
					return nil, &mappingError{Type: "mapper_parsing_exception", Reason: "multi-field [" + path + "." + name + "] must be a leaf"}
				}
			}
			f.Fields = subs
		}
	}
	return f, nil
}

// globsOverlap reports whether some index name matches both patterns
// (only * is special), as Elasticsearch checks templates of equal
// priority.
func globsOverlap(a, b string) bool {
	memo := map[[2]int]bool{}
	var f func(i, j int) bool
	f = func(i, j int) bool {
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		var r bool
		switch {
		case i == len(a) && j == len(b):
			r = true
		case i < len(a) && a[i] == '*':
			r = f(i+1, j) || (j < len(b) && f(i, j+1))
		case j < len(b) && b[j] == '*':
			r = f(i, j+1) || (i < len(a) && f(i+1, j))
		case i < len(a) && j < len(b) && a[i] == b[j]:
			r = f(i+1, j+1)
		}
		memo[key] = r
		return r
	}
	return f(0, 0)
}

func globMatch(pattern, name string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(name)
}

// --- documents ---------------------------------------------------------

// docParser indexes one document into a copy of an index's mapping.
type docParser struct {
	idx     *mIndex
	root    *mField // the copy the document may extend
	id      string
	errType string // document_parsing_exception or mapper_parsing_exception
}

// indexDocument checks src against idx's mapping, extending it as dynamic
// mapping does. On success the extended mapping is kept.
func indexDocument(idx *mIndex, id string, src []byte, errType string) *mappingError {
	dec := json.NewDecoder(bytes.NewReader(src))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return &mappingError{Type: errType, Reason: "failed to parse: " + err.Error()}
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return &mappingError{Type: errType, Reason: "Malformed content, found extra data after parsing: START_ARRAY"}
	}
	p := &docParser{idx: idx, root: idx.Root.clone(), id: id, errType: errType}
	if err := p.object(p.root, "", obj, idx.Root.Dynamic, 1); err != nil {
		return err
	}
	if added := p.root.count() - idx.Root.count(); added > 0 && p.root.count() > idx.TotalFieldsLimit {
		cause := &mappingError{Type: "illegal_argument_exception",
			Reason: fmt.Sprintf("Limit of total fields [%d] has been exceeded while adding new fields [%d]", idx.TotalFieldsLimit, added)}
		return &mappingError{Type: errType, Reason: "failed to parse: " + cause.Reason, Cause: cause}
	}
	idx.Root = p.root
	return nil
}

func (p *docParser) fail(path, typ string, v any, cause string) *mappingError {
	preview := fmt.Sprint(v)
	if len(preview) > 40 {
		preview = preview[:40] + "..."
	}
	reason := fmt.Sprintf("failed to parse field [%s] of type [%s] in document with id '%s'. Preview of field's value: '%s'", path, typ, p.id, preview)
	return &mappingError{Type: p.errType, Reason: reason, Cause: &mappingError{Type: "illegal_argument_exception", Reason: cause}}
}

func checkFieldName(name string) string {
	switch {
	case name == "":
		return "field name cannot be an empty string"
	case strings.TrimSpace(name) == "":
		return "field name cannot contain only whitespace: ['" + name + "']"
	case strings.Trim(name, ".") == "":
		return "field name cannot contain only dots: [" + name + "]"
	case strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, ".."):
		return "field name starting or ending with a [.] makes object resolution ambiguous: [" + name + "]"
	}
	return ""
}

// object parses the members of an object mapped by m, at path (with a
// trailing dot, "" at the root), depth counting the root as 1.
func (p *docParser) object(m *mField, path string, obj map[string]any, dynamic string, depth int) *mappingError {
	if m.Dynamic != "" {
		dynamic = m.Dynamic
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) {
		if msg := checkFieldName(key); msg != "" {
			return &mappingError{Type: p.errType, Reason: msg}
		}
		// "a.b": {…} is a: {b: {…}}.
		parent, name, parentPath, d, dyn := m, key, path, depth, dynamic
		parts := strings.Split(key, ".")
		for _, part := range parts[:len(parts)-1] {
			child, ok := parent.Properties[part]
			if !ok {
				if dyn != "true" {
					if dyn == "strict" {
						return p.strict(part, parentPath)
					}
					child = nil
				} else {
					child = &mField{Type: "object", Properties: map[string]*mField{}}
					if err := p.checkDepth(parentPath+part, d+1); err != nil {
						return err
					}
					parent.Properties[part] = child
				}
			}
			if child == nil {
				parent = nil
				break
			}
			if child.Type != "object" {
				return &mappingError{Type: p.errType, Reason: fmt.Sprintf("Could not dynamically add mapping for field [%s]. Existing mapping for [%s] must be of type object but found [%s].", parentPath+key, parentPath+part, child.Type)}
			}
			if child.Dynamic != "" {
				dyn = child.Dynamic
			}
			parent, parentPath, d = child, parentPath+part+".", d+1
			name = parts[len(parts)-1]
		}
		if parent == nil {
			continue // under dynamic false: not indexed
		}
		if err := p.member(parent, parentPath, name, obj[key], dyn, d); err != nil {
			return err
		}
	}
	return nil
}

func (p *docParser) strict(name, parentPath string) *mappingError {
	within := strings.TrimSuffix(parentPath, ".")
	if within == "" {
		within = "_doc"
	}
	return &mappingError{Type: "strict_dynamic_mapping_exception",
		Reason: fmt.Sprintf("[1:1] mapping set to strict, dynamic introduction of [%s] within [%s] is not allowed", name, within)}
}

func (p *docParser) checkDepth(path string, depth int) *mappingError {
	if depth > p.idx.DepthLimit {
		cause := &mappingError{Type: "illegal_argument_exception",
			Reason: fmt.Sprintf("Limit of mapping depth [%d] has been exceeded due to object field [%s]", p.idx.DepthLimit, path)}
		return &mappingError{Type: p.errType, Reason: "failed to parse: " + cause.Reason, Cause: cause}
	}
	return nil
}

// member parses the value v of field name of the object parent.
func (p *docParser) member(parent *mField, parentPath, name string, v any, dynamic string, depth int) *mappingError {
	path := parentPath + name
	if arr, ok := v.([]any); ok {
		for _, e := range flattenArray(arr) {
			if err := p.member(parent, parentPath, name, e, dynamic, depth); err != nil {
				return err
			}
		}
		return nil
	}
	if v == nil {
		return nil // null adds no mapping and indexes nothing
	}
	f, ok := parent.Properties[name]
	if !ok {
		switch dynamic {
		case "false":
			return nil
		case "strict":
			return p.strict(name, parentPath)
		}
		f = p.dynamicField(v)
		if f.Type == "object" {
			if err := p.checkDepth(path, depth+1); err != nil {
				return err
			}
		}
		parent.Properties[name] = f
	}
	return p.value(f, path, v, dynamic, depth)
}

// dynamicField is the mapping dynamic mapping gives a field first seen
// with the value v.
func (p *docParser) dynamicField(v any) *mField {
	switch x := v.(type) {
	case map[string]any:
		return &mField{Type: "object", Properties: map[string]*mField{}}
	case bool:
		return &mField{Type: "boolean"}
	case json.Number:
		if isInteger(string(x)) {
			return &mField{Type: "long"}
		}
		return &mField{Type: "float"}
	case string:
		if p.idx.DateDetection && dynamicDate(x) {
			return &mField{Type: "date", Format: "strict_date_optional_time||epoch_millis"}
		}
		if p.idx.NumericDetection {
			if isInteger(x) {
				return &mField{Type: "long"}
			}
			if _, err := strconv.ParseFloat(x, 64); err == nil {
				return &mField{Type: "float"}
			}
		}
		return &mField{Type: "text", Fields: map[string]*mField{"keyword": {Type: "keyword", IgnoreAbove: 256}}}
	}
	panic(fmt.Sprintf("fake: unexpected JSON value %T", v))
}

func isInteger(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// value parses a non-null, non-array value against its field.
func (p *docParser) value(f *mField, path string, v any, dynamic string, depth int) *mappingError {
	obj, isObj := v.(map[string]any)
	switch f.Type {
	case "object":
		if !isObj {
			return &mappingError{Type: p.errType, Reason: fmt.Sprintf("object mapping for [%s] tried to parse field [%s] as object, but found a concrete value", path, path)}
		}
		return p.object(f, path+".", obj, dynamic, depth+1)
	case "flattened":
		if !isObj {
			return &mappingError{Type: p.errType, Reason: fmt.Sprintf("failed to parse field [%s] of type [flattened] in document with id '%s'", path, p.id),
				Cause: &mappingError{Type: "parsing_exception", Reason: "Failed to parse object: expecting token of type [START_OBJECT]"}}
		}
		return p.flattened(f, path, obj)
	}
	if isObj {
		return p.fail(path, f.Type, "{…}", "Can't get text on a START_OBJECT")
	}
	text := leafText(v)
	var err *mappingError
	switch f.Type {
	case "keyword":
		if f.IgnoreAbove == 0 || utf16Len(text) <= f.IgnoreAbove {
			if len(text) > luceneMaxTermBytes {
				err = &mappingError{Type: "illegal_argument_exception", Reason: fmt.Sprintf(
					"Document contains at least one immense term in field=\"%s\" (whose UTF8 encoding is longer than the max length %d), all of which were skipped.", path, luceneMaxTermBytes)}
			}
		}
	case "text":
	case "long", "integer":
		if _, ok := parseLong(v); !ok {
			err = p.fail(path, f.Type, v, fmt.Sprintf("For input string: \"%s\"", text))
		}
	case "double", "float":
		if _, ok := parseDouble(v); !ok {
			err = p.fail(path, f.Type, v, fmt.Sprintf("For input string: \"%s\"", text))
		}
	case "boolean":
		if _, isBool := v.(bool); !isBool && text != "true" && text != "false" && text != "" {
			err = p.fail(path, f.Type, v, fmt.Sprintf("Failed to parse value [%s] as only [true] or [false] are allowed.", text))
		}
	case "date":
		if !parseDate(f.Format, v) {
			err = p.fail(path, f.Type, v, fmt.Sprintf("failed to parse date field [%s] with format [%s]", text, f.Format))
		}
	}
	if err != nil && f.IgnoreMalformed && err.Type == p.errType {
		return nil
	}
	if err != nil {
		return err
	}
	for name, sub := range f.Fields {
		if e := p.value(sub, path+"."+name, v, dynamic, depth); e != nil {
			return e
		}
	}
	return nil
}

// flattened indexes the leaves of obj as keywords under their key paths.
func (p *docParser) flattened(f *mField, path string, obj map[string]any) *mappingError {
	var walk func(prefix string, depth int, v any) *mappingError
	walk = func(key string, depth int, v any) *mappingError {
		switch x := v.(type) {
		case map[string]any:
			if key != "" {
				depth++
			}
			if depth+1 > f.DepthLimit {
				return &mappingError{Type: p.errType, Reason: fmt.Sprintf("failed to parse field [%s] of type [flattened] in document with id '%s'", path, p.id),
					Cause: &mappingError{Type: "illegal_argument_exception", Reason: fmt.Sprintf("The provided [flattened] field [%s] exceeds the maximum depth limit of [%d].", path, f.DepthLimit)}}
			}
			for _, k := range slices.Sorted(maps.Keys(x)) {
				sub := k
				if key != "" {
					sub = key + "." + k
				}
				if err := walk(sub, depth, x[k]); err != nil {
					return err
				}
			}
			return nil
		case []any:
			for _, e := range x {
				if err := walk(key, depth, e); err != nil {
					return err
				}
			}
			return nil
		}
		if strings.Contains(key, "\x00") {
			return &mappingError{Type: p.errType, Reason: fmt.Sprintf("failed to parse field [%s] of type [flattened]", path),
				Cause: &mappingError{Type: "illegal_argument_exception", Reason: "Keys in [flattened] fields cannot contain the reserved character \\0. Offending key: [" + key + "]."}}
		}
		if v == nil {
			return nil
		}
		text := leafText(v)
		if f.IgnoreAbove > 0 && utf16Len(text) > f.IgnoreAbove {
			return nil
		}
		if len(key)+1+len(text) > luceneMaxTermBytes {
			return &mappingError{Type: p.errType, Reason: fmt.Sprintf("failed to parse field [%s] of type [flattened]", path),
				Cause: &mappingError{Type: "illegal_argument_exception", Reason: fmt.Sprintf(
					"Flattened field [%s] contains one immense field whose keyed encoding is longer than the allowed max length of %d bytes. Key length: %d, value length: %d",
					path, luceneMaxTermBytes, utf16Len(key), utf16Len(text))}}
		}
		return nil
	}
	return walk("", 0, obj)
}

// --- values ------------------------------------------------------------

func flattenArray(arr []any) []any {
	var out []any
	for _, e := range arr {
		if sub, ok := e.([]any); ok {
			out = append(out, flattenArray(sub)...)
		} else {
			out = append(out, e)
		}
	}
	return out
}

// leafText is the text Elasticsearch indexes for a JSON leaf: a string as
// it is, a number as written in the JSON, a boolean as true or false.
func leafText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// utf16Len is the length Java's String.length() gives, which ignore_above
// compares with.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func parseLong(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return n, true
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || f >= math.MaxInt64 || f < math.MinInt64 {
			return 0, false
		}
		return int64(f), true // coerced, as Elasticsearch truncates
	case string:
		return parseLong(json.Number(strings.TrimSpace(x)))
	}
	return 0, false
}

func parseDouble(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		return f, err == nil && !math.IsInf(f, 0)
	case string:
		return parseDouble(json.Number(strings.TrimSpace(x)))
	}
	return 0, false
}

// The date formats the fake reads. strict_date_optional_time is
// yyyy-MM-dd with optional time, fraction (up to 9 digits) and zone.
var (
	strictDateOptionalTime = regexp.MustCompile(`^\d{4}(-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?$`)
	slashDateTime          = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}$`)
	slashDate              = regexp.MustCompile(`^\d{4}/\d{2}/\d{2} [+-]\d{4}$`)
	dateFormats            = map[string]func(any) bool{
		"strict_date_optional_time": func(v any) bool {
			s, ok := v.(string)
			return ok && strictDateOptionalTime.MatchString(s) && validCalendar(s)
		},
		"epoch_millis": func(v any) bool {
			_, ok := parseDouble(v)
			return ok
		},
		"yyyy/MM/dd HH:mm:ss Z": func(v any) bool { s, ok := v.(string); return ok && slashDateTime.MatchString(s) },
		"yyyy/MM/dd Z":          func(v any) bool { s, ok := v.(string); return ok && slashDate.MatchString(s) },
	}
)

// validCalendar checks month and day ranges of a yyyy-MM-dd prefix.
func validCalendar(s string) bool {
	if len(s) >= 7 {
		if m, _ := strconv.Atoi(s[5:7]); m < 1 || m > 12 {
			return false
		}
	}
	if len(s) >= 10 {
		if d, _ := strconv.Atoi(s[8:10]); d < 1 || d > 31 {
			return false
		}
	}
	return true
}

func parseDate(format string, v any) bool {
	if format == "" {
		format = "strict_date_optional_time||epoch_millis"
	}
	for _, fm := range strings.Split(format, "||") {
		if dateFormats[fm](v) {
			return true
		}
	}
	return false
}

// dynamicDate is date detection with the default dynamic_date_formats:
// strict_date_optional_time and "yyyy/MM/dd HH:mm:ss Z||yyyy/MM/dd Z". A
// string of digits alone is a number, not a date.
func dynamicDate(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
		return false
	}
	return dateFormats["strict_date_optional_time"](s) || slashDateTime.MatchString(s) || slashDate.MatchString(s)
}
