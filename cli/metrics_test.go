package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches and parses the metrics at url.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scraping %s: %s", url, resp.Status)
	}
	families, err := parseMetrics(resp.Body)
	if err != nil {
		t.Fatalf("metrics of %s do not parse: %v", url, err)
	}
	return families
}

// sample returns the value of the sample of family name whose labels
// include labels (name=value pairs); histograms give their count.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// `stoq run --metrics-addr` serves Prometheus metrics while it runs: a
// scrape once the provider's payloads are saved counts each of them as a
// scan, a payload and one call of every plugin, and the provider's own
// metric is served beside them.
func TestRunServesMetrics(t *testing.T) {
	const payloads = 25
	home := t.TempDir()
	cmd := binary(home, "run", "-P", "testprovider", "-a", "hash", "testerror", "--metrics-addr", "127.0.0.1:0",
		"--plugin-opts", fmt.Sprintf("testprovider:count=%d", payloads))
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })

	stderr := bufio.NewReader(pr)
	var url string
	for url == "" {
		line, err := stderr.ReadString('\n')
		if _, after, ok := strings.Cut(line, "serving metrics at "); ok {
			url = strings.TrimSpace(after)
		}
		if err != nil {
			t.Fatalf("stderr ended before the metrics address was printed")
		}
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()

	// The provider queues its payloads then waits to be stopped: the run
	// goes on while the test scrapes.
	var families map[string]*dto.MetricFamily
	for {
		families = scrape(t, url)
		if n, _ := sample(families, "stoq_scans_total"); n == payloads {
			break
		}
		select {
		case <-exited:
			t.Fatalf("stoq run exited before its scans were counted")
		case <-time.After(20 * time.Millisecond):
		}
	}
	// One scrape is no snapshot: the registry gathers its collectors
	// concurrently, so the scrape that saw the last scan counted may have
	// read the call histograms or the engine's gauges before it. Every
	// count this test checks was made before its scan was counted, hence
	// before that scrape ended: the next scrape sees them all.
	families = scrape(t, url)
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"stoq_scans_total", nil, payloads},
		{"stoq_payloads_scanned_total", nil, payloads},
		{"stoq_response_errors_total", nil, payloads}, // testerror's, one per payload
		{"stoq_scan_duration_seconds", nil, payloads},
		{"stoq_plugin_call_duration_seconds", []string{"plugin", "hash", "class", "worker"}, payloads},
		{"stoq_plugin_call_duration_seconds", []string{"plugin", "testerror", "class", "worker"}, payloads},
		{"stoq_plugin_call_duration_seconds", []string{"plugin", "stdout", "class", "connector"}, payloads},
		{"stoq_plugin_errors_total", []string{"plugin", "testerror", "kind", "error"}, payloads},
		{"stoq_queue_depth", nil, 0},
		{"stoq_scans_in_flight", nil, 0},
		{"stoq_spool_responses", nil, 0},
		{"stoq_testprovider_queued_total", []string{"kind", "payload"}, payloads},
	}
	for _, w := range want {
		got, ok := sample(families, w.name, w.labels...)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present: %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	if _, ok := sample(families, "stoq_plugin_errors_total", "plugin", "hash"); ok {
		t.Errorf("hash never fails, yet has an error count")
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Errorf("the Go runtime's metrics are missing")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}
	if n := strings.Count(stdout.String(), "\n"); n != payloads {
		t.Errorf("%d responses printed, want %d", n, payloads)
	}
	if _, err := http.Get(url); err == nil {
		t.Errorf("metrics still served after stoq run exited")
	}
}

// An address that cannot be listened on is a usage error before anything
// runs.
func TestRunMetricsAddressInUse(t *testing.T) {
	home := t.TempDir()
	r := stoq(t, home, nil, "run", "-P", "testprovider", "--metrics-addr", "256.0.0.1:1", "--plugin-opts", "testprovider:wait=false")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--metrics-addr 256.0.0.1:1") {
		t.Errorf("exit %d, stderr %q; want a usage error naming --metrics-addr", r.code, r.stderr)
	}
}

func parseMetrics(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(r)
}
