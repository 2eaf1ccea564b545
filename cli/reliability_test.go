package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The hostile and clumsy cases of the reliability issue, through the
// command. Each names the defect it protects against.

// noStackTrace fails the test when output holds a Go stack trace or panic.
func noStackTrace(t *testing.T, what, output string) {
	t.Helper()
	for _, sign := range []string{"goroutine ", "panic:", "runtime.", "fatal error", "SIGBUS", "[signal "} {
		if strings.Contains(output, sign) {
			t.Fatalf("%s holds a stack trace or crash (%q):\n%s", what, sign, output)
		}
	}
}

// errorLine wants stderr to end with exactly one "stoq: " line holding want.
func errorLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "stoq: ") || !strings.Contains(last, want) {
		t.Errorf("stderr's last line %q, want a one-line error holding %q\n%s", last, want, stderr)
	}
	noStackTrace(t, "stderr", stderr)
}

// withConfig writes stoq.cfg into a new home.
func withConfig(t *testing.T, cfg string) string {
	home := t.TempDir()
	writeFile(t, home, "stoq.cfg", cfg)
	return home
}

// Item 1: limits through stoq scan and stoq run, from stoq.cfg.
func TestScanAndRunHonourTheLimits(t *testing.T) {
	dir := t.TempDir()
	home := withConfig(t, "[core]\nmax_payloads = 3\n")
	f := writeFile(t, dir, "parts", "a|b|c|d|e|f")
	resp := stoq(t, home, nil, "scan", f, "-s", "testextract").mustSucceed(t).response(t)
	if len(resp.Results) != 3 {
		t.Errorf("scan: %d payloads, want max_payloads = 3", len(resp.Results))
	}
	if len(resp.Errors) != 1 || !strings.HasPrefix(resp.Errors[0].Message, "max_payloads (3) reached: 4 more extracted payload(s) of 4 bytes in all dropped, extracted by testextract") {
		t.Errorf("scan errors %+v, want one naming max_payloads", resp.Errors)
	}

	monitor := t.TempDir()
	writeFile(t, monitor, "parts", "a|b|c|d|e|f")
	lines := stoq(t, home, nil, "run", "-P", "dirmon", "-s", "testextract", "--plugin-opts", "dirmon:source_dir="+monitor).mustSucceed(t).lines(t)
	if len(lines) != 1 || len(lines[0].Results) != 3 || len(lines[0].Errors) != 1 {
		t.Errorf("run: %d responses, want one of 3 payloads and the limit's Error", len(lines))
	}

	home = withConfig(t, "[core]\nmax_extracted_bytes = 2\n")
	resp = stoq(t, home, nil, "scan", f, "-s", "testextract").mustSucceed(t).response(t)
	if len(resp.Results) != 3 || len(resp.Errors) != 1 || !strings.HasPrefix(resp.Errors[0].Message, "max_extracted_bytes (2 bytes) reached") {
		t.Errorf("max_extracted_bytes: %d payloads, errors %+v", len(resp.Results), resp.Errors)
	}
}

// Item 1: a FILE or stdin larger than max_payload_size is refused before
// it is read: exit 2, one line.
func TestScanRefusesInputOverMaxPayloadSize(t *testing.T) {
	home := withConfig(t, "[core]\nmax_payload_size = 1MiB\n")
	big := writeFile(t, t.TempDir(), "big", strings.Repeat("x", 1<<20+1))
	r := stoq(t, home, nil, "scan", big, "-s", "hash")
	if r.code != exitUsage || r.stdout != "" {
		t.Errorf("FILE: exit %d, stdout %q", r.code, r.stdout)
	}
	errorLine(t, r.stderr, "is 1048577 bytes, more than max_payload_size (1048576 bytes): not loaded")

	// An endless pipe: refused once past the limit, not read forever.
	cmd := binary(home, "scan", "-", "-s", "hash")
	cmd.Stdin = endless{}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("stoq scan - read an endless pipe for a minute")
	}
	if code := cmd.ProcessState.ExitCode(); code != exitUsage {
		t.Errorf("endless stdin: exit %d, want 2", code)
	}
	errorLine(t, stderr.String(), "standard input holds more than max_payload_size (1048576 bytes): not scanned")
	t.Logf("endless stdin refused in %s", time.Since(start))

	// Within the limit, a spooled pipe still scans.
	home = withConfig(t, "[core]\nmax_payload_size = 20MiB\n")
	content := bytes.Repeat([]byte("0123456789"), 1<<20) // 10 MiB: spooled
	cmd = binary(home, "scan", "-s", "hash")
	cmd.Stdin = bytes.NewReader(content)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if got := worker(t, result{stdout: string(out)}.response(t), 0, "hash")["sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("spooled stdin: sha256 %v", got)
	}
}

