package redis

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests of this file run real `stoq run -P redis -C redis` processes:
// a stoq built by `stoq build` from this checkout with the redis and hash
// plugins and testdata/redistest-killer, a worker that kills its process
// on payloads starting with KILL.

// testPlugins are what the test binary links: the redis plugin, hash and
// the killer.
var testPlugins = []string{"redis", "hash", "./plugins/redis/testdata/redistest-killer"}

// binaries holds the stoq binaries built for this test run, by plugin set.
var binaries struct {
	mu    sync.Mutex
	dir   string
	built map[string]string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// buildStoq builds, once per test run, a stoq linking plugins (catalogue
// names or folders of this checkout) with `stoq build`, as a user would.
func buildStoq(t testing.TB, plugins ...string) string {
	t.Helper()
	binaries.mu.Lock()
	defer binaries.mu.Unlock()
	key := strings.Join(plugins, " ")
	if bin, ok := binaries.built[key]; ok {
		return bin
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if binaries.dir == "" {
		if binaries.dir, err = os.MkdirTemp("", "stoq-redis-test-"); err != nil {
			t.Fatal(err)
		}
		binaries.built = map[string]string{}
	}
	bin := filepath.Join(binaries.dir, fmt.Sprintf("stoq-%d", len(binaries.built)))
	args := []string{"run", "./cli/cmd/stoq", "build", "--catalog", root, "-q", "-o", bin}
	for _, p := range plugins {
		args = append(args, "--with", p)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "STOQ_HOME="+filepath.Join(binaries.dir, "builder-home"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("stoq build %s: %v\n%s", key, err, out)
	}
	binaries.built[key] = bin
	return bin
}

// worker is one `stoq run` process.
type worker struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string // stderr lines, for waitLine
}

func (w *worker) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stderr.Write(b)
}

func (w *worker) log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stderr.String()
}

// startWorker starts `stoq run -P redis -C redis -a hash redistest-killer`
// as consumer name, with the harness's options and args.
func (h *harness) startWorker(bin, name string, args ...string) *worker {
	h.t.Helper()
	opts := []string{"redis:consumer=" + name}
	for k, v := range h.opts {
		if k != "consumer" {
			opts = append(opts, "redis:"+k+"="+v)
		}
	}
	all := append([]string{"run", "-P", "redis", "-C", "redis", "-a", "hash", "redistest-killer", "--plugin-opts"}, opts...)
	return h.startProcess(bin, name, append(all, args...)...)
}

// startProcess starts bin with args and its own STOQ_HOME, killed when the
// test ends; its stderr is kept (and logged when the test failed).
func (h *harness) startProcess(bin, name string, args ...string) *worker {
	h.t.Helper()
	w := &worker{name: name, exited: make(chan struct{}), lines: make(chan string, 100)}
	w.cmd = exec.Command(bin, args...)
	w.cmd.Env = append(os.Environ(), "STOQ_HOME="+h.t.TempDir())
	pr, pw := io.Pipe()
	w.cmd.Stderr = pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Fprintln(w, sc.Text())
			select {
			case w.lines <- sc.Text():
			default:
			}
		}
	}()
	if err := w.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	go func() { _ = w.cmd.Wait(); pw.Close(); close(w.exited) }()
	h.t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.exited
		if h.t.Failed() {
			h.t.Logf("stderr of %s:\n%s", w.name, w.log())
		}
	})
	return w
}

// stop sends sig and waits for the exit; it returns the exit status.
func (w *worker) stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.exited:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit within a minute of %s", w.name, sig)
	}
	return w.cmd.ProcessState.ExitCode()
}

func (w *worker) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// consumerPending is the pending count of consumer name (0 when it left
// the group).
func (h *harness) consumerPending(name string) int64 {
	h.t.Helper()
	consumers, err := h.rdb.XInfoConsumers(h.ctx(), "stoq:tasks", "stoq").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, c := range consumers {
		if c.Name == name {
			return c.Pending
		}
	}
	return 0
}

// writeCorpus writes n files of 4 KiB of seeded random bytes to a new
// folder and returns it with each file's sha256 by name.
func writeCorpus(t testing.TB, n, size int) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	sums := make(map[string]string, n)
	buf := make([]byte, size)
	for i := range n {
		for j := range buf {
			buf[j] = byte(rng.Uint32())
		}
		buf[0] = 'f' // never KILL
		name := fmt.Sprintf("f%05d", i)
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(buf)
		sums[name] = hex.EncodeToString(sum[:])
	}
	return dir, sums
}

