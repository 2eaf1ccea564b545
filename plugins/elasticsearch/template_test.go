package elasticsearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// installedTemplate reads back the template the fake holds.
func installedTemplate(t *testing.T, es *fakeES, name string) map[string]any {
	t.Helper()
	es.mu.Lock()
	defer es.mu.Unlock()
	tmpl, ok := es.templates[name]
	if !ok {
		t.Fatalf("no template %s; templates: %v", name, slices.Sorted(maps.Keys(es.templates)))
	}
	var out map[string]any
	if err := json.Unmarshal(tmpl.Raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTemplateInstalledAtStart(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	if calls := es.templateCallLog(); !slices.Equal(calls, []string{"GET stoq-stoq", "PUT stoq-stoq?cause=stoq+elasticsearch+connector&create=true"}) {
		t.Errorf("template calls %q", calls)
	}
	got := installedTemplate(t, es, "stoq-stoq")
	if !slices.Equal(toStrings(got["index_patterns"]), []string{"stoq", "stoq-*"}) || got["priority"] != float64(204) || got["version"] != float64(templateVersion) {
		t.Errorf("template %v", got)
	}
	// Whole scans and split documents, by month or not, land in indices
	// the template made.
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	q := newPlugin(t, es.URL(), map[string]string{"split": "true", "index_by_month": "false"})
	mustSave(t, q, hashResponse())
	mustClose(t, q)
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, name := range []string{"stoq-2026-11", "stoq-hash"} {
		if idx := es.indices[name]; idx == nil || idx.Template != "stoq-stoq" {
			t.Errorf("index %s: %+v", name, idx)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, e := range v.([]any) {
		out = append(out, e.(string))
	}
	return out
}

// TestTemplateVersions: a lower version (or none) is replaced, an equal or
// higher one left alone.
func TestTemplateVersions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		version  string // "" for none
		replaced bool
	}{
		{"no version", "", true},
		{"lower", fmt.Sprint(templateVersion - 1), true},
		{"equal", fmt.Sprint(templateVersion), false},
		{"higher", fmt.Sprint(templateVersion + 7), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			version := ""
			if tc.version != "" {
				version = `"version":` + tc.version + `,`
			}
			admin := `{"index_patterns":["stoq","stoq-*"],"priority":204,` + version + `"template":{"mappings":{"properties":{"scan_id":{"type":"keyword"}}}}}`
			putTemplate(t, es, "stoq-stoq", admin)
			var logs logBuffer
			p := newPluginLogging(t, es.URL(), nil, &logs)
			mustClose(t, p)
			calls := es.templateCallLog()
			got := installedTemplate(t, es, "stoq-stoq")
			if tc.replaced {
				if !slices.Equal(calls[1:], []string{"GET stoq-stoq", "PUT stoq-stoq?cause=stoq+elasticsearch+connector"}) || got["version"] != float64(templateVersion) {
					t.Errorf("not replaced: calls %q, template %v", calls, got)
				}
				if !strings.Contains(logs.String(), "index template replaced by a newer version") {
					t.Errorf("log: %s", logs.String())
				}
			} else {
				if !slices.Equal(calls[1:], []string{"GET stoq-stoq"}) || fmt.Sprint(got["version"]) != tc.version {
					t.Errorf("not left alone: calls %q, template %v", calls, got)
				}
				want := "index template left alone: the cluster's version is newer"
				if tc.version == fmt.Sprint(templateVersion) {
					want = "index template up to date"
				}
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log does not say %q: %s", want, logs.String())
				}
			}
		})
	}
}

// putTemplate installs a template as an administrator would.
func putTemplate(t *testing.T, es *fakeES, name, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, es.URL()+"/_index_template/"+name, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("PUT template: %s", res.Status)
	}
}

