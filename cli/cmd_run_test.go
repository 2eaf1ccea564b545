package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stoq-go/stoq/core/v3"
)

// monitorFolder creates a folder holding bad.exe and notes.txt.
func monitorFolder(t *testing.T) string {
	dir := t.TempDir()
	writeFile(t, dir, "bad.exe", badExe)
	writeFile(t, dir, "notes.txt", "nothing to see")
	return dir
}

func TestGuideRunDirmonFiledir(t *testing.T) {
	home, monitor, results := t.TempDir(), monitorFolder(t), t.TempDir()
	r := stoq(t, home, nil, "run", "-P", "dirmon", "-C", "filedir", "-a", "hash", "peinfo",
		"--plugin-opts", "dirmon:source_dir="+monitor, "filedir:results_dir="+results).mustSucceed(t)
	if r.stdout != "" {
		t.Errorf("a connector was chosen, yet stdout got %q", r.stdout)
	}
	saved, err := os.ReadDir(results)
	if err != nil || len(saved) != 2 {
		t.Fatalf("results folder holds %d files (%v), want 2", len(saved), err)
	}
	var names []string
	for _, e := range saved {
		b, err := os.ReadFile(filepath.Join(results, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var resp core.StoqResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.ScanID != e.Name() {
			t.Errorf("result %s holds scan %s", e.Name(), resp.ScanID)
		}
		if got := strings.Join(resp.Results[0].PluginsRun.Workers, ","); got != "hash,peinfo" {
			t.Errorf("workers run = %s, want hash,peinfo", got)
		}
		names = append(names, resp.Results[0].PayloadMeta.ExtraData["filename"].(string))
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "bad.exe,notes.txt" {
		t.Errorf("scanned %q", names)
	}
}

func TestRunPrintsOneLinePerResponse(t *testing.T) {
	home, monitor := t.TempDir(), monitorFolder(t)
	r := stoq(t, home, nil, "run", "-P", "dirmon", "-a", "hash", "--plugin-opts", "dirmon:source_dir="+monitor).mustSucceed(t)
	if n := strings.Count(r.stdout, "\n"); n != 2 {
		t.Fatalf("stdout holds %d lines, want 2:\n%s", n, r.stdout)
	}
	for _, resp := range r.lines(t) {
		if _, ok := resp.Results[0].Workers["hash"]; !ok {
			t.Errorf("response without hash: %+v", resp.Results[0])
		}
	}
	// stdout:compactly=false brings the indentation back.
	r = stoq(t, home, nil, "run", "-P", "dirmon", "--plugin-opts", "dirmon:source_dir="+monitor, "stdout:compactly=false").mustSucceed(t)
	if !strings.Contains(r.stdout, "\n    \"time\"") {
		t.Errorf("compactly=false did not indent:\n%s", r.stdout)
	}
}

func TestGuideRunDestArchiver(t *testing.T) {
	home, monitor, archive := t.TempDir(), monitorFolder(t), t.TempDir()
	r := stoq(t, home, nil, "run", "-A", "filedir", "-P", "dirmon", "-a", "hash",
		"--plugin-opts", "dirmon:source_dir="+monitor, "filedir:archive_dir="+archive).mustSucceed(t)
	lines := r.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d responses, want 2", len(lines))
	}
	for _, resp := range lines {
		if got := resp.Results[0].PluginsRun.Archivers; len(got) != 1 || got[0] != "filedir" {
			t.Errorf("archivers run = %q", got)
		}
	}
	if saved, _ := os.ReadDir(archive); len(saved) != 2 {
		t.Errorf("archive holds %d payloads, want 2", len(saved))
	}
}

func TestGuideRunSourceArchiver(t *testing.T) {
	home, monitor := t.TempDir(), monitorFolder(t)
	r := stoq(t, home, nil, "run", "-S", "filedir", "-P", "dirmon", "-s", "hash",
		"--plugin-opts", "dirmon:source_dir="+monitor, "dirmon:source_archiver=filedir").mustSucceed(t)
	lines := r.lines(t)
	if len(lines) != 2 {
		t.Fatalf("%d responses, want 2", len(lines))
	}
	for _, resp := range lines {
		if resp.Results[0].PayloadMeta.ExtraData["archived"] != true {
			t.Errorf("payload not loaded by the source archiver: %v", resp.Results[0].PayloadMeta.ExtraData)
		}
	}
	// Without -S the archiver task cannot be loaded: the error is saved.
	r = stoq(t, home, nil, "run", "-P", "dirmon", "--plugin-opts", "dirmon:source_dir="+monitor, "dirmon:source_archiver=filedir").mustSucceed(t)
	for _, resp := range r.lines(t) {
		if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "-S/--source-archivers") {
			t.Errorf("errors = %v, want the unconfigured source archiver", resp.Errors)
		}
	}
}

func TestGuideRunDispatcherAndDecorator(t *testing.T) {
	home, monitor := t.TempDir(), monitorFolder(t)
	r := stoq(t, home, nil, "run", "-R", "yara", "-D", "yara", "-P", "dirmon",
		"--plugin-opts", "dirmon:source_dir="+monitor, "--request-source", "monitor",
		"--request-extra", "host=sensor-1").mustSucceed(t)
	var dispatched []string
	for _, resp := range r.lines(t) {
		if resp.RequestMeta.Source != "monitor" || resp.RequestMeta.ExtraData["host"] != "sensor-1" {
			t.Errorf("request meta = %+v", resp.RequestMeta)
		}
		if _, ok := resp.Decorators["yara"]; !ok {
			t.Errorf("no yara decoration: %v", resp.Decorators)
		}
		if len(resp.Results[0].PluginsRun.Workers) > 0 {
			dispatched = append(dispatched, resp.Results[0].PayloadMeta.ExtraData["filename"].(string))
		}
	}
	if strings.Join(dispatched, ",") != "bad.exe" {
		t.Errorf("yara dispatched %q, want only bad.exe", dispatched)
	}
}

func TestRunFailures(t *testing.T) {
	home, dir := t.TempDir(), t.TempDir()
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"no provider", []string{"run", "-a", "hash"}, exitUsage, "no provider plugins configured"},
		{"not a provider", []string{"run", "-P", "hash"}, exitUsage, "not a Provider"},
		{"provider fails to start", []string{"run", "-P", "dirmon"}, exitUsage, "source_dir is not set"},
		{"provider fails", []string{"run", "-P", "dirmon", "--plugin-opts", "dirmon:source_dir=" + filepath.Join(dir, "nope")}, exitFailure, "provider dirmon"},
		{"stray argument", []string{"run", "-P", "dirmon", "--", "file"}, exitUsage, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := stoq(t, home, nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.code, tt.wantErr)
			}
		})
	}
}

