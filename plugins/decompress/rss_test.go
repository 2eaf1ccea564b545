package decompress

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// rssChildEnv names the bomb a child process extracts for
// TestBombsStayUnder200MiB.
const rssChildEnv = "STOQ_DECOMPRESS_RSS_CHILD"

// rssCases are the bombs measured, with the options they run under and
// the limit that must stop them.
var rssCases = map[string]struct {
	opts  map[string]string
	limit string
}{
	"1500-members":            {nil, "max_members"},
	"10GiB-zip64":             {nil, "max_ratio"},
	"10GiB-zip64-no-ratio":    {map[string]string{"max_ratio": "0"}, "maximum_size"},
	"10GiB-zip64-total-only":  {map[string]string{"max_ratio": "0", "maximum_size": "0", "max_total_size": "100000000"}, "max_total_size"},
	"10GiB-zip64-ratio-total": {map[string]string{"maximum_size": "0"}, "max_ratio"},
}

// TestBombsStayUnder200MiB extracts each bomb in a fresh process and
// checks its peak resident size (VmHWM, which includes building the bomb
// and the test binary itself) stays under 200 MiB.
func TestBombsStayUnder200MiB(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the peak resident size is read from /proc/self/status (Linux)")
	}
	bin := os.Args[0]
	if raceEnabled {
		bin = filepath.Join(t.TempDir(), "child.test")
		build := exec.Command("go", "test", "-c", "-o", bin, ".")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building the child without -race: %v\n%s", err, out)
		}
	}
	for name := range rssCases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, "-test.run=^TestRSSChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), rssChildEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var kib int64
			var secs float64
			for _, line := range strings.Split(string(out), "\n") {
				if i := strings.Index(line, "RSS-RESULT "); i >= 0 {
					fmt.Sscanf(line[i:], "RSS-RESULT maxrss_kib=%d seconds=%g", &kib, &secs)
				}
			}
			if kib == 0 {
				t.Fatalf("child printed no result:\n%s", out)
			}
			t.Logf("%s: peak RSS %.1f MiB, extraction %.3f s", name, float64(kib)/1024, secs)
			if kib > 200<<10 {
				t.Errorf("peak RSS %.1f MiB, over 200 MiB", float64(kib)/1024)
			}
		})
	}
}

// TestRSSChild runs in the child process only.
func TestRSSChild(t *testing.T) {
	name := os.Getenv(rssChildEnv)
	if name == "" {
		t.Skip("runs as a child of TestBombsStayUnder200MiB")
	}
	c := rssCases[name]
	var data []byte
	if name == "1500-members" {
		data = bombMembers(t)
	} else {
		data = tenGiBZip(t)
	}
	w := newWorker(t, c.opts)
	start := time.Now()
	resp := scan(t, w, data, "bomb.zip")
	elapsed := time.Since(start)
	found := false
	for _, msg := range errorMessages(resp) {
		found = found || strings.Contains(msg, c.limit)
	}
	if !found {
		t.Fatalf("no %s error: %q", c.limit, errorMessages(resp))
	}
	// VmHWM, the peak resident size of this process's memory: unlike
	// getrusage's ru_maxrss it is not inherited from the parent that
	// forked the child.
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	var kib int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kib)
		}
	}
	fmt.Printf("RSS-RESULT maxrss_kib=%d seconds=%.3f\n", kib, elapsed.Seconds())
}