// newPluginLogging is newPlugin with the connector's log written to w.
func newPluginLogging(t testing.TB, url string, opts map[string]string, w *logBuffer) *Plugin {
	t.Helper()
	p, err := tryNewLogging(t, url, opts, w)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func tryNewLogging(t testing.TB, url string, opts map[string]string, w *logBuffer) (*Plugin, error) {
	cfg := stoqtest.Config(t, "elasticsearch", testOptions(t, url, opts))
	return New(cfg, slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// logBuffer collects a log written from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestManageTemplateFalseWritesNothing(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), map[string]string{"manage_template": "false"})
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	if calls := es.templateCallLog(); len(calls) != 0 {
		t.Errorf("template calls %q", calls)
	}
	if es.docCount() != 1 {
		t.Errorf("%d documents", es.docCount())
	}
}

// TestTemplateRefusedDocumentsStillGo: a user without the privilege to
// manage templates, or a server without composable templates: a warning,
// and the documents are indexed with what the cluster gives.
func TestTemplateRefusedDocumentsStillGo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(f *fakeES)
		want  string
	}{
		{"403", func(f *fakeES) {
			f.users = map[string]string{"writer": "s3cr3t-pw"}
			f.forbid = func(r *http.Request, _ string) string {
				if strings.HasPrefix(r.URL.Path, "/_index_template/") {
					return "indices:admin/index_template/get"
				}
				return ""
			}
		}, `refused the request for user \"writer\" (403 Forbidden: action [indices:admin/index_template/get] is unauthorized for user [writer]`},
		{"no template API", func(f *fakeES) { f.noTemplateAPI = true }, "answered 400 Bad Request: no handler found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := newFakeES(t)
			es.set(tc.setup)
			var logs logBuffer
			p := newPluginLogging(t, es.URL(), map[string]string{"es_username": "writer", "es_password": "s3cr3t-pw"}, &logs)
			resp := hashResponse()
			mustSave(t, p, resp)
			mustClose(t, p)
			if _, ok := es.doc("stoq-2026-11", resp.ScanID); !ok {
				t.Error("document not indexed")
			}
			if !strings.Contains(logs.String(), "cannot install the index template") || !strings.Contains(logs.String(), tc.want) {
				t.Errorf("log does not say %q:\n%s", tc.want, logs.String())
			}
			if strings.Contains(logs.String(), "s3cr3t") {
				t.Errorf("log shows the password:\n%s", logs.String())
			}
		})
	}
}

// TestTemplateBeforeTheFirstDocument: the cluster is down at start; once
// it is back, the template is installed before any spooled or new
// document, so that no index is made by dynamic mapping.
func TestTemplateBeforeTheFirstDocument(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) { f.down = true })
	p := newPlugin(t, es.URL(), map[string]string{"es_max_retries": "1", "flush_interval": "0.005", "spool_retry_interval": "0.01"})
	if !p.isDown() || p.template.isSettled() {
		t.Fatalf("down %t, template settled %t", p.isDown(), p.template.isSettled())
	}
	yara := response(payloadResult(map[string]any{"yara": map[string]any{"matches": []any{
		map[string]any{"rule": "URL", "strings": []any{[]any{23, "$url", "https://evil.example.org/"}}}}}}))
	mustSave(t, p, yara)
	es.set(func(f *fakeES) { f.down = false })
	waitFor(t, "the spool to empty", func() bool { n, _ := p.spool.counts(); return n == 0 })
	mustSave(t, p, hashResponse())
	mustClose(t, p)
	if _, ok := es.doc("stoq-2026-11", yara.ScanID); !ok {
		t.Fatal("the spooled yara result was not indexed")
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if idx := es.indices["stoq-2026-11"]; idx.Template != "stoq-stoq" {
		t.Errorf("index made from %q", idx.Template)
	}
}

// TestTemplatesOfSeveralIndexes: stoq and stoq-malware on one cluster:
// overlapping patterns with different priorities, each index made from its
// own template.
func TestTemplatesOfSeveralIndexes(t *testing.T) {
	es := newFakeES(t)
	for _, index := range []string{"stoq", "stoq-malware", "stoq-other", "results"} {
		p := newPlugin(t, es.URL(), map[string]string{"es_index": index})
		mustSave(t, p, hashResponse())
		mustClose(t, p)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	for name, want := range map[string]string{
		"stoq-2026-11": "stoq-stoq", "stoq-malware-2026-11": "stoq-stoq-malware",
		"stoq-other-2026-11": "stoq-stoq-other", "results-2026-11": "stoq-results",
	} {
		if idx := es.indices[name]; idx == nil || idx.Template != want {
			t.Errorf("index %s: made from %+v, want %s", name, idx, want)
		}
	}
	if len(es.templates) != 4 {
		t.Errorf("%d templates", len(es.templates))
	}
}

// TestTemplateRace: several connectors starting together against a
// cluster without the template: all settle, one template.
func TestTemplateRace(t *testing.T) {
	es := newFakeES(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newPlugin(t, es.URL(), nil)
			if !p.template.isSettled() {
				t.Error("template not settled")
			}
			mustClose(t, p)
		}()
	}
	wg.Wait()
	if got := installedTemplate(t, es, "stoq-stoq"); got["version"] != float64(templateVersion) {
		t.Errorf("template %v", got)
	}
}