func TestRunProvidersFromConfig(t *testing.T) {
	home, monitor := t.TempDir(), monitorFolder(t)
	writeFile(t, home, "stoq.cfg", "[core]\nproviders = dirmon\n\n[dirmon]\nsource_dir = "+monitor+"\n")
	if n := len(stoq(t, home, nil, "run").mustSucceed(t).lines(t)); n != 2 {
		t.Errorf("%d responses, want 2", n)
	}
}

// binary runs the built test binary with home as $STOQ_HOME.
func binary(home string, args ...string) *exec.Cmd {
	cmd := exec.Command(testBinary, args...)
	cmd.Env = append(os.Environ(), HomeEnvVar+"="+home)
	return cmd
}

// waitFor waits until path exists or the process exits.
func waitFor(t *testing.T, path string, exited <-chan struct{}) {
	t.Helper()
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("the process exited before %s appeared", filepath.Base(path))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// slowRun starts `stoq run` on a provider that queues 3 payloads and never
// runs dry, scanned by a worker that waits for markers/release. It returns
// once the 3 payloads are accepted and a scan is in flight.
func slowRun(t *testing.T) (cmd *exec.Cmd, markers string, stdout *bytes.Buffer, stderr *bufio.Reader, exited chan struct{}) {
	home := t.TempDir()
	markers = t.TempDir()
	cmd = binary(home, "run", "-P", "testprovider", "-s", "testslow",
		"--plugin-opts", "testprovider:marker_dir="+markers, "testslow:marker_dir="+markers)
	stdout = &bytes.Buffer{}
	cmd.Stdout = stdout
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	waitFor(t, filepath.Join(markers, "queued"), exited)
	waitFor(t, filepath.Join(markers, "started-1"), exited)
	return cmd, markers, stdout, bufio.NewReader(pr), exited
}

// readUntil reads stderr lines until one contains want.
func readUntil(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if strings.Contains(line, want) {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return
		}
		if err != nil {
			t.Fatalf("stderr ended without %q", want)
		}
	}
}

func TestRunSignalFinishesQueuedScans(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, markers, stdout, stderr, exited := slowRun(t)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			readUntil(t, stderr, "stopping providers")
			// The scans accepted before the signal may now finish.
			if err := os.WriteFile(filepath.Join(markers, "release"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			<-exited
			if code := cmd.ProcessState.ExitCode(); code != 0 {
				t.Fatalf("exit status %d, want 0", code)
			}
			r := result{stdout: stdout.String()}
			var contents []string
			for _, resp := range r.lines(t) {
				res := resp.Results[0].Workers["testslow"].(map[string]any)
				contents = append(contents, res["content"].(string))
			}
			sort.Strings(contents)
			if strings.Join(contents, ",") != "payload 1,payload 2,payload 3" {
				t.Errorf("saved %q, want the 3 queued payloads", contents)
			}
		})
	}
}

func TestRunSecondSignalExitsAtOnce(t *testing.T) {
	cmd, _, stdout, stderr, exited := slowRun(t)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	readUntil(t, stderr, "stopping providers")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-exited // the worker is still waiting for its release file
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupt {
		t.Errorf("exit status %d, want 130", code)
	}
	if stdout.Len() != 0 {
		t.Errorf("scans in flight were saved although they never finished: %s", stdout)
	}
}

func TestBinaryScanStdinPipe(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"scan", "-s", "hash"}, {"scan", "-", "-s", "hash"}} {
		cmd := binary(home, args...)
		cmd.Stdin = strings.NewReader(badExe) // a pipe
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		resp := result{stdout: string(out)}.response(t)
		if resp.Results[0].Size != len(badExe) || resp.Results[0].PayloadMeta.ExtraData["filename"] != nil {
			t.Errorf("%q: %+v", args, resp.Results[0])
		}
	}
	// Stdin redirected from a file is mapped like a FILE.
	f, err := os.Open(writeFile(t, t.TempDir(), "bad.exe", badExe))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := binary(home, "scan", "-", "-s", "hash")
	cmd.Stdin = f
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if resp := (result{stdout: string(out)}).response(t); resp.Results[0].Size != len(badExe) {
		t.Errorf("redirected stdin: size %d", resp.Results[0].Size)
	}
	// An empty pipe is exit status 2.
	cmd = binary(home, "scan")
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != exitUsage {
		t.Errorf("empty stdin: %v, want exit status 2", err)
	}
}
