package elasticsearch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeES is an in-process Elasticsearch speaking the part of the API the
// client and its bulk indexer use: the product header on every answer,
// GET / (cluster info), POST /_bulk, whose NDJSON body it parses and
// answers item by item, index templates, mappings and search. Every
// document goes through the mapping rules of fakemapping_test.go (an index
// is created from the matching template by its first document) and can be
// searched (fakesearch_test.go). Tests script whole-request failures,
// per-item refusals, outages, authentication, and read what was received.
type fakeES struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	docs       map[string]json.RawMessage // index + "/" + id → source
	bodies     [][]byte                   // raw bodies of every POST /_bulk
	items      []bulkItem                 // every item received, in order
	attempts   map[string]int             // index/id → times received
	auth       []string                   // Authorization header of every request
	failBulks  []int                      // statuses for the next whole bulk requests
	itemStatus func(it bulkItem, attempt int) (status int, errType, reason string)
	down       bool // drop every connection, as a dead node would
	noProduct  bool // answer without X-Elastic-Product
	hang       bool // never answer a bulk request
	received   chan bulkItem

	// The mapping side: indices by name, templates by name, and the error
	// type of a document the mapping refuses.
	indices        map[string]*mIndex
	templates      map[string]*mTemplate
	parseErrorType string
	noTemplateAPI  bool     // answer _index_template as a server without it
	templateCalls  []string // "GET name", "PUT name?create=true"…
	// afterTemplateGet runs (f.mu held) after a GET of a missing template.
	afterTemplateGet func(f *fakeES)

	// users, when set, are the only basic credentials accepted (user →
	// password); apiKeys the accepted API keys. forbid names the action a
	// request is refused (403), "" to allow it.
	users   map[string]string
	apiKeys map[string]string // encoded key → its user
	forbid  func(r *http.Request, user string) string
	// counting only: benchmarks skip recording documents.
	countOnly bool
	count     int
}

// bulkItem is one action of a bulk request with its source.
type bulkItem struct {
	Action string
	Index  string
	ID     string
	Source json.RawMessage
}

func (it bulkItem) key() string { return it.Index + "/" + it.ID }

func newFakeES(t testing.TB) *fakeES {
	f := newFakeESHandler(t)
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func newFakeESHandler(t testing.TB) *fakeES {
	return &fakeES{t: t, docs: map[string]json.RawMessage{}, attempts: map[string]int{},
		received: make(chan bulkItem, 1024), indices: map[string]*mIndex{}, templates: map[string]*mTemplate{},
		parseErrorType: "document_parsing_exception"}
}

func (f *fakeES) URL() string { return f.srv.URL }

func (f *fakeES) set(fn func(f *fakeES)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	down, noProduct := f.down, f.noProduct
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	f.mu.Unlock()
	if down {
		hj, ok := w.(http.Hijacker)
		if !ok {
			f.t.Errorf("fake Elasticsearch: cannot drop the connection")
			return
		}
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
		return
	}
	if !noProduct {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
	}
	w.Header().Set("Content-Type", "application/json")
	if !f.authorize(w, r) {
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, "/_index_template/"):
		f.templateAPI(w, r, strings.TrimPrefix(r.URL.Path, "/_index_template/"))
	case strings.HasSuffix(r.URL.Path, "/_search") && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		f.searchAPI(w, r, strings.Trim(strings.TrimSuffix(r.URL.Path, "_search"), "/"))
	case strings.HasSuffix(r.URL.Path, "/_mapping") && r.Method == http.MethodGet:
		f.mappingAPI(w, strings.Trim(strings.TrimSuffix(r.URL.Path, "_mapping"), "/"))
	case r.Method == http.MethodGet && r.URL.Path == "/":
		fmt.Fprint(w, `{"name":"fake","cluster_name":"stoq-test","cluster_uuid":"x","version":{"number":"8.19.7","build_flavor":"default","lucene_version":"9.12.0","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}`)
	case r.Method == http.MethodHead && r.URL.Path == "/":
	case (r.Method == http.MethodPost || r.Method == http.MethodPut) && r.URL.Path == "/_bulk":
		f.bulk(w, r)
	default:
		f.documentAPI(w, r)
	}
}