type endless struct{}

func (endless) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 'A'
	}
	return len(b), nil
}

// Item 3: a FILE that shrinks while stoq scan maps it: no SIGBUS, no stack
// trace; the result says the file changed.
func TestScanSurvivesTheFileShrinking(t *testing.T) {
	home, markers := t.TempDir(), t.TempDir()
	path := filepath.Join(t.TempDir(), "shrinking")
	content := bytes.Repeat([]byte("shrink me "), 6<<20) // 60 MiB
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := binary(home, "scan", path, "-s", "testshrink", "--plugin-opts", "testshrink:marker_dir="+markers)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	waitFor(t, filepath.Join(markers, "reading"), exited)
	if err := os.Truncate(path, 0); err != nil { // waits while stoq copies the content aside
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(markers, "truncated"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	<-exited
	noStackTrace(t, "stderr", stderr.String())
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	resp := result{stdout: stdout.String()}.response(t)
	sum := sha256.Sum256(content)
	if got := worker(t, resp, 0, "testshrink")["sha256"]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("the worker hashed %v, want the content as it was when the scan began", got)
	}
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "written to or truncated while it was scanned") {
		t.Errorf("errors %+v, want the change recorded", resp.Errors)
	}
}

// Item 3: mapping fails under `ulimit -v`: one line, exit 2, never the
// runtime's out-of-memory crash from reading the file onto the heap.
func TestScanUnderUlimitV(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	home := t.TempDir()
	sparse := filepath.Join(t.TempDir(), "sparse")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	// 4 GiB (max_payload_size's default): allowed, but not mappable under
	// 3 GiB of address space. Sparse: it costs no disk.
	if err := f.Truncate(4 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	small := writeFile(t, t.TempDir(), "small", badExe)
	const limitKiB = 3 << 20 // 3 GiB: the Go runtime itself needs about 1.5
	run := func(file string) (int, string, string) {
		cmd := exec.Command(bash, "-c", "ulimit -v "+strconv.Itoa(limitKiB)+" && exec \"$0\" scan \"$1\" -s hash", testBinary, file)
		cmd.Env = append(os.Environ(), HomeEnvVar+"="+home)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	code, stdout, stderr := run(sparse)
	if code != exitUsage || stdout != "" {
		t.Errorf("4 GiB file under ulimit -v 3 GiB: exit %d, stdout %q", code, stdout)
	}
	errorLine(t, stderr, "not enough address space to map it (is `ulimit -v` too low?)")
	if code, stdout, stderr := run(small); code != 0 || !strings.Contains(stdout, `"sha256"`) {
		t.Errorf("small file under ulimit -v: exit %d\n%s", code, stderr)
	}
}

// Item 4: a result that no connector saved and nothing spooled exits 1,
// saying why on one line.
func TestLostResultsExitNonZero(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full")
	}
	defer full.Close()
	home := t.TempDir()
	file := writeFile(t, t.TempDir(), "bad.exe", badExe)

	cmd := binary(home, "scan", file, "-s", "hash")
	cmd.Stdout = full
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitFailure {
		t.Errorf("scan > /dev/full: exit %d, want 1", code)
	}
	errorLine(t, stderr.String(), "was neither saved nor spooled: connector stdout: writing to stdout")

	monitor := monitorFolder(t)
	cmd = binary(home, "run", "-P", "dirmon", "-a", "hash", "--plugin-opts", "dirmon:source_dir="+monitor)
	cmd.Stdout = full
	stderr.Reset()
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitFailure {
		t.Errorf("run > /dev/full: exit %d, want 1", code)
	}
	errorLine(t, stderr.String(), "2 of 2 results were neither saved nor spooled")

	// A failing connector and an unwritable spool (a file where its folder
	// must go, which even root cannot write into).
	blocker := writeFile(t, t.TempDir(), "not-a-folder", "")
	home = withConfig(t, "[core]\nspool_dir = "+filepath.Join(blocker, "spool")+"\n")
	r := stoq(t, home, nil, "scan", file, "-s", "hash", "-C", "filedir", "--plugin-opts", "filedir:results_dir="+filepath.Join(blocker, "results"))
	if r.code != exitFailure {
		t.Errorf("connector and spool failing: exit %d, want 1", r.code)
	}
	errorLine(t, r.stderr, "was neither saved nor spooled: connector filedir")

	// The same connector failure with a writable spool loses nothing.
	home = t.TempDir()
	r = stoq(t, home, nil, "scan", file, "-s", "hash", "-C", "filedir", "--plugin-opts", "filedir:results_dir="+filepath.Join(blocker, "results"))
	if r.code != 0 {
		t.Errorf("a spooled result: exit %d\n%s", r.code, r.stderr)
	}
}

// Item 7: strict configuration, through the command. The first group was
// already refused before the reliability work (the architecture's strict
// settings); the second is new.
func TestStrictConfiguration(t *testing.T) {
	file := writeFile(t, t.TempDir(), "bad.exe", badExe)
	for _, c := range []struct{ name, cfg, want string }{
		// Already done by the architecture work:
		{"trailing garbage in an integer", "[core]\nmax_queue = 12abc\n", `[core] max_queue = "12abc": want an integer from 1 to 1000000`},
		{"exponent in an integer", "[core]\nmax_recursion = 1e3\n", `[core] max_recursion = "1e3": want an integer`},
		{"a queue of 240 GB", "[core]\nmax_queue = 10000000000\n", `[core] max_queue = "10000000000": want an integer from 1 to 1000000`},
		{"timeout overflowing a duration", "[core]\ntimeout = 1e300\n", `[core] timeout = "1e300": want seconds`},
		{"plugin timeout overflowing", "[hash]\ntimeout = 99999999999\n", `option timeout = "99999999999"`},
		// New:
		{"key before any section", "max_queue = 5\n[core]\n", `stoq.cfg: line 1: "max_queue = 5" comes before any [section] header`},
		{"line without a key", "[core]\n= 5\n", `stoq.cfg: line 2: "= 5" has no key before the '=' or ':'`},
		{"garbage line", "[core]\nmax_queue = 5\nwhat is this\n", `stoq.cfg: line 3: "what is this" is neither a [section] header nor a key = value line`},
		{"duplicate section", "[core]\nmax_queue = 5\n[core]\n", `stoq.cfg: line 3: section "[core]" appears twice (first on line 1`},
		{"duplicate option", "[core]\nmax_queue = 5\nmax_queue = 6\n", `stoq.cfg: line 3: option "max_queue" appears twice in section "[core]" (first on line 2)`},
		{"binary file", "\x7fELF\x02\x01\x01\x00\x1b]0;pwned\x07\n", `stoq.cfg: line 1: "\x7fELF\x02\x01\x01\x00\x1b]0;pwned\a" comes before`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := stoq(t, withConfig(t, c.cfg), nil, "scan", file, "-s", "hash")
			if r.code != exitUsage {
				t.Errorf("exit %d, want 2\n%s", r.code, r.stderr)
			}
			errorLine(t, r.stderr, c.want)
			for _, b := range []byte(r.stderr) {
				if b < 0x20 && b != '\n' || b == 0x7f {
					t.Fatalf("stderr holds control byte %#x: %q", b, r.stderr)
				}
			}
		})
	}
	// Already done: --log-level names the flag.
	r := stoq(t, t.TempDir(), nil, "scan", file, "-s", "hash", "--log-level", "loud")
	if r.code != exitUsage {
		t.Errorf("--log-level loud: exit %d", r.code)
	}
	errorLine(t, r.stderr, `--log-level "loud": want debug, info, warning, error or critical`)
}