// submitFiles runs stoq submit on dir and returns the task ids by file
// name.
func (h *harness) submitFiles(bin, dir string, n int) map[string]string {
	h.t.Helper()
	cmd := exec.Command(bin, "submit", dir, "--plugin-opts", "redis:redis_url="+h.opts["redis_url"])
	cmd.Env = append(os.Environ(), "STOQ_HOME="+h.t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("stoq submit: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != fmt.Sprintf("submitted %d", n) {
		h.t.Fatalf("stoq submit printed %q", got)
	}
	ids := map[string]string{}
	msgs, err := h.rdb.XRange(h.ctx(), "stoq:tasks", "-", "+").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, m := range msgs {
		q, err := decodeTask(m.ID, m.Values)
		if err != nil {
			h.t.Fatal(err)
		}
		if name, ok := q.payloadMeta.ExtraData["filename"].(string); ok {
			ids[name] = m.ID
		}
	}
	return ids
}

// TestWorkersShareTasks is the scale-out contract, with real processes:
// three workers consume 5,000 tasks; one is killed with SIGKILL mid-way
// and its tasks are claimed by the others; one is stopped with SIGTERM and
// leaves nothing pending; every task ends with results carrying exactly
// one scan_id, its entry's; a task whose payload is missing and one that
// kills its worker every time end in the dead-letter stream after
// max_deliveries; nothing is left pending.
func TestWorkersShareTasks(t *testing.T) {
	const tasks = 5000
	h := newHarness(t, map[string]string{"claim_idle_ms": "1500", "block_ms": "200", "batch": "20"})
	bin := buildStoq(t, testPlugins...)
	dir, sums := writeCorpus(t, tasks, 4096)
	ids := h.submitFiles(bin, dir, tasks)
	missingRef := h.add(fieldArchived, `{"redis": {"sha256": "`+strings.Repeat("0", 64)+`"}}`)

	w1 := h.startWorker(bin, "w1")
	w2 := h.startWorker(bin, "w2")
	w3 := h.startWorker(bin, "w3")
	waitFor(t, "1,500 results", func() bool { return h.streamLen("stoq:results") >= 1500 })
	if code := w2.stop(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("w2 exit status %d after SIGKILL", code)
	}
	heldByKilled := h.consumerPending("w2")
	waitFor(t, "3,000 results", func() bool { return h.streamLen("stoq:results") >= 3000 })
	if code := w3.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("w3 exit status %d after SIGTERM, want 0:\n%s", code, w3.log())
	}
	if n := h.consumerPending("w3"); n != 0 {
		t.Errorf("w3 left %d tasks pending after SIGTERM, want 0", n)
	}
	waitFor(t, "a result for every task", func() bool {
		return len(scanIDsByFile(h)) == tasks || !w1.alive()
	})
	if !w1.alive() {
		t.Fatalf("w1 exited:\n%s", w1.log())
	}
	byFile := scanIDsByFile(h)
	for name, id := range ids {
		got := byFile[name]
		if len(got) != 1 || !got[scanIDFor("stoq:tasks", id)] {
			t.Errorf("task %s (%s): scan_ids %v, want exactly %s", id, name, got, scanIDFor("stoq:tasks", id))
		}
	}
	results := h.results()
	for _, r := range results {
		if len(r.response.Results) == 0 {
			continue // the missing payload's, recorded at each delivery
		}
		res := workerResult(t, r.response, "hash")
		name := r.response.Results[0].PayloadMeta.ExtraData["filename"].(string)
		if res["sha256"] != sums[name] {
			t.Fatalf("%s: hash %v, want %s", name, res["sha256"], sums[name])
		}
	}
	t.Logf("%d results for %d tasks (%d scanned again after the SIGKILL of a worker holding %d)", len(results), tasks, len(results)-tasks, heldByKilled)

	// A task that kills its worker every time: restarted workers (as a
	// supervisor would restart them) take it until max_deliveries.
	poison := h.add(fieldContent, "KILL the worker")
	for n := 1; ; n++ {
		waitFor(t, "w1 to take the poison task, or the dead letter", func() bool { return !w1.alive() || len(h.deadLetters()) == 2 })
		if len(h.deadLetters()) == 2 {
			break
		}
		if n > 3 {
			t.Fatalf("the poison task killed %d workers, want max_deliveries (3)", n)
		}
		w1 = h.startWorker(bin, fmt.Sprint("restarted-", n))
	}
	dead := map[string]map[string]any{}
	for _, m := range h.deadLetters() {
		dead[m.Values[fieldDeadID].(string)] = m.Values
	}
	if d := dead[missingRef]; d == nil || d[fieldDeadDeliveries] != "3" || !strings.Contains(d[fieldDeadError].(string), "not stored") {
		t.Errorf("missing payload's dead letter %v", d)
	}
	if d := dead[poison]; d == nil || d[fieldDeadDeliveries] != "3" || d[fieldContent] != "KILL the worker" || !strings.Contains(d[fieldDeadError].(string), "delivered 3 times") {
		t.Errorf("poison task's dead letter %v", d)
	}
	if code := w1.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("last worker's exit status %d after SIGTERM:\n%s", code, w1.log())
	}
	if n := h.pending(); n != 0 {
		t.Errorf("%d tasks pending at the end, want 0", n)
	}
	if n := h.streamLen("stoq:tasks"); n != 0 {
		t.Errorf("%d tasks left in the stream, want 0", n)
	}
	if n := len(scanIDsByFile(h)); n != tasks {
		t.Errorf("%d tasks with results, want %d", n, tasks)
	}
}

