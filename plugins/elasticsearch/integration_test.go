package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

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

// clusterChecks saves documents to the cluster at url in indices of their
// own, reads them back, checks that saving twice stores once, and deletes
// the indices.
func clusterChecks(t *testing.T, url string, auth map[string]string) {
	base := fmt.Sprintf("stoq-test-%d", time.Now().UnixNano())
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%t", split), func(t *testing.T) {
			opts := map[string]string{"es_index": base, "split": fmt.Sprint(split), "es_timeout": "30"}
			for k, v := range auth {
				opts[k] = v
			}
			p := newPlugin(t, url, opts)
			if err := p.HealthCheck(context.Background()); err != nil {
				t.Fatal(err)
			}
			resp := response(
				payloadResult(map[string]any{"hash": map[string]any{"md5": "65ee87cd7a0f9a15eace23e84b90c88d"}}),
				payloadResult(map[string]any{"hash": map[string]any{"md5": "440eacfcff1d7d35891a90b1d2ef02eb"},
					"yara": map[string]any{"matches": []any{map[string]any{"rule": "test"}}}}))
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

			client, err := newClient(p.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			indices := map[string]int{}
			for _, d := range docs {
				indices[d.index]++
			}
			t.Cleanup(func() {
				for index := range indices {
					if res, err := client.Indices.Delete([]string{index}); err == nil {
						res.Body.Close()
					}
				}
			})
			for index, n := range indices {
				res, err := client.Indices.Refresh(client.Indices.Refresh.WithIndex(index))
				mustDo(t, res, err).Body.Close()
				var count struct{ Count int }
				res, err = client.Count(client.Count.WithIndex(index))
				decode(t, mustDo(t, res, err), &count)
				if count.Count != n {
					t.Errorf("index %s holds %d documents, want %d", index, count.Count, n)
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
		})
	}
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