// Item 7 (already done by the architecture work): --max-recursion 0 and
// [core] max_recursion = 0 agree, as stoQ: the payload is left unprocessed
// with the "Final worker round" Error.
func TestMaxRecursionZeroAgrees(t *testing.T) {
	file := writeFile(t, t.TempDir(), "bad.exe", badExe)
	flag := stoq(t, t.TempDir(), nil, "scan", file, "-s", "hash", "--max-recursion", "0").mustSucceed(t).response(t)
	cfg := stoq(t, withConfig(t, "[core]\nmax_recursion = 0\n"), nil, "scan", file, "-s", "hash").mustSucceed(t).response(t)
	for name, errs := range map[string]int{"flag": len(flag.Errors), "stoq.cfg": len(cfg.Errors)} {
		if errs != 1 {
			t.Errorf("%s: %d errors, want 1", name, errs)
		}
	}
	if flag.Errors[0].Message != "Final worker round (0) reached, unable to process payload" || cfg.Errors[0].Message != flag.Errors[0].Message {
		t.Errorf("errors %q and %q, want stoQ's Final worker round", flag.Errors[0].Message, cfg.Errors[0].Message)
	}
	if len(flag.Results[0].PluginsRun.Workers) != 0 || len(cfg.Results[0].PluginsRun.Workers) != 0 {
		t.Error("a worker ran with max_recursion 0")
	}
}