// TestTemplateCreatedMeanwhile: another process creates the template
// between the connector's GET and its PUT ?create=true: the connector reads
// it again and replaces it, its version being lower.
func TestTemplateCreatedMeanwhile(t *testing.T) {
	es := newFakeES(t)
	es.set(func(f *fakeES) {
		f.afterTemplateGet = func(f *fakeES) {
			old, merr := parseTemplate("stoq-stoq", []byte(`{"index_patterns":["stoq","stoq-*"],"priority":204,"version":0}`))
			if merr != nil {
				t.Error(merr)
			}
			f.templates["stoq-stoq"] = old
			f.afterTemplateGet = nil
		}
	})
	p := newPlugin(t, es.URL(), nil)
	mustClose(t, p)
	want := []string{"GET stoq-stoq", "PUT stoq-stoq?cause=stoq+elasticsearch+connector&create=true",
		"GET stoq-stoq", "PUT stoq-stoq?cause=stoq+elasticsearch+connector"}
	if calls := es.templateCallLog(); !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if got := installedTemplate(t, es, "stoq-stoq"); got["version"] != float64(templateVersion) {
		t.Errorf("template %v", got)
	}
}

// TestTemplateMapsTheFrame checks the explicit mapping of stoq's fixed
// keys as the cluster reads it back.
func TestTemplateMapsTheFrame(t *testing.T) {
	es := newFakeES(t)
	p := newPlugin(t, es.URL(), nil)
	resp := hashResponse()
	resp.Errors = []core.Error{{Message: "boom", PluginName: "exif", PayloadID: resp.Results[0].PayloadID}}
	mustSave(t, p, resp)
	mustClose(t, p)
	es.mu.Lock()
	mapping := marshal(t, es.indices["stoq-2026-11"].Root)
	es.mu.Unlock()
	var m map[string]any
	json.Unmarshal(mapping, &m)
	for path, want := range map[string]string{
		"time": "date", "scan_id": "keyword", "results.payload_id": "keyword", "results.size": "long",
		"results.payload_meta.should_archive": "boolean", "results.payload_meta.extra_data": "flattened",
		"results.payload_meta.dispatch_to": "keyword", "results.workers": "flattened", "results.archivers": "flattened",
		"results.plugins_run.workers": "keyword", "results.extracted_from": "keyword", "results.extracted_by": "keyword",
		"request_meta.archive_payloads": "boolean", "request_meta.source": "keyword", "request_meta.extra_data": "flattened",
		"errors.error": "text", "errors.plugin_name": "keyword", "errors.payload_id": "keyword", "decorators": "flattened",
	} {
		node := any(m)
		for _, seg := range strings.Split(path, ".") {
			node = node.(map[string]any)["properties"].(map[string]any)[seg]
		}
		if got := node.(map[string]any)["type"]; got != want {
			t.Errorf("%s is %v, want %s", path, got, want)
		}
	}
	if m["dynamic"] != "false" {
		t.Errorf("dynamic %v", m["dynamic"])
	}
}

// TestIndexTemplateFile keeps index-template.json (what an administrator
// installs with manage_template = false) equal to what the connector
// installs for es_index = stoq.
func TestIndexTemplateFile(t *testing.T) {
	data, err := os.ReadFile("index-template.json")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.MarshalIndent(indexTemplate("stoq"), "", "  ")
	if !bytes.Equal(bytes.TrimSpace(data), want) {
		t.Errorf("index-template.json differs from the template; write it again:\n%s", want)
	}
}
