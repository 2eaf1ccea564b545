package redis

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
	"github.com/stoq-go/stoq/core/v3/stoqtest"
)

// Throughput of real workers (go test -run '^$' -bench Workers
// -benchtime 1x -count 3): hash and yara (the benchmark rules of
// plugins/yara/testdata/bench.yar) on 10,000 payloads of 4 KiB, results
// to the results stream, with 1, 2 and 4 `stoq run -P redis -C redis`
// processes, beside one `stoq run -P filedir -C redis` on the same files.
// The figure is files/s from the first task queued (stoq submit, with the
// workers started and waiting) to the last result in the stream.

const benchTasks = 10000

// benchPlugins are what the throughput binary links.
var benchPlugins = []string{"redis", "hash", "yara", "filedir"}

// benchMarker is a string bench.yar matches; every tenth payload has it,
// as in the project's benchmark corpus.
var benchMarker = []byte("http://malicious.example.com/payload.bin")

// benchCorpus writes n 4 KiB payloads, every tenth with a marker.
func benchCorpus(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	buf := make([]byte, 4096)
	for i := range n {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		if i%10 == 0 {
			copy(buf[rng.IntN(len(buf)-len(benchMarker)):], benchMarker)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("s%05d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func benchRules(b *testing.B) string {
	rules, err := filepath.Abs("../yara/testdata/bench.yar")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(rules); err != nil {
		b.Skipf("the yara plugin's benchmark rules are missing: %v", err)
	}
	return rules
}

func BenchmarkWorkers(b *testing.B) {
	bin := buildStoq(b, benchPlugins...)
	rules := benchRules(b)
	dir := benchCorpus(b, benchTasks)
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			for range b.N {
				h := newHarness(b, map[string]string{"block_ms": "1000", "batch": "20"})
				workers := h.startBenchWorkers(bin, rules, n, true)
				start := time.Now()
				h.submitFiles(bin, dir, benchTasks)
				waitFor(b, "every result", func() bool { return h.streamLen("stoq:results") >= benchTasks })
				elapsed := time.Since(start)
				stopAll(b, workers)
				b.ReportMetric(float64(benchTasks)/elapsed.Seconds(), "files/s")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// BenchmarkBacklog is the rate at which workers drain tasks queued before
// they started: the consumers' side alone, without stoq submit running
// beside them (timed from the workers' start, which includes compiling the
// yara rules, to the last result).
func BenchmarkBacklog(b *testing.B) {
	bin := buildStoq(b, benchPlugins...)
	rules := benchRules(b)
	dir := benchCorpus(b, benchTasks)
	cfg := filepath.Join(b.TempDir(), "stoq.cfg")
	if err := os.WriteFile(cfg, []byte("[core]\nprovider_consumers = 8\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		n    int
		args []string
	}{{1, nil}, {2, nil}, {4, nil}, {1, []string{"--config-file", cfg}}} {
		name := fmt.Sprintf("workers=%d", tc.n)
		if tc.args != nil {
			name += ",provider_consumers=8"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				h := newHarness(b, map[string]string{"block_ms": "1000", "batch": "20"})
				h.submitFiles(bin, dir, benchTasks)
				start := time.Now()
				workers := h.startBenchWorkers(bin, rules, tc.n, false, tc.args...)
				waitFor(b, "every result", func() bool { return h.streamLen("stoq:results") >= benchTasks })
				elapsed := time.Since(start)
				stopAll(b, workers)
				b.ReportMetric(float64(benchTasks)/elapsed.Seconds(), "files/s")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// startBenchWorkers starts n hash + yara workers with args; with waitIdle,
// it waits until every one of them waits for tasks (an empty stream).
func (h *harness) startBenchWorkers(bin, rules string, n int, waitIdle bool, args ...string) []*worker {
	h.t.Helper()
	var workers []*worker
	for i := range n {
		all := append([]string{"-a", "hash", "yara", "--plugin-opts", "yara:worker_rules=" + rules}, args...)
		workers = append(workers, h.startBenchWorker(bin, fmt.Sprint("bench-", i), all...))
	}
	if waitIdle {
		waitFor(h.t, "every worker waiting for tasks", func() bool { return h.blockedReaders() == n })
	}
	return workers
}

func stopAll(b *testing.B, workers []*worker) {
	for _, w := range workers {
		if code := w.stop(b, syscall.SIGTERM); code != 0 {
			b.Fatalf("%s exit status %d:\n%s", w.name, code, w.log())
		}
	}
}

// BenchmarkFiledir is one `stoq run -P filedir` on the same files, results
// to the same results stream, timed from the process's start to its exit
// (BenchmarkFiledir/empty measures that start and exit alone).
func BenchmarkFiledir(b *testing.B) {
	bin := buildStoq(b, benchPlugins...)
	rules := benchRules(b)
	dir := benchCorpus(b, benchTasks)
	empty := b.TempDir()
	for _, tc := range []struct {
		name, dir string
		files     int
	}{{"files", dir, benchTasks}, {"empty", empty, 0}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				h := newHarness(b, nil)
				cmd := exec.Command(bin, "run", "-P", "filedir", "-C", "redis", "-a", "hash", "yara",
					"--plugin-opts", "filedir:source_dir="+tc.dir, "yara:worker_rules="+rules, "redis:redis_url="+h.opts["redis_url"])
				cmd.Env = append(os.Environ(), "STOQ_HOME="+b.TempDir())
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("stoq run -P filedir: %v\n%s", err, out)
				}
				elapsed := time.Since(start)
				if n := h.streamLen("stoq:results"); n != int64(tc.files) {
					b.Fatalf("%d results, want %d", n, tc.files)
				}
				if tc.files > 0 {
					b.ReportMetric(float64(tc.files)/elapsed.Seconds(), "files/s")
				}
				b.ReportMetric(float64(elapsed.Milliseconds()), "ms")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// startBenchWorker starts `stoq run -P redis -C redis` with args.
func (h *harness) startBenchWorker(bin, name string, args ...string) *worker {
	h.t.Helper()
	opts := []string{"redis:consumer=" + name}
	for k, v := range h.opts {
		if k != "consumer" {
			opts = append(opts, "redis:"+k+"="+v)
		}
	}
	return h.startProcess(bin, name, append(append([]string{"run", "-P", "redis", "-C", "redis"}, args...), append([]string{"--plugin-opts"}, opts...)...)...)
}

// blockedReaders is the number of connections waiting in XREADGROUP: one
// per started worker. (Redis 7.0 lists a consumer only once it received a
// task, so XINFO CONSUMERS cannot tell that an idle worker is there.)
func (h *harness) blockedReaders() int {
	h.t.Helper()
	list, err := h.rdb.ClientList(h.ctx()).Result()
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " cmd=xreadgroup") && strings.Contains(line, " flags=b") {
			n++
		}
	}
	return n
}

// The cost of reading one task's fields, and of its scan_id.
func BenchmarkDecodeTask(b *testing.B) {
	fields := map[string]any{
		fieldContent:     strings.Repeat("x", 4096),
		fieldPayloadMeta: `{"should_archive": true, "should_scan": true, "extra_data": {"filename": "s00001.bin", "source_dir": "/data/in"}, "dispatch_to": []}`,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeTask("1700000000000-0", fields); err != nil {
			b.Fatal(err)
		}
		_ = scanIDFor("stoq:tasks", "1700000000000-0")
	}
}

// The cost of one Save (XADD of a 4 KiB payload's response) on a local
// redis-server.
func BenchmarkSave(b *testing.B) {
	h := newHarness(b, map[string]string{"maxlen": "1000"})
	p := h.plugin()
	resp := stoqtest.Response(core.NewPayload(make([]byte, 4096), nil))
	resp.Results[0].Workers["hash"] = map[string]any{"md5": strings.Repeat("0", 32), "sha1": strings.Repeat("0", 40), "sha256": strings.Repeat("0", 64)}
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Save(h.ctx(), resp); err != nil {
			b.Fatal(err)
		}
	}
}
