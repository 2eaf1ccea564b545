package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// A worker registered for the engine test: it answers the same results
// for every payload.
const answerManifest = "[Core]\nName = esanswer\n\n[options]\nmin_stoq_version = 3.0.0\n"

type answerWorker struct{}

func (answerWorker) Scan(context.Context, *core.Payload, *core.Request) (*core.WorkerResponse, error) {
	return &core.WorkerResponse{Results: map[string]any{"answer": 42}}, nil
}

func init() {
	core.Register("esanswer", []byte(answerManifest), func(*core.Config, *slog.Logger) (answerWorker, error) {
		return answerWorker{}, nil
	})
}

func TestEngineSavesEveryScan(t *testing.T) {
	es := newFakeES(t)
	s := stoqtest.Engine(t,
		engine.WithConnectors("elasticsearch"),
		engine.WithPluginOptions(map[string]map[string]string{"elasticsearch": testOptions(t, es.URL(), map[string]string{"split": "true"})}))
	resp, err := s.Scan(context.Background(), []byte("payload"), nil, nil, "esanswer")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Errors) != 0 {
		t.Fatalf("scan errors: %v", resp.Errors)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	month := resp.Time[:7]
	id := splitDocumentID(resp.ScanID, resp.Results[0].PayloadID, "esanswer")
	src, ok := es.doc("stoq-esanswer-"+month, id)
	if !ok {
		t.Fatalf("no document %s in stoq-esanswer-%s: %+v", id, month, es.receivedItems())
	}
	if !bytes.Equal(src, marshal(t, resp.Split()[0])) {
		t.Errorf("source %s", src)
	}
}

// TestIntegrationCluster runs the cluster checks against a real
// Elasticsearch when STOQ_TEST_ES_URL names one (see the README).
func TestIntegrationCluster(t *testing.T) {
	url := os.Getenv("STOQ_TEST_ES_URL")
	if url == "" {
		t.Skip("STOQ_TEST_ES_URL is not set: no Elasticsearch cluster to test against " +
			"(STOQ_TEST_ES_URL=http://localhost:9200 go test -run Integration)")
	}
	opts := map[string]string{}
	for env, opt := range map[string]string{
		"STOQ_TEST_ES_USERNAME": "es_username", "STOQ_TEST_ES_PASSWORD": "es_password",
		"STOQ_TEST_ES_API_KEY": "es_api_key", "STOQ_TEST_ES_CA_CERT": "es_ca_cert",
	} {
		if v := os.Getenv(env); v != "" {
			opts[opt] = v
		}
	}
	clusterChecks(t, url, opts)
}

// TestClusterChecksAgainstFake keeps the cluster checks themselves tested
// where no cluster is at hand.
func TestClusterChecksAgainstFake(t *testing.T) {
	es := newFakeES(t)
	clusterChecks(t, es.URL(), nil)
}

