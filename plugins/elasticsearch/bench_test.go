package elasticsearch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/engine"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// benchSave measures documents per second through Save to the fake
// Elasticsearch, Close (the final flush) included.
func benchSave(b *testing.B, opts map[string]string, resp func() *core.StoqResponse, docsPerSave int) {
	es := newFakeES(b)
	es.set(func(f *fakeES) { f.countOnly = true })
	all := map[string]string{"es_host": es.URL(), "spool_dir": b.TempDir(), "spool_retry_interval": "3600"}
	for k, v := range opts {
		all[k] = v
	}
	info, _ := engine.Lookup("elasticsearch")
	cfg := core.NewConfig("elasticsearch", "",
		core.ConfigLayer{Source: "embedded manifest", Values: info.Manifest.Options},
		core.ConfigLayer{Source: "bench", Values: all})
	p, err := New(cfg, stoqtest.Discard())
	if err != nil {
		b.Fatal(err)
	}
	resps := make([]*core.StoqResponse, 256)
	for i := range resps {
		resps[i] = resp()
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := p.Save(ctx, resps[i%len(resps)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	es.mu.Lock()
	received := es.count
	es.mu.Unlock()
	if want := b.N * docsPerSave; received != want {
		b.Fatalf("fake received %d documents, want %d", received, want)
	}
	b.ReportMetric(float64(received)/b.Elapsed().Seconds(), "docs/s")
}

func BenchmarkSave(b *testing.B) {
	benchSave(b, nil, hashResponse, 1)
}

func BenchmarkSaveSplit(b *testing.B) {
	three := func() *core.StoqResponse {
		return response(payloadResult(map[string]any{
			"hash": map[string]any{"sha256": "be093115cb70730315b4e20cb9a7b0edcb380a95984a79d405115cc11f926658",
				"md5": "65ee87cd7a0f9a15eace23e84b90c88d", "sha1": "440eacfcff1d7d35891a90b1d2ef02ebf3881f3c"},
			"yara": map[string]any{"matches": []any{map[string]any{"rule": "pe_file", "tags": []any{}}}},
			"exif": map[string]any{"FileType": "Win32 EXE", "MIMEType": "application/octet-stream"},
		}))
	}
	benchSave(b, map[string]string{"split": "true"}, three, 3)
}

// BenchmarkMarshalFloor is the floor of Save: marshalling the response,
// which any connector does, with no sending at all.
func BenchmarkMarshalFloor(b *testing.B) {
	resp := hashResponse()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := json.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSpoolPut is what a Save costs while the cluster is down: one
// synced spool file per document.
func BenchmarkSpoolPut(b *testing.B) {
	sp, err := openSpool(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	body, _ := json.Marshal(hashResponse())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d := &document{index: "stoq-2026-11", id: fmt.Sprint(i), body: body}
		if _, err := sp.put(d, "benchmark"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkSaveCatalogue saves the real catalogue responses of
// testdata/responses (2 KB to 60 KB of JSON each) through Save.
func BenchmarkSaveCatalogue(b *testing.B) {
	resps := committedResponses(b)
	list := make([]*core.StoqResponse, 0, len(resps))
	bytes := 0
	for _, r := range resps {
		list = append(list, r)
		bytes += len(marshal(b, r))
	}
	i := 0
	benchSave(b, nil, func() *core.StoqResponse { r := list[i%len(list)]; i++; return r }, 1)
	b.ReportMetric(float64(bytes)/float64(len(list)), "bytes/doc")
}

// BenchmarkCloseReplay is a short run finding 1,000 documents in the
// spool: New, then Close re-sending them all (issue 14's case).
func BenchmarkCloseReplay(b *testing.B) {
	es := newFakeES(b)
	es.set(func(f *fakeES) { f.countOnly = true })
	const n = 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		fillSpool(b, dir, n)
		b.StartTimer()
		p := newQuietPlugin(b, es.URL(), map[string]string{"spool_dir": dir})
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
		if left, _ := p.spool.counts(); left != 0 {
			b.Fatalf("%d left in the spool", left)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkNewTemplate is the cost of starting and closing the connector
// against a cluster: without touching templates, reading the template (up
// to date), or installing it.
func BenchmarkNewTemplate(b *testing.B) {
	for _, tc := range []struct {
		name    string
		install bool
		opts    map[string]string
	}{{"manage_template=false", false, map[string]string{"manage_template": "false"}}, {"up to date", false, nil}, {"install", true, nil}} {
		b.Run(tc.name, func(b *testing.B) {
			es := newFakeES(b)
			for i := 0; i < b.N; i++ {
				if tc.install {
					es.set(func(f *fakeES) { delete(f.templates, "stoq-stoq") })
				}
				p := newQuietPlugin(b, es.URL(), tc.opts)
				if err := p.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// newQuietPlugin is newPlugin without the test log.
func newQuietPlugin(b *testing.B, url string, opts map[string]string) *Plugin {
	p, err := New(stoqtest.Config(b, "elasticsearch", testOptions(b, url, opts)), stoqtest.Discard())
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkTemplateRequests is the template's own cost at start: one GET
// when it is up to date, GET and PUT when it is installed.
func BenchmarkTemplateRequests(b *testing.B) {
	for _, install := range []bool{false, true} {
		b.Run(fmt.Sprintf("install=%t", install), func(b *testing.B) {
			es := newFakeES(b)
			p := newQuietPlugin(b, es.URL(), nil)
			defer p.Close()
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if install {
					b.StopTimer()
					es.set(func(f *fakeES) { delete(f.templates, "stoq-stoq") })
					b.StartTimer()
				}
				if err := p.installTemplate(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGuardKeys is the key guard alone over the catalogue's real
// responses: the linear scan for ordinary ones, decoding and rewriting for
// the hostile mail.
func BenchmarkGuardKeys(b *testing.B) {
	for _, hostile := range []bool{false, true} {
		b.Run(fmt.Sprintf("hostile=%t", hostile), func(b *testing.B) {
			var bodies [][]byte
			total := 0
			for name, r := range committedResponses(b) {
				if strings.HasSuffix(name, "/longheader.eml") == hostile {
					body := marshal(b, r)
					bodies = append(bodies, body)
					total += len(body)
				}
			}
			b.SetBytes(int64(total / len(bodies)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := guardKeys(bodies[i%len(bodies)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