// Item 8: FIFOs and devices, as FILE and as an installed manifest, are
// refused at once; /dev/null on stdin is empty input, not a terminal.
func TestNonRegularFilesAreRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	plugins := t.TempDir()
	if err := os.MkdirAll(filepath.Join(plugins, "ghost"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(plugins, "ghost", "ghost.stoq"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "stoq.cfg"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"FIFO as FILE", []string{"scan", fifo, "-s", "hash"}, exitUsage, fifo + " is a named pipe (FIFO), not a regular file"},
		{"device as FILE", []string{"scan", "/dev/zero", "-s", "hash"}, exitUsage, "/dev/zero is a device, not a regular file"},
		{"FIFO as stoq.cfg", []string{"scan", "--config-file", filepath.Join(dir, "stoq.cfg"), "/etc/hostname", "-s", "hash"}, exitUsage, "is a named pipe (FIFO), not a regular file"},
		{"FIFO as an installed manifest (list)", []string{"list", "--plugin-dir", plugins}, 0, ""},
		{"FIFO as an installed manifest (scan)", []string{"scan", "/etc/hostname", "-s", "ghost", "--plugin-dir", plugins}, exitUsage, "ghost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := binary(t.TempDir(), c.args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("blocked")
			}
			if code := cmd.ProcessState.ExitCode(); code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, stderr.String())
			}
			if c.want != "" {
				errorLine(t, stderr.String(), c.want)
			}
		})
	}

	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	cmd := binary(t.TempDir(), "scan", "-s", "hash")
	cmd.Stdin = null
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	if code := cmd.ProcessState.ExitCode(); code != exitUsage {
		t.Errorf("stdin /dev/null: exit %d", code)
	}
	errorLine(t, stderr.String(), "nothing to scan: standard input: the content to scan is empty")
}