// documentAPI answers the calls the cluster checks make after saving:
// GET /INDEX/_doc/ID, POST /INDEX/_refresh, GET /INDEX/_count and
// DELETE /INDEX.
func (f *fakeES) documentAPI(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && len(parts) == 3 && parts[1] == "_doc":
		src, ok := f.docs[parts[0]+"/"+parts[2]]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"_index":%q,"_id":%q,"found":false}`, parts[0], parts[2])
			return
		}
		fmt.Fprintf(w, `{"_index":%q,"_id":%q,"_version":1,"_seq_no":0,"_primary_term":1,"found":true,"_source":%s}`, parts[0], parts[2], src)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "_refresh":
		fmt.Fprint(w, `{"_shards":{"total":1,"successful":1,"failed":0}}`)
	case (r.Method == http.MethodGet || r.Method == http.MethodPost) && len(parts) == 2 && parts[1] == "_count":
		n := 0
		for k := range f.docs {
			if strings.HasPrefix(k, parts[0]+"/") {
				n++
			}
		}
		fmt.Fprintf(w, `{"count":%d,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0}}`, n)
	case r.Method == http.MethodDelete && len(parts) == 1:
		for k := range f.docs {
			if strings.HasPrefix(k, parts[0]+"/") {
				delete(f.docs, k)
			}
		}
		delete(f.indices, parts[0])
		fmt.Fprint(w, `{"acknowledged":true}`)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"fake_not_implemented","reason":"%s %s"},"status":404}`, r.Method, r.URL.Path)
	}
}

func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		f.t.Errorf("fake Elasticsearch: bulk Content-Type %q", ct)
	}
	f.mu.Lock()
	if !f.countOnly {
		f.bodies = append(f.bodies, body)
	}
	if f.hang {
		f.mu.Unlock()
		<-r.Context().Done() // until the client gives up
		return
	}
	if len(f.failBulks) > 0 {
		status := f.failBulks[0]
		f.failBulks = f.failBulks[1:]
		f.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"type":"fake_failure","reason":"scripted %d"},"status":%d}`, status, status)
		return
	}
	f.mu.Unlock()

	items, err := parseBulk(body, !f.countOnly)
	if err != nil {
		f.t.Errorf("fake Elasticsearch: bad bulk body: %v\n%s", err, body)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":{"type":"parse_exception","reason":%q},"status":400}`, err.Error())
		return
	}
	filtered := r.URL.Query().Get("filter_path") == "errors,items.*.status,items.*.error"
	if !filtered && !f.countOnly {
		f.t.Errorf("fake Elasticsearch: bulk filter_path %q", r.URL.Query().Get("filter_path"))
	}
	var out bytes.Buffer
	out.WriteString(`{"took":1,"errors":`)
	var results []string
	hasErrors := false
	f.mu.Lock()
	for _, it := range items {
		status, errType, reason := 201, "", ""
		var cause *mappingError
		if f.countOnly {
			f.count++
		} else {
			f.items = append(f.items, it)
			f.attempts[it.key()]++
			if f.itemStatus != nil {
				if s, et, rs := f.itemStatus(it, f.attempts[it.key()]); s != 0 {
					status, errType, reason = s, et, rs
				}
			}
			if status == 201 {
				if _, exists := f.docs[it.key()]; exists && it.Action == "create" {
					status, errType, reason = 409, "version_conflict_engine_exception",
						fmt.Sprintf("[%s]: version conflict, document already exists (current version [1])", it.ID)
				} else if merr := indexDocument(f.index(it.Index), it.ID, it.Source, f.parseErrorType); merr != nil {
					status, errType, reason, cause = 400, merr.Type, merr.Reason, merr.Cause
				} else {
					f.docs[it.key()] = it.Source
				}
			}
		}
		var res string
		if filtered {
			// filter_path=errors,items.*.status,items.*.error
			if status <= 201 {
				res = fmt.Sprintf(`{%q:{"status":201}}`, it.Action)
			} else {
				hasErrors = true
				res = fmt.Sprintf(`{%q:{"status":%d,"error":%s}}`, it.Action, status, errorJSON(errType, reason, cause))
			}
		} else if status <= 201 {
			res = fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}}`,
				it.Action, it.Index, it.ID)
		} else {
			hasErrors = true
			res = fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"status":%d,"error":%s}}`,
				it.Action, it.Index, it.ID, status, errorJSON(errType, reason, cause))
		}
		results = append(results, res)
	}
	f.mu.Unlock()
	if filtered {
		out.Reset()
		out.WriteString(`{"errors":`)
	}
	fmt.Fprintf(&out, "%t,\"items\":[%s]}", hasErrors, strings.Join(results, ","))
	w.Write(out.Bytes())
	if !f.countOnly {
		for _, it := range items {
			select {
			case f.received <- it:
			default:
			}
		}
	}
}