// scanIDsByFile maps each submitted file name to the scan_ids of its
// results.
func scanIDsByFile(h *harness) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, r := range h.results() {
		if len(r.response.Results) == 0 {
			continue
		}
		name, _ := r.response.Results[0].PayloadMeta.ExtraData["filename"].(string)
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		out[name][r.scanID] = true
	}
	return out
}

// scrapeText fetches Prometheus text metrics as "name{labels}" → value.
func scrapeText(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestWorkerServesMetrics scrapes a worker during a run: its counters
// equal what it scanned, claimed, dead-lettered and acknowledged.
func TestWorkerServesMetrics(t *testing.T) {
	const tasks = 300
	h := newHarness(t, map[string]string{"claim_idle_ms": "300"})
	bin := buildStoq(t, testPlugins...)
	dir, _ := writeCorpus(t, tasks, 512)
	h.submitFiles(bin, dir, tasks)
	// Three tasks held by a worker that died, and one delivered too often.
	for i := range 3 {
		h.add(fieldContent, fmt.Sprint("orphan ", i))
	}
	h.readAs("dead-worker", tasks+3)
	poison := h.add(fieldContent, "delivered too often")
	h.readAs("dead-worker", 1)
	if err := h.rdb.Do(h.ctx(), "XCLAIM", "stoq:tasks", "stoq", "dead-worker", 0, poison, "IDLE", 100000, "RETRYCOUNT", 3).Err(); err != nil {
		t.Fatal(err)
	}
	// The dead worker held everything: this worker claims all of it.
	w := h.startWorker(bin, "metrics-worker", "--metrics-addr", "127.0.0.1:0")
	var url string
	for url == "" {
		select {
		case line := <-w.lines:
			if _, after, ok := strings.Cut(line, "serving metrics at "); ok {
				url = after
			}
		case <-w.exited:
			t.Fatalf("the worker exited:\n%s", w.log())
		}
	}
	const scans = tasks + 3
	labels := `{group="stoq",stream="stoq:tasks"}`
	var m map[string]float64
	waitFor(t, "the counters of every task", func() bool {
		m = scrapeText(t, url)
		return m["stoq_scans_total"] == scans && m["stoq_redis_acknowledged_total"+labels] == scans && m["stoq_redis_pending"+labels] == 0
	})
	// A scrape is no snapshot (the registry gathers its collectors
	// concurrently): the counts made before the last scan was counted are
	// all in the next one.
	m = scrapeText(t, url)
	want := map[string]float64{
		"stoq_payloads_scanned_total": scans,
		"stoq_scans_total":            scans,
		`stoq_plugin_call_duration_seconds_count{class="worker",plugin="hash"}`:     scans,
		`stoq_plugin_call_duration_seconds_count{class="connector",plugin="redis"}`: scans,
		"stoq_redis_claimed_total" + labels:                                         scans + 1,
		"stoq_redis_dead_lettered_total" + labels:                                   1,
		"stoq_queue_depth":     0,
		"stoq_scans_in_flight": 0,
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present: %v), want %v", k, got, ok, v)
		}
	}
	if code := w.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit status %d after SIGTERM:\n%s", code, w.log())
	}
}