// clusterChecks runs against the cluster at url, in indices and a template
// of its own (es_index stoq-test-<nanoseconds>), removed at the end:
//
//   - the connector installs its index template at start, and a second
//     start leaves it alone;
//   - scans saved whole and split, each twice, are stored once each and
//     read back as sent;
//   - the index made from the template maps the free-form results as
//     flattened;
//   - every response of testdata/responses (real catalogue results) is
//     indexed without a rejection, and the README's example queries find
//     the documents holding what they ask for.
func clusterChecks(t *testing.T, url string, auth map[string]string) {
	base := fmt.Sprintf("stoq-test-%d", time.Now().UnixNano())
	optsFor := func(extra map[string]string) map[string]string {
		opts := map[string]string{"es_index": base, "es_timeout": "30"}
		for k, v := range auth {
			opts[k] = v
		}
		for k, v := range extra {
			opts[k] = v
		}
		return opts
	}
	first := newPlugin(t, url, optsFor(nil))
	if err := first.HealthCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	client, err := newClient(first.opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	indices := map[string]bool{}
	t.Cleanup(func() {
		for index := range indices {
			if res, err := client.Indices.Delete([]string{index}); err == nil {
				res.Body.Close()
			}
		}
		if res, err := client.Indices.DeleteIndexTemplate(templateName(base)); err == nil {
			res.Body.Close()
		}
	})
	mustClose(t, first)

	t.Run("template", func(t *testing.T) {
		res, err := client.Indices.GetIndexTemplate(client.Indices.GetIndexTemplate.WithName(templateName(base)))
		var got struct {
			IndexTemplates []struct {
				IndexTemplate struct {
					IndexPatterns []string `json:"index_patterns"`
					Priority      int      `json:"priority"`
					Version       int      `json:"version"`
				} `json:"index_template"`
			} `json:"index_templates"`
		}
		decode(t, mustDo(t, res, err), &got)
		if len(got.IndexTemplates) != 1 {
			t.Fatalf("template %s: %+v", templateName(base), got)
		}
		tmpl := got.IndexTemplates[0].IndexTemplate
		if tmpl.Version != templateVersion || tmpl.Priority != templatePriorityBase+len(base) ||
			strings.Join(tmpl.IndexPatterns, ",") != base+","+base+"-*" {
			t.Errorf("template %+v", tmpl)
		}
		// A second start finds it up to date and leaves it alone.
		mustClose(t, newPlugin(t, url, optsFor(nil)))
	})

	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%t", split), func(t *testing.T) {
			p := newPlugin(t, url, optsFor(map[string]string{"split": fmt.Sprint(split)}))
			resp := response(
				payloadResult(map[string]any{"hash": map[string]any{"md5": "65ee87cd7a0f9a15eace23e84b90c88d"}}),
				payloadResult(map[string]any{"hash": map[string]any{"md5": "440eacfcff1d7d35891a90b1d2ef02eb"},
					"yara": map[string]any{"matches": []any{map[string]any{"rule": "test", "strings": []any{[]any{0, "$a", "MZ"}}}}}}))
			resp.Time = time.Now().UTC().Format(core.TimeFormat)
			mustSave(t, p, resp, resp) // twice: still one document each
			docs, err := p.documents(resp)
			if err != nil {
				t.Fatal(err)
			}
			mustClose(t, p)
			if pending, rejected := p.spool.counts(); pending != 0 || rejected != 0 {
				t.Fatalf("spool: %d pending, %d rejected", pending, rejected)
			}
			counts := map[string]int{}
			for _, d := range docs {
				counts[d.index]++
				indices[d.index] = true
			}
			for index, n := range counts {
				if got := countDocs(t, client, index); got != n {
					t.Errorf("index %s holds %d documents, want %d", index, got, n)
				}
			}
			for _, d := range docs {
				var got struct {
					Source json.RawMessage `json:"_source"`
				}
				res, err := client.Get(d.index, d.id)
				decode(t, mustDo(t, res, err), &got)
				var a, b any
				json.Unmarshal(got.Source, &a)
				json.Unmarshal(d.body, &b)
				if !reflect.DeepEqual(a, b) {
					t.Errorf("document %s/%s reads back as %s, saved %s", d.index, d.id, got.Source, d.body)
				}
			}
			// The index was made from the template.
			res, err := client.Indices.GetMapping(client.Indices.GetMapping.WithIndex(docs[0].index))
			var mapping map[string]struct {
				Mappings struct {
					Properties struct {
						Results struct {
							Properties struct {
								Workers struct {
									Type string `json:"type"`
								} `json:"workers"`
							} `json:"properties"`
						} `json:"results"`
					} `json:"properties"`
				} `json:"mappings"`
			}
			decode(t, mustDo(t, res, err), &mapping)
			if typ := mapping[docs[0].index].Mappings.Properties.Results.Properties.Workers.Type; typ != "flattened" {
				t.Errorf("index %s maps results.workers as %q, not flattened: not made from the template", docs[0].index, typ)
			}
		})
	}

	t.Run("catalogue", func(t *testing.T) {
		resps := committedResponses(t)
		now := time.Now().UTC().Format(core.TimeFormat)
		for _, r := range resps {
			r.Time = now
		}
		p := newPlugin(t, url, optsFor(nil))
		for _, name := range slices.Sorted(maps.Keys(resps)) {
			mustSave(t, p, resps[name])
		}
		mustClose(t, p)
		for _, f := range append(spoolFiles(t, p.spool.dir), spoolFiles(t, p.spool.rejectedDir)...) {
			t.Errorf("%s", readSpoolFile(t, f).Error)
		}
		index := base + "-" + now[:7]
		indices[index] = true
		countDocs(t, client, index) // refresh
		search := func(query string) int {
			t.Helper()
			body := `{"size":0,"track_total_hits":true,"query":` + query + `}`
			res, err := client.Search(client.Search.WithIndex(index), client.Search.WithBody(strings.NewReader(body)))
			var got struct {
				Hits struct {
					Total struct {
						Value int `json:"value"`
					} `json:"total"`
				} `json:"hits"`
			}
			decode(t, mustDo(t, res, err), &got)
			return got.Hits.Total.Value
		}
		var ids []string
		for _, r := range resps {
			ids = append(ids, r.ScanID)
		}
		if got := search(fmt.Sprintf(`{"terms":{"scan_id":%s}}`, marshal(t, ids))); got != len(resps) {
			t.Fatalf("index %s holds %d of the %d responses", index, got, len(resps))
		}
		for _, q := range [][2]string{
			{"results.workers.yara.matches.rule", "URL"},
			{"results.workers.exif.FileType", "PNG"},
			{"results.workers.hash.sha256", valuesAt(generic(t, named(t, resps, "blob.bin")), "results.workers.hash.sha256")[0]},
			{"results.workers.peinfo.imports.KERNEL32.dll", "GetLastError"},
			{"errors.plugin_name", "decompress"},
		} {
			want := len(expectWhole(t, resps, q[0], q[1]))
			if got := search(fmt.Sprintf(`{"term":{%q:%q}}`, q[0], q[1])); got != want || want == 0 {
				t.Errorf("%s = %q finds %d documents, want %d", q[0], q[1], got, want)
			}
		}
	})
}

// countDocs refreshes index and counts its documents.
func countDocs(t *testing.T, client *elasticsearch.Client, index string) int {
	t.Helper()
	res, err := client.Indices.Refresh(client.Indices.Refresh.WithIndex(index))
	mustDo(t, res, err).Body.Close()
	var count struct{ Count int }
	res, err = client.Count(client.Count.WithIndex(index))
	decode(t, mustDo(t, res, err), &count)
	return count.Count
}

func mustDo(t *testing.T, res *esapi.Response, err error) *esapi.Response {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError() {
		t.Fatal(res.String())
	}
	return res
}

func decode(t *testing.T, res *esapi.Response, dst any) {
	t.Helper()
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(dst); err != nil {
		t.Fatalf("decoding %s: %v", res.Status(), err)
	}
}