// parseBulk reads an NDJSON bulk body: an action line, and a source line
// after every action but delete, checked to be JSON when validate is set
// (benchmarks skip that, to measure the connector rather than the fake).
func parseBulk(body []byte, validate bool) ([]bulkItem, error) {
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return nil, fmt.Errorf("the bulk body must end with a newline")
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 64<<20)
	var items []bulkItem
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil {
			return nil, fmt.Errorf("action line %q: %w", sc.Text(), err)
		}
		if len(action) != 1 {
			return nil, fmt.Errorf("action line %q: want one action", sc.Text())
		}
		var it bulkItem
		for name, meta := range action {
			it = bulkItem{Action: name, Index: meta.Index, ID: meta.ID}
		}
		if it.Action != "delete" {
			if !sc.Scan() {
				return nil, fmt.Errorf("action %s %s: missing source line", it.Action, it.ID)
			}
			if validate && !json.Valid(sc.Bytes()) {
				return nil, fmt.Errorf("action %s %s: source is not JSON", it.Action, it.ID)
			}
			it.Source = append(json.RawMessage(nil), sc.Bytes()...)
		}
		items = append(items, it)
	}
	return items, sc.Err()
}

// snapshot helpers, taken under the lock.

func (f *fakeES) doc(index, id string) (json.RawMessage, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[index+"/"+id]
	return d, ok
}

func (f *fakeES) docCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.docs)
}

func (f *fakeES) bulkBodies() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.bodies...)
}

func (f *fakeES) receivedItems() []bulkItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bulkItem(nil), f.items...)
}

func (f *fakeES) attemptsOf(index, id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.attempts[index+"/"+id]
}

func (f *fakeES) authHeaders() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...)
}

// errorJSON is an Elasticsearch error object, with its cause.
func errorJSON(errType, reason string, cause *mappingError) string {
	e := map[string]any{"type": errType, "reason": reason}
	if cause != nil {
		e["caused_by"] = map[string]any{"type": cause.Type, "reason": cause.Reason}
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// index returns the named index, creating it from the matching template of
// highest priority, as a first document does. Called with f.mu held.
func (f *fakeES) index(name string) *mIndex {
	if idx, ok := f.indices[name]; ok {
		return idx
	}
	idx := newMIndex(name)
	var best *mTemplate
	for _, t := range f.templates {
		for _, p := range t.Patterns {
			if globMatch(p, name) && (best == nil || t.Priority > best.Priority) {
				best = t
			}
		}
	}
	if best != nil {
		idx = &mIndex{Name: name, Template: best.Name, Root: best.index.Root.clone(), DateDetection: best.index.DateDetection,
			NumericDetection: best.index.NumericDetection, TotalFieldsLimit: best.index.TotalFieldsLimit, DepthLimit: best.index.DepthLimit}
	}
	f.indices[name] = idx
	return idx
}

// writeError answers an Elasticsearch error.
func writeError(w http.ResponseWriter, status int, errType, reason string) {
	w.WriteHeader(status)
	e := errorJSON(errType, reason, nil)
	fmt.Fprintf(w, `{"error":{"root_cause":[%s],"type":%q,"reason":%q},"status":%d}`, e, errType, reason, status)
}

// templateAPI answers GET, PUT and DELETE /_index_template/NAME.
func (f *fakeES) templateAPI(w http.ResponseWriter, r *http.Request, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + name
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	f.templateCalls = append(f.templateCalls, call)
	if f.noTemplateAPI {
		writeError(w, http.StatusBadRequest, "illegal_argument_exception", "no handler found for uri [/_index_template/"+name+"] and method ["+r.Method+"]")
		return
	}
	switch r.Method {
	case http.MethodGet:
		t, ok := f.templates[name]
		if !ok {
			writeError(w, http.StatusNotFound, "resource_not_found_exception", "index template matching ["+name+"] not found")
			if f.afterTemplateGet != nil {
				f.afterTemplateGet(f)
			}
			return
		}
		fmt.Fprintf(w, `{"index_templates":[{"name":%q,"index_template":%s}]}`, name, t.Raw)
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "parse_exception", err.Error())
			return
		}
		t, merr := parseTemplate(name, body)
		if merr != nil {
			writeError(w, http.StatusBadRequest, merr.Type, merr.Reason)
			return
		}
		if _, exists := f.templates[name]; exists && r.URL.Query().Get("create") == "true" {
			writeError(w, http.StatusBadRequest, "illegal_argument_exception", "index template ["+name+"] already exists")
			return
		}
		for other, ot := range f.templates {
			if other == name || ot.Priority != t.Priority {
				continue
			}
			for _, a := range t.Patterns {
				for _, b := range ot.Patterns {
					if globsOverlap(a, b) {
						writeError(w, http.StatusBadRequest, "illegal_argument_exception", fmt.Sprintf(
							"index template [%s] has index patterns %v matching patterns from existing templates [%s] with patterns (%s => %v) that have the same priority [%d], multiple index templates may not match during index creation, please use a different priority",
							name, t.Patterns, other, other, ot.Patterns, t.Priority))
						return
					}
				}
			}
		}
		f.templates[name] = t
		fmt.Fprint(w, `{"acknowledged":true}`)
	case http.MethodDelete:
		if _, ok := f.templates[name]; !ok {
			writeError(w, http.StatusNotFound, "resource_not_found_exception", "index_template ["+name+"] missing")
			return
		}
		delete(f.templates, name)
		fmt.Fprint(w, `{"acknowledged":true}`)
	default:
		writeError(w, http.StatusMethodNotAllowed, "fake_not_implemented", r.Method)
	}
}

// mappingAPI answers GET /INDEX/_mapping.
func (f *fakeES) mappingAPI(w http.ResponseWriter, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx, ok := f.indices[name]
	if !ok {
		writeError(w, http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]")
		return
	}
	b, _ := json.Marshal(map[string]any{name: map[string]any{"mappings": idx.Root}})
	w.Write(b)
}

// searchAPI answers GET or POST /INDEX/_search.
func (f *fakeES) searchAPI(w http.ResponseWriter, r *http.Request, target string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "parse_exception", err.Error())
		return
	}
	if target == "" {
		target = "_all"
	}
	hits, total, err := f.search(target, body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "search_phase_execution_exception", err.Error())
		return
	}
	if hits == nil {
		hits = []searchHit{}
	}
	out, _ := json.Marshal(map[string]any{"took": 1, "timed_out": false,
		"hits": map[string]any{"total": map[string]any{"value": total, "relation": "eq"}, "hits": hits}})
	w.Write(out)
}

// authorize checks a request's credentials against users and apiKeys, and
// forbid; it answers 401 or 403 itself and returns false then.
func (f *fakeES) authorize(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	users, keys, forbid := f.users, f.apiKeys, f.forbid
	f.mu.Unlock()
	if users == nil && keys == nil {
		return true
	}
	user := ""
	auth := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(auth, "APIKey "), strings.HasPrefix(auth, "ApiKey "):
		u, ok := keys[auth[len("APIKey "):]]
		if !ok {
			w.Header().Set("WWW-Authenticate", `ApiKey`)
			writeError(w, http.StatusUnauthorized, "security_exception", "unable to authenticate with provided credentials and anonymous access is not allowed for this request")
			return false
		}
		user = u
	default:
		u, pw, ok := r.BasicAuth()
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "security_exception", "missing authentication credentials for REST request ["+r.URL.Path+"]")
			return false
		}
		if want, known := users[u]; !known || want != pw {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "security_exception", "unable to authenticate user ["+u+"] for REST request ["+r.URL.Path+"]")
			return false
		}
		user = u
	}
	if forbid != nil {
		if action := forbid(r, user); action != "" {
			writeError(w, http.StatusForbidden, "security_exception", fmt.Sprintf(
				"action [%s] is unauthorized for user [%s] with effective roles [stoq_writer], this action is granted by the cluster privileges [manage_index_templates,manage,all]", action, user))
			return false
		}
	}
	return true
}

// search runs a query against the fake from a test, answering the hits'
// index/id keys, sorted.
func (f *fakeES) find(t testing.TB, target string, query string) []string {
	t.Helper()
	hits, _, err := f.search(target, []byte(`{"size":10000,"query":`+query+`}`))
	if err != nil {
		t.Fatalf("search %s %s: %v", target, query, err)
	}
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Index + "/" + h.ID
	}
	return out
}

func (f *fakeES) templateCallLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.templateCalls...)
}
